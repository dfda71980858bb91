// Optimisers: their settings, and the scalars the host writes before each update.
// The kernels are the plan's optimiser phase (one dispatch per player over its
// range of the parameter arena), encoded after the backward pass.
import { z } from "../deps.ts";

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
 * The host side of a player's optimiser phase (its kernels are in the plan,
 * src/plan/training.ts): the step count, and the step-dependent scalars (Adam's
 * bias correction) written before each update.
 */
export class Optimizer {
  t = 0;

  constructor(readonly config: OptimizerConfig) {}

  /** Advances the step count; returns this step's scalars for the plan's hyper tensor. */
  next(): Float32Array<ArrayBuffer> {
    this.t++;
    const c = this.config;
    if (c.type === "adam") {
      const bc1 = 1 - c.beta1 ** this.t, bc2 = 1 - c.beta2 ** this.t;
      // Bias correction folded into the step size and epsilon, as in PyTorch's Adam.
      return Float32Array.of(c.lr * Math.sqrt(bc2) / bc1, c.beta1, c.beta2, c.eps * Math.sqrt(bc2));
    }
    return Float32Array.of(c.lr, c.momentum, 0, 0);
  }
}
