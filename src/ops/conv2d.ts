// 2-D convolution, NCHW, weight [out, in, kh, kw] as in PyTorch's Conv2d;
// "same" padding follows TensorFlow (extra padding goes bottom/right). This file
// says how the attributes give the geometry; conv/pair.ts makes the op from it.
import { z } from "../deps.ts";
import {
  biasAttr,
  type ConvGeom,
  defineConvOp,
  inChannelsAttr,
  inputCHW,
  kernelAttr,
  kernelHW,
  outAttr,
  strideAttr,
} from "./conv/mod.ts";
import { type Dim, ShapeError } from "./types.ts";

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

export const conv2d = defineConvOp<Conv2dAttrs>({
  name: "conv2d",
  summary: "2-D convolution of [B, C, H, W] to [B, out, H', W'] (weight [out, C, kh, kw]).",
  attrs,
  transposed: false,
  geom,
});
