// Batch normalisation over (B, H, W) per channel, PyTorch semantics: biased
// variance to normalise, unbiased variance into the running estimate.
import { z } from "../deps.ts";
import { type Binding, defineOp, type Dispatch, ShapeError, type T64 } from "./types.ts";
import { f32, numel, perElement, store } from "./wgsl.ts";
import {
  accumulator,
  applyEach,
  channelDims,
  channelThreads,
  channelTotals,
  forChannel,
  perChannel,
  rowBindings,
  vec4Rows,
} from "./per_channel.ts";

const attrs = z.object({
  eps: z.number().positive().default(1e-5).describe("added to the variance before the sqrt"),
  momentum: z.number().min(0).max(1).default(0.1).describe(
    "running = (1 - momentum) * running + momentum * batch statistic (PyTorch convention)",
  ),
  affine: z.boolean().default(true).describe("learn a per-channel scale `weight` and `bias`"),
}).strict();

type Attrs = z.infer<typeof attrs>;

/** B, C and the spatial size S (1 for [B, C]) of a concrete input. */
function dims(shape: number[]): { B: number; C: number; S: number; N: number } {
  const [B, C, ...rest] = shape;
  const S = numel(rest);
  return { B, C, S, N: B * S };
}

/** Per-channel mean and inverse std: batch statistics in training, running ones otherwise. */
function stats(a: Attrs, x: T64, p: Record<string, T64>, training: boolean) {
  const { B, C, S, N } = dims(x.shape);
  const mean = new Float64Array(C), varB = new Float64Array(C), invstd = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    if (training) {
      let s = 0;
      for (let b = 0; b < B; b++) {
        for (let k = 0; k < S; k++) s += x.data[(b * C + c) * S + k];
      }
      mean[c] = s / N;
      let v = 0;
      for (let b = 0; b < B; b++) {
        for (let k = 0; k < S; k++) v += (x.data[(b * C + c) * S + k] - mean[c]) ** 2;
      }
      varB[c] = v / N;
    } else {
      mean[c] = p.running_mean.data[c];
      varB[c] = p.running_var.data[c];
    }
    invstd[c] = 1 / Math.sqrt(varB[c] + a.eps);
  }
  return { mean, varB, invstd };
}

/** N / (N - 1): biased to unbiased variance; PyTorch refuses N = 1, we keep the biased one. */
const unbias = (N: number) => N > 1 ? N / (N - 1) : 1;

export const batchNorm = defineOp<Attrs>({
  fusesEpilogue: true,
  name: "batch_norm",
  summary:
    "Batch normalisation per channel of [B, C, H, W] or [B, C]; batch statistics in training " +
    "(updating running_mean/running_var), running statistics in inference.",
  attrs,
  arity: [1, 1],
  shape(_a, [x]) {
    if (x.length !== 4 && x.length !== 2) {
      throw new ShapeError(
        `expects 4-D input [B, C, H, W] or 2-D input [B, C], got [${x.join(", ")}]`,
      );
    }
    if (typeof x[1] !== "number") {
      throw new ShapeError(`needs a concrete channel count, got [${x.join(", ")}]`);
    }
    return x;
  },
  params(a, [x]) {
    const C = x[1] as number;
    return {
      ...(a.affine
        ? {
          weight: { shape: [C], init: "ones" as const, trainable: true },
          bias: { shape: [C], init: "zeros" as const, trainable: true },
        }
        : {}),
      running_mean: { shape: [C], init: "zeros", trainable: false },
      running_var: { shape: [C], init: "ones", trainable: false },
    };
  },
  // Per element: one multiply-add for the statistics, one for normalise-and-scale.
  macs: (_a, [x]) => 2 * numel(x),

  forwardRef(a, [x], p, ctx) {
    const { C, S } = dims(x.shape);
    const { mean, varB, invstd } = stats(a, x, p, ctx.training);
    const y = new Float64Array(x.data.length);
    for (let i = 0; i < y.length; i++) {
      const c = Math.floor(i / S) % C;
      const xhat = (x.data[i] - mean[c]) * invstd[c];
      y[i] = a.affine ? xhat * p.weight.data[c] + p.bias.data[c] : xhat;
    }
    if (!ctx.training) return { y: { shape: x.shape, data: y } };
    const { N } = dims(x.shape);
    const m = a.momentum;
    const rm = p.running_mean.data.map((r, c) => (1 - m) * r + m * mean[c]);
    const rv = p.running_var.data.map((r, c) => (1 - m) * r + m * varB[c] * unbias(N));
    return {
      y: { shape: x.shape, data: y },
      state: { running_mean: { shape: [C], data: rm }, running_var: { shape: [C], data: rv } },
    };
  },

  backwardRef(a, [x], p, _y, dy, ctx) {
    const { C, S, N } = dims(x.shape);
    const { mean, invstd } = stats(a, x, p, ctx.training);
    const xhat = x.data.map((v, i) => {
      const c = Math.floor(i / S) % C;
      return (v - mean[c]) * invstd[c];
    });
    const sumDy = new Float64Array(C), sumDyXhat = new Float64Array(C);
    for (let i = 0; i < xhat.length; i++) {
      const c = Math.floor(i / S) % C;
      sumDy[c] += dy.data[i];
      sumDyXhat[c] += dy.data[i] * xhat[i];
    }
    const dx = new Float64Array(x.data.length);
    for (let i = 0; i < dx.length; i++) {
      const c = Math.floor(i / S) % C;
      const w = a.affine ? p.weight.data[c] : 1;
      dx[i] = ctx.training
        ? (w * invstd[c] / N) * (N * dy.data[i] - sumDy[c] - xhat[i] * sumDyXhat[c])
        : dy.data[i] * w * invstd[c];
    }
    const dp: Record<string, T64> = {};
    if (a.affine) {
      dp.weight = { shape: [C], data: sumDyXhat };
      dp.bias = { shape: [C], data: sumDy };
    }
    return { dx: [{ shape: x.shape, data: dx }], dp };
  },

  forward(a, ctx) {
    const { B, C, S, N } = dims(ctx.inputs[0]);
    const dispatches: Dispatch[] = [];
    const affine = a.affine ? [{ role: "p.weight" }, { role: "p.bias" }] : [];
    const scale = (x: string) => a.affine ? `${x} * p_weight[c] + p_bias[c]` : x;
    if (ctx.training && ctx.fuse !== false) {
      // Statistics and normalisation in one kernel: one workgroup per channel. The
      // statistics take one pass, of sums shifted by the channel's first element: a
      // sample of the channel, so the shifted mean is of the order of the standard
      // deviation and E[d^2] - E[d]^2 cancels little whatever the channel's offset.
      const d = { B, C, S, wg: channelThreads(ctx.target) }, m = f32(a.momentum);
      const { zero, total } = accumulator(d);
      const ep = ctx.epilogue;
      dispatches.push(perChannel(
        "batch_norm.train",
        d,
        [
          ...rowBindings(d, [{ role: "x0" }]),
          { role: "t.mean", write: true },
          { role: "t.invstd", write: true },
          { role: "p.running_mean", write: true },
          { role: "p.running_var", write: true },
          ...affine,
          ...rowBindings(d, [{ role: "y", write: true }]),
        ],
        `  let shift = x0[c * ${vec4Rows(d) ? "S / 4u" : "S"}]${vec4Rows(d) ? ".x" : ""};
  var s = ${zero};
  var v = ${zero};
${forChannel(d, "    let dv = x0[e] - shift;\n    s = s + dv;\n    v = v + dv * dv;")}
${channelTotals(d, [["sum", total("s"), 0], ["sumsq", total("v"), 1]])}
  let ds = sum / N;
  let mean = shift + ds;
  let varB = max(sumsq / N - ds * ds, 0.0);
  let invstd = inverseSqrt(varB + ${f32(a.eps)});
  if (l == 0u) {
    t_mean[c] = mean;
    t_invstd[c] = invstd;
    p_running_mean[c] = (1.0 - ${m}) * p_running_mean[c] + ${m} * mean;
    p_running_var[c] = (1.0 - ${m}) * p_running_var[c] + ${m} * varB * select(1.0, N / (N - 1.0), n > 1u);
  }
${
          forChannel(
            d,
            `    let x = ${scale("(x0[e] - mean) * invstd")};\n    y[e] = ${
              ep ? applyEach(vec4Rows(d), "ep", "x") : "x"
            };`,
          )
        }`,
        ep ? `fn ep(x: f32) -> f32 { return ${ep.expr}; }` : "",
      ));
      return { dispatches, scratch: { mean: C, invstd: C }, consts: { dims: channelDims(d) } };
    }
    if (ctx.training) {
      // One thread per channel; two passes over the channel for a stable variance.
      const m = f32(a.momentum);
      dispatches.push(perElement(
        "batch_norm.stats",
        C,
        [
          { role: "x0" },
          { role: "t.mean", write: true },
          { role: "t.invstd", write: true },
          { role: "p.running_mean", write: true },
          { role: "p.running_var", write: true },
        ],
        `  var s = 0.0;
  for (var b = 0u; b < ${B}u; b++) {
    let base = (b * ${C}u + i) * ${S}u;
    for (var k = 0u; k < ${S}u; k++) { s += x0[base + k]; }
  }
  let mean = s / ${f32(N)};
  var v = 0.0;
  for (var b = 0u; b < ${B}u; b++) {
    let base = (b * ${C}u + i) * ${S}u;
    for (var k = 0u; k < ${S}u; k++) {
      let d = x0[base + k] - mean;
      v += d * d;
    }
  }
  let varB = v / ${f32(N)};
  t_mean[i] = mean;
  t_invstd[i] = inverseSqrt(varB + ${f32(a.eps)});
  p_running_mean[i] = (1.0 - ${m}) * p_running_mean[i] + ${m} * mean;
  p_running_var[i] = (1.0 - ${m}) * p_running_var[i] + ${m} * varB * ${f32(unbias(N))};`,
      ));
    }
    const statRoles: Binding[] = ctx.training
      ? [{ role: "t.mean" }, { role: "t.invstd" }]
      : [{ role: "p.running_mean" }, { role: "p.running_var" }];
    dispatches.push(perElement(
      "batch_norm.apply",
      numel(ctx.output),
      [{ role: "x0" }, ...statRoles, ...affine, { role: "y", write: true }],
      `  let c = (i / ${S}u) % ${C}u;
${loadStats(a, ctx.training)}
  let x = ${scale("(x0[i] - mean) * invstd")};
  y[i] = ${ctx.epilogue?.expr ?? "x"};`,
    ));
    return {
      dispatches,
      scratch: ctx.training ? { mean: C, invstd: C } : undefined,
    };
  },

  backward(a, ctx) {
    const { B, C, S, N } = dims(ctx.inputs[0]);
    const acc = (r: string) => ctx.accumulate.has(r);
    const dispatches: Dispatch[] = [];
    // With a fused activation the incoming gradient is the activation's: take it back
    // through the activation on the fly, from the stored output "ey".
    const ep = ctx.epilogue;
    const dyRoles: Binding[] = [{ role: "dy" }, ...(ep ? [{ role: "ey" }] : [])];
    // dyv(i): the gradient at index i, an element or (vec4 rows) four of a row.
    const dyvOf = (vec4: boolean) => {
      const T = vec4 ? "vec4f" : "f32";
      return ep
        ? `fn epg(y: f32) -> f32 { return ${ep.grad}; }
fn dyv(i: u32) -> ${T} {
  let y = ey[i];
  return dy[i] * ${applyEach(vec4, "epg", "y")};
}`
        : `fn dyv(i: u32) -> ${T} { return dy[i]; }`;
    };
    const dyv = dyvOf(false);
    const statRoles: Binding[] = ctx.training
      ? [{ role: "t.mean" }, { role: "t.invstd" }]
      : [{ role: "p.running_mean" }, { role: "p.running_var" }];
    // Training's dx needs the channel sums whatever the params; inference's only dp does.
    const sums = ctx.training && ctx.needDx[0];
    const dp = a.affine && ctx.needDp.has("weight");
    if (sums && ctx.fuse !== false) {
      // Channel sums and dx in one kernel: one workgroup per channel.
      const d = { B, C, S, wg: channelThreads(ctx.target) };
      const { zero, total } = accumulator(d);
      const w = a.affine ? "p_weight[c]" : "1.0";
      const dpStores = dp
        ? `  if (l == 0u) {\n    ${store(acc("dp.weight"), "dp_weight[c]", "sdyx")}\n    ${
          store(acc("dp.bias"), "dp_bias[c]", "sdy")
        }\n  }`
        : "";
      dispatches.push(perChannel(
        "batch_norm.train.grad",
        d,
        [
          ...rowBindings(d, [{ role: "x0" }, ...dyRoles]),
          { role: "t.mean" },
          { role: "t.invstd" },
          ...(a.affine ? [{ role: "p.weight" }] : []),
          ...(dp ? [{ role: "dp.weight", write: true }, { role: "dp.bias", write: true }] : []),
          ...rowBindings(d, [{ role: "dx0", write: true }]),
        ],
        `  let mean = t_mean[c];
  let invstd = t_invstd[c];
  var a = ${zero};
  var b = ${zero};
${forChannel(d, "    let g = dyv(e);\n    a = a + g;\n    b = b + g * (x0[e] - mean) * invstd;")}
${channelTotals(d, [["sdy", total("a"), 0], ["sdyx", total("b"), 1]])}
${dpStores}
  let k = ${w} * invstd / N;
${
          forChannel(
            d,
            `    ${
              store(
                acc("dx0"),
                "dx0[e]",
                "k * (N * dyv(e) - sdy - (x0[e] - mean) * invstd * sdyx)",
              )
            }`,
          )
        }`,
        dyvOf(vec4Rows(d)),
      ));
      return {
        dispatches,
        scratch: { mean: C, invstd: C } as Record<string, number>,
        consts: { dims: channelDims(d) },
      };
    }
    if (sums || dp) {
      const out: Binding[] = [
        ...(sums
          ? [{ role: "t.sum_dy", write: true }, { role: "t.sum_dy_xhat", write: true }]
          : []),
        ...(dp ? [{ role: "dp.weight", write: true }, { role: "dp.bias", write: true }] : []),
      ];
      dispatches.push(perElement(
        "batch_norm.reduce",
        C,
        [{ role: "x0" }, ...dyRoles, ...statRoles, ...out],
        `  let c = i;
${loadStats(a, ctx.training)}
  var sdy = 0.0;
  var sdyx = 0.0;
  for (var b = 0u; b < ${B}u; b++) {
    let base = (b * ${C}u + c) * ${S}u;
    for (var k = 0u; k < ${S}u; k++) {
      let g = dyv(base + k);
      sdy += g;
      sdyx += g * (x0[base + k] - mean) * invstd;
    }
  }
${sums ? "  t_sum_dy[c] = sdy;\n  t_sum_dy_xhat[c] = sdyx;" : ""}
${
          dp
            ? `  ${store(acc("dp.weight"), "dp_weight[c]", "sdyx")}\n  ${
              store(acc("dp.bias"), "dp_bias[c]", "sdy")
            }`
            : ""
        }`,
        dyv,
      ));
    }
    if (ctx.needDx[0]) {
      const w = a.affine ? "p_weight[c]" : "1.0";
      const grad = ctx.training
        ? `(${w} * invstd / ${f32(N)}) * (${f32(N)} * dyv(i) - t_sum_dy[c] - ` +
          `(x0[i] - mean) * invstd * t_sum_dy_xhat[c])`
        : `dyv(i) * ${w} * invstd`;
      dispatches.push(perElement(
        "batch_norm.dx",
        numel(ctx.inputs[0]),
        [
          { role: "x0" },
          ...dyRoles,
          ...statRoles,
          ...(ctx.training ? [{ role: "t.sum_dy" }, { role: "t.sum_dy_xhat" }] : []),
          ...(a.affine ? [{ role: "p.weight" }] : []),
          { role: "dx0", write: true },
        ],
        `  let c = (i / ${S}u) % ${C}u;
${loadStats(a, ctx.training)}
  ${store(acc("dx0"), "dx0[i]", grad)}`,
        dyv,
      ));
    }
    return {
      dispatches,
      // mean/invstd come from this node's forward; listed so the node's scratch is complete.
      scratch: ctx.training ? { mean: C, invstd: C, sum_dy: C, sum_dy_xhat: C } : undefined,
    };
  },
});

/** WGSL lines binding `mean` and `invstd` of channel `c`. */
function loadStats(a: Attrs, training: boolean): string {
  return training
    ? "  let mean = t_mean[c];\n  let invstd = t_invstd[c];"
    : `  let mean = p_running_mean[c];\n  let invstd = inverseSqrt(p_running_var[c] + ${
      f32(a.eps)
    });`;
}
