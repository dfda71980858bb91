// Average pooling: square windows without padding (floor mode), or a global
// mean per channel that also flattens to [B, C].
import { z } from "../deps.ts";
import { defineOp, ShapeError } from "./types.ts";
import { f32, numel, perElement, store } from "./wgsl.ts";

const attrs = z.object({
  kernel: z.number().int().positive().optional().describe(
    "side of the square window; leave out with global: true",
  ),
  stride: z.number().int().positive().optional().describe("window step; defaults to kernel"),
  global: z.boolean().default(false).describe(
    "average each channel over all of H x W; the output is flattened to [B, C]",
  ),
}).strict();

type Attrs = z.infer<typeof attrs>;

/** Concrete geometry: k, s, input H/W and output OH/OW (1 x 1 window for global). */
function geom(a: Attrs, x: number[]) {
  const [B, C, H, W] = x;
  if (a.global) return { B, C, H, W, k: 0, s: 0, OH: 1, OW: 1 };
  const k = a.kernel!, s = a.stride ?? k;
  return {
    B,
    C,
    H,
    W,
    k,
    s,
    OH: Math.floor((H - k) / s) + 1,
    OW: Math.floor((W - k) / s) + 1,
  };
}

export const avgPool = defineOp<Attrs>({
  name: "avg_pool",
  summary: "Average pooling of [B, C, H, W]: square kernel/stride windows without padding, " +
    "or global: true for the per-channel mean, output [B, C] (already flat, so a following " +
    "linear layer needs no flatten).",
  attrs,
  arity: [1, 1],
  shape(a, [x]) {
    if (x.length !== 4) {
      throw new ShapeError(`expects 4-D input [B, C, H, W], got [${x.join(", ")}]`);
    }
    if (a.global) {
      if (a.kernel !== undefined) {
        throw new ShapeError("takes either kernel or global: true, not both", "kernel");
      }
      if (a.stride !== undefined) {
        throw new ShapeError("stride has no meaning with global: true", "stride");
      }
      return [x[0], x[1]];
    }
    if (a.kernel === undefined) {
      throw new ShapeError("needs a kernel size, or global: true", "kernel");
    }
    const [, , H, W] = x;
    if (typeof H !== "number" || typeof W !== "number") {
      throw new ShapeError(`needs concrete H and W, got [${x.join(", ")}]`);
    }
    if (a.kernel > H || a.kernel > W) {
      throw new ShapeError(`kernel ${a.kernel} is larger than the input ${H} x ${W}`, "kernel");
    }
    const s = a.stride ?? a.kernel;
    return [x[0], x[1], Math.floor((H - a.kernel) / s) + 1, Math.floor((W - a.kernel) / s) + 1];
  },
  macs: (_a, [x]) => numel(x),

  forwardRef(a, [x]) {
    const { B, C, H, W, k, s, OH, OW } = geom(a, x.shape);
    const y = new Float64Array(B * C * OH * OW);
    for (let bc = 0; bc < B * C; bc++) {
      const src = bc * H * W;
      if (a.global) {
        let sum = 0;
        for (let j = 0; j < H * W; j++) sum += x.data[src + j];
        y[bc] = sum / (H * W);
        continue;
      }
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          let sum = 0;
          for (let kh = 0; kh < k; kh++) {
            for (let kw = 0; kw < k; kw++) sum += x.data[src + (oh * s + kh) * W + ow * s + kw];
          }
          y[(bc * OH + oh) * OW + ow] = sum / (k * k);
        }
      }
    }
    return { y: { shape: a.global ? [B, C] : [B, C, OH, OW], data: y } };
  },

  backwardRef(a, [x], _p, _y, dy) {
    const { B, C, H, W, k, s, OH, OW } = geom(a, x.shape);
    const dx = new Float64Array(x.data.length);
    for (let bc = 0; bc < B * C; bc++) {
      const dst = bc * H * W;
      if (a.global) {
        for (let j = 0; j < H * W; j++) dx[dst + j] = dy.data[bc] / (H * W);
        continue;
      }
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          const g = dy.data[(bc * OH + oh) * OW + ow] / (k * k);
          for (let kh = 0; kh < k; kh++) {
            for (let kw = 0; kw < k; kw++) dx[dst + (oh * s + kh) * W + ow * s + kw] += g;
          }
        }
      }
    }
    return { dx: [{ shape: x.shape, data: dx }], dp: {} };
  },

  forward(a, ctx) {
    const { H, W, k, s, OH, OW } = geom(a, ctx.inputs[0]);
    const body = a.global
      ? `  var sum = 0.0;
  for (var j = 0u; j < ${H * W}u; j++) { sum += x0[i * ${H * W}u + j]; }
  y[i] = sum / ${f32(H * W)};`
      : `  let ow = i % ${OW}u;
  let oh = (i / ${OW}u) % ${OH}u;
  let src = (i / ${OW * OH}u) * ${H * W}u + oh * ${s * W}u + ow * ${s}u;
  var sum = 0.0;
  for (var kh = 0u; kh < ${k}u; kh++) {
    for (var kw = 0u; kw < ${k}u; kw++) { sum += x0[src + kh * ${W}u + kw]; }
  }
  y[i] = sum / ${f32(k * k)};`;
    return {
      dispatches: [perElement(
        "avg_pool",
        numel(ctx.output),
        [{ role: "x0" }, { role: "y", write: true }],
        body,
      )],
    };
  },

  backward(a, ctx) {
    if (!ctx.needDx[0]) return { dispatches: [] };
    const { H, W, k, s, OH, OW } = geom(a, ctx.inputs[0]);
    const acc = ctx.accumulate.has("dx0");
    // Windows may overlap (stride < kernel): each input element gathers from every
    // output whose window covers it, oh in [ceil((h - k + 1) / s), floor(h / s)].
    const body = a.global
      ? `  ${store(acc, "dx0[i]", `dy[i / ${H * W}u] / ${f32(H * W)}`)}`
      : `  let w = i32(i % ${W}u);
  let h = i32((i / ${W}u) % ${H}u);
  let plane = (i / ${H * W}u) * ${OH * OW}u;
  let ohLo = max(0, (h - ${k - 1} + ${s - 1}) / ${s});
  let ohHi = min(${OH - 1}, h / ${s});
  let owLo = max(0, (w - ${k - 1} + ${s - 1}) / ${s});
  let owHi = min(${OW - 1}, w / ${s});
  var sum = 0.0;
  for (var oh = ohLo; oh <= ohHi; oh++) {
    for (var ow = owLo; ow <= owHi; ow++) { sum += dy[plane + u32(oh * ${OW} + ow)]; }
  }
  ${store(acc, "dx0[i]", `sum / ${f32(k * k)}`)}`;
    return {
      dispatches: [perElement(
        "avg_pool.grad",
        numel(ctx.inputs[0]),
        [{ role: "dy" }, { role: "dx0", write: true }],
        body,
      )],
    };
  },
});
