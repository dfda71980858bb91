// src/ops, under both src/lang and src/plan: one definition per op (attributes,
// shape rule, WGSL kernels forward and backward, float64 reference), a folder for a
// family that needs more than one file (conv/). Kernels get what they need from
// KernelCtx, the adapter's choices included (ctx.target), never from module state.
// This file lists every op the graph language knows. Adding an op: write its file,
// add it here.
import type { OpDef } from "./types.ts";
import { accuracy } from "./accuracy.ts";
import { add } from "./add.ts";
import { avgPool } from "./avg_pool.ts";
import { bceWithLogits } from "./bce_with_logits.ts";
import { batchNorm } from "./batch_norm.ts";
import { concat } from "./concat.ts";
import { conv2d } from "./conv2d.ts";
import { convTranspose2d } from "./conv_transpose2d.ts";
import { elu } from "./elu.ts";
import { flatten } from "./flatten.ts";
import { groupMean } from "./group_mean.ts";
import { l1Loss } from "./l1_loss.ts";
import { l2Loss } from "./l2_loss.ts";
import { leakyRelu } from "./leaky_relu.ts";
import { linear } from "./linear.ts";
import { mul } from "./mul.ts";
import { relu } from "./relu.ts";
import { reshape } from "./reshape.ts";
import { scale } from "./scale.ts";
import { sigmoid } from "./sigmoid.ts";
import { slice } from "./slice.ts";
import { softmaxCrossEntropy } from "./softmax_cross_entropy.ts";
import { tanh } from "./tanh.ts";

const all: OpDef[] = [
  accuracy,
  add,
  avgPool,
  bceWithLogits,
  batchNorm,
  concat,
  conv2d,
  convTranspose2d,
  elu,
  flatten,
  groupMean,
  l1Loss,
  l2Loss,
  leakyRelu,
  linear,
  mul,
  relu,
  reshape,
  scale,
  sigmoid,
  slice,
  softmaxCrossEntropy,
  tanh,
];

/** Op name -> definition. No prototype: `OPS.constructor` or `OPS.toString` name no op. */
export const OPS: Record<string, OpDef> = Object.assign(
  Object.create(null),
  Object.fromEntries(all.map((o) => [o.name, o])),
);
