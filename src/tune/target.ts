// The Target of an opened adapter: its limits and cost model, plus what `deno task
// tune` measured on it (conv blocks, the merge policy), read from the tune cache.
// Only the command-line tools call this; tests build their targets explicitly.
import type { Gpu } from "../engine/device.ts";
import { adapterTarget, type Target } from "../plan/target.ts";
import { adapterKey, loadCache, type TuneCache, tuneCacheDir } from "./cache.ts";

/** `base` with a tune cache's measurements: its blocks by geometry, its merge policy. */
export function applyTune(base: Target, cache: TuneCache): Target {
  const t: Target = { ...base, blocks: { ...base.blocks } };
  for (const [key, e] of Object.entries(cache.entries)) t.blocks[key] = e.block;
  if (cache.merge) t.mixed = cache.merge.mixed;
  return t;
}

/** The adapter's untuned target, with the cache's measurements when given. */
export function tunedTarget(gpu: Gpu, cache?: TuneCache): Target {
  const t = adapterTarget(gpu.description, gpu.device.limits, gpu.software);
  return cache ? applyTune(t, cache) : t;
}

/** What the tools compile for: the adapter's target and its tune cache, if any. */
export function targetFor(gpu: Gpu): Target {
  const dir = tuneCacheDir();
  return tunedTarget(gpu, dir ? loadCache(dir, adapterKey(gpu.adapter.info)) : undefined);
}
