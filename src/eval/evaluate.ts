// Face recognition on held-out synthetic identities: gallery one frontal image per
// identity, probes every other pose; rank-1 identification by cosine similarity of
// the encoder's features, per probe pose, next to the same protocol on raw pixels.
import type { Model } from "../lang/ir.ts";
import { compile, type Plan } from "../plan/plan.ts";
import type { Target } from "../plan/target.ts";
import { identityFromSeed, identityNumber } from "../data/identity.ts";
import { FRONTAL_POSE, NUM_POSES, yawOfPose } from "../data/pose.ts";
import { renderFace } from "../data/synthetic.ts";
import { NUM_LIGHTS, viewFor } from "../data/view.ts";
import type { Region } from "../engine/buffers.ts";
import type { Gpu } from "../engine/device.ts";
import { Executor } from "../engine/executor.ts";
import { mix, Rng } from "../util/rng.ts";

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
  return Array.from(
    { length: count },
    (_, j) => Array.from({ length: NUM_POSES }, (_, p) => render(seed, j, p, light, 1, size)),
  );
}

/** The true frontal view of held-out probe (j, pose): the probe's own scene at yaw 0. */
export function frontalTruth(seed: number, j: number, pose: number, size: number) {
  return render(seed, j, pose, 0, 1, size, true);
}

/**
 * The background pixels (1) of `truth`, probe (j, pose)'s frontal truth: those that
 * change when the same scene is rendered with another background.
 */
export function backgroundMask(
  seed: number,
  j: number,
  pose: number,
  truth: Float32Array,
  size: number,
): Uint8Array {
  const other = render(seed, j, pose, 0, 1, size, true, 0x5bd1e995);
  const n = size * size, mask = new Uint8Array(n);
  for (let i = 0; i < 3 * n; i++) if (other[i] !== truth[i]) mask[i % n] = 1;
  return mask;
}

/** The part of meanAbsError(a, b) that comes from the pixels `mask` marks. */
export function maskedAbsError(a: Float32Array, b: Float32Array, mask: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) if (mask[i % mask.length]) s += Math.abs(a[i] - b[i]);
  return s / 2 / a.length;
}

/**
 * Held-out identity j in one photo; `frontal` turns the same scene's camera to yaw 0;
 * `background` (xor-ed into the view's background seed) draws another background.
 */
function render(
  seed: number,
  j: number,
  pose: number,
  light: number,
  variant: number,
  size: number,
  frontal = false,
  background = 0,
) {
  const id = identityNumber("test", j);
  const view = viewFor(seed, id, pose, light, variant);
  const out = new Float32Array(3 * size * size);
  renderFace(
    identityFromSeed(seed, id),
    { ...view, ...frontal ? { yaw: 0 } : {}, background: view.background ^ background },
    size,
    out,
    0,
  );
  return out;
}

/** The feature extractor's plan: the encoder's features at `batch` images. */
export function featurePlan(model: Model, batch: number, target: Target): Plan {
  const enc = model.networks.find((n) => n.name === "encoder");
  if (!enc) throw new Error(`${model.file}: no network 'encoder'`);
  return compile(enc, { batch, training: false, outputs: ["feature"], target });
}

/** Encoder features in inference mode, sharing the given parameter regions. */
export class FeatureExtractor {
  private constructor(private exec: Executor, readonly batch: number, readonly plane: number) {}

  /** Walks `plan` (featurePlan) over the parameters in `shared`. */
  static async create(gpu: Gpu, plan: Plan, shared: Map<string, Region>) {
    const exec = await Executor.create(gpu, plan, { shared });
    const shape = exec.tensor(exec.program.inputs[0]).shape;
    return new FeatureExtractor(exec, exec.program.batch, shape[1] * shape[2] * shape[3]);
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

/** Index of the gallery feature most similar to `probe` (cosine). */
export function nearest(gallery: Float32Array[], probe: Float32Array): number {
  let best = -1, bestSim = -Infinity;
  gallery.forEach((g, k) => {
    const s = cosine(probe, g);
    if (s > bestSim) [best, bestSim] = [k, s];
  });
  return best;
}

/** Fraction of probes whose most similar gallery entry is their own identity. */
export function rank1(gallery: Float32Array[], probes: Float32Array[]): number {
  return probes.filter((p, truth) => nearest(gallery, p) === truth).length / probes.length;
}

export async function evaluateRank1(
  extractor: FeatureExtractor,
  faces: Float32Array[][],
): Promise<Rank1Result> {
  return rank1FromFeatures(faces, await extractor.features(faces.flat()));
}

/**
 * The rank-1 protocol of `evaluateRank1` on features already computed:
 * `feats[j * NUM_POSES + p]` is the feature of `faces[j][p]`.
 */
export function rank1FromFeatures(faces: Float32Array[][], feats: Float32Array[]): Rank1Result {
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

// ---------------------------------------------------------------------------
// Verification (same person or not?), CFP-style: ROC over all pairs, and accuracy
// over 10 folds with the threshold chosen on 9 folds and tested on the 10th.

/** ROC curve, thresholds from high to low: point i accepts every pair scoring >= thresholds[i]. */
export interface Roc {
  fpr: number[];
  tpr: number[];
  thresholds: number[];
}

export function roc(scores: number[], same: boolean[]): Roc {
  const order = scores.map((_, i) => i).sort((a, b) => scores[b] - scores[a]);
  const P = same.filter((s) => s).length, N = same.length - P;
  const out: Roc = { fpr: [0], tpr: [0], thresholds: [Infinity] };
  let tp = 0, fp = 0;
  for (let k = 0; k < order.length; k++) {
    if (same[order[k]]) tp++;
    else fp++;
    // Tied scores are accepted together: one point per distinct score.
    if (k + 1 < order.length && scores[order[k + 1]] === scores[order[k]]) continue;
    out.fpr.push(N ? fp / N : 0);
    out.tpr.push(P ? tp / P : 0);
    out.thresholds.push(scores[order[k]]);
  }
  return out;
}

/** Area under the ROC curve (trapezoids: ties count half). */
export function rocAuc(r: Roc): number {
  let a = 0;
  for (let i = 1; i < r.fpr.length; i++) {
    a += (r.fpr[i] - r.fpr[i - 1]) * (r.tpr[i] + r.tpr[i - 1]) / 2;
  }
  return a;
}

/** Equal error rate: where the false accept rate meets the false reject rate (interpolated). */
export function equalErrorRate(r: Roc): number {
  for (let i = 1; i < r.fpr.length; i++) {
    const d0 = r.fpr[i - 1] - (1 - r.tpr[i - 1]), d1 = r.fpr[i] - (1 - r.tpr[i]);
    if (d0 <= 0 && d1 >= 0) {
      const t = d1 === d0 ? 0 : -d0 / (d1 - d0);
      return r.fpr[i - 1] + t * (r.fpr[i] - r.fpr[i - 1]);
    }
  }
  return 0.5;
}

/**
 * The threshold with the best accuracy on these pairs ("same" when score >= threshold):
 * the middle of the best range of cut points, each halfway between neighbouring scores.
 */
export function bestThreshold(
  scores: number[],
  same: boolean[],
): { threshold: number; accuracy: number } {
  const n = scores.length;
  if (!n) return { threshold: 0.5, accuracy: 0 };
  const order = scores.map((_, i) => i).sort((a, b) => scores[a] - scores[b]);
  const totalSame = same.filter((s) => s).length;
  // Cut k: pairs order[k..] are called "same". Correct = same at or above + different below.
  let sameBelow = 0, diffBelow = 0, best = -1;
  const cuts: { k: number; correct: number }[] = [];
  for (let k = 0; k <= n; k++) {
    const separable = k === 0 || k === n || scores[order[k - 1]] < scores[order[k]];
    if (separable) {
      const correct = totalSame - sameBelow + diffBelow;
      cuts.push({ k, correct });
      best = Math.max(best, correct);
    }
    if (k < n) same[order[k]] ? sameBelow++ : diffBelow++;
  }
  const top = cuts.filter((c) => c.correct === best);
  const { k } = top[Math.floor((top.length - 1) / 2)];
  const lo = k === 0 ? undefined : scores[order[k - 1]];
  const hi = k === n ? undefined : scores[order[k]];
  const threshold = lo === undefined ? hi! - 1e-6 : hi === undefined ? lo + 1e-6 : (lo + hi) / 2;
  return { threshold, accuracy: best / n };
}

export function accuracyAt(scores: number[], same: boolean[], threshold: number): number {
  let ok = 0;
  scores.forEach((s, i) => (ok += (s >= threshold) === same[i] ? 1 : 0));
  return scores.length ? ok / scores.length : 0;
}

export interface VerificationResult {
  pairs: number;
  same: number;
  different: number;
  auc: number;
  eer: number;
  /** k-fold accuracy: threshold chosen on k-1 folds, tested on the held-out fold */
  accuracy: { mean: number; std: number; folds: number };
  /** mean of the folds' chosen thresholds */
  threshold: number;
  /** the ROC curve, at most 65 points */
  roc: { fpr: number[]; tpr: number[] };
}

/** `fold[i]` in [0, folds): which fold pair i belongs to. */
export function verificationMetrics(
  scores: number[],
  same: boolean[],
  fold: number[],
  folds: number,
): VerificationResult {
  const r = roc(scores, same);
  const accs: number[] = [], thrs: number[] = [];
  for (let f = 0; f < folds; f++) {
    const train = scores.map((_, i) => i).filter((i) => fold[i] !== f);
    const test = scores.map((_, i) => i).filter((i) => fold[i] === f);
    if (!test.length || !train.length) continue;
    const { threshold } = bestThreshold(train.map((i) => scores[i]), train.map((i) => same[i]));
    thrs.push(threshold);
    accs.push(accuracyAt(test.map((i) => scores[i]), test.map((i) => same[i]), threshold));
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const m = mean(accs);
  const std = Math.sqrt(mean(accs.map((a) => (a - m) ** 2)));
  const keep = evenIndices(r.fpr.length, 65);
  const nSame = same.filter((s) => s).length;
  return {
    pairs: scores.length,
    same: nSame,
    different: scores.length - nSame,
    auc: rocAuc(r),
    eer: equalErrorRate(r),
    accuracy: { mean: m, std, folds: accs.length },
    threshold: mean(thrs),
    roc: { fpr: keep.map((i) => round4(r.fpr[i])), tpr: keep.map((i) => round4(r.tpr[i])) },
  };
}

function evenIndices(n: number, k: number): number[] {
  if (n <= k) return Array.from({ length: n }, (_, i) => i);
  return [...new Set(Array.from({ length: k }, (_, i) => Math.round((i * (n - 1)) / (k - 1))))];
}

function round4(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}

// ---------------------------------------------------------------------------
// Image similarity for frontalisation.

/** Mean absolute difference of two images in [-1, 1], on the [0, 1] scale. */
export function meanAbsError(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s / 2 / a.length;
}

/**
 * Structural similarity of two CHW images in [-1, 1] (compared on [0, 1]): mean over
 * every 7x7 window (smaller for tiny images) and channel, sample covariances,
 * C1 = 0.01^2, C2 = 0.03^2 (as skimage's default).
 */
export function ssim(a: Float32Array, b: Float32Array, size: number): number {
  const C1 = 0.01 ** 2, C2 = 0.03 ** 2;
  const win = Math.min(7, size), n = win * win, plane = size * size;
  const channels = Math.round(a.length / plane);
  let total = 0, count = 0;
  for (let c = 0; c < channels; c++) {
    const o = c * plane;
    for (let y0 = 0; y0 + win <= size; y0++) {
      for (let x0 = 0; x0 + win <= size; x0++) {
        let sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
        for (let y = y0; y < y0 + win; y++) {
          for (let x = x0; x < x0 + win; x++) {
            const va = (a[o + y * size + x] + 1) / 2, vb = (b[o + y * size + x] + 1) / 2;
            sa += va;
            sb += vb;
            saa += va * va;
            sbb += vb * vb;
            sab += va * vb;
          }
        }
        const ma = sa / n, mb = sb / n;
        const k = n / (n - 1 || 1);
        const va = (saa / n - ma * ma) * k, vb = (sbb / n - mb * mb) * k;
        const cov = (sab / n - ma * mb) * k;
        total += ((2 * ma * mb + C1) * (2 * cov + C2)) /
          ((ma * ma + mb * mb + C1) * (va + vb + C2));
        count++;
      }
    }
  }
  return count ? total / count : 1;
}

// ---------------------------------------------------------------------------
// The whole evaluation of a trained model on held-out synthetic identities.

/** What the evaluation needs of a model (FaceModel in infer.ts provides it). */
export interface Recognizer {
  readonly size: number;
  /** features, and each image's confidence when the encoder has one */
  encode(images: Float32Array[]): Promise<{ features: Float32Array[]; confidences?: number[] }>;
  /** the generator's frontal view of each image (absent without a decoder) */
  frontalize?(images: Float32Array[]): Promise<Float32Array[]>;
  /** false when `frontalize` exists but the model has no decoder */
  readonly canRotate?: boolean;
}

export interface ModelEvalOptions {
  seed: number;
  identities: number;
  folds?: number;
  /** same pairs per identity and protocol (as many different pairs) */
  pairsPerIdentity?: number;
  /** largest image-set size of the multi-image protocol; 0 skips it */
  maxImages?: number;
  trials?: number;
  /** called before each stage, for progress output */
  stage?: (what: string) => void;
}

export interface ProtocolResult {
  features: VerificationResult;
  pixels: VerificationResult;
}

export interface FrontalFigures {
  yaw: number;
  l1: number;
  ssim: number;
  inputL1: number;
  inputSsim: number;
  /** the part of l1 (and of inputL1) from the truth's background pixels */
  l1Background: number;
  inputL1Background: number;
  /** rank-1 of the re-encoded frontal views against the frontal gallery */
  identityRank1: number;
}

export interface ModelEvalResult {
  rank1: Rank1Result;
  verification: {
    protocol: string;
    /** the decision threshold calibrated on every pair of both protocols (features) */
    threshold: number;
    thresholdAccuracy: number;
    frontalFrontal: ProtocolResult;
    frontalProfile: ProtocolResult;
  };
  frontalization?: {
    metric: string;
    perPose: FrontalFigures[];
    mean: Omit<FrontalFigures, "yaw">;
  };
  multiImage?: {
    protocol: string;
    perN: { n: number; confidence: number; mean: number }[];
  };
}

/** Profile poses of the frontal-profile protocol: |yaw| >= 75 degrees. */
const PROFILE_POSES = [0, 1, 11, 12];
const FRONTAL_LIGHTS = [0, 1, 2];

/** Rank-1, verification (frontal-frontal, frontal-profile), frontalisation and multi-image sets. */
export async function evaluateModel(
  model: Recognizer,
  opts: ModelEvalOptions,
): Promise<ModelEvalResult> {
  const { seed, identities: N, size } = { ...opts, size: model.size };
  const folds = opts.folds ?? 10, m = opts.pairsPerIdentity ?? 3;
  const stage = opts.stage ?? (() => {});
  const rnd = new Rng(mix(seed, 0xe7a1));

  stage("rank-1");
  const faces = heldOutFaces(seed, N, size);
  const enc = await model.encode(faces.flat());
  const rank1 = rank1FromFeatures(faces, enc.features);

  stage("verification");
  // Extra photos: frontal under three lights, and profiles, of a variant no other test uses.
  const frontal = faces.map((_, j) =>
    FRONTAL_LIGHTS.map((l) => render(seed, j, FRONTAL_POSE, l, 2, size))
  );
  const profile = faces.map((_, j) => PROFILE_POSES.map((p) => render(seed, j, p, 0, 2, size)));
  const feats = (await model.encode([...frontal.flat(), ...profile.flat()])).features;
  const fF = (j: number, a: number) => feats[j * FRONTAL_LIGHTS.length + a];
  const fP = (j: number, a: number) =>
    feats[N * FRONTAL_LIGHTS.length + j * PROFILE_POSES.length + a];
  const other = (j: number) => N < 2 ? j : (j + 1 + rnd.int(N - 1)) % N;
  type Pair = { a: [number, number]; b: [number, number]; same: boolean };
  const ff: Pair[] = [], fp: Pair[] = [];
  const FL = FRONTAL_LIGHTS.length, PL = PROFILE_POSES.length;
  for (let j = 0; j < N; j++) {
    for (let k = 0; k < m; k++) {
      const a = k % FL, b = (a + 1 + Math.floor(k / FL)) % FL;
      ff.push({ a: [j, a], b: [j, b], same: true });
      ff.push({ a: [j, rnd.int(FL)], b: [other(j), rnd.int(FL)], same: false });
      fp.push({ a: [j, rnd.int(FL)], b: [j, k % PL], same: true });
      fp.push({ a: [j, rnd.int(FL)], b: [other(j), rnd.int(PL)], same: false });
    }
  }
  const protocol = (
    pairs: Pair[],
    fb: (j: number, a: number) => Float32Array,
    pb: (j: number, a: number) => Float32Array,
  ): ProtocolResult & { scores: number[] } => {
    // Folds by identity order: each fold holds same and different pairs alike.
    const fold = pairs.map((_, i) => Math.floor(i / 2) % folds);
    const same = pairs.map((p) => p.same);
    const scores = pairs.map((p) => cosine(fF(...p.a), fb(...p.b)));
    const px = pairs.map((p) => cosine(frontal[p.a[0]][p.a[1]], pb(...p.b)));
    return {
      features: verificationMetrics(scores, same, fold, folds),
      pixels: verificationMetrics(px, same, fold, folds),
      scores,
    };
  };
  const ffR = protocol(ff, fF, (j, a) => frontal[j][a]);
  const fpR = protocol(fp, fP, (j, a) => profile[j][a]);
  const all = bestThreshold(
    [...ffR.scores, ...fpR.scores],
    [...ff.map((p) => p.same), ...fp.map((p) => p.same)],
  );
  const strip = ({ features, pixels }: ProtocolResult) => ({ features, pixels });
  const result: ModelEvalResult = {
    rank1,
    verification: {
      protocol: `held-out identities; per identity ${m} same and ${m} different pairs per ` +
        `protocol; frontal = yaw 0 under ${FL} lights, profile = |yaw| >= 75; cosine ` +
        `similarity; ${folds} folds, threshold chosen on ${folds - 1}, tested on the last`,
      threshold: all.threshold,
      thresholdAccuracy: all.accuracy,
      frontalFrontal: strip(ffR),
      frontalProfile: strip(fpR),
    },
  };

  if (model.frontalize && model.canRotate !== false) {
    stage("frontalisation");
    // The truth is the probe's own scene (background, light, jitter) seen from the front:
    // only the camera moves, as on Multi-PIE, so no generator is blamed for another scene.
    const inputs: Float32Array[] = [], truth: Float32Array[] = [], yaw: number[] = [];
    const who: number[] = [], background: Uint8Array[] = [];
    faces.forEach((row, j) =>
      row.forEach((im, p) => {
        if (p === FRONTAL_POSE) return;
        inputs.push(im);
        truth.push(frontalTruth(seed, j, p, size));
        background.push(backgroundMask(seed, j, p, truth[truth.length - 1], size));
        yaw.push(yawOfPose(p));
        who.push(j);
      })
    );
    const out = await model.frontalize(inputs);
    // Identity kept by the generator: the re-encoded frontal views against the gallery.
    const gallery = faces.map((_, j) => enc.features[j * NUM_POSES + FRONTAL_POSE]);
    const again = (await model.encode(out)).features;
    const perPose = [...new Set(yaw)].map((y) => {
      const idx = yaw.map((v, i) => v === y ? i : -1).filter((i) => i >= 0);
      const avg = (f: (i: number) => number) => idx.reduce((s, i) => s + f(i), 0) / idx.length;
      return {
        yaw: y,
        l1: avg((i) => meanAbsError(out[i], truth[i])),
        ssim: avg((i) => ssim(out[i], truth[i], size)),
        inputL1: avg((i) => meanAbsError(inputs[i], truth[i])),
        inputSsim: avg((i) => ssim(inputs[i], truth[i], size)),
        l1Background: avg((i) => maskedAbsError(out[i], truth[i], background[i])),
        inputL1Background: avg((i) => maskedAbsError(inputs[i], truth[i], background[i])),
        identityRank1: avg((i) => nearest(gallery, again[i]) === who[i] ? 1 : 0),
      };
    });
    const avg = (k: keyof typeof perPose[number]) =>
      perPose.reduce((s, r) => s + r[k], 0) / perPose.length;
    result.frontalization = {
      metric: "generated frontal view of each non-frontal probe against the probe's own " +
        "scene rendered at yaw 0 (same background, light and jitter); L1 on the [0, 1] " +
        "scale; SSIM 7x7 windows; input* compare the probe itself (no frontalisation) for " +
        "reference; *Background: the part of the L1 from the truth's background pixels; " +
        "identityRank1: the generated view re-encoded, rank-1 against the frontal gallery",
      perPose,
      mean: {
        l1: avg("l1"),
        ssim: avg("ssim"),
        inputL1: avg("inputL1"),
        inputSsim: avg("inputSsim"),
        l1Background: avg("l1Background"),
        inputL1Background: avg("inputL1Background"),
        identityRank1: avg("identityRank1"),
      },
    };
  }

  const maxImages = opts.maxImages ?? 6, trials = opts.trials ?? 3;
  if (enc.confidences && maxImages > 0) {
    stage("multi-image");
    const gallery = faces.map((_, j) => enc.features[j * NUM_POSES + FRONTAL_POSE]);
    const perN: { n: number; confidence: number; mean: number }[] = [];
    const sets: { j: number; images: Float32Array[] }[][] = [];
    for (let n = 1; n <= maxImages; n++) {
      const list: { j: number; images: Float32Array[] }[] = [];
      for (let t = 0; t < trials; t++) {
        for (let j = 0; j < N; j++) {
          const images = Array.from({ length: n }, () => {
            let p = rnd.int(NUM_POSES - 1);
            if (p >= FRONTAL_POSE) p++;
            return render(seed, j, p, rnd.int(NUM_LIGHTS), 3 + t, size);
          });
          list.push({ j, images });
        }
      }
      sets.push(list);
    }
    for (let n = 1; n <= maxImages; n++) {
      const list = sets[n - 1];
      const e = await model.encode(list.flatMap((s) => s.images));
      let hitC = 0, hitM = 0;
      list.forEach((s, i) => {
        const fs = e.features.slice(i * n, (i + 1) * n);
        const ws = e.confidences!.slice(i * n, (i + 1) * n);
        const best = (f: Float32Array) => {
          let arg = -1, top = -Infinity;
          gallery.forEach((g, k) => {
            const c = cosine(f, g);
            if (c > top) [arg, top] = [k, c];
          });
          return arg;
        };
        if (best(weightedMean(fs, ws)) === s.j) hitC++;
        if (best(weightedMean(fs, fs.map(() => 1))) === s.j) hitM++;
      });
      perN.push({ n, confidence: hitC / list.length, mean: hitM / list.length });
    }
    result.multiImage = {
      protocol: `rank-1 of fused features of n random non-frontal photos (random lights) ` +
        `against the frontal gallery; ${trials} draws per identity; confidence-weighted ` +
        `sum(w f) / sum(w) next to the plain mean`,
      perN,
    };
  }
  return result;
}

/** sum(w_i f_i) / sum(w_i); the plain mean when the weights sum to 0. */
export function weightedMean(features: Float32Array[], weights: number[]): Float32Array {
  const out = new Float32Array(features[0]?.length ?? 0);
  let total = weights.reduce((a, b) => a + b, 0);
  const w = total > 0 ? weights : features.map(() => 1);
  if (!(total > 0)) total = features.length;
  features.forEach((f, i) => {
    for (let k = 0; k < out.length; k++) out[k] += w[i] * f[k];
  });
  for (let k = 0; k < out.length; k++) out[k] /= total;
  return out;
}
