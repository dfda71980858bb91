// `FaceModel`: a resolved model on the GPU. The encoder and decoder get inference
// plans (batch norm with its running statistics, no backward pass, planned buffers)
// over one parameter arena; images go through in fixed-size batches, so pipelines are
// compiled once per model.
import type { Plan } from "../plan/plan.ts";
import { loadPlan } from "../plan/plan.ts";
import { adapterTarget, softwareTarget, type Target } from "../plan/target.ts";
import { join } from "node:path";
import { exists } from "../util/fs.ts";
import type { Region } from "../engine/buffers.ts";
import { type Gpu, openGpu } from "../engine/device.ts";
import { type Aside, compileAside } from "../engine/compile_aside.ts";
import { allocate, destroyBuffers, Executor, type PlanBuffers } from "../engine/executor.ts";
import { modelPlan, PLAN_FILE } from "./plan.ts";
import { cosine, type Recognizer, weightedMean } from "../eval/evaluate.ts";
import { Rng } from "../util/rng.ts";
import { InferError } from "./errors.ts";
import { poseRangeMessage } from "./pose.ts";
import { yawOfPose } from "../data/pose.ts";
import type { Threshold } from "./run_folder.ts";
import { type LoadOptions, type Resolved, resolveModel } from "./resolve.ts";

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

/** What the discriminator says of an image (FaceModel.estimatePose). */
export interface PoseEstimate {
  /** the most probable pose class, and its yaw in degrees */
  pose: number;
  yaw: number;
  /** softmax over the pose classes */
  probabilities: number[];
  /** probability that the image is a real photo (from D's fake logit), when D has one */
  real?: number;
}

/** The decoder's noise for a render call (default: the model's fixed draw). */
export interface RenderOptions {
  /** one U(-1, 1) vector for every face, or one per face */
  noise?: Float32Array | Float32Array[];
  /** a fresh draw per face from this seed */
  seed?: number;
  /**
   * With a scene code (`sceneSize` > 0): one per face, from `encode`, in place of the
   * noise's last `sceneSize` values. `rotate` passes the images' own.
   */
  scene?: Float32Array[];
}

export class FaceModel implements Recognizer {
  private aside?: Aside;

  private constructor(
    readonly gpu: Gpu,
    readonly resolved: Resolved,
    readonly batch: number,
    private buffers: PlanBuffers,
    private enc: Executor,
    private dec: Executor | undefined,
    private noiseCode: Float32Array,
    /** the Plan it walks, and whether it came from the model folder's plan.json */
    readonly plan: Plan,
    readonly shippedPlan: boolean,
    private disc?: Executor,
  ) {}

  /** Loads a model: `{ run }`, or `{ graph, checkpoint }`, with optional overrides. */
  static async load(opts: LoadOptions): Promise<FaceModel> {
    const batch = opts.batch ?? 8;
    if (!Number.isInteger(batch) || batch < 1 || batch > 4096) {
      throw new InferError(`batch must be an integer from 1 to 4096, got ${batch}`);
    }
    return await FaceModel.fromResolved(resolveModel(opts), { ...opts, batch });
  }

  /**
   * On `opts.gpu` (else a device of its own), walking `opts.plan`, or the model
   * folder's plan.json (written by --export) when it was compiled for this adapter
   * (or, on a software adapter, for the software default) at this batch: loading
   * then compiles nothing. Otherwise a plan compiled for `opts.target` (default:
   * the adapter's untuned target).
   */
  static async fromResolved(
    r: Resolved,
    opts: LoadOptions & { target?: Target; plan?: Plan } = {},
  ): Promise<FaceModel> {
    const gpu = opts.gpu ?? await openGpu();
    const batch = opts.batch ?? 8;
    const file = r.run !== undefined ? join(r.run, PLAN_FILE) : undefined;
    const shipped = !opts.plan && file && exists(file) ? loadPlan(file, r.run) : undefined;
    const fits = (p: Plan) =>
      p.programs[0]?.batch === batch &&
      p.programs.some((q) => q.name === "discriminator") === Boolean(r.discriminator) &&
      (p.target === gpu.description || (gpu.software && p.target === softwareTarget().adapter));
    const plan = opts.plan ?? (shipped && fits(shipped) ? shipped : undefined) ??
      modelPlan(
        r,
        batch,
        opts.target ?? adapterTarget(gpu.description, gpu.device.limits, gpu.software),
      );
    const input = plan.programs[0]?.tensors[plan.programs[0].inputs[0]]?.shape;
    if (plan.programs[0]?.name !== "encoder" || input?.[2] !== r.size || input?.[3] !== r.size) {
      throw new InferError(
        `the plan does not fit ${r.graph}: not its encoder at ${r.size}x${r.size}`,
      );
    }
    const aside = opts.compileAside ? compileAside(gpu, plan.kernels) : undefined;
    const buffers = allocate(gpu.device, plan);
    const shared = new Map<string, Region>();
    const program = (name: string) =>
      plan.programs.some((p) => p.name === name)
        ? Executor.create(gpu, plan, { program: name, shared, buffers })
        : undefined;
    const [enc, dec, disc] = await Promise.all(
      ["encoder", "decoder", "discriminator"].map(program),
    );
    for (const p of plan.programs) {
      for (const name of p.params) {
        const w = r.weights.get(name);
        const want = p.tensors[name].shape;
        if (!w || w.shape.join() !== want.join()) {
          throw new InferError(
            `the plan does not fit ${r.checkpoint}: it wants ${name} [${want.join(", ")}]`,
          );
        }
        const region = shared.get(name)!;
        gpu.device.queue.writeBuffer(
          region.buffer,
          region.offset,
          w.data as Float32Array<ArrayBuffer>,
        );
      }
    }
    const rng = new Rng(opts.noiseSeed ?? 12345);
    const noise = Float32Array.from({ length: r.noise }, () => 2 * rng.next() - 1);
    const m = new FaceModel(gpu, r, batch, buffers, enc!, dec, noise, plan, plan === shipped, disc);
    m.aside = aside;
    return m;
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

  /** Values of the encoder's scene code (0 without one); see RenderOptions.scene. */
  get sceneSize(): number {
    return this.resolved.scene;
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
      sceneSize: r.scene,
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

  /**
   * Features of any number of images, with their confidences in multi-image mode and
   * their scene codes where the encoder has one.
   */
  async encode(
    images: Float32Array[],
  ): Promise<{ features: Float32Array[]; confidences?: number[]; scenes?: Float32Array[] }> {
    this.checkImages(images);
    const p = this.enc.program;
    const feature = p.outputs.feature, conf = p.outputs.confidence, scene = p.outputs.scene;
    const features: Float32Array[] = [], confidences: number[] = [], scenes: Float32Array[] = [];
    const wanted = [feature, conf, scene].filter((o) => o !== undefined);
    for await (const { got, n } of this.batches(this.enc, images, wanted)) {
      const f = got.get(feature)!, nf = this.featureSize, ns = this.sceneSize;
      for (let k = 0; k < n; k++) features.push(f.slice(k * nf, (k + 1) * nf));
      if (conf) {
        const c = got.get(conf)!;
        for (let k = 0; k < n; k++) confidences.push(c[k]);
      }
      if (scene) {
        const c = got.get(scene)!;
        for (let k = 0; k < n; k++) scenes.push(c.slice(k * ns, (k + 1) * ns));
      }
    }
    return { features, ...(conf ? { confidences } : {}), ...(scene ? { scenes } : {}) };
  }

  /** Runs `ex` over the images in whole, padded batches: each batch's outputs, and its images. */
  private async *batches(ex: Executor, images: Float32Array[], outputs: string[]) {
    const plane = 3 * this.size * this.size;
    for (let i = 0; i < images.length; i += this.batch) {
      const n = Math.min(this.batch, images.length - i);
      const chunk = new Float32Array(this.batch * plane);
      for (let k = 0; k < n; k++) chunk.set(images[i + k], k * plane);
      ex.write(ex.program.inputs[0], chunk);
      ex.run();
      yield { got: await ex.read(outputs), n };
    }
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

  /**
   * Renders features at poses (one pose for all, or one per feature). The decoder's noise
   * is the model's fixed draw unless `opts` gives one (for every face, or one per face)
   * or a seed to draw a fresh one per face: several renderings of one face.
   */
  async render(
    features: Float32Array[],
    pose: number | number[],
    opts: RenderOptions = {},
  ): Promise<Float32Array[]> {
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
    const noiseOf = this.noiseFor(features.length, opts);
    const sceneOf = this.sceneFor(features.length, opts);
    const noise = new Float32Array(B * nz);
    for (let i = 0; i < features.length; i += B) {
      const n = Math.min(B, features.length - i);
      const f = new Float32Array(B * nf), code = new Float32Array(B * P);
      for (let k = 0; k < B; k++) noise.set(k < n ? noiseOf(i + k) : this.noiseCode, k * nz);
      for (let k = 0; k < n && sceneOf; k++) {
        noise.set(sceneOf(i + k), (k + 1) * nz - this.sceneSize);
      }
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

  /**
   * The discriminator's judgement of each image (load with `discriminator: true`): its
   * pose class, the yaw, the probability of every pose class, and, where D has a fake
   * logit, the probability that the image is a real photo rather than a generated one.
   */
  async estimatePose(images: Float32Array[]): Promise<PoseEstimate[]> {
    const d = this.disc;
    if (!d) {
      throw new InferError("estimatePose needs the discriminator: load with discriminator: true");
    }
    this.checkImages(images);
    const pose = d.program.outputs.pose, fake = d.program.outputs.fake, P = this.poses;
    const out: PoseEstimate[] = [];
    for await (const { got, n } of this.batches(d, images, fake ? [pose, fake] : [pose])) {
      const logits = got.get(pose)!, f = fake ? got.get(fake) : undefined;
      for (let k = 0; k < n; k++) {
        const z = Array.from(logits.subarray(k * P, (k + 1) * P));
        const top = Math.max(...z);
        const e = z.map((v) => Math.exp(v - top)), sum = e.reduce((a, b) => a + b, 0);
        const probabilities = e.map((v) => v / sum);
        const cls = probabilities.indexOf(Math.max(...probabilities));
        out.push({
          pose: cls,
          yaw: yawOfPose(cls),
          probabilities,
          // D learns real as 0 and generated as 1 on its fake logit
          ...(f ? { real: 1 / (1 + Math.exp(f[k])) } : {}),
        });
      }
    }
    return out;
  }

  /** Values in one noise vector of the decoder (RenderOptions.noise). */
  get noiseSize(): number {
    return this.noiseCode.length;
  }

  /** The noise vector of face `i` of a render call. */
  private noiseFor(faces: number, opts: RenderOptions): (i: number) => Float32Array {
    const nz = this.noiseCode.length;
    if (opts.noise !== undefined && opts.seed !== undefined) {
      throw new InferError("give the noise or a seed to draw it from, not both");
    }
    if (opts.seed !== undefined) {
      const rng = new Rng(opts.seed);
      const drawn = Array.from(
        { length: faces },
        () => Float32Array.from({ length: nz }, () => 2 * rng.next() - 1),
      );
      return (i) => drawn[i];
    }
    const given = opts.noise;
    if (given === undefined) return () => this.noiseCode;
    const list = given instanceof Float32Array ? [given] : given;
    if (list.length !== 1 && list.length !== faces) {
      throw new InferError(`${list.length} noise vectors for ${faces} faces (give 1 or ${faces})`);
    }
    list.forEach((v, i) => {
      if (!(v instanceof Float32Array) || v.length !== nz || !v.every(Number.isFinite)) {
        throw new InferError(`noise ${i}: expected ${nz} finite values`);
      }
    });
    return (i) => list[list.length === 1 ? 0 : i];
  }

  /** The scene code of face `i` of a render call, if the call gives them. */
  private sceneFor(faces: number, opts: RenderOptions): ((i: number) => Float32Array) | undefined {
    const list = opts.scene, ns = this.sceneSize;
    if (list === undefined) return undefined;
    if (!ns) throw new InferError(`${this.resolved.graph} has no scene code`);
    if (!Array.isArray(list) || list.length !== faces) {
      throw new InferError(`${list?.length} scene codes for ${faces} faces`);
    }
    list.forEach((v, i) => {
      if (!(v instanceof Float32Array) || v.length !== ns || !v.every(Number.isFinite)) {
        throw new InferError(`scene ${i}: expected ${ns} finite values`);
      }
    });
    return (i) => list[i];
  }

  /** Each image rotated to `pose` (a class, or one per image): CHW in [-1, 1]. */
  async rotate(
    images: Float32Array[],
    pose: number | number[],
    opts: RenderOptions = {},
  ): Promise<Float32Array[]> {
    if (!this.dec) {
      throw new InferError(`${this.resolved.graph} has no decoder: it cannot rotate faces`);
    }
    if (typeof pose === "number") this.checkPose(pose);
    else pose.forEach((p) => this.checkPose(p));
    const { features, scenes } = await this.encode(images);
    return this.render(features, pose, { scene: scenes, ...opts });
  }

  /** Each image rotated to the frontal pose. */
  frontalize(images: Float32Array[]): Promise<Float32Array[]> {
    return this.rotate(images, this.frontalPose);
  }

  /** Every image at every pose: result[i][p]. */
  async rotateAll(images: Float32Array[]): Promise<Float32Array[][]> {
    const { features: f, scenes } = await this.encode(images);
    const each = <T>(x: T[]) => x.flatMap((v) => Array.from({ length: this.poses }, () => v));
    const poses = f.flatMap(() => Array.from({ length: this.poses }, (_, p) => p));
    const out = await this.render(each(f), poses, { scene: scenes && each(scenes) });
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

  /**
   * Frees the GPU buffers of this model (the device stays open). With `compileAside`,
   * resolves once the compiling worker has stopped: await it before the process exits.
   */
  destroy(): Promise<void> {
    const stopped = this.aside?.stop() ?? Promise.resolve();
    this.enc.destroy();
    this.dec?.destroy();
    this.disc?.destroy();
    destroyBuffers(this.buffers);
    return stopped;
  }
}
