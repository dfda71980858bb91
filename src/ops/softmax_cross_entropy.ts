// Cross entropy of softmax(logits) against integer class labels, mean over the batch.
import { z } from "../deps.ts";
import { defineOp, ShapeError, type T64 } from "./types.ts";
import { f32, perElement, store } from "./wgsl.ts";
import { sumTerms } from "./loss_common.ts";

const attrs = z.object({}).strict();

/** The label of row b as an index; the reference refuses anything but an integer in [0, K). */
function label(labels: T64, b: number, K: number): number {
  const v = labels.data[b];
  if (!Number.isInteger(v) || v < 0 || v >= K) {
    throw new RangeError(
      `softmax_cross_entropy: label ${v} of row ${b} is not a class in [0, ${K})`,
    );
  }
  return v;
}

/** log(sum(exp(row))) computed around the row maximum so nothing overflows. */
function logSumExp(x: Float64Array, off: number, K: number): number {
  let m = -Infinity;
  for (let k = 0; k < K; k++) m = Math.max(m, x[off + k]);
  let s = 0;
  for (let k = 0; k < K; k++) s += Math.exp(x[off + k] - m);
  return m + Math.log(s);
}

export const softmaxCrossEntropy = defineOp<z.infer<typeof attrs>>({
  name: "softmax_cross_entropy",
  summary: "Softmax cross entropy of logits [B, K] against class indices [B] (stored as " +
    "floats); mean over the batch, output [] (a scalar). Only the logits get a gradient.",
  attrs,
  arity: [2, 2],
  differentiable: (i) => i === 0,
  shape(_a, [x, labels]) {
    if (x.length !== 2 || typeof x[1] !== "number") {
      throw new ShapeError(`expects 2-D logits [B, K] with a concrete K, got [${x.join(", ")}]`);
    }
    if (labels.length !== 1 || labels[0] !== x[0]) {
      throw new ShapeError(
        `expects labels [${x[0]}] (one class index per row of logits [${x.join(", ")}]), got [${
          labels.join(", ")
        }]`,
      );
    }
    return [];
  },
  // max, exp-sum and the gradient's exp per logit.
  macs: (_a, [x]) => 3 * x[0] * x[1],
  forwardRef(_a, [x, labels]) {
    const [B, K] = x.shape;
    let sum = 0;
    for (let b = 0; b < B; b++) {
      sum += logSumExp(x.data, b * K, K) - x.data[b * K + label(labels, b, K)];
    }
    return { y: { shape: [], data: Float64Array.of(sum / B) } };
  },
  backwardRef(_a, [x, labels], _p, _y, dy) {
    const [B, K] = x.shape;
    const dx: T64 = { shape: x.shape, data: new Float64Array(x.data.length) };
    const g = dy.data[0] / B;
    for (let b = 0; b < B; b++) {
      const lse = logSumExp(x.data, b * K, K);
      const c = label(labels, b, K);
      for (let k = 0; k < K; k++) {
        dx.data[b * K + k] = g * (Math.exp(x.data[b * K + k] - lse) - (k === c ? 1 : 0));
      }
    }
    return { dx: [dx, undefined], dp: {} };
  },
  forward(_a, ctx) {
    const [B, K] = ctx.inputs[0];
    // One term per row; it also keeps the row's log-sum-exp for the backward pass.
    const k = sumTerms(
      "softmax_cross_entropy",
      B,
      1 / B,
      [{ role: "x0" }, { role: "x1" }, { role: "t.lse", write: true }],
      `fn term(b: u32) -> f32 {
  let row = b * ${K}u;
  var m = x0[row];
  for (var k = 1u; k < ${K}u; k = k + 1u) {
    m = max(m, x0[row + k]);
  }
  var s = 0.0;
  for (var k = 0u; k < ${K}u; k = k + 1u) {
    s = s + exp(x0[row + k] - m);
  }
  let lse = m + log(s);
  t_lse[b] = lse;
  let c = round(x1[b]);
  // A label outside [0, K) (or NaN) cannot be checked before run time: the row is ignored.
  if (!(c >= 0.0 && c < ${f32(K)})) {
    return 0.0;
  }
  return lse - x0[row + u32(c)];
}`,
      ctx.fuse !== false,
    );
    return { dispatches: k.dispatches, scratch: { ...k.scratch, lse: B } };
  },
  backward(_a, ctx) {
    if (!ctx.needDx[0]) return { dispatches: [] };
    const [B, K] = ctx.inputs[0];
    return {
      scratch: { lse: B },
      dispatches: [perElement(
        "softmax_cross_entropy.grad",
        B * K,
        [{ role: "x0" }, { role: "x1" }, { role: "t.lse" }, { role: "dy" }, {
          role: "dx0",
          write: true,
        }],
        `  let b = i / ${K}u;
  let c = round(x1[b]);
  var g = 0.0;
  if (c >= 0.0 && c < ${f32(K)}) {
    g = exp(x0[i] - t_lse[b]) - select(0.0, 1.0, u32(c) == i % ${K}u);
  }
  ${store(ctx.accumulate.has("dx0"), "dx0[i]", `dy[0] * ${f32(1 / B)} * g`)}`,
      )],
    };
  },
});
