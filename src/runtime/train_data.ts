// Training batches from the built-in synthetic faces: each step's batch is a pure
// function of (seed, step), so a resumed run sees exactly the batches it would have.
import type { Model } from "../compiler/ir.ts";
import { identityFromSeed, identityNumber } from "../data/identity.ts";
import { FRONTAL_POSE, NUM_POSES } from "../data/pose.ts";
import { hashInts, Random } from "../data/random.ts";
import { renderFace } from "../data/synthetic.ts";
import { NUM_LIGHTS, viewFor } from "../data/view.ts";
import type { Batch } from "./trainer.ts";
import type { TrainingConfig } from "./train_config.ts";
import { UserError } from "../cli/args.ts";

export interface TrainData {
  describe: string;
  batch(step: number): Promise<Batch>;
  /** fixed faces for sample grids: frontal-ish and profile views of training identities */
  sampleFaces(n: number): Float32Array<ArrayBuffer>;
}

/** Variants per (identity, pose, light): background and jitter differ between them. */
const VARIANTS = 4;

export function openTrainData(
  model: Model,
  cfg: TrainingConfig,
  opts: { manifest?: string; skipBad?: boolean },
): TrainData {
  if (opts.manifest) {
    throw new UserError("--manifest: training on image folders is not available in this version");
  }
  const image = model.step!.inputs.find((i) => i.name === "image");
  const size = Number(image?.shape[2]);
  const nd = Number(model.params.Nd), np = Number(model.params.Np);
  if (!Number.isInteger(nd) || nd < 1) {
    throw new UserError(`${model.file}: parameter Nd is not set`);
  }
  if (np !== NUM_POSES) {
    throw new UserError(
      `${model.file}: the synthetic faces have ${NUM_POSES} poses, the graph has Np = ${np}`,
    );
  }
  const seed = cfg.seed;
  const identities = Array.from(
    { length: nd },
    (_, j) => identityFromSeed(seed, identityNumber("train", j)),
  );
  const plane = 3 * size * size;
  const render = (
    j: number,
    pose: number,
    light: number,
    variant: number,
    out: Float32Array,
    at: number,
  ) => {
    const id = identityNumber("train", j);
    renderFace(identities[j], viewFor(seed, id, pose, light, variant), size, out, at);
  };
  return {
    describe: `synthetic faces, ${nd} training identities x ${NUM_POSES} poses x ` +
      `${NUM_LIGHTS} lights, ${size}x${size}, seed ${seed}`,
    batch(step: number): Promise<Batch> {
      const B = cfg.batch;
      const r = new Random(hashInts(seed, step, 0xba7c));
      const image = new Float32Array(B * plane);
      const identity = new Float32Array(B), pose = new Float32Array(B);
      for (let b = 0; b < B; b++) {
        const j = r.int(nd), p = r.int(NUM_POSES);
        render(j, p, r.int(NUM_LIGHTS), r.int(VARIANTS), image, b * plane);
        identity[b] = j;
        pose[b] = p;
      }
      return Promise.resolve({ image, identity, pose });
    },
    sampleFaces(n: number) {
      const out = new Float32Array(n * plane);
      const poses = [FRONTAL_POSE, 2, 10, 0, 12, 4, 8];
      for (let i = 0; i < n; i++) render(i % nd, poses[i % poses.length], 0, 0, out, i * plane);
      return out;
    },
  };
}
