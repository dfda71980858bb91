// Conv block choices and the merge policy measured by `deno task tune`, cached on
// disk per adapter and kernel generator version; tune/target.ts makes the adapter's
// Target from them, and each file also carries that Target (`check --target FILE`).
// Loading is best effort: without permissions or with a corrupt file the cost
// model plans as before.
import { READ_LIMITS, ReadError, readTextGuarded } from "../formats/read.ts";
import { z } from "../deps.ts";
import { writeFileAtomic } from "../formats/atomic.ts";
import {
  CONV_GENERATOR_VERSION,
  type ConvBlock,
  type ConvKernel,
  geomKey,
  tileProblem,
} from "../ops/conv/mod.ts";
import type { Target } from "../plan/target.ts";

/** What identifies an adapter; GPUAdapterInfo has these fields. */
export interface AdapterId {
  description?: string;
  vendor?: string;
  architecture?: string;
  device?: string;
}

export interface TuneEntry {
  kind: ConvKernel;
  block: ConvBlock;
  /** the cost model's pick and the measured times, per dispatch */
  model: ConvBlock;
  ms: number;
  modelMs: number;
}

/** Training iteration time merging different kernels into one dispatch, or only copies of one. */
export interface MergeChoice {
  mixed: boolean;
  mixedMs: number;
  sameMs: number;
}

export interface TuneCache {
  adapter: string;
  generator: number;
  entries: Record<string, TuneEntry>;
  merge?: MergeChoice;
  /** the adapter's Target with these choices applied, for `check --stage plan --target FILE` */
  target?: Target;
}

const pos = z.number().int().positive();
const block = z.union([
  z.object({ ch: pos, nb: pos.optional(), py: pos, px: pos }).strict(),
  z.object({ co: pos, ci: pos, px: pos, rows: pos }).strict(),
  // A tile that cannot run would fail when a plan is built: the cache is corrupt.
  z.object({ tm: pos, tn: pos, tk: pos, rm: pos, rn: pos }).strict()
    .refine((t) => !tileProblem(t), "tile does not fit WebGPU's default limits"),
]);
const entry = z.object({
  kind: z.enum(["gather", "scatter", "wgrad"]),
  block,
  model: block,
  ms: z.number().nonnegative(),
  modelMs: z.number().nonnegative(),
}).refine(
  // A workgroup-memory tile suits any kernel; register blocks are per kernel.
  (e) => "tm" in e.block || ("co" in e.block) === (e.kind === "wgrad"),
  "block does not fit its kernel",
);
const file = z.object({
  adapter: z.string(),
  generator: z.number().int(),
  entries: z.record(z.string(), entry),
  merge: z.object({
    mixed: z.boolean(),
    mixedMs: z.number().nonnegative(),
    sameMs: z.number().nonnegative(),
  }).strict().optional(),
});

/** Stable 32-bit FNV-1a, hex: a short file-name-safe digest. */
function fnv1a(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, "0");
}

/** The adapter's cache key: readable name, generator version, digest of every field. */
export function adapterKey(a: AdapterId, generator = CONV_GENERATOR_VERSION): string {
  const fields = [a.description, a.vendor, a.architecture, a.device].map((f) => f ?? "");
  const name = (fields.find((f) => f) ?? "unknown").toLowerCase().replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "").slice(0, 40) || "adapter";
  return `${name}-g${generator}-${fnv1a(JSON.stringify([...fields, generator]))}`;
}

/** The key of a kernel's geometry: defined with the conv planner that reads it. */
export { geomKey };

/** Reads an environment variable without prompting for a permission not granted. */
function env(name: string): string | undefined {
  if (Deno.permissions.querySync({ name: "env", variable: name }).state !== "granted") {
    return undefined;
  }
  return Deno.env.get(name);
}

/**
 * The cache folder: $DRGAN_TUNE_CACHE, else $XDG_CACHE_HOME/drgan-webgpu/tune, else
 * ~/.cache/drgan-webgpu/tune; undefined when DRGAN_TUNE=off or no location is known.
 */
export function tuneCacheDir(): string | undefined {
  if (env("DRGAN_TUNE")?.toLowerCase() === "off") return undefined;
  const dir = env("DRGAN_TUNE_CACHE");
  if (dir) return dir;
  const base = env("XDG_CACHE_HOME") || (env("HOME") && `${env("HOME")}/.cache`);
  return base ? `${base}/drgan-webgpu/tune` : undefined;
}

export const cachePath = (dir: string, key: string) => `${dir}/${key}.json`;

const warned = new Set<string>();

/** The cache of one adapter; empty when absent, unreadable or corrupt (warned once). */
export function loadCache(dir: string, key: string): TuneCache {
  const empty: TuneCache = { adapter: key, generator: CONV_GENERATOR_VERSION, entries: {} };
  const path = cachePath(dir, key);
  let text: string;
  try {
    if (Deno.permissions.querySync({ name: "read", path }).state !== "granted") return empty;
    text = readTextGuarded(path, { max: READ_LIMITS.json });
  } catch (e) {
    if (!(e instanceof ReadError && e.reason === "not found")) warnOnce(path, (e as Error).message);
    return empty;
  }
  try {
    const c = file.parse(JSON.parse(text));
    // A copied or renamed file: its choices were measured elsewhere.
    if (c.adapter !== key || c.generator !== CONV_GENERATOR_VERSION) return empty;
    return c as TuneCache;
  } catch (e) {
    warnOnce(path, e instanceof z.ZodError ? "unexpected contents" : (e as Error).message);
    return empty;
  }
}

function warnOnce(path: string, why: string): void {
  if (warned.has(path)) return;
  warned.add(path);
  console.warn(
    `warning: ignoring the conv tuning cache ${path} (${why}); run deno task tune again`,
  );
}

/** Writes atomically (temp file + rename): a reader never sees half a file. */
export function saveCache(dir: string, cache: TuneCache): string {
  Deno.mkdirSync(dir, { recursive: true });
  const path = cachePath(dir, cache.adapter);
  writeFileAtomic(path, JSON.stringify(cache, null, 1) + "\n");
  return path;
}
