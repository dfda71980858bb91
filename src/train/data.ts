// Training batches: the built-in synthetic faces, or a folder of real images with a
// manifest. Each step's batch is a pure function of (seed, step), so a resumed run
// sees exactly the batches it would have seen.
import type { Model } from "../lang/ir.ts";
import { identityFromSeed, identityNumber } from "../data/identity.ts";
import { FRONTAL_POSE, mirrorPose, NUM_POSES, yawOfPose } from "../data/pose.ts";
import { hashInts, Random } from "../data/random.ts";
import { renderFace } from "../data/synthetic.ts";
import { NUM_LIGHTS, viewFor } from "../data/view.ts";
import { type FolderOptions, formatSummary, loadFolder } from "../data/folder.ts";
import { augmentCHW, paddingFor } from "../data/image.ts";
import type { Dataset } from "../data/dataset.ts";
import type { Batch } from "./trainer.ts";
import type { TrainingConfig } from "./config.ts";
import { UserError } from "../errors.ts";

export interface TrainData {
  describe: string;
  /** whether batches can render their scenes at other poses (Batch.sceneAt) */
  paired: boolean;
  /** the step's batch: this rank's shard, or the given rows of the global batch */
  batch(step: number, rows?: Shard): Promise<Batch>;
  /** fixed faces for sample grids */
  sampleFaces(n: number): Float32Array<ArrayBuffer>;
}

/** Variants per (identity, pose, light): background and jitter differ between them. */
const VARIANTS = 4;

function graphSizes(model: Model) {
  const image = model.step!.inputs.find((i) => i.name === "image");
  const size = Number(image?.shape[2]);
  const nd = Number(model.params.Nd), np = Number(model.params.Np);
  if (!Number.isInteger(nd) || nd < 1) {
    throw new UserError(`${model.file}: parameter Nd is not set`);
  }
  if (np !== NUM_POSES) {
    throw new UserError(
      `${model.file}: the data has ${NUM_POSES} pose classes, the graph Np = ${np}`,
    );
  }
  return { size, nd };
}

export async function openTrainData(
  model: Model,
  cfg: TrainingConfig,
  opts: {
    manifest?: string;
    skipBad?: boolean;
    allowOutside?: boolean;
    maxPixels?: number;
    /** rows [from, to) of each global batch (a data-parallel rank's shard); default all */
    shard?: Shard;
    /** reads a folder's images in parallel (a DataPool's) */
    readMany?: FolderOptions["readMany"];
  },
): Promise<TrainData> {
  const { size, nd } = graphSizes(model);
  const shard = opts.shard ?? { from: 0, to: cfg.batch };
  const data = opts.manifest
    ? await folderData(opts.manifest, size, nd, cfg, { ...opts, shard })
    : syntheticData(size, nd, cfg, shard);
  if (!data.paired && model.step!.inputs.some((i) => i.name === "target_image")) {
    throw new UserError(
      `${model.file}: the step input target_image (each face's own scene at the target ` +
        `pose) needs paired views, which only the built-in synthetic data has; ` +
        `train a graph without it on ${opts.manifest}`,
    );
  }
  return data;
}

/** Rows of a global batch. Every row's draws are made, only the shard's are rendered. */
export interface Shard {
  from: number;
  to: number;
}

function syntheticData(size: number, nd: number, cfg: TrainingConfig, shard: Shard): TrainData {
  const seed = cfg.seed;
  const identities = Array.from(
    { length: nd },
    (_, j) => identityFromSeed(seed, identityNumber("train", j)),
  );
  const plane = 3 * size * size;
  type Scene = { j: number; p: number; light: number; variant: number };
  // `yawOf` turns the scene's head to another pose class: the same photo otherwise.
  const render = (s: Scene, out: Float32Array, at: number, yawOf = s.p) => {
    const view = viewFor(seed, identityNumber("train", s.j), s.p, s.light, s.variant);
    renderFace(identities[s.j], { ...view, yaw: yawOfPose(yawOf) }, size, out, at);
  };
  return {
    describe: `synthetic faces, ${nd} training identities x ${NUM_POSES} poses x ` +
      `${NUM_LIGHTS} lights, ${size}x${size}, seed ${seed}`,
    paired: true,
    batch(step: number, rows = shard): Promise<Batch> {
      const B = cfg.batch;
      const r = new Random(hashInts(seed, step, 0xba7c));
      const { from, to } = rows, n = to - from;
      const image = new Float32Array(n * plane);
      const identity = new Float32Array(n), pose = new Float32Array(n);
      const scenes: Scene[] = [];
      let j = 0;
      for (let b = 0; b < B; b++) {
        // Groups of cfg.group images of one identity (multi-image mode); 1 = independent.
        if (b % cfg.group === 0) j = r.int(nd);
        const s = { j, p: r.int(NUM_POSES), light: r.int(NUM_LIGHTS), variant: r.int(VARIANTS) };
        if (b < from || b >= to) continue;
        render(s, image, (b - from) * plane);
        scenes.push(s);
        identity[b - from] = j;
        pose[b - from] = s.p;
      }
      const sceneAt = (poses: Float32Array) => {
        const out = new Float32Array(n * plane);
        scenes.forEach((s, b) => render(s, out, b * plane, poses[b]));
        return out;
      };
      return Promise.resolve({ image, identity, pose, sceneAt });
    },
    sampleFaces(n: number) {
      const out = new Float32Array(n * plane);
      const poses = [FRONTAL_POSE, 2, 10, 0, 12, 4, 8];
      for (let i = 0; i < n; i++) {
        render({ j: i % nd, p: poses[i % poses.length], light: 0, variant: 0 }, out, i * plane);
      }
      return out;
    },
  };
}

/**
 * A user's images: the paper's augmentation (pad to 110/96 of the size, random crop)
 * and mirroring, which negates yaw and so maps pose class k to 12 - k.
 */
async function folderData(
  manifest: string,
  size: number,
  nd: number,
  cfg: TrainingConfig,
  opts: Omit<FolderOptions, "imageSize"> & { shard: Shard },
): Promise<TrainData> {
  const folder = await loadFolder(manifest, { imageSize: size, ...opts });
  const set: Dataset = folder.set;
  if (set.numIdentities !== nd) {
    throw new UserError(
      `${manifest}: ${set.numIdentities} identities, but the graph has Nd = ${nd} ` +
        `(add --set Nd=${set.numIdentities})`,
    );
  }
  const plane = 3 * size * size;
  const pad = paddingFor(size);
  const byIdentity: number[][] = Array.from({ length: nd }, () => []);
  for (let i = 0; i < set.size; i++) byIdentity[set.labels(i).identity].push(i);
  const scratch = new Float32Array(plane);
  return {
    describe: formatSummary(folder.summary),
    paired: false,
    batch(step: number, rows = opts.shard): Promise<Batch> {
      const B = cfg.batch;
      const r = new Random(hashInts(cfg.seed, step, 0xf01d));
      const { from, to } = rows, n = to - from;
      const image = new Float32Array(n * plane);
      const identity = new Float32Array(n), pose = new Float32Array(n);
      let person: number[] = [];
      for (let b = 0; b < B; b++) {
        // Groups of cfg.group images of one identity (multi-image mode); 1 = independent.
        if (b % cfg.group === 0) person = byIdentity[set.labels(r.int(set.size)).identity];
        const i = cfg.group === 1 ? r.int(set.size) : person[r.int(person.length)];
        const labels = set.labels(i);
        const mirror = r.next() < 0.5;
        const dx = r.int(2 * pad + 1), dy = r.int(2 * pad + 1);
        if (b < from || b >= to) continue;
        set.read(i, scratch, 0);
        augmentCHW(scratch, 0, size, { dx, dy, pad, mirror }, image, (b - from) * plane);
        identity[b - from] = labels.identity;
        pose[b - from] = mirror ? mirrorPose(labels.pose) : labels.pose;
      }
      return Promise.resolve({ image, identity, pose });
    },
    sampleFaces(n: number) {
      const out = new Float32Array(n * plane);
      for (let k = 0; k < n; k++) set.read(Math.floor((k * set.size) / n), out, k * plane);
      return out;
    },
  };
}
