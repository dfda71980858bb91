// The default data: synthetic people at every pose class under chosen lights, rendered
// on demand (SyntheticDataset) or all at once into an ImageSet cached on disk.
import { DEFAULT_CACHE_DIR, digest, readCache, writeCache } from "./cache.ts";
import { checkIndex, type Dataset, ImageSet, type Labels, type Sample } from "./dataset.ts";
import { type Identity, identityFromSeed, identityNumber, type Split } from "./identity.ts";
import { fromCHW } from "./image.ts";
import { NUM_POSES } from "./pose.ts";
import { RENDER_VERSION, renderFace } from "./synthetic.ts";
import { NUM_LIGHTS, viewFor } from "./view.ts";

export interface SyntheticOptions {
  seed: number;
  /** training people or held-out people (never the same people) */
  split: Split;
  /** number of people, Nd */
  identities: number;
  /** pixels per side */
  imageSize: number;
  /** light indices to render each pose under (default: all of them) */
  lights?: number[];
  /** renders per (person, pose, light), each with its own jitter and background (default 1) */
  variants?: number;
}

/** Index i enumerates person, then pose, then light, then variant. */
export class SyntheticDataset implements Dataset {
  readonly numPoses = NUM_POSES;
  readonly numLights = NUM_LIGHTS;
  readonly imageSize: number;
  readonly numIdentities: number;
  readonly size: number;
  readonly lights: number[];
  readonly variants: number;
  private people: Identity[];

  constructor(readonly options: SyntheticOptions) {
    const o = options;
    this.lights = o.lights ?? Array.from({ length: NUM_LIGHTS }, (_, i) => i);
    this.variants = o.variants ?? 1;
    const bad = (what: string) => {
      throw new RangeError(`synthetic data: ${what}`);
    };
    if (!Number.isInteger(o.identities) || o.identities < 1) bad("identities must be >= 1");
    if (!Number.isInteger(o.imageSize) || o.imageSize < 4) bad("imageSize must be >= 4");
    if (!Number.isInteger(this.variants) || this.variants < 1) bad("variants must be >= 1");
    if (this.lights.length === 0) bad("no lights");
    for (const l of this.lights) {
      if (!Number.isInteger(l) || l < 0 || l >= NUM_LIGHTS) {
        bad(`light ${l} is not in 0..${NUM_LIGHTS - 1}`);
      }
    }
    this.imageSize = o.imageSize;
    this.numIdentities = o.identities;
    this.size = o.identities * NUM_POSES * this.lights.length * this.variants;
    this.people = Array.from(
      { length: o.identities },
      (_, j) => identityFromSeed(o.seed, identityNumber(o.split, j)),
    );
  }

  /** The person behind identity label j. */
  person(j: number): Identity {
    return this.people[j];
  }

  private split(i: number) {
    const v = i % this.variants;
    let r = (i - v) / this.variants;
    const l = r % this.lights.length;
    r = (r - l) / this.lights.length;
    const pose = r % NUM_POSES;
    return { identity: (r - pose) / NUM_POSES, pose, light: this.lights[l], variant: v };
  }

  labels(i: number): Labels {
    checkIndex(this, i);
    const { identity, pose, light } = this.split(i);
    return { identity, pose, light };
  }

  read(i: number, out: Float32Array, offset = 0): void {
    checkIndex(this, i);
    const s = this.split(i);
    const person = this.people[s.identity];
    const view = viewFor(this.options.seed, person.id, s.pose, s.light, s.variant);
    renderFace(person, view, this.imageSize, out, offset);
  }

  get(i: number): Sample {
    const image = new Float32Array(3 * this.imageSize * this.imageSize);
    this.read(i, image);
    return { ...this.labels(i), image };
  }

  /** Renders every image into an ImageSet; `progress(done, total)` now and then. */
  materialize(progress?: (done: number, total: number) => void): ImageSet {
    const n = this.size, s = this.imageSize, px = s * s * 3;
    const pixels = new Uint8Array(n * px);
    const identity = new Int32Array(n), pose = new Int32Array(n), light = new Int32Array(n);
    const img = new Float32Array(3 * s * s);
    for (let i = 0; i < n; i++) {
      this.read(i, img);
      fromCHW(img, s, 0, pixels.subarray(i * px, (i + 1) * px));
      const l = this.split(i);
      identity[i] = l.identity;
      pose[i] = l.pose;
      light[i] = l.light;
      if (progress && (i % 500 === 499 || i === n - 1)) progress(i + 1, n);
    }
    return new ImageSet(s, pixels, identity, pose, light, this.numIdentities, NUM_LIGHTS);
  }

  /** The cache key of this set's parameters (and of the renderer's version). */
  cacheKey(): string {
    const o = this.options;
    const params = JSON.stringify({
      v: RENDER_VERSION,
      seed: o.seed,
      split: o.split,
      identities: o.identities,
      size: o.imageSize,
      lights: this.lights,
      variants: this.variants,
    });
    return `synthetic-${o.split}-s${o.seed}-n${o.identities}-${o.imageSize}px-${digest(params)}`;
  }
}

export interface CacheOptions {
  /** folder of cache files (default .cache/data); false to skip the cache */
  cacheDir?: string | false;
  progress?: (done: number, total: number) => void;
}

/**
 * The synthetic set for `options` as 8-bit images in memory: read from the cache when
 * a file for exactly these parameters exists, else rendered and then cached.
 */
export async function loadSynthetic(
  options: SyntheticOptions,
  cache: CacheOptions = {},
): Promise<{ set: ImageSet; cached: boolean; key: string }> {
  const ds = new SyntheticDataset(options);
  const key = ds.cacheKey();
  const dir = cache.cacheDir ?? DEFAULT_CACHE_DIR;
  if (dir !== false) {
    const hit = await readCache(dir, key);
    if (hit) return { set: hit, cached: true, key };
  }
  const set = ds.materialize(cache.progress);
  if (dir !== false) await writeCache(dir, key, set);
  return { set, cached: false, key };
}
