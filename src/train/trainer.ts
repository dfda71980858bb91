// src/train, beside the pipeline YAML -> IR (src/lang) -> Plan (src/plan) -> engine:
// it compiles a training Plan (plan.ts) and drives the engine with it. This file is
// GAN training on the GPU: it walks the Plan's two programs (D and G updates) over
// shared parameter arenas and input buffers; each update is one command buffer
// (forward, backward, optimiser). It compiles nothing.
import type { Model } from "../lang/ir.ts";
import { bindShape, gradName } from "../plan/program.ts";
import type { Plan, PlanProgram } from "../plan/plan.ts";
import { hyperName, optimizerState } from "../plan/training.ts";
import { numel } from "../ops/wgsl.ts";
import type { Gpu } from "../engine/device.ts";
import { allocate, destroyBuffers, Executor, type PlanBuffers } from "../engine/executor.ts";
import { Optimizer } from "./optimizers.ts";
import { initParams } from "./params.ts";
import type { Region } from "../engine/buffers.ts";
import type { TrainingConfig } from "./config.ts";
import { mix, Rng } from "../util/rng.ts";
import type { Collective } from "../parallel/mpi.ts";

/** What the data side provides per step; the trainer adds target poses and noise. */
export interface Batch {
  image: Float32Array;
  identity: Float32Array;
  pose: Float32Array;
  /** each image's scene with the head turned to poses[b] (data with paired views only) */
  sceneAt?(poses: Float32Array): Float32Array;
}

export interface Player {
  name: "d" | "g";
  program: PlanProgram;
  exec: Executor;
  optimizer: Optimizer;
  losses: [string, number][];
  updates: number;
}

/** Names of the trainer's counters (Trainer.counters), in a fixed order. */
export const COUNTERS = ["step", "strong", "rng", "d_t", "g_t", "d_updates", "g_updates"] as const;
export type Counters = Record<typeof COUNTERS[number], number>;

export class Trainer {
  /** completed iterations (each has one G update, and a D update unless D is strong) */
  step = 0;
  strong = false;
  rng: Rng;

  /** the plan's slots and arenas, shared by both updates */
  private buffers?: PlanBuffers;
  /** milliseconds spent exchanging gradients (read back, all-reduce, write) */
  reduceMs = 0;

  private constructor(
    readonly gpu: Gpu,
    readonly plan: Plan,
    readonly model: Model,
    readonly cfg: TrainingConfig,
    readonly shared: Map<string, Region>,
    readonly players: Player[],
    readonly poses: number,
    readonly noiseSize: number,
    /** data-parallel replicas: this rank's part of each global batch is the plan's batch */
    readonly comm?: Collective,
  ) {
    this.rng = new Rng(mix(cfg.seed, 0x7a11));
  }

  /** Walks `plan`, the training plan of `model` and `cfg` (src/train/plan.ts). */
  static async create(
    gpu: Gpu,
    plan: Plan,
    model: Model,
    cfg: TrainingConfig,
    opts: { comm?: Collective } = {},
  ): Promise<Trainer> {
    const buffers = allocate(gpu.device, plan);
    const shared = new Map<string, Region>();
    const players: Player[] = [];
    for (const name of ["d", "g"] as const) {
      const p = cfg.players[name];
      const exec = await Executor.create(gpu, plan, { program: name, shared, buffers });
      const program = exec.program;
      const losses = Object.entries(p.losses);
      // Upstream gradient of each loss term is its weight: the sum needs no kernel. Over
      // N replicas it is weight / N, so that the all-reduced sum is the mean gradient.
      const ranks = opts.comm?.size ?? 1;
      for (const [term, w] of losses) {
        exec.write(gradName(program.outputs[term]), Float32Array.of(w / ranks));
      }
      const optimizer = new Optimizer(p.optimizer ?? cfg.optimizer);
      players.push({ name, program, exec, optimizer, losses, updates: 0 });
    }
    const shapeOf = (n: string) => players[1].program.tensors[n]?.shape;
    const step = model.step!;
    const declared = (n: string) => step.inputs.find((i) => i.name === n)?.shape;
    const poses = Number(
      shapeOf("target_code")?.[1] ?? declared("target_code")?.[1] ?? shapeOf("pose_code")?.[1] ??
        declared("pose_code")?.[1] ?? 0,
    );
    const noiseSize = Number(shapeOf("noise")?.[1] ?? declared("noise")?.[1] ?? 0);
    const comm = opts.comm?.size === 1 ? undefined : opts.comm;
    const t = new Trainer(gpu, plan, model, cfg, shared, players, poses, noiseSize, comm);
    t.buffers = buffers;
    t.initialise();
    return t;
  }

  /** Fresh parameters from the run's seed (a resumed run overwrites them). */
  private initialise(): void {
    const seen = new Set<string>();
    for (const p of this.players) {
      for (const [name, data] of initParams(p.program, mix(this.cfg.seed, 0x9a7a))) {
        if (seen.has(name)) continue;
        seen.add(name);
        const r = this.shared.get(name)!;
        this.gpu.device.queue.writeBuffer(r.buffer, r.offset, data);
      }
    }
  }

  /** Frees every GPU buffer of the trainer (it cannot be used afterwards). */
  destroy(): void {
    for (const p of this.players) p.exec.destroy();
    for (const [name, r] of this.shared) {
      if (this.plan.programs.some((p) => p.tensors[name]?.shared)) r.buffer.destroy();
    }
    if (this.buffers) destroyBuffers(this.buffers);
  }

  get d(): Player {
    return this.players[0];
  }

  get g(): Player {
    return this.players[1];
  }

  /** The state besides tensors that a checkpoint or a broadcast carries: whole numbers. */
  counters(): Counters {
    return {
      step: this.step,
      strong: this.strong ? 1 : 0,
      rng: this.rng.state,
      d_t: this.d.optimizer.t,
      g_t: this.g.optimizer.t,
      d_updates: this.d.updates,
      g_updates: this.g.updates,
    };
  }

  setCounters(c: Counters): void {
    this.step = c.step;
    this.strong = c.strong === 1;
    this.rng.state = c.rng;
    this.d.optimizer.t = c.d_t;
    this.g.optimizer.t = c.g_t;
    this.d.updates = c.d_updates;
    this.g.updates = c.g_updates;
  }

  /** Every parameter and running statistic, by name (a checkpoint less the optimiser state). */
  paramTensors(): Map<string, { region: Region; shape: number[] }> {
    const out = new Map<string, { region: Region; shape: number[] }>();
    for (const p of this.players) {
      for (const name of p.program.params) {
        out.set(name, { region: this.shared.get(name)!, shape: p.program.tensors[name].shape });
      }
    }
    return out;
  }

  /** Names and shapes of every tensor a checkpoint holds. */
  stateTensors(): Map<string, { region: Region; shape: number[] }> {
    const out = this.paramTensors();
    for (const p of this.players) {
      for (const k of optimizerState(p.optimizer.config.type, p.name)) {
        const t = p.program.tensors[k];
        if (t) out.set(`${p.name}.${k}`, { region: p.exec.regions.get(k)!, shape: t.shape });
      }
    }
    return out;
  }

  /**
   * One iteration: upload the batch with fresh target poses and noise, then a D
   * update (skipped on all but every g_steps-th iteration while D is strong) and a
   * G update. Nothing waits for the GPU.
   */
  iterate(batch: Batch): { dUpdated: boolean } {
    if (this.comm) throw new Error("a data-parallel trainer steps with iterateReduced");
    const dUpdated = this.upload(batch);
    for (const p of dUpdated ? this.players : [this.g]) {
      this.writeHyper(p);
      p.exec.run({ backward: true, optimizer: true, reuse: this.reuses(p, dUpdated) });
      p.updates++;
    }
    this.step++;
    return { dUpdated };
  }

  /**
   * `iterate` of one data-parallel replica: `batch` is this rank's shard of the
   * global batch. After each player's backward pass its gradient range (one range
   * of the gradients arena) is summed over the ranks with one all-reduce (the mean:
   * each rank's gradients are scaled by 1 / N), and every rank runs the same
   * optimiser step on the same values.
   */
  async iterateReduced(batch: Batch): Promise<{ dUpdated: boolean }> {
    const comm = this.comm!;
    const dUpdated = this.upload(batch);
    for (const p of dUpdated ? this.players : [this.g]) {
      this.writeHyper(p);
      p.exec.run({ backward: true, reuse: this.reuses(p, dUpdated) });
      const span = `span.gradients.${p.name}`;
      if (p.exec.has(span)) {
        // Timed from the end of the backward pass (the wait for a slower rank counts).
        await this.gpu.device.queue.onSubmittedWorkDone();
        const t0 = performance.now();
        const g = (await p.exec.read([span])).get(span)! as Float32Array<ArrayBuffer>;
        comm.allreduceSum(g); // each rank's share is already scaled by 1 / N (create)
        p.exec.write(span, g);
        this.reduceMs += performance.now() - t0;
      }
      p.exec.run({ forward: false, optimizer: true });
      p.updates++;
    }
    this.step++;
    return { dUpdated };
  }

  /**
   * Whether G's update skips the forward launches D's update just ran (the plan's
   * `reuse`): only right after D's update in the same iteration, on the same batch.
   */
  private reuses(p: Player, dUpdated: boolean): boolean {
    return dUpdated && p.program.reuse?.after === "d";
  }

  /** Advances a player's optimiser and writes its step's scalars. */
  private writeHyper(p: Player): void {
    const h = p.optimizer.next();
    if (p.exec.has(hyperName(p.name))) p.exec.write(hyperName(p.name), h);
  }

  /**
   * Uploads the batch with this step's target poses and noise; says whether D
   * updates. Poses and noise are drawn for the global batch and each rank takes
   * its rows, so N replicas see what one process of the whole batch would.
   */
  private upload(batch: Batch): boolean {
    const B = this.plan.programs[0].batch;
    const ranks = this.comm?.size ?? 1, first = (this.comm?.rank ?? 0) * B;
    const targetPose = new Float32Array(B * ranks);
    let t = 0;
    for (let b = 0; b < B * ranks; b++) {
      // One target per group: multi-image mode renders the group's fused feature at it.
      if (b % this.cfg.group === 0) t = this.rng.int(this.poses);
      targetPose[b] = t;
    }
    const allNoise = new Float32Array(B * ranks * this.noiseSize);
    for (let i = 0; i < allNoise.length; i++) allNoise[i] = 2 * this.rng.next() - 1;
    const targets = targetPose.slice(first, first + B);
    const noise = allNoise.slice(first * this.noiseSize, (first + B) * this.noiseSize);
    const step = this.model.step!;
    const inputs: Record<string, Float32Array> = {
      image: batch.image,
      identity: batch.identity,
      pose: batch.pose,
      // The input's own pose as a code: rendering at it reconstructs the input.
      pose_code: oneHot(batch.pose, this.poses),
      target_pose: targets,
      target_code: oneHot(targets, this.poses),
      noise,
    };
    if (step.inputs.some((i) => i.name === "target_image")) {
      if (!batch.sceneAt) throw new Error("target_image needs data with paired views");
      // The input's own scene at the target pose: a paired rotation target.
      inputs.target_image = batch.sceneAt(targets);
    }
    for (const i of step.inputs) {
      const data = inputs[i.name];
      const want = numel(bindShape(i.shape, B));
      if (data.length !== want) {
        throw new Error(`batch input ${i.name}: ${data.length} values, expected ${want}`);
      }
      const r = this.shared.get(i.name);
      if (!r) continue; // no update reads it
      this.gpu.device.queue.writeBuffer(r.buffer, r.offset, data as Float32Array<ArrayBuffer>);
    }
    return !this.strong || this.step % this.cfg.schedule.g_steps === 0;
  }

  /**
   * Reads the step's outputs (losses and metrics) of the last D and G updates
   * (each output is computed by one of them, see playerOutputs),
   * and updates the "D is strong" flag of the schedule.
   */
  async metrics(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const p of this.players) {
      const names = Object.keys(p.program.outputs);
      const got = await p.exec.read(names.map((n) => p.program.outputs[n]));
      for (const n of names) out[n] = got.get(p.program.outputs[n])![0];
    }
    if (this.comm) {
      // The mean over replicas: every rank then makes the schedule's same decision.
      const names = Object.keys(out);
      const v = Float32Array.from(names, (n) => out[n]);
      this.comm.allreduceSum(v);
      names.forEach((n, i) => (out[n] = v[i] / this.comm!.size));
    }
    for (const p of this.players) {
      out[`${p.name}_loss`] = p.losses.reduce((s, [t, w]) => s + w * out[t], 0);
    }
    const strong = this.cfg.schedule.strong;
    if (strong.length) {
      const mean = strong.reduce((s, m) => s + out[m], 0) / strong.length;
      out.d_strength = mean;
      this.strong = mean >= this.cfg.schedule.threshold;
    }
    return out;
  }
}

/** Rows of one-hot codes of `classes` class indices. */
export function oneHot(indices: Float32Array, classes: number): Float32Array {
  const out = new Float32Array(indices.length * classes);
  indices.forEach((k, b) => (out[b * classes + k] = 1));
  return out;
}
