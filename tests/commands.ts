// The project's commands run as a user runs them: a child `deno run src/cli/NAME.ts`
// with the task's permissions, output captured as text. One place for the end-to-end
// tests to start commands (and a tiny training run) from, so each test says only what
// it checks.
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The permissions the tasks in deno.json give train, infer, eval, exec and import
 * (train and demo also have --allow-ffi, which only an MPI launch uses).
 */
export const PERMS = ["--allow-read", "--allow-write", "--allow-env"];

/** Graph overrides that make drgan-small tiny enough for the software adapter. */
export const TINY = [
  "size=16",
  "width=0.125",
  "Nd=5",
  "training.batch=4",
  "training.eval.identities=3",
];

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** permission flags (default PERMS) */
  perms?: string[];
  /** added to the parent's environment (with NO_COLOR=1, XDG_RUNTIME_DIR and DRGAN_TUNE=off) */
  env?: Record<string, string>;
  cwd?: string;
}

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** `deno ARGS...` with output captured; NO_COLOR so messages match plain patterns. */
export async function deno(args: string[], opts: RunOptions = {}): Promise<Ran> {
  const o = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: opts.cwd,
    // XDG_RUNTIME_DIR: where the GPU's loader looks; a safe default when unset.
    // DRGAN_TUNE=off: a test never reads (or writes) the user's tune cache.
    env: {
      NO_COLOR: "1",
      XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp",
      DRGAN_TUNE: "off",
      ...opts.env,
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: o.code, stdout: dec.decode(o.stdout), stderr: dec.decode(o.stderr) };
}

/** The command behind `deno task NAME` (src/cli/NAME.ts) with `args`. */
export function command(name: string, args: string[], opts: RunOptions = {}): Promise<Ran> {
  const script = join(ROOT, "src", "cli", `${name}.ts`);
  return deno(["run", ...(opts.perms ?? PERMS), script, ...args], opts);
}

/** `--set` flags for each override. */
export function sets(overrides: string[]): string[] {
  return overrides.flatMap((s) => ["--set", s]);
}

/**
 * Trains `graph` for `steps` steps into `runs/name` (default: drgan-small with TINY) and
 * returns the run folder; a failed run throws with the command's stderr.
 */
export async function trainRun(
  runs: string,
  name: string,
  opts: { graph?: string; steps?: number; set?: string[] } = {},
): Promise<string> {
  const r = await command("train", [
    opts.graph ?? "graphs/drgan-small.yaml",
    "--steps",
    String(opts.steps ?? 2),
    ...sets(opts.set ?? TINY),
    "--runs",
    runs,
    "--name",
    name,
  ]);
  if (r.code !== 0) throw new Error(`training ${name} failed:\n${r.stderr}`);
  return join(runs, name);
}
