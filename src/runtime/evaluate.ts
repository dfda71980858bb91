// Face recognition on held-out synthetic identities: gallery one frontal image per
// identity, probes every other pose; rank-1 identification by cosine similarity of
// the encoder's features, per probe pose, next to the same protocol on raw pixels.
import type { Model } from "../compiler/ir.ts";
import { buildProgram } from "../compiler/program.ts";
import { identityFromSeed, identityNumber } from "../data/identity.ts";
import { FRONTAL_POSE, NUM_POSES, yawOfPose } from "../data/pose.ts";
import { renderFace } from "../data/synthetic.ts";
import { viewFor } from "../data/view.ts";
import type { Region } from "./buffers.ts";
import type { Gpu } from "./device.ts";
import { Executor } from "./executor.ts";

export interface Rank1Result {
  identities: number;
  /** yaw in degrees -> rank-1 accuracy of the features, and of raw pixels */
  perPose: { yaw: number; features: number; pixels: number }[];
  mean: { features: number; pixels: number };
}

/** Renders every pose of `count` held-out identities: [count][pose] images, CHW. */
export function heldOutFaces(
  seed: number,
  count: number,
  size: number,
  light = 0,
): Float32Array[][] {
  const plane = 3 * size * size;
  return Array.from({ length: count }, (_, j) => {
    const id = identityNumber("test", j);
    const identity = identityFromSeed(seed, id);
    return Array.from({ length: NUM_POSES }, (_, p) => {
      const out = new Float32Array(plane);
      renderFace(identity, viewFor(seed, id, p, light, 1), size, out, 0);
      return out;
    });
  });
}

/** Encoder features in inference mode, sharing the given parameter regions. */
export class FeatureExtractor {
  private constructor(private exec: Executor, readonly batch: number, readonly plane: number) {}

  static async create(gpu: Gpu, model: Model, shared: Map<string, Region>, batch: number) {
    const enc = model.networks.find((n) => n.name === "encoder");
    if (!enc) throw new Error(`${model.file}: no network 'encoder'`);
    const program = buildProgram(enc, { batch, training: false, outputs: ["feature"] });
    const exec = await Executor.create(gpu, program, shared);
    const shape = program.tensors.get(program.inputs[0])!.shape;
    return new FeatureExtractor(exec, batch, shape[1] * shape[2] * shape[3]);
  }

  /** Features of any number of images (padded to whole batches). */
  async features(images: Float32Array[]): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    const input = this.exec.program.inputs[0], feature = this.exec.program.outputs.feature;
    for (let i = 0; i < images.length; i += this.batch) {
      const chunk = new Float32Array(this.batch * this.plane);
      images.slice(i, i + this.batch).forEach((im, k) => chunk.set(im, k * this.plane));
      this.exec.write(input, chunk);
      this.exec.run();
      const f = (await this.exec.read([feature])).get(feature)!;
      const nf = f.length / this.batch;
      for (let k = 0; k < Math.min(this.batch, images.length - i); k++) {
        out.push(f.slice(k * nf, (k + 1) * nf));
      }
    }
    return out;
  }
}

export function cosine(a: Float32Array, b: Float32Array): number {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb + 1e-30);
}

/** Fraction of probes whose most similar gallery entry is their own identity. */
export function rank1(gallery: Float32Array[], probes: Float32Array[]): number {
  let hits = 0;
  probes.forEach((p, truth) => {
    let best = -1, bestSim = -Infinity;
    gallery.forEach((g, k) => {
      const s = cosine(p, g);
      if (s > bestSim) [best, bestSim] = [k, s];
    });
    if (best === truth) hits++;
  });
  return hits / probes.length;
}

export async function evaluateRank1(
  extractor: FeatureExtractor,
  faces: Float32Array[][],
): Promise<Rank1Result> {
  const feats = await extractor.features(faces.flat());
  const at = (j: number, p: number) => feats[j * NUM_POSES + p];
  const galleryF = faces.map((_, j) => at(j, FRONTAL_POSE));
  const galleryP = faces.map((f) => f[FRONTAL_POSE]);
  const perPose: Rank1Result["perPose"] = [];
  for (let p = 0; p < NUM_POSES; p++) {
    if (p === FRONTAL_POSE) continue;
    perPose.push({
      yaw: yawOfPose(p),
      features: rank1(galleryF, faces.map((_, j) => at(j, p))),
      pixels: rank1(galleryP, faces.map((f) => f[p])),
    });
  }
  const mean = (k: "features" | "pixels") => perPose.reduce((s, r) => s + r[k], 0) / perPose.length;
  return {
    identities: faces.length,
    perPose,
    mean: { features: mean("features"), pixels: mean("pixels") },
  };
}
