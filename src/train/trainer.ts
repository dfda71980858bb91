// GAN training on the GPU: one program per player (D and G) over shared parameter
// and input buffers; each update is one command buffer (forward, backward, optimiser).
import type { Model } from "../lang/ir.ts";
import { bindShape, buildProgram, gradName, type Program } from "../plan/program.ts";
import { numel } from "../ops/wgsl.ts";
import type { Gpu } from "../engine/device.ts";
import { Executor } from "../engine/executor.ts";
import { Optimizer } from "./optimizers.ts";
import { initParams } from "./params.ts";
import { createArena, span } from "../engine/arena.ts";
import { planMemory, poolSlots } from "../plan/memory.ts";
import { mergeLimits } from "../plan/merge.ts";
import { type Region, STORAGE, whole } from "../engine/buffers.ts";
import type { TrainingConfig } from "./config.ts";
import { mix, Rng } from "../util/rng.ts";

/** What the data side provides per step; the trainer adds target poses and noise. */
export interface Batch {
  image: Float32Array;
  identity: Float32Array;
  pose: Float32Array;
}

/** The step graph's inputs the trainer knows how to fill. */
export const STEP_INPUTS = [
  "image",
  "identity",
  "pose",
  "pose_code",
  "target_pose",
  "target_code",
  "noise",
];

export interface Player {
  name: "d" | "g";
  program: Program;
  exec: Executor;
  optimizer: Optimizer;
  losses: [string, number][];
  updates: number;
}

export class Trainer {
  /** completed iterations (each has one G update, and a D update unless D is strong) */
  step = 0;
  strong = false;
  rng: Rng;

  /** buffers the trainer made itself: the shared slots and the arenas */
  private owned: GPUBuffer[] = [];

  private constructor(
    readonly gpu: Gpu,
    readonly model: Model,
    readonly cfg: TrainingConfig,
    readonly shared: Map<string, Region>,
    readonly players: Player[],
    readonly poses: number,
    readonly noiseSize: number,
  ) {
    this.rng = new Rng(mix(cfg.seed, 0x7a11));
  }

  /** `fuse: false` builds unfused plans (benchmarks compare them); the default fuses. */
  static async create(
    gpu: Gpu,
    model: Model,
    cfg: TrainingConfig,
    opts: { fuse?: boolean } = {},
  ): Promise<Trainer> {
    const step = model.step!;
    for (const i of step.inputs) {
      if (!STEP_INPUTS.includes(i.name)) {
        throw new Error(
          `${model.file}: the step input '${i.name}' is not one the trainer fills ` +
            `(${STEP_INPUTS.join(", ")})`,
        );
      }
    }
    const programs = (["d", "g"] as const).map((name) => {
      const p = cfg.players[name];
      const owns = (param: string) => p.networks.some((n) => param.startsWith(`${n}.`));
      return {
        name,
        owns,
        program: buildProgram(step, {
          batch: cfg.batch,
          training: true,
          backwardFrom: Object.keys(p.losses),
          trains: owns,
          outputs: playerOutputs(step.outputs.map((o) => o.name), cfg, name),
          fuse: opts.fuse,
        }),
      };
    });
    // All weights in one arena and their gradients in a second with the same layout,
    // grouped by player, so each player's optimiser is one dispatch over one range.
    const all = programs[0].program;
    const trainable = [...all.tensors.values()].filter((t) => t.kind === "param");
    const ordered = [
      ...programs.flatMap(({ owns }) => trainable.filter((t) => owns(t.name))),
      ...trainable.filter((t) => !programs.some(({ owns }) => owns(t.name))),
    ];
    const params = createArena(gpu.device, ordered, "parameters");
    const grads = createArena(gpu.device, ordered, "gradients");
    // Running statistics apart: batch norm writes them while reading its weights, and
    // WebGPU forbids read-only and writable bindings of one buffer in a dispatch.
    const state = createArena(
      gpu.device,
      [...all.tensors.values()].filter((t) => t.kind === "state"),
      "running statistics",
    );
    const shared = new Map<string, Region>([...params.regions, ...state.regions]);
    for (const [name, r] of grads.regions) shared.set(gradName(name), r);
    // The updates run one after the other: their short-lived tensors share buffers.
    const plans = programs.map(({ program }) =>
      planMemory(program, { backward: true, merge: mergeLimits(gpu.device.limits) })
    );
    const pool = poolSlots(plans);
    const buffers = pool.bytes.map((size, k) =>
      gpu.device.createBuffer({ size, usage: STORAGE, label: `slot ${k}` })
    );
    const players: Player[] = [];
    for (const [i, { name, owns, program }] of programs.entries()) {
      const p = cfg.players[name];
      const exec = await Executor.create(gpu, program, shared, {
        shareInputs: true,
        memory: plans[i],
        slots: plans[i].slots.map((s) => buffers[pool.index[i][s.id]]),
      });
      const mine = ordered.filter((t) => t.kind === "param" && owns(t.name)).map((t) => t.name);
      const optimizer = await Optimizer.create(
        gpu.device,
        p.optimizer ?? cfg.optimizer,
        mine.length ? [{ name, param: span(params, mine), grad: span(grads, mine) }] : [],
      );
      const losses = Object.entries(p.losses);
      // Upstream gradient of each loss term is its weight: the sum needs no kernel.
      for (const [term, w] of losses) {
        exec.write(gradName(program.outputs[term]), Float32Array.of(w));
      }
      players.push({ name, program, exec, optimizer, losses, updates: 0 });
    }
    const shapeOf = (n: string) => step.inputs.find((i) => i.name === n)?.shape;
    const poses = Number(shapeOf("target_code")?.[1] ?? shapeOf("pose_code")?.[1] ?? 0);
    const noiseSize = Number(shapeOf("noise")?.[1] ?? 0);
    const t = new Trainer(gpu, model, cfg, shared, players, poses, noiseSize);
    t.owned = [...buffers, params.buffer, grads.buffer, state.buffer];
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
    for (const p of this.players) {
      p.exec.destroy();
      for (const { buffer } of p.optimizer.state.values()) buffer.destroy();
    }
    for (const b of this.owned) b.destroy();
  }

  get d(): Player {
    return this.players[0];
  }

  get g(): Player {
    return this.players[1];
  }

  /** Names and shapes of every tensor a checkpoint holds. */
  stateTensors(): Map<string, { region: Region; shape: number[] }> {
    const out = new Map<string, { region: Region; shape: number[] }>();
    for (const p of this.players) {
      for (const name of p.program.params) {
        out.set(name, {
          region: this.shared.get(name)!,
          shape: p.program.tensors.get(name)!.shape,
        });
      }
      for (const [k, v] of p.optimizer.state) {
        out.set(`${p.name}.${k}`, { region: whole(v.buffer), shape: v.shape });
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
    const B = this.cfg.batch;
    const targetPose = new Float32Array(B);
    let t = 0;
    for (let b = 0; b < B; b++) {
      // One target per group: multi-image mode renders the group's fused feature at it.
      if (b % this.cfg.group === 0) t = this.rng.int(this.poses);
      targetPose[b] = t;
    }
    const noise = new Float32Array(B * this.noiseSize);
    for (let i = 0; i < noise.length; i++) noise[i] = 2 * this.rng.next() - 1;
    const inputs: Record<string, Float32Array> = {
      image: batch.image,
      identity: batch.identity,
      pose: batch.pose,
      // The input's own pose as a code: rendering at it reconstructs the input.
      pose_code: oneHot(batch.pose, this.poses),
      target_pose: targetPose,
      target_code: oneHot(targetPose, this.poses),
      noise,
    };
    const step = this.model.step!;
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
    const dUpdated = !this.strong || this.step % this.cfg.schedule.g_steps === 0;
    for (const p of dUpdated ? this.players : [this.g]) {
      p.optimizer.next();
      p.exec.run({ backward: true, after: p.optimizer.steps });
      p.updates++;
    }
    this.step++;
    return { dUpdated };
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

/**
 * The step outputs a player's update computes: its loss terms and, for D, the
 * schedule's metrics; the remaining metrics go to G (they are cheap there: G's
 * forward pass already has D's view of the generated faces).
 */
export function playerOutputs(all: string[], cfg: TrainingConfig, player: "d" | "g"): string[] {
  const losses = (p: "d" | "g") => Object.keys(cfg.players[p].losses);
  const forD = new Set([...losses("d"), ...cfg.schedule.strong]);
  const forG = new Set(losses("g"));
  const rest = all.filter((o) => !forD.has(o) && !forG.has(o));
  return player === "d" ? [...forD] : [...forG, ...rest];
}
