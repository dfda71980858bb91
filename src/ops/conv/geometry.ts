// The geometry every conv kernel is phrased in: one ordinary convolution from a
// "src" tensor [B, srcC, srcH, srcW] to a "dst" tensor [B, dstC, dstH, dstW] with
// weight [dstC, srcC, kh, kw]:
//   dst[b, o, oy, ox] = sum_{c, ky, kx} src[b, c, oy*s - pt + ky, ox*s - pl + kx] * w[o, c, ky, kx]
// conv2d runs it forwards (src = x, dst = y). The transposed conv is its adjoint
// (src = y, dst = x, weight [in, out, kh, kw] is then exactly [dstC, srcC, ..]),
// so its forward is the conv's input gradient and its input gradient is the
// conv's forward. Padding after (bottom/right) is implied by the sizes.
// Also the attributes both ops share and the check of their input.
import { z } from "../../deps.ts";
import { type Dim, ShapeError } from "../types.ts";

export interface ConvGeom {
  b: number;
  srcC: number;
  srcH: number;
  srcW: number;
  dstC: number;
  dstH: number;
  dstW: number;
  kh: number;
  kw: number;
  s: number;
  /** zero padding before the first row / column of src; may exceed the kernel */
  pt: number;
  pl: number;
}

const posInt = z.number().int().positive();

export const kernelAttr = z.union([posInt, z.tuple([posInt, posInt])]).default(3)
  .describe("kernel size: k, or [kh, kw]");
export const strideAttr = posInt.default(1).describe("stride, the same along both axes");
export const outAttr = posInt.describe("output channels");
export const biasAttr = z.boolean().default(false).describe(
  "add a learned per-channel bias",
);
export const inChannelsAttr = posInt.optional().describe(
  "expected input channels; checked against the input when given",
);

export function kernelHW(k: number | [number, number]): [number, number] {
  return typeof k === "number" ? [k, k] : k;
}

/** Validates a 4-D input and returns its concrete channel and spatial sizes. */
export function inputCHW(
  op: string,
  x: readonly Dim[],
  inChannels: number | undefined,
): [number, number, number] {
  if (x.length !== 4) {
    throw new ShapeError(`${op} expects 4-D input [B, C, H, W], got [${x.join(", ")}]`);
  }
  const [, c, h, w] = x;
  if (typeof c !== "number" || typeof h !== "number" || typeof w !== "number") {
    throw new ShapeError(`${op} needs concrete C, H, W, got [${x.join(", ")}]`);
  }
  if (inChannels !== undefined && inChannels !== c) {
    throw new ShapeError(`${op} expects ${inChannels} input channels, got ${c}`, "in_channels");
  }
  return [c, h, w];
}

export const cdiv = (a: number, b: number) => Math.ceil(a / b);
/** [0, 1, ..., n - 1]: a plain loop, as the cost model calls it for every candidate block. */
export function range(n: number): number[] {
  const a: number[] = [];
  for (let i = 0; i < n; i++) a.push(i);
  return a;
}
