// Transposed 2-D convolution, NCHW, weight [in, out, kh, kw] as in PyTorch's
// ConvTranspose2d. It is the adjoint of a conv2d from the output back to the
// input: this file says how its attributes give that conv's geometry, and
// conv/pair.ts makes the op from it with the roles of x and y swapped.
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

const attrs = z.object({
  out: outAttr,
  kernel: kernelAttr,
  stride: strideAttr,
  padding: z.union([z.literal("same"), z.number().int().nonnegative()]).default("same")
    .describe(
      '"same" (TensorFlow conv2d_transpose: output exactly in * stride; the full output is cropped by max(k - stride, 0), the extra row/column at the bottom/right, and zero-extended when k < stride) or p cropped from every side (PyTorch: (in - 1) * stride - 2p + k + output_padding)',
    ),
  output_padding: z.number().int().nonnegative().default(0).describe(
    "extra rows/columns at the bottom/right (PyTorch); numeric padding only, less than stride",
  ),
  bias: biasAttr,
  in_channels: inChannelsAttr,
}).strict();

export type ConvTranspose2dAttrs = z.infer<typeof attrs>;

/** Output size and crop before, along one axis. */
function axis(a: ConvTranspose2dAttrs, size: number, k: number): [out: number, crop: number] {
  const s = a.stride;
  if (a.padding === "same") {
    // TensorFlow pads the equivalent forward conv by max(k - s, 0); for k < s
    // the last s - k rows are then beyond every kernel tap and stay zero.
    return [size * s, Math.floor(Math.max(k - s, 0) / 2)];
  }
  const out = (size - 1) * s - 2 * a.padding + k + a.output_padding;
  if (out < 1) {
    throw new ShapeError(
      `conv_transpose2d padding ${a.padding} leaves no output from input size ${size}`,
      "padding",
    );
  }
  return [out, a.padding];
}

/**
 * The equivalent conv2d from this op's output (src) to its input (dst).
 * Dim 0 may be symbolic and is replaced by `batch`.
 */
function geom(a: ConvTranspose2dAttrs, x: readonly Dim[], batch = 0): ConvGeom {
  const [c, h, w] = inputCHW("conv_transpose2d", x, a.in_channels);
  if (a.output_padding > 0) {
    if (a.padding === "same") {
      throw new ShapeError(
        'conv_transpose2d output_padding needs numeric padding, not "same"',
        "output_padding",
      );
    }
    if (a.output_padding >= a.stride) {
      throw new ShapeError(
        `conv_transpose2d output_padding ${a.output_padding} must be less than stride ${a.stride}`,
        "output_padding",
      );
    }
  }
  const [kh, kw] = kernelHW(a.kernel);
  const [oh, pt] = axis(a, h, kh);
  const [ow, pl] = axis(a, w, kw);
  return {
    b: batch,
    srcC: a.out,
    srcH: oh,
    srcW: ow,
    dstC: c,
    dstH: h,
    dstW: w,
    kh,
    kw,
    s: a.stride,
    pt,
    pl,
  };
}

export const convTranspose2d = defineConvOp<ConvTranspose2dAttrs>({
  name: "conv_transpose2d",
  summary:
    "Transposed 2-D convolution of [B, C, H, W] to [B, out, H', W'] (weight [C, out, kh, kw]).",
  attrs,
  transposed: true,
  geom,
});
