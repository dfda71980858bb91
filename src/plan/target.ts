// What the compiler may assume about the adapter a plan is for: plain JSON data,
// passed explicitly to every compile (never module state), so that one Target
// gives one Plan wherever it is compiled (`check --stage plan --target FILE`, the
// trainer, a deployed model). `deno task tune` writes one per adapter.
import { readJsonGuarded } from "../formats/read.ts";
import { UserError } from "../errors.ts";
import { type ConvBlock, type ConvTarget, DEFAULT_TARGET, GPU_TARGET } from "../ops/conv/mod.ts";

/** Limits the compiler plans within (merging, arenas); the engine checks the device meets them. */
export interface TargetLimits {
  /** storage buffers one kernel may bind (capped for stable plans) */
  maxBindings: number;
  /** bytes of workgroup memory one kernel may use */
  maxWorkgroupBytes: number;
  /** byte alignment of tensors inside an arena (a multiple of the device's) */
  align: number;
}

export interface Target {
  /** the adapter it describes ("software default" when none was opened) */
  adapter: string;
  limits: TargetLimits;
  /** the conv cost model's constants */
  conv: ConvTarget;
  /**
   * conv blocks chosen outside the cost model: by geometry key (geomKey), measured by
   * `deno task tune`, or by kernel kind for every geometry (tests force variants)
   */
  blocks: Record<string, ConvBlock>;
  /** merge different kernels into one dispatch, not only copies of one (tune measures it) */
  mixed: boolean;
}

/** What every plan assumes at most, so that a plan printed on one machine runs on another. */
export const MERGE_BINDINGS = 16;

/** Cost constants fitted on llvmpipe, and a starting point for hardware (src/ops/conv). */
export const SOFTWARE_COSTS: ConvTarget = DEFAULT_TARGET;
export const GPU_COSTS: ConvTarget = GPU_TARGET;

const DEFAULT_LIMITS: TargetLimits = {
  maxBindings: MERGE_BINDINGS,
  maxWorkgroupBytes: 16384,
  align: 256,
};

/** The target `check` uses without `--target`, and tests: a software adapter, nothing tuned. */
export function softwareTarget(): Target {
  return {
    adapter: "software default",
    limits: { ...DEFAULT_LIMITS },
    conv: { ...SOFTWARE_COSTS },
    blocks: {},
    mixed: false,
  };
}

/** The untuned target of an opened adapter: its limits and the cost model for its kind. */
export function adapterTarget(
  adapter: string,
  limits: GPUSupportedLimits,
  software: boolean,
): Target {
  return {
    adapter,
    limits: {
      maxBindings: Math.min(MERGE_BINDINGS, limits.maxStorageBuffersPerShaderStage),
      maxWorkgroupBytes: limits.maxComputeWorkgroupStorageSize,
      align: Math.max(DEFAULT_LIMITS.align, limits.minStorageBufferOffsetAlignment),
    },
    conv: { ...(software ? SOFTWARE_COSTS : GPU_COSTS) },
    blocks: {},
    mixed: false,
  };
}

/** A target file that cannot be used. */
export class TargetFileError extends UserError {}

const num = (v: unknown) => typeof v === "number" && Number.isFinite(v);

/** Checks JSON read from a file is a Target (the fields the compiler reads). */
export function parseTarget(data: unknown, source: string): Target {
  const t = data as Partial<Target> | null;
  const bad = (why: string) => new TargetFileError(`${source}: not a target file (${why})`);
  if (!t || typeof t !== "object") throw bad("not a JSON object");
  if (typeof t.adapter !== "string") throw bad("no adapter");
  const l = t.limits as unknown as Record<string, unknown> | undefined;
  for (const k of Object.keys(DEFAULT_LIMITS)) if (!l || !num(l[k])) throw bad(`limits.${k}`);
  const c = t.conv as unknown as Record<string, unknown> | undefined;
  // Files written before the kernels loaded vec4s: price those as the software model does.
  if (c && typeof c === "object" && !("vec4" in c)) c.vec4 = SOFTWARE_COSTS.vec4;
  for (const k of Object.keys(SOFTWARE_COSTS)) if (!c || !num(c[k])) throw bad(`conv.${k}`);
  if (!t.blocks || typeof t.blocks !== "object") throw bad("no blocks");
  if (typeof t.mixed !== "boolean") throw bad("no merge policy (mixed)");
  return t as Target;
}

export function loadTargetFile(path: string): Target {
  const data = readJsonGuarded(path, "target file", (m) => new TargetFileError(m));
  // A tune cache file holds its target under "target".
  const d = data as { target?: unknown; entries?: unknown };
  if (d && typeof d === "object" && "entries" in d && !("target" in d)) {
    throw new TargetFileError(
      `${path}: a tune cache written before caches held their target; run deno task tune again`,
    );
  }
  return parseTarget(d && typeof d === "object" && "target" in d ? d.target : data, path);
}
