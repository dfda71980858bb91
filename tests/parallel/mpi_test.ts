// Data-parallel training over MPI (docs/scale-out.md): two ranks on one machine, each on
// the software adapter. Without batch norm they train exactly as one process of the
// combined batch; with it the replicas stay identical; a failing rank ends the job; a
// missing library is one message. The tests that need mpirun are skipped, saying so,
// only where MPI is not installed (scripts/setup.sh installs it).
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { command, deno, sets } from "../commands.ts";
import { MPI_INSTALL } from "../../src/parallel/mpi.ts";
import { readSafetensors } from "../../src/formats/safetensors.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const GAN = "tests/parallel/graphs/gan.yaml";
const REPLICA = "tests/parallel/replica.ts";
const PERMS = ["--allow-read", "--allow-write", "--allow-env", "--allow-ffi"];
const TINY_BN = ["size=16", "width=0.125", "Nd=5", "training.batch=4"];

const hasMpirun = await new Deno.Command("mpirun", { args: ["--version"], stdout: "null" })
  .output().then((o) => o.success, () => false);
if (!hasMpirun) {
  console.warn(`tests/parallel: mpirun not found, MPI tests skipped (install: ${MPI_INSTALL})`);
}
// MPICH's launcher, where MPICH is installed too (setup.sh installs Open MPI only).
const hasMpich = await new Deno.Command("mpiexec.mpich", { args: ["--version"], stdout: "null" })
  .output().then((o) => o.success, () => false);

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * `mpirun -np N deno ARGS` (as root too: Open MPI refuses root without these variables),
 * or with `mpich` MPICH's `mpiexec.mpich -n N`.
 */
async function mpirun(
  n: number,
  args: string[],
  env: Record<string, string> = {},
  mpich = false,
): Promise<Ran> {
  const launch = mpich
    ? ["mpiexec.mpich", "-n", String(n)]
    : ["mpirun", "--oversubscribe", "-np", String(n)];
  const o = await new Deno.Command(launch[0], {
    args: [...launch.slice(1), Deno.execPath(), ...args],
    cwd: ROOT,
    env: {
      OMPI_ALLOW_RUN_AS_ROOT: "1",
      OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: "1",
      NO_COLOR: "1",
      XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp",
      DRGAN_TUNE: "off",
      ...env,
    },
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(180_000),
  }).output();
  const dec = new TextDecoder();
  return { code: o.code, stdout: dec.decode(o.stdout), stderr: dec.decode(o.stderr) };
}

type Trace = { metrics: { [k: string]: number }; state: { [k: string]: number[] } }[];

/** Trains `steps` steps of `graph` in `ranks` replicas; each rank's states and metrics. */
async function replicas(
  ranks: number,
  graph: string,
  steps: number,
  sets: string[] = [],
  mpich = false,
) {
  const out = await Deno.makeTempDir();
  const args = ["run", "-A", REPLICA, graph, out, String(steps), ...sets];
  const r = ranks > 1 ? await mpirun(ranks, args, {}, mpich) : await deno(args, { cwd: ROOT });
  assert.equal(r.code, 0, r.stderr);
  return Array.from(
    { length: ranks },
    (_, k) => JSON.parse(Deno.readTextFileSync(`${out}/rank${k}.json`)) as Trace,
  );
}

function maxDiff(a: number[], b: number[]): number {
  assert.equal(a.length, b.length);
  return a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
}

Deno.test({
  name: "mpi: two ranks without batch norm train as one process of the combined batch",
  ignore: !hasMpirun,
  async fn() {
    const [one] = await replicas(1, GAN, 3);
    const [r0, r1] = await replicas(2, GAN, 3);
    for (let s = 0; s < 3; s++) {
      for (const [name, v] of Object.entries(one[s].state)) {
        // The ranks hold the same bits; they differ from one process by summation order.
        assert.deepEqual(r1[s].state[name], r0[s].state[name], `step ${s + 1} ${name}`);
        const d = maxDiff(r0[s].state[name], v);
        assert.ok(d < 1e-6, `step ${s + 1} ${name}: differs from one process by ${d}`);
      }
      // Metrics are means over the ranks: the whole batch's, so the schedule agrees.
      for (const k of ["d_loss", "g_loss", "d_strength"]) {
        assert.ok(Math.abs(r0[s].metrics[k] - one[s].metrics[k]) < 1e-5, `step ${s + 1} ${k}`);
        assert.equal(r1[s].metrics[k], r0[s].metrics[k]);
      }
    }
    // The comparison has power: training moved the parameters far beyond the tolerance.
    const w = "discriminator.fc.weight";
    assert.ok(maxDiff(one[2].state[w], one[0].state[w]) > 1e-4);
  },
});

Deno.test({
  name: "mpi: under MPICH too, two ranks train as one process (where MPICH is installed)",
  ignore: !hasMpich,
  async fn() {
    const [one] = await replicas(1, GAN, 2);
    const [r0, r1] = await replicas(2, GAN, 2, [], true);
    for (const [name, v] of Object.entries(one[1].state)) {
      assert.deepEqual(r1[1].state[name], r0[1].state[name], name);
      assert.ok(maxDiff(r0[1].state[name], v) < 1e-6, name);
    }
  },
});

Deno.test({
  name: "mpi: with batch norm both replicas hold identical parameters after every step",
  ignore: !hasMpirun,
  async fn() {
    const [r0, r1] = await replicas(2, "graphs/drgan-small.yaml", 2, TINY_BN);
    let statsDiffer = false;
    for (let s = 0; s < 2; s++) {
      for (const [name, v] of Object.entries(r0[s].state)) {
        if (name.includes("running_")) {
          // Batch statistics stay per replica (as PyTorch DDP does): each its own shard's.
          statsDiffer ||= maxDiff(v, r1[s].state[name]) > 0;
        } else assert.deepEqual(r1[s].state[name], v, `step ${s + 1} ${name}`);
      }
    }
    assert.ok(statsDiffer, "running statistics were expected to differ between replicas");
  },
});

Deno.test({
  name: "mpi: a rank that fails ends the job with its message instead of hanging",
  ignore: !hasMpirun,
  async fn() {
    const out = await Deno.makeTempDir();
    const r = await mpirun(2, ["run", "-A", REPLICA, GAN, out, "3"], { FAIL_RANK: "1" });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /error: rank 1 failed on purpose/);
  },
});

Deno.test({
  name: "mpi: train writes one run folder from rank 0, resumes exactly, refuses a bad split",
  ignore: !hasMpirun,
  async fn() {
    const runs = await Deno.makeTempDir();
    const flags = (name: string, steps: number) => [
      "run",
      ...PERMS,
      "src/cli/train.ts",
      GAN,
      "--runs",
      runs,
      "--name",
      name,
      "--steps",
      String(steps),
      ...sets([
        "training.eval.identities=3",
        "training.checkpoint_every=2",
        "training.log_every=1",
      ]),
    ];
    const full = await mpirun(2, flags("full", 4));
    assert.equal(full.code, 0, full.stderr);
    assert.match(full.stderr, /2 data-parallel ranks \(Open MPI\), 2 of each batch of 4/);
    // One writer: one line per step, one evaluation summary, one "training" banner.
    assert.equal(full.stderr.match(/^training gan-nobn/gm)?.length, 1);
    assert.equal(full.stdout.match(/^rank-1/gm)?.length, 1);
    const lines = Deno.readTextFileSync(`${runs}/full/metrics.jsonl`).trim().split("\n")
      .map((l) => JSON.parse(l)).filter((m) => m.d_loss !== undefined);
    assert.deepEqual(lines.map((m) => m.step), [1, 2, 3, 4]);

    const half = await mpirun(2, flags("half", 2));
    assert.equal(half.code, 0, half.stderr);
    const resumed = await mpirun(2, [
      "run",
      ...PERMS,
      "src/cli/train.ts",
      "--resume",
      `${runs}/half`,
      "--steps",
      "4",
    ]);
    assert.equal(resumed.code, 0, resumed.stderr);
    const a = readSafetensors(`${runs}/full/checkpoints/step-0000004.safetensors`);
    const b = readSafetensors(`${runs}/half/checkpoints/step-0000004.safetensors`);
    for (const [name, t] of a.tensors) assert.deepEqual(b.tensors.get(name)!.data, t.data, name);

    const bad = await mpirun(2, [...flags("bad", 2), "--set", "training.batch=3"]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /training.batch = 3 does not split into 2 ranks/);
  },
});

Deno.test("mpi: a missing MPI library is one clear message naming the package", async () => {
  // As a user meets it: started by a launcher, the library not loadable (a child process:
  // the test task has no FFI permission).
  const env = { OMPI_COMM_WORLD_SIZE: "2", DRGAN_MPI_LIB: "/nonexistent/libmpi.so.40" };
  const r = await command("train", [GAN, "--steps", "1"], { perms: PERMS, env });
  assert.equal(r.code, 1);
  assert.equal(
    r.stderr.trim(),
    `error: this run was started by mpirun, but no MPI library could be loaded (tried ` +
      `/nonexistent/libmpi.so.40): install it with \`${MPI_INSTALL}\``,
  );
  // Without FFI permission the message says so.
  const noFfi = await command("train", [GAN, "--steps", "1"], {
    env: { OMPI_COMM_WORLD_SIZE: "2" },
  });
  assert.equal(noFfi.code, 1);
  assert.match(noFfi.stderr, /^error: MPI needs FFI: run deno with --allow-ffi/);
});
