// 2-D convolution, NCHW, weight [out, in, kh, kw] as in PyTorch's Conv2d;
// "same" padding follows TensorFlow (extra padding goes bottom/right).
import { z } from "zod";
import {
  biasAttr,
  biasGrad,
  convGather,
  type ConvGeom,
  convScatter,
  convWeightGrad,
  inChannelsAttr,
  inputCHW,
  kernelAttr,
  kernelHW,
  outAttr,
  refAddBias,
  refBiasGrad,
  refConv,
  refConvAdjoint,
  refConvWeightGrad,
  strideAttr,
} from "./conv/mod.ts";
import { defineOp, type Dim, type Dispatch, ShapeError } from "./types.ts";

const pad = z.number().int().nonnegative();

const attrs = z.object({
  out: outAttr,
  kernel: kernelAttr,
  stride: strideAttr,
  padding: z.union([
    z.literal("same"),
    z.literal("valid"),
    pad,
    z.tuple([pad, pad, pad, pad]),
  ]).default("same").describe(
    '"same" (TensorFlow: output ceil(in / stride), extra padding bottom/right), "valid" (none), p on every side, or [top, left, bottom, right]',
  ),
  bias: biasAttr,
  in_channels: inChannelsAttr,
}).strict();

export type Conv2dAttrs = z.infer<typeof attrs>;

/** Output size and padding before, along one axis. */
function axis(
  a: Conv2dAttrs,
  size: number,
  k: number,
  before: number,
  after: number,
): [out: number, padBefore: number] {
  const s = a.stride;
  if (a.padding === "same") {
    const out = Math.ceil(size / s);
    const total = Math.max((out - 1) * s + k - size, 0);
    return [out, Math.floor(total / 2)];
  }
  const padded = size + before + after;
  if (padded < k) {
    throw new ShapeError(
      `conv2d kernel ${k} is larger than the padded input size ${padded}`,
      "kernel",
    );
  }
  return [Math.floor((padded - k) / s) + 1, before];
}

/** Geometry for an input shape; dim 0 may be symbolic and is replaced by `batch`. */
function geom(a: Conv2dAttrs, x: readonly Dim[], batch = 0): ConvGeom {
  const [c, h, w] = inputCHW("conv2d", x, a.in_channels);
  const [kh, kw] = kernelHW(a.kernel);
  const p = a.padding;
  const [top, left, bottom, right] = typeof p === "number"
    ? [p, p, p, p]
    : Array.isArray(p)
    ? p
    : [0, 0, 0, 0];
  const [oh, pt] = axis(a, h, kh, top, bottom);
  const [ow, pl] = axis(a, w, kw, left, right);
  return {
    b: batch,
    srcC: c,
    srcH: h,
    srcW: w,
    dstC: a.out,
    dstH: oh,
    dstW: ow,
    kh,
    kw,
    s: a.stride,
    pt,
    pl,
  };
}

export const conv2d = defineOp<Conv2dAttrs>({
  name: "conv2d",
  fusesNorm: true,
  summary: "2-D convolution of [B, C, H, W] to [B, out, H', W'] (weight [out, C, kh, kw]).",
  attrs,
  arity: [1, 1],
  shape: (a, [x]) => {
    const g = geom(a, x);
    return [x[0], g.dstC, g.dstH, g.dstW];
  },
  params: (a, [x]) => {
    const g = geom(a, x);
    return {
      weight: { shape: [g.dstC, g.srcC, g.kh, g.kw], init: "normal", trainable: true },
      ...(a.bias ? { bias: { shape: [g.dstC], init: "zeros", trainable: true } } : {}),
    };
  },
  macs: (a, [x]) => {
    const g = geom(a, x, x[0]);
    return g.b * g.dstC * g.dstH * g.dstW * g.srcC * g.kh * g.kw;
  },
  forwardRef: (a, [x], p) => {
    const g = geom(a, x.shape, x.shape[0]);
    const y = { shape: [g.b, g.dstC, g.dstH, g.dstW], data: refConv(g, x.data, p.weight.data) };
    return { y: a.bias ? refAddBias(y, p.bias.data) : y };
  },
  backwardRef: (a, [x], p, _y, dy) => {
    const g = geom(a, x.shape, x.shape[0]);
    return {
      dx: [{ shape: x.shape, data: refConvAdjoint(g, dy.data, p.weight.data) }],
      dp: {
        weight: { shape: p.weight.shape, data: refConvWeightGrad(g, x.data, dy.data) },
        ...(a.bias ? { bias: refBiasGrad(dy) } : {}),
      },
    };
  },
  forward: (a, ctx) => {
    const g = geom(a, ctx.inputs[0], ctx.inputs[0][0]);
    return {
      dispatches: [convGather("conv2d", g, {
        from: "x0",
        to: "y",
        weight: "p.weight",
        bias: a.bias ? "p.bias" : undefined,
        accumulate: false,
        norm: ctx.norm && { ...ctx.norm, expr: ctx.epilogue?.expr },
      })],
    };
  },
  backward: (a, ctx) => {
    const g = geom(a, ctx.inputs[0], ctx.inputs[0][0]);
    const d: Dispatch[] = [];
    if (ctx.needDx[0]) {
      d.push(convScatter("conv2d.dx", g, {
        from: "dy",
        to: "dx0",
        weight: "p.weight",
        accumulate: ctx.accumulate.has("dx0"),
      }));
    }
    let scratch: Record<string, number> | undefined;
    if (ctx.needDp.has("weight")) {
      const k = convWeightGrad(
        "conv2d.dw",
        g,
        { src: "x0", dst: "dy", dw: "dp.weight" },
        ctx.accumulate.has("dp.weight"),
      );
      d.push(...k.dispatches);
      scratch = k.scratch;
    }
    if (a.bias && ctx.needDp.has("bias")) {
      d.push(biasGrad(
        "conv2d.db",
        ctx.output,
        { grad: "dy", db: "dp.bias" },
        ctx.accumulate.has("dp.bias"),
      ));
    }
    return { dispatches: d, scratch };
  },
});
