// Run folders and model folders as `deno task train` and `--export` leave them:
// config.json (graph and overrides), checkpoints/step-N.safetensors, eval.json (the
// calibrated verification threshold). One reader for training's --resume and for
// loading a model, with one set of errors.
import { READ_LIMITS, ReadError, readTextGuarded } from "../formats/read.ts";
import { join } from "node:path";
import { exists, fsReason, isDir } from "../util/fs.ts";
import { InferError } from "./errors.ts";

export interface Threshold {
  value: number;
  /** where the value comes from, for the user */
  source: string;
}

/** A folder that is not a usable run or model folder. */
export class RunFolderError extends InferError {}

/** What config.json holds that a reader needs (training writes more, for the report). */
export interface RunConfig {
  graph: string;
  overrides: string[];
  /** the image manifest training read, if not the built-in synthetic faces */
  manifest?: string;
  skipBad?: boolean;
  /** image paths outside the manifest's folder were allowed */
  allowOutside?: boolean;
  /** the decoded-image cap it was started with (--max-pixels) */
  maxPixels?: number;
}

/** The run's config.json, checked: the graph and overrides it was started with. */
export function readRunConfig(runDir: string): RunConfig {
  const path = join(runDir, "config.json");
  let text: string;
  try {
    text = readTextGuarded(path, { max: READ_LIMITS.json });
  } catch (e) {
    if (isDir(runDir)) {
      throw new RunFolderError(`${runDir} is not a run folder (no config.json)`);
    }
    throw new RunFolderError(
      `cannot open the run folder ${runDir} (${e instanceof ReadError ? e.reason : fsReason(e)})`,
    );
  }
  try {
    const c = JSON.parse(text);
    if (
      typeof c.graph !== "string" || !Array.isArray(c.overrides) ||
      !c.overrides.every((o: unknown) => typeof o === "string") ||
      !["string", "undefined"].includes(typeof c.manifest) ||
      !["boolean", "undefined"].includes(typeof c.skipBad) ||
      !["boolean", "undefined"].includes(typeof c.allowOutside) ||
      !["number", "undefined"].includes(typeof c.maxPixels)
    ) throw new Error();
    return c;
  } catch {
    throw new RunFolderError(`${path} is damaged: expected the run's graph and overrides`);
  }
}

/** Where the checkpoint of `step` lives in a run folder: checkpoints/step-NNNNNNN.safetensors. */
export function checkpointPath(runDir: string, step: number): string {
  return join(runDir, "checkpoints", `step-${String(step).padStart(7, "0")}.safetensors`);
}

/** The run's checkpoints, oldest first (none when the folder is missing). */
export function listCheckpoints(runDir: string): string[] {
  const dir = join(runDir, "checkpoints");
  try {
    return [...Deno.readDirSync(dir)]
      .filter((e) => (e.isFile || e.isSymlink) && /^step-\d+\.safetensors$/.test(e.name))
      .map((e) => join(dir, e.name))
      .sort();
  } catch {
    return [];
  }
}

/** The run's newest `checkpoints/step-N.safetensors`. */
export function latestCheckpoint(runDir: string): string | undefined {
  return listCheckpoints(runDir).at(-1);
}

/** The newest checkpoint, or an error saying the run has none. */
export function requireCheckpoint(runDir: string): string {
  const last = latestCheckpoint(runDir);
  if (!last) {
    throw new RunFolderError(`${runDir} has no checkpoint (checkpoints/step-*.safetensors)`);
  }
  return last;
}

/** A run's graph path is relative to where training ran; an exported model's to its folder. */
export function runGraph(runDir: string, graph: string): string {
  if (graph.startsWith("/")) return graph;
  const inside = join(runDir, graph);
  return exists(inside) ? inside : graph;
}

export function readThreshold(runDir: string | undefined, step: number | undefined): Threshold {
  const fallback = (why: string) => ({ value: 0.5, source: `default 0.5 (${why})` });
  if (!runDir) return fallback("no run folder");
  const path = join(runDir, "eval.json");
  let ev: { step?: unknown; verification?: { threshold?: unknown } };
  try {
    ev = JSON.parse(readTextGuarded(path, { max: READ_LIMITS.json }));
  } catch {
    return fallback(`no readable ${path}; deno task eval calibrates one`);
  }
  const t = ev?.verification?.threshold;
  if (typeof t !== "number" || !Number.isFinite(t)) {
    return fallback(`${path} has no calibration; deno task eval writes one`);
  }
  const at = typeof ev.step === "number" ? ` at step ${ev.step}` : "";
  const stale = typeof ev.step === "number" && step !== undefined && ev.step !== step
    ? `; the checkpoint loaded is step ${step}`
    : "";
  return { value: t, source: `${path}, calibrated on held-out synthetic pairs${at}${stale}` };
}
