// One call for the trainer: the synthetic set (cached) by default, or a real folder
// when a manifest is given, with a line for the run summary either way.
import type { Dataset } from "./dataset.ts";
import { formatSummary, loadFolder } from "./folder.ts";
import type { Split } from "./identity.ts";
import { loadSynthetic } from "./synthetic_set.ts";

export interface DataSpec {
  imageSize: number;
  seed: number;
  /** a real dataset's manifest; when absent the synthetic data is used */
  manifest?: string;
  skipBad?: boolean;
  /** synthetic only: people (Nd), split, lights, variants, cache folder */
  identities?: number;
  split?: Split;
  lights?: number[];
  variants?: number;
  cacheDir?: string | false;
  progress?: (done: number, total: number) => void;
}

export async function openData(spec: DataSpec): Promise<{ dataset: Dataset; summary: string }> {
  if (spec.manifest !== undefined) {
    const f = await loadFolder(spec.manifest, {
      imageSize: spec.imageSize,
      skipBad: spec.skipBad,
    });
    return { dataset: f.set, summary: formatSummary(f.summary) };
  }
  const { set, cached, key } = await loadSynthetic({
    seed: spec.seed,
    split: spec.split ?? "train",
    identities: spec.identities ?? 200,
    imageSize: spec.imageSize,
    lights: spec.lights,
    variants: spec.variants,
  }, { cacheDir: spec.cacheDir, progress: spec.progress });
  return {
    dataset: set,
    summary: `synthetic ${spec.split ?? "train"} set: ${set.size} images of ` +
      `${set.numIdentities} ${set.numIdentities === 1 ? "person" : "people"} ` +
      `(${cached ? "from cache" : "rendered"}: ${key})`,
  };
}
