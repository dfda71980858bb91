// Inference with a trained DR-GAN: identity features, fusion of several images,
// face rotation and frontalisation, verification. A model is a run folder (graph and
// overrides from its config.json, parameters from its latest checkpoint) or a graph
// file with a checkpoint. The encoder and decoder get inference plans (batch norm
// with its running statistics, no backward pass, planned buffers) over one
// parameter arena; images go through in fixed-size batches, so pipelines are
// compiled once per model.
import { UserError } from "../errors.ts";
import { dirname, join, relative as relPath, resolve } from "node:path";
import { parse as parseYamlText } from "yaml";
import { loadModel } from "../lang/model.ts";
import { type Override, parseOverride } from "../lang/files.ts";
import type { Model, TypedNetwork } from "../lang/ir.ts";
import { buildProgram, type Program } from "../plan/program.ts";
import { decodeImage } from "../data/decode.ts";
import { squareResize, toCHW } from "../data/image.ts";
import { encodePNG } from "../data/png.ts";
import { NUM_POSES, POSE_STEP_DEG, poseOfYaw } from "../data/pose.ts";
import { type Arena, createArena } from "../engine/arena.ts";
import type { Region } from "../engine/buffers.ts";
import { getGpu, type Gpu } from "../engine/device.ts";
import { Executor } from "../engine/executor.ts";
import {
  readSafetensors,
  type Tensor,
  toFloat32,
  writeSafetensors,
} from "../formats/safetensors.ts";
import { cosine, type Recognizer, weightedMean } from "../eval/evaluate.ts";
import { Rng } from "../util/rng.ts";

/** Bad input to the inference API: the message is complete for a user (no stack needed). */
export class InferError extends UserError {}

/** The checkpoint formats whose parameters a model loads. */
export const CHECKPOINT_FORMAT = "drgan-webgpu checkpoint 1";
export const WEIGHTS_FORMAT = "drgan-webgpu weights 1";

export interface LoadOptions {
  /** a run folder: graph and overrides from its config.json, its latest checkpoint */
  run?: string;
  /** the graph file (required without `run`; with `run`, where the run's graph now lives) */
  graph?: string;
  /** a checkpoint or weights file (default: the run's latest checkpoint) */
  checkpoint?: string;
  /** NAME=VALUE overrides, after the run's own */
  set?: string[];
  /** images per dispatch (default 8); every call is padded to whole batches */
  batch?: number;
  /** the decoder's noise: one fixed U(-1, 1) draw from this seed, the same for every image */
  noiseSeed?: number;
  /** verification threshold (default: the run's eval.json calibration, else 0.5) */
  threshold?: number;
  gpu?: Gpu;
}

export interface Threshold {
  value: number;
  /** where the value comes from, for the user */
  source: string;
}

/** A model resolved on the CPU: graph compiled, parameters read and checked. */
export interface Resolved {
  model: Model;
  graph: string;
  overrides: string[];
  checkpoint: string;
  step?: number;
  run?: string;
  encoder: TypedNetwork;
  decoder?: TypedNetwork;
  /** every encoder and decoder parameter by name */
  weights: Map<string, { shape: number[]; data: Float32Array }>;
  threshold: Threshold;
  size: number;
  poses: number;
  noise: number;
  featureSize: number;
  multi: boolean;
}

export interface FuseResult {
  feature: Float32Array;
  /** "confidence": sum(w_i f_i) / sum(w_i) with the encoder's confidences; "mean": plain mean */
  mode: "confidence" | "mean";
  weights: number[];
}

export interface VerifyResult {
  similarity: number;
  same: boolean;
  threshold: number;
  thresholdSource: string;
}

// ---------------------------------------------------------------------------
// Run folders

interface RunConfig {
  graph: string;
  overrides: string[];
}

export function readRunConfig(runDir: string): RunConfig {
  const path = join(runDir, "config.json");
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    if (isDir(runDir)) {
      throw new InferError(`${runDir} is not a run folder (no config.json)`);
    }
    throw new InferError(`cannot open the run folder ${runDir} (${why(e)})`);
  }
  try {
    const c = JSON.parse(text);
    if (
      typeof c.graph !== "string" || !Array.isArray(c.overrides) ||
      !c.overrides.every((o: unknown) => typeof o === "string")
    ) throw new Error();
    return c;
  } catch {
    throw new InferError(`${path} is damaged: expected the run's graph and overrides`);
  }
}

/** The run's newest `checkpoints/step-N.safetensors`. */
export function latestCheckpoint(runDir: string): string | undefined {
  const dir = join(runDir, "checkpoints");
  try {
    return [...Deno.readDirSync(dir)]
      .filter((e) => e.isFile && /^step-\d+\.safetensors$/.test(e.name))
      .map((e) => join(dir, e.name))
      .sort()
      .at(-1);
  } catch {
    return undefined;
  }
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false; // missing, or not readable with the permissions given
  }
}

function isDir(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

function why(e: unknown): string {
  if (e instanceof Deno.errors.NotFound) return "not found";
  if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
    return `no permission: ${(e as Error).message}`;
  }
  return (e as Error)?.message ?? String(e);
}

/** A run's graph path is relative to where training ran; an exported model's to its folder. */
function runGraph(runDir: string, graph: string): string {
  if (graph.startsWith("/")) return graph;
  const inside = join(runDir, graph);
  return exists(inside) ? inside : graph;
}

function readThreshold(runDir: string | undefined, step: number | undefined): Threshold {
  const fallback = (why: string) => ({ value: 0.5, source: `default 0.5 (${why})` });
  if (!runDir) return fallback("no run folder");
  const path = join(runDir, "eval.json");
  let ev: { step?: unknown; verification?: { threshold?: unknown } };
  try {
    ev = JSON.parse(Deno.readTextFileSync(path));
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

// ---------------------------------------------------------------------------
// Resolving a model on the CPU

/** Graph, overrides and checkpoint of the options, compiled and checked; no GPU needed. */
export function resolveModel(opts: LoadOptions): Resolved {
  let graph = opts.graph, overrides = [...(opts.set ?? [])], checkpoint = opts.checkpoint;
  const run = opts.run;
  if (run !== undefined) {
    const cfg = readRunConfig(run);
    graph ??= runGraph(run, cfg.graph);
    overrides = [...cfg.overrides, ...overrides];
    checkpoint ??= latestCheckpoint(run);
    if (!checkpoint) {
      throw new InferError(`${run} has no checkpoint (checkpoints/step-*.safetensors)`);
    }
  }
  if (!graph) throw new InferError("give a run folder, or a graph file with a checkpoint");
  if (!checkpoint) throw new InferError(`${graph}: give the checkpoint to load with it`);
  let parsed: Override[];
  try {
    parsed = overrides.map(parseOverride);
  } catch (e) {
    throw new InferError((e as Error).message);
  }
  const model = loadModel(graph, parsed);
  const encoder = model.networks.find((n) => n.name === "encoder");
  if (!encoder) {
    const names = model.networks.map((n) => n.name).join(", ");
    throw new InferError(`${graph} has no network 'encoder' (it has ${names})`);
  }
  const decoder = model.networks.find((n) => n.name === "decoder");
  const inShape = encoder.inputs[0]?.shape;
  if (encoder.inputs.length !== 1 || inShape.length !== 4 || inShape[1] !== 3) {
    throw new InferError(`${graph}: the encoder must take one input [B, 3, size, size]`);
  }
  const size = Number(inShape[2]);
  const outShape = (net: TypedNetwork, out: string) => {
    const o = net.outputs.find((x) => x.name === out);
    return o ? net.shapes.get(o.from) : undefined;
  };
  const fshape = outShape(encoder, "feature");
  if (!fshape) throw new InferError(`${graph}: the encoder has no output 'feature'`);
  const featureSize = Number(fshape[1]);
  const multi = encoder.outputs.some((o) => o.name === "confidence");
  let poses = NUM_POSES, noise = 0;
  if (decoder) {
    const shape = (n: string) => decoder.inputs.find((i) => i.name === n)?.shape;
    const [f, p, z] = [shape("feature"), shape("pose"), shape("noise")];
    if (!f || !p || !z || !outShape(decoder, "image")) {
      throw new InferError(
        `${graph}: the decoder must take inputs feature, pose and noise and output image`,
      );
    }
    if (Number(f[1]) !== featureSize) {
      throw new InferError(
        `${graph}: the decoder takes ${f[1]}-d features, the encoder makes ${featureSize}`,
      );
    }
    poses = Number(p[1]);
    noise = Number(z[1]);
  }
  const want = new Map<string, number[]>();
  for (const net of decoder ? [encoder, decoder] : [encoder]) {
    const p = buildProgram(net, { batch: 1, training: false });
    for (const name of p.params) want.set(name, p.tensors.get(name)!.shape);
  }
  const file = readSafetensors(checkpoint);
  const { weights, step } = checkWeights(checkpoint, file, want, graph, [
    "encoder",
    ...(decoder ? ["decoder"] : []),
  ]);
  const threshold = opts.threshold !== undefined
    ? { value: opts.threshold, source: "given" }
    : readThreshold(run, step);
  return {
    model,
    graph,
    overrides,
    checkpoint,
    step,
    run,
    encoder,
    decoder,
    weights,
    threshold,
    size,
    poses,
    noise,
    featureSize,
    multi,
  };
}

/** Lists problems one per line, at most `max`, then how many more. */
export function listProblems(head: string, problems: string[], max = 5): string {
  const shown = problems.slice(0, max).map((p) => `  - ${p}`);
  if (problems.length > max) shown.push(`  - and ${problems.length - max} more`);
  const n = problems.length;
  return `${head} (${n} problem${n === 1 ? "" : "s"}):\n${shown.join("\n")}`;
}

const FLOAT_DTYPES = ["F32", "F16", "BF16", "F64"];

/**
 * The tensors of `want` from a checkpoint or weights file: every one present with its
 * shape, floating point and finite; no tensor of the same networks that the graph lacks.
 */
export function checkWeights(
  path: string,
  file: { tensors: Map<string, Tensor>; metadata: Record<string, string> },
  want: Map<string, number[]>,
  graph: string,
  networks: string[],
): { weights: Map<string, { shape: number[]; data: Float32Array }>; step?: number } {
  const { tensors, metadata } = file;
  if (metadata.format !== CHECKPOINT_FORMAT && metadata.format !== WEIGHTS_FORMAT) {
    throw new InferError(
      `${path}: not a checkpoint of this project (format ${
        JSON.stringify(metadata.format ?? "missing")
      }); weights trained elsewhere are converted with deno task import`,
    );
  }
  const problems: string[] = [];
  const weights = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, shape] of want) {
    const t = tensors.get(name);
    if (!t) {
      problems.push(`missing tensor "${name}" (the graph needs shape [${shape.join(", ")}])`);
    } else if (t.shape.join(",") !== shape.join(",")) {
      problems.push(
        `tensor "${name}" has shape [${t.shape.join(", ")}], the graph needs [${shape.join(", ")}]`,
      );
    } else if (!FLOAT_DTYPES.includes(t.dtype)) {
      problems.push(`tensor "${name}" is ${t.dtype}, expected floating point`);
    } else {
      const data = toFloat32(t);
      if (!data.every(Number.isFinite)) {
        problems.push(`tensor "${name}" holds NaN or infinite values`);
      } else weights.set(name, { shape, data });
    }
  }
  for (const name of tensors.keys()) {
    if (!want.has(name) && networks.some((n) => name.startsWith(`${n}.`))) {
      problems.push(`tensor "${name}" is not in this graph`);
    }
  }
  if (problems.length) {
    const other = metadata.graph && metadata.graph !== graph
      ? ` (it was written for ${metadata.graph})`
      : "";
    const overrides = metadata.overrides ? ` with ${metadata.overrides}` : "";
    throw new InferError(
      listProblems(`${path}${other}${overrides} does not fit ${graph}`, problems),
    );
  }
  const s = Number(metadata.step);
  return { weights, step: metadata.step !== undefined && Number.isInteger(s) ? s : undefined };
}

// ---------------------------------------------------------------------------
// The model on the GPU

export class FaceModel implements Recognizer {
  private constructor(
    readonly gpu: Gpu,
    readonly resolved: Resolved,
    readonly batch: number,
    private arena: Arena,
    private enc: Executor,
    private dec: Executor | undefined,
    private noiseCode: Float32Array,
  ) {}

  /** Loads a model: `{ run }`, or `{ graph, checkpoint }`, with optional overrides. */
  static async load(opts: LoadOptions): Promise<FaceModel> {
    const batch = opts.batch ?? 8;
    if (!Number.isInteger(batch) || batch < 1 || batch > 4096) {
      throw new InferError(`batch must be an integer from 1 to 4096, got ${batch}`);
    }
    return await FaceModel.fromResolved(resolveModel(opts), { ...opts, batch });
  }

  static async fromResolved(r: Resolved, opts: LoadOptions = {}): Promise<FaceModel> {
    const batch = opts.batch ?? 8;
    const gpu = opts.gpu ?? await getGpu();
    const outputs = r.multi ? ["feature", "confidence"] : ["feature"];
    const encP = buildProgram(r.encoder, { batch, training: false, outputs });
    const decP = r.decoder && buildProgram(r.decoder, { batch, training: false });
    const params = [encP, ...(decP ? [decP] : [])].flatMap((p: Program) =>
      p.params.map((name) => p.tensors.get(name)!)
    );
    const arena = createArena(gpu.device, params, "inference parameters");
    for (const [name, region] of arena.regions) {
      const w = r.weights.get(name)!;
      gpu.device.queue.writeBuffer(
        region.buffer,
        region.offset,
        w.data as Float32Array<ArrayBuffer>,
      );
    }
    const shared = new Map<string, Region>(arena.regions);
    const [enc, dec] = await Promise.all([
      Executor.create(gpu, encP, shared),
      decP ? Executor.create(gpu, decP, shared) : undefined,
    ]);
    const rng = new Rng(opts.noiseSeed ?? 12345);
    const noise = Float32Array.from({ length: r.noise }, () => 2 * rng.next() - 1);
    return new FaceModel(gpu, r, batch, arena, enc, dec, noise);
  }

  /** Image side in pixels: images are Float32Array [3, size, size] in [-1, 1]. */
  get size(): number {
    return this.resolved.size;
  }

  /** Number of pose classes the decoder renders. */
  get poses(): number {
    return this.resolved.poses;
  }

  /** The frontal pose class (6 of 13: yaw 0). */
  get frontalPose(): number {
    return (this.resolved.poses - 1) >> 1;
  }

  get featureSize(): number {
    return this.resolved.featureSize;
  }

  /** Whether the graph has a decoder (rotate, frontalize, render). */
  get canRotate(): boolean {
    return !!this.dec;
  }

  /** Whether the encoder has a confidence output (multi-image mode). */
  get multi(): boolean {
    return this.resolved.multi;
  }

  get threshold(): Threshold {
    return this.resolved.threshold;
  }

  /** A plain summary: graph, checkpoint, sizes, adapter, threshold. */
  describe(): Record<string, unknown> {
    const r = this.resolved;
    return {
      graph: r.graph,
      overrides: r.overrides,
      checkpoint: r.checkpoint,
      step: r.step ?? null,
      size: r.size,
      poses: r.poses,
      featureSize: r.featureSize,
      multi: r.multi,
      fusion: r.multi ? "confidence" : "mean",
      decoder: !!r.decoder,
      batch: this.batch,
      adapter: this.gpu.description,
      threshold: r.threshold,
    };
  }

  private checkImages(images: Float32Array[], what = "image"): void {
    if (!Array.isArray(images)) throw new InferError(`expected an array of images`);
    const n = 3 * this.size * this.size;
    images.forEach((im, i) => {
      if (!(im instanceof Float32Array)) {
        throw new InferError(`${what} ${i}: expected a Float32Array (CHW, values in [-1, 1])`);
      }
      if (im.length !== n) {
        const side = Math.sqrt(im.length / 3);
        const guess = Number.isInteger(side) ? ` (3x${side}x${side})` : "";
        throw new InferError(
          `${what} ${i} has ${im.length} values${guess}; this model takes ` +
            `3x${this.size}x${this.size} = ${n} (CHW, values in [-1, 1])`,
        );
      }
      if (!im.every(Number.isFinite)) {
        throw new InferError(`${what} ${i} holds NaN or infinite values`);
      }
    });
  }

  /** Features (and confidences in multi-image mode) of any number of images. */
  async encode(
    images: Float32Array[],
  ): Promise<{ features: Float32Array[]; confidences?: number[] }> {
    this.checkImages(images);
    const p = this.enc.program, plane = 3 * this.size * this.size;
    const input = p.inputs[0], feature = p.outputs.feature, conf = p.outputs.confidence;
    const features: Float32Array[] = [], confidences: number[] = [];
    for (let i = 0; i < images.length; i += this.batch) {
      const n = Math.min(this.batch, images.length - i);
      const chunk = new Float32Array(this.batch * plane);
      for (let k = 0; k < n; k++) chunk.set(images[i + k], k * plane);
      this.enc.write(input, chunk);
      this.enc.run();
      const got = await this.enc.read(conf ? [feature, conf] : [feature]);
      const f = got.get(feature)!, nf = this.featureSize;
      for (let k = 0; k < n; k++) features.push(f.slice(k * nf, (k + 1) * nf));
      if (conf) {
        const c = got.get(conf)!;
        for (let k = 0; k < n; k++) confidences.push(c[k]);
      }
    }
    return conf ? { features, confidences } : { features };
  }

  /** The identity feature of each image (featureSize values: 320 at full width). */
  async features(images: Float32Array[]): Promise<Float32Array[]> {
    return (await this.encode(images)).features;
  }

  /** One feature for several images of one person: confidence-weighted, or the mean. */
  async fuse(images: Float32Array[]): Promise<FuseResult> {
    if (!images?.length) throw new InferError("fuse needs at least one image");
    const { features, confidences } = await this.encode(images);
    const weights = confidences ?? features.map(() => 1);
    return {
      feature: weightedMean(features, weights),
      mode: confidences ? "confidence" : "mean",
      weights,
    };
  }

  /** A pose class, checked: an integer in [0, poses). */
  checkPose(pose: number): number {
    if (!Number.isInteger(pose) || pose < 0 || pose >= this.poses) {
      throw new InferError(poseRangeMessage(String(pose), this.poses));
    }
    return pose;
  }

  /** Renders features at poses (one pose for all, or one per feature). */
  async render(features: Float32Array[], pose: number | number[]): Promise<Float32Array[]> {
    const dec = this.dec;
    if (!dec) throw new InferError(`${this.resolved.graph} has no decoder: it cannot render faces`);
    const poses = typeof pose === "number" ? features.map(() => pose) : pose;
    if (poses.length !== features.length) {
      throw new InferError(`${poses.length} poses for ${features.length} images`);
    }
    poses.forEach((p) => this.checkPose(p));
    features.forEach((f, i) => {
      if (!(f instanceof Float32Array) || f.length !== this.featureSize) {
        throw new InferError(`feature ${i}: expected ${this.featureSize} values`);
      }
    });
    const B = this.batch, P = this.poses, nf = this.featureSize, nz = this.noiseCode.length;
    const plane = 3 * this.size * this.size;
    const out: Float32Array[] = [];
    const image = dec.program.outputs.image;
    const noise = new Float32Array(B * nz);
    for (let k = 0; k < B; k++) noise.set(this.noiseCode, k * nz);
    for (let i = 0; i < features.length; i += B) {
      const n = Math.min(B, features.length - i);
      const f = new Float32Array(B * nf), code = new Float32Array(B * P);
      for (let k = 0; k < n; k++) {
        f.set(features[i + k], k * nf);
        code[k * P + poses[i + k]] = 1;
      }
      dec.write("feature", f);
      dec.write("pose", code);
      dec.write("noise", noise);
      dec.run();
      const got = (await dec.read([image])).get(image)!;
      for (let k = 0; k < n; k++) out.push(got.slice(k * plane, (k + 1) * plane));
    }
    return out;
  }

  /** Each image rotated to `pose` (a class, or one per image): CHW in [-1, 1]. */
  async rotate(images: Float32Array[], pose: number | number[]): Promise<Float32Array[]> {
    if (!this.dec) {
      throw new InferError(`${this.resolved.graph} has no decoder: it cannot rotate faces`);
    }
    if (typeof pose === "number") this.checkPose(pose);
    else pose.forEach((p) => this.checkPose(p));
    return this.render(await this.features(images), pose);
  }

  /** Each image rotated to the frontal pose. */
  frontalize(images: Float32Array[]): Promise<Float32Array[]> {
    return this.rotate(images, this.frontalPose);
  }

  /** Every image at every pose: result[i][p]. */
  async rotateAll(images: Float32Array[]): Promise<Float32Array[][]> {
    const f = await this.features(images);
    const all = f.flatMap((x) => Array.from({ length: this.poses }, () => x));
    const poses = f.flatMap(() => Array.from({ length: this.poses }, (_, p) => p));
    const out = await this.render(all, poses);
    return f.map((_, i) => out.slice(i * this.poses, (i + 1) * this.poses));
  }

  /**
   * Are `a` and `b` the same person? Each side is an image or several images of one
   * person (fused). Cosine similarity against the threshold.
   */
  async verify(
    a: Float32Array | Float32Array[],
    b: Float32Array | Float32Array[],
    threshold?: number,
  ): Promise<VerifyResult> {
    const side = async (x: Float32Array | Float32Array[]) =>
      Array.isArray(x) ? (await this.fuse(x)).feature : (await this.features([x]))[0];
    const [fa, fb] = [await side(a), await side(b)];
    const similarity = cosine(fa, fb);
    const t = threshold ?? this.threshold.value;
    return {
      similarity,
      same: similarity >= t,
      threshold: t,
      thresholdSource: threshold === undefined ? this.threshold.source : "given",
    };
  }

  /** Frees the GPU buffers of this model (the device stays open). */
  destroy(): void {
    this.enc.destroy();
    this.dec?.destroy();
    this.arena.buffer.destroy();
  }
}

export function poseRangeMessage(given: string, poses = NUM_POSES): string {
  const yaw = poses === NUM_POSES
    ? ` (yaw -90..90 degrees in steps of ${POSE_STEP_DEG}; ${(poses - 1) >> 1} is frontal)`
    : "";
  return `pose ${given} is out of range: pose classes are 0..${poses - 1}${yaw}`;
}

/** The pose class of a yaw in degrees; an error outside [-90, 90] or off the 15-degree grid. */
export function poseFromYaw(yaw: number): number {
  const p = poseOfYaw(yaw);
  if (p < 0) throw new InferError(`yaw ${yaw} is out of range: -90..90 degrees`);
  if (Math.abs(yaw - (p - 6) * POSE_STEP_DEG) > 1e-9) {
    throw new InferError(
      `yaw ${yaw} is not a pose class: use a multiple of ${POSE_STEP_DEG} from -90 to 90`,
    );
  }
  return p;
}

// ---------------------------------------------------------------------------
// Images

/**
 * A PNG or JPEG file as a model input: CHW floats in [-1, 1], size x size (the largest
 * centred square, resized). With `exact`, an image of another size is an error.
 */
export function loadImage(
  path: string,
  size: number,
  opts: { exact?: boolean } = {},
): Float32Array {
  let bytes: Uint8Array;
  try {
    bytes = Deno.readFileSync(path);
  } catch (e) {
    throw new InferError(`${path}: cannot read the image (${why(e)})`);
  }
  let rgb;
  try {
    rgb = decodeImage(bytes);
  } catch (e) {
    throw new InferError(`${path}: not a readable PNG or JPEG image (${(e as Error).message})`);
  }
  if (opts.exact && (rgb.width !== size || rgb.height !== size)) {
    throw new InferError(
      `${path} is ${rgb.width}x${rgb.height}; this model takes ${size}x${size} images`,
    );
  }
  const sq = rgb.width === size && rgb.height === size ? rgb : squareResize(rgb, size);
  const out = new Float32Array(3 * size * size);
  toCHW(sq.data, size, out, 0);
  return out;
}

/** Rows of CHW images in [-1, 1] as one PNG, 2-pixel white gaps. */
export function imagesToPNG(rows: Float32Array[][], size: number): Uint8Array {
  const gap = 2, cols = Math.max(1, ...rows.map((r) => r.length));
  const width = cols * size + (cols + 1) * gap,
    height = rows.length * size + (rows.length + 1) * gap;
  const rgb = new Uint8Array(width * height * 3).fill(255);
  const plane = size * size;
  rows.forEach((row, r) =>
    row.forEach((im, c) => {
      const x0 = gap + c * (size + gap), y0 = gap + r * (size + gap);
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          const o = ((y0 + y) * width + x0 + x) * 3;
          for (let ch = 0; ch < 3; ch++) {
            const v = Math.round((im[ch * plane + y * size + x] + 1) * 127.5);
            rgb[o + ch] = v < 0 ? 0 : v > 255 ? 255 : v;
          }
        }
      }
    })
  );
  return encodePNG(rgb, width, height, 3);
}

/**
 * Writes a file whole: a temporary file renamed over `path`. Where only `path` itself
 * may be written (a narrow --allow-write), it is written directly in one call.
 */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const tmp = `${path}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  try {
    Deno.writeFileSync(tmp, bytes);
  } catch (e) {
    if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
      try {
        Deno.writeFileSync(path, bytes);
        return;
      } catch (e2) {
        throw new InferError(`cannot write ${path} (${why(e2)})`);
      }
    }
    throw new InferError(`cannot write ${path} (${why(e)})`);
  }
  try {
    Deno.renameSync(tmp, path);
  } catch (e) {
    try {
      Deno.removeSync(tmp);
    } catch {
      // already gone
    }
    throw new InferError(`cannot write ${path} (${why(e)})`);
  }
}

// ---------------------------------------------------------------------------
// Export: a model folder for deployment

/** The graph file and every file it names (extends, network files, graph layers). */
export function graphFiles(path: string): string[] {
  const seen: string[] = [];
  const visit = (file: string) => {
    const norm = resolve(file);
    if (seen.includes(norm)) return;
    seen.push(norm);
    let doc: unknown;
    try {
      doc = parseYamlText(Deno.readTextFileSync(file));
    } catch {
      return; // loadModel has read it already; an unreadable file cannot get here
    }
    const walk = (v: unknown) => {
      if (Array.isArray(v)) return v.forEach(walk);
      if (typeof v !== "object" || v === null) return;
      for (const [k, x] of Object.entries(v)) {
        if (
          ["extends", "file", "graph"].includes(k) && typeof x === "string" &&
          /\.ya?ml$/.test(x)
        ) {
          const next = x.startsWith("/") ? x : join(dirname(file), x);
          if (exists(next)) visit(next);
        } else walk(x);
      }
    };
    walk(doc);
  };
  visit(path);
  return seen;
}

/**
 * Writes a self-contained model folder: config.json, the graph files under graph/,
 * the encoder's and decoder's parameters (no discriminator, no optimiser state) as
 * checkpoints/step-N.safetensors, and the run's eval.json (its verification
 * threshold). Written beside `out` and renamed into place.
 */
export function exportModel(opts: LoadOptions, out: string): { files: string[]; bytes: number } {
  const r = resolveModel(opts);
  if (exists(out)) throw new InferError(`${out} exists already; choose a new folder`);
  const files = graphFiles(r.graph);
  const root = files.map(dirname).reduce((a, b) => {
    while (!(b + "/").startsWith(a.endsWith("/") ? a : a + "/") && a !== "/") a = dirname(a);
    return a;
  });
  const tmp = `${out}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  try {
    Deno.mkdirSync(join(tmp, "checkpoints"), { recursive: true });
    for (const f of files) {
      const to = join(tmp, "graph", relPath(root, f));
      Deno.mkdirSync(dirname(to), { recursive: true });
      Deno.copyFileSync(f, to);
    }
    const step = r.step ?? 0;
    const ckpt = join(tmp, "checkpoints", `step-${String(step).padStart(7, "0")}.safetensors`);
    const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
    for (const [name, w] of r.weights) tensors[name] = w;
    writeSafetensors(ckpt, tensors, {
      format: WEIGHTS_FORMAT,
      graph: r.graph,
      overrides: JSON.stringify(r.overrides),
      step: String(step),
      source: r.checkpoint,
    });
    const config = {
      graph: join("graph", relPath(root, resolve(r.graph))),
      name: out.split("/").filter(Boolean).at(-1),
      overrides: r.overrides,
      exported: { from: r.run ?? r.graph, checkpoint: r.checkpoint, step: r.step ?? null },
    };
    Deno.writeTextFileSync(join(tmp, "config.json"), JSON.stringify(config, null, 2) + "\n");
    if (r.run && exists(join(r.run, "eval.json"))) {
      Deno.copyFileSync(join(r.run, "eval.json"), join(tmp, "eval.json"));
    }
    Deno.renameSync(tmp, out);
  } catch (e) {
    try {
      Deno.removeSync(tmp, { recursive: true });
    } catch {
      // nothing made
    }
    if (e instanceof InferError) throw e;
    throw new InferError(`cannot write ${out} (${why(e)})`);
  }
  let bytes = 0;
  const list: string[] = [];
  const walk = (d: string) => {
    for (const e of Deno.readDirSync(d)) {
      const p = join(d, e.name);
      if (e.isDirectory) walk(p);
      else {
        list.push(p);
        bytes += Deno.statSync(p).size;
      }
    }
  };
  walk(out);
  return { files: list.sort(), bytes };
}
