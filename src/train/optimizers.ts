// Optimisers as GPU kernels: one dispatch per parameter tensor, encoded after the
// backward pass in the same command buffer. Step-dependent scalars (Adam's bias
// correction) live in a small buffer written before each submit.
import { z } from "zod";
import type { Dispatch } from "../ops/types.ts";
import { grid, WG } from "../ops/wgsl.ts";
import { createStorage, type Region } from "../engine/buffers.ts";
import { prepare, type Prepared } from "../engine/launch.ts";

export const optimizerSchema = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("adam"),
    lr: z.number().min(0).default(2e-4).describe("0 freezes the player's networks"),
    beta1: z.number().min(0).lt(1).default(0.5),
    beta2: z.number().min(0).lt(1).default(0.999),
    eps: z.number().positive().default(1e-8),
  }).strict(),
  z.object({
    type: z.literal("sgd"),
    lr: z.number().min(0).default(0.01).describe("0 freezes the player's networks"),
    momentum: z.number().min(0).lt(1).default(0),
  }).strict(),
]);

export type OptimizerConfig = z.infer<typeof optimizerSchema>;

/**
 * What one optimiser dispatch updates: a range of the parameter arena and the
 * matching range of the gradient arena (same layout), e.g. all of a player's weights.
 */
export interface ParamRange {
  name: string;
  param: Region;
  grad: Region;
}

const ADAM = `
@group(0) @binding(0) var<storage, read_write> p: array<f32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> m: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;
// [lr * sqrt(1 - beta2^t) / (1 - beta1^t), beta1, beta2, eps * sqrt(1 - beta2^t)]
@group(0) @binding(4) var<storage, read> h: array<f32>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = gid.x + gid.y * nw.x * ${WG}u;
  if (i >= arrayLength(&p)) { return; }
  let gi = g[i];
  let mi = h[1] * m[i] + (1.0 - h[1]) * gi;
  let vi = h[2] * v[i] + (1.0 - h[2]) * gi * gi;
  m[i] = mi;
  v[i] = vi;
  p[i] = p[i] - h[0] * mi / (sqrt(vi) + h[3]);
}`;

const SGD = `
@group(0) @binding(0) var<storage, read_write> p: array<f32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> m: array<f32>;
@group(0) @binding(3) var<storage, read> h: array<f32>;  // [lr, momentum]
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = gid.x + gid.y * nw.x * ${WG}u;
  if (i >= arrayLength(&p)) { return; }
  let mi = h[1] * m[i] + g[i];
  m[i] = mi;
  p[i] = p[i] - h[0] * mi;
}`;

/** Optimiser state for parameter ranges; `steps` are replayed after each backward pass. */
export class Optimizer {
  private constructor(
    readonly config: OptimizerConfig,
    private device: GPUDevice,
    /** state tensors by name: "adam.m.<range>", "adam.v.<range>", "sgd.m.<range>" */
    readonly state: Map<string, { buffer: GPUBuffer; shape: number[] }>,
    private hyper: GPUBuffer,
    readonly steps: Prepared[],
    public t: number,
  ) {}

  static async create(device: GPUDevice, config: OptimizerConfig, ranges: ParamRange[]) {
    const state = new Map<string, { buffer: GPUBuffer; shape: number[] }>();
    const hyper = createStorage(device, 4, "optimizer.hyper");
    const dispatches: { d: Dispatch; regions: (Region | GPUBuffer)[] }[] = [];
    const slots = config.type === "adam" ? ["m", "v"] : ["m"];
    for (const p of ranges) {
      const n = p.param.size / 4;
      const bufs = slots.map((s) => {
        const buffer = createStorage(device, n, `${config.type}.${s}.${p.name}`);
        state.set(`${config.type}.${s}.${p.name}`, { buffer, shape: [n] });
        return buffer;
      });
      const d: Dispatch = {
        label: `${config.type} ${p.name}`,
        code: config.type === "adam" ? ADAM : SGD,
        entry: "main",
        // The range includes padding between tensors: its gradients stay zero, so it stays.
        workgroups: grid(n, WG),
        bindings: [
          { role: "p", write: true },
          { role: "g" },
          ...slots.map((s) => ({ role: s, write: true })),
          { role: "h" },
        ],
      };
      dispatches.push({ d, regions: [p.param, p.grad, ...bufs, hyper] });
    }
    const steps = (await Promise.all(
      dispatches.map(({ d, regions }) =>
        prepare(device, [d], (role) => regions[d.bindings.findIndex((b) => b.role === role)])
      ),
    )).flat();
    return new Optimizer(config, device, state, hyper, steps, 0);
  }

  /** Advances the step count and uploads this step's scalars; call before submitting. */
  next(): void {
    this.t++;
    const c = this.config;
    let h: number[];
    if (c.type === "adam") {
      const bc1 = 1 - c.beta1 ** this.t, bc2 = 1 - c.beta2 ** this.t;
      // Bias correction folded into the step size and epsilon, as in PyTorch's Adam.
      h = [c.lr * Math.sqrt(bc2) / bc1, c.beta1, c.beta2, c.eps * Math.sqrt(bc2)];
    } else h = [c.lr, c.momentum, 0, 0];
    this.device.queue.writeBuffer(this.hyper, 0, new Float32Array(h));
  }
}
