// Batches for DR-GAN training. Single-image training: random images (so random people)
// each with a random target pose code. Multi-image training: groups of n images of one
// person, adjacent in the batch, sharing one target pose (their fused representation
// is decoded once). Both are seeded and deterministic, and fill preallocated buffers.
import type { Dataset } from "./dataset.ts";
import { type Augment, augmentCHW, paddingFor } from "./image.ts";
import { mirrorPose } from "./pose.ts";
import { hashInts, Random } from "./random.ts";

export interface Batch {
  /** NCHW [B, 3, H, W] in [-1, 1] */
  images: Float32Array;
  identity: Int32Array;
  /** pose class of each image (after mirroring) */
  pose: Int32Array;
  light: Int32Array;
  /** pose code the generator is asked for, 0..numPoses-1 */
  targetPose: Int32Array;
  /** [B, noiseDim], uniform in [-1, 1] as in the paper */
  noise: Float32Array;
  batchSize: number;
  imageSize: number;
  /** images per person group: 1 for single-image batches */
  groupSize: number;
  /** 0, 1, 2, ... in order of making */
  index: number;
}

export interface SamplerOptions {
  batchSize: number;
  seed: number;
  /** pad to 110/96 of the size and crop back at random (default true) */
  crop?: boolean;
  /** mirror half the images, mapping pose k to 12 - k (default true) */
  mirror?: boolean;
  /** noise values per image (default 0) */
  noiseDim?: number;
  /**
   * preallocated batches reused in turn (default 3): a batch's arrays stay valid until
   * `slots - 1` further batches have been made
   */
  slots?: number;
}

abstract class Sampler {
  protected rng: Random;
  protected made = 0;
  private ring: Batch[] = [];
  private scratch: Float32Array;
  protected readonly pad: number;

  constructor(
    readonly dataset: Dataset,
    readonly options: SamplerOptions,
    readonly groupSize: number,
  ) {
    const b = options.batchSize;
    if (!Number.isInteger(b) || b < 1) throw new RangeError(`batch size ${b} must be >= 1`);
    if (dataset.size === 0) throw new RangeError("the dataset has no images");
    this.rng = new Random(hashInts(options.seed, 0xba7c4));
    this.pad = options.crop === false ? 0 : paddingFor(dataset.imageSize);
    const s = dataset.imageSize;
    this.scratch = new Float32Array(3 * s * s);
    for (let i = 0; i < (options.slots ?? 3); i++) {
      this.ring.push({
        images: new Float32Array(b * 3 * s * s),
        identity: new Int32Array(b),
        pose: new Int32Array(b),
        light: new Int32Array(b),
        targetPose: new Int32Array(b),
        noise: new Float32Array(b * (options.noiseDim ?? 0)),
        batchSize: b,
        imageSize: s,
        groupSize,
        index: 0,
      });
    }
  }

  /** The dataset indices of the next batch, in batch order, and their target poses. */
  protected abstract pick(): { indices: number[]; targets: number[] };

  /** Makes the next batch (into the next preallocated slot) and returns it. */
  next(): Batch {
    const batch = this.ring[this.made % this.ring.length];
    batch.index = this.made++;
    const { indices, targets } = this.pick();
    const s = this.dataset.imageSize, n = 3 * s * s;
    const aug: Augment = { dx: this.pad, dy: this.pad, pad: this.pad, mirror: false };
    for (let k = 0; k < indices.length; k++) {
      const i = indices[k];
      const l = this.dataset.labels(i);
      aug.dx = this.pad > 0 ? this.rng.int(2 * this.pad + 1) : 0;
      aug.dy = this.pad > 0 ? this.rng.int(2 * this.pad + 1) : 0;
      aug.mirror = this.options.mirror !== false && this.rng.chance(0.5);
      this.dataset.read(i, this.scratch, 0);
      augmentCHW(this.scratch, 0, s, aug, batch.images, k * n);
      batch.identity[k] = l.identity;
      batch.pose[k] = aug.mirror ? mirrorPose(l.pose) : l.pose;
      batch.light[k] = l.light;
      batch.targetPose[k] = targets[k];
    }
    for (let j = 0; j < batch.noise.length; j++) batch.noise[j] = this.rng.range(-1, 1);
    return batch;
  }
}

/** Random images in epochs (each image once per epoch, reshuffled), random target poses. */
export class SingleImageSampler extends Sampler {
  private order: Int32Array;
  private cursor: number;

  constructor(dataset: Dataset, options: SamplerOptions) {
    super(dataset, options, 1);
    this.order = Int32Array.from({ length: dataset.size }, (_, i) => i);
    this.cursor = dataset.size; // shuffle on first use
  }

  protected pick() {
    const indices: number[] = [], targets: number[] = [];
    for (let k = 0; k < this.options.batchSize; k++) {
      if (this.cursor >= this.order.length) {
        this.rng.shuffle(this.order);
        this.cursor = 0;
      }
      indices.push(this.order[this.cursor++]);
      targets.push(this.rng.int(this.dataset.numPoses));
    }
    return { indices, targets };
  }
}

/**
 * Groups of `groupSize` images of one person, adjacent in the batch: people are taken
 * in shuffled epochs, images within a person without repeats while it has enough.
 */
export class MultiImageSampler extends Sampler {
  private byIdentity: number[][];
  private people: Int32Array;
  private cursor: number;

  constructor(dataset: Dataset, options: SamplerOptions & { groupSize: number }) {
    super(dataset, options, options.groupSize);
    const n = options.groupSize;
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`group size ${n} must be >= 1`);
    if (options.batchSize % n !== 0) {
      throw new RangeError(`batch size ${options.batchSize} is not a multiple of group size ${n}`);
    }
    this.byIdentity = Array.from({ length: dataset.numIdentities }, () => []);
    for (let i = 0; i < dataset.size; i++) this.byIdentity[dataset.labels(i).identity].push(i);
    this.people = Int32Array.from(
      this.byIdentity.flatMap((list, id) => (list.length > 0 ? [id] : [])),
    );
    this.cursor = this.people.length;
  }

  protected pick() {
    const n = this.groupSize;
    const indices: number[] = [], targets: number[] = [];
    for (let g = 0; g < this.options.batchSize / n; g++) {
      if (this.cursor >= this.people.length) {
        this.rng.shuffle(this.people);
        this.cursor = 0;
      }
      const list = this.byIdentity[this.people[this.cursor++]];
      const target = this.rng.int(this.dataset.numPoses);
      // partial Fisher-Yates: n distinct images when the person has that many
      const pool = list.slice();
      for (let k = 0; k < n; k++) {
        if (k < pool.length) {
          const j = k + this.rng.int(pool.length - k);
          [pool[k], pool[j]] = [pool[j], pool[k]];
          indices.push(pool[k]);
        } else indices.push(pool[this.rng.int(pool.length)]);
        targets.push(target);
      }
    }
    return { indices, targets };
  }
}
