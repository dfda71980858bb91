// Shared geometry, float64 references and WGSL kernels of conv2d and
// conv_transpose2d. Everything is phrased in terms of one ordinary convolution
// from a "src" tensor [B, srcC, srcH, srcW] to a "dst" tensor
// [B, dstC, dstH, dstW] with weight [dstC, srcC, kh, kw]:
//   dst[b, o, oy, ox] = sum_{c, ky, kx} src[b, c, oy*s - pt + ky, ox*s - pl + kx] * w[o, c, ky, kx]
// conv2d runs it forwards (src = x, dst = y). The transposed conv is its adjoint
// (src = y, dst = x, weight [in, out, kh, kw] is then exactly [dstC, srcC, ..]),
// so its forward is the conv's input gradient and its input gradient is the
// conv's forward. Padding after (bottom/right) is implied by the sizes.
import { z } from "zod";
import { type Binding, type Dim, type Dispatch, ShapeError, type T64 } from "./types.ts";
import { ident, numel, perElement, store } from "./wgsl.ts";

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

// ---------------------------------------------------------------- references

const at = (g: ConvGeom) => ({
  src: (b: number, c: number, y: number, x: number) => ((b * g.srcC + c) * g.srcH + y) * g.srcW + x,
  dst: (b: number, o: number, y: number, x: number) => ((b * g.dstC + o) * g.dstH + y) * g.dstW + x,
  w: (o: number, c: number, ky: number, kx: number) => ((o * g.srcC + c) * g.kh + ky) * g.kw + kx,
});

/** dst = conv(src): a gather, one output at a time. */
export function refConv(g: ConvGeom, src: Float64Array, w: Float64Array): Float64Array {
  const ix = at(g);
  const dst = new Float64Array(g.b * g.dstC * g.dstH * g.dstW);
  for (let b = 0; b < g.b; b++) {
    for (let o = 0; o < g.dstC; o++) {
      for (let oy = 0; oy < g.dstH; oy++) {
        for (let ox = 0; ox < g.dstW; ox++) {
          let acc = 0;
          for (let c = 0; c < g.srcC; c++) {
            for (let ky = 0; ky < g.kh; ky++) {
              const y = oy * g.s - g.pt + ky;
              if (y < 0 || y >= g.srcH) continue;
              for (let kx = 0; kx < g.kw; kx++) {
                const x = ox * g.s - g.pl + kx;
                if (x < 0 || x >= g.srcW) continue;
                acc += src[ix.src(b, c, y, x)] * w[ix.w(o, c, ky, kx)];
              }
            }
          }
          dst[ix.dst(b, o, oy, ox)] = acc;
        }
      }
    }
  }
  return dst;
}

/**
 * src-shaped adjoint of refConv: a scatter of every dst element through the
 * kernel (the transposed conv's natural definition), written independently of
 * refConv so the two check each other.
 */
export function refConvAdjoint(g: ConvGeom, dst: Float64Array, w: Float64Array): Float64Array {
  const ix = at(g);
  const src = new Float64Array(g.b * g.srcC * g.srcH * g.srcW);
  for (let b = 0; b < g.b; b++) {
    for (let o = 0; o < g.dstC; o++) {
      for (let oy = 0; oy < g.dstH; oy++) {
        for (let ox = 0; ox < g.dstW; ox++) {
          const v = dst[ix.dst(b, o, oy, ox)];
          for (let c = 0; c < g.srcC; c++) {
            for (let ky = 0; ky < g.kh; ky++) {
              const y = oy * g.s - g.pt + ky;
              if (y < 0 || y >= g.srcH) continue;
              for (let kx = 0; kx < g.kw; kx++) {
                const x = ox * g.s - g.pl + kx;
                if (x < 0 || x >= g.srcW) continue;
                src[ix.src(b, c, y, x)] += v * w[ix.w(o, c, ky, kx)];
              }
            }
          }
        }
      }
    }
  }
  return src;
}

/** d<conv(src), dst>/dw: the weight gradient of either op. */
export function refConvWeightGrad(g: ConvGeom, src: Float64Array, dst: Float64Array): Float64Array {
  const ix = at(g);
  const dw = new Float64Array(g.dstC * g.srcC * g.kh * g.kw);
  for (let b = 0; b < g.b; b++) {
    for (let o = 0; o < g.dstC; o++) {
      for (let oy = 0; oy < g.dstH; oy++) {
        for (let ox = 0; ox < g.dstW; ox++) {
          const v = dst[ix.dst(b, o, oy, ox)];
          for (let c = 0; c < g.srcC; c++) {
            for (let ky = 0; ky < g.kh; ky++) {
              const y = oy * g.s - g.pt + ky;
              if (y < 0 || y >= g.srcH) continue;
              for (let kx = 0; kx < g.kw; kx++) {
                const x = ox * g.s - g.pl + kx;
                if (x < 0 || x >= g.srcW) continue;
                dw[ix.w(o, c, ky, kx)] += v * src[ix.src(b, c, y, x)];
              }
            }
          }
        }
      }
    }
  }
  return dw;
}

/** Adds bias[c] to every element of channel c of an NCHW tensor, in place. */
export function refAddBias(t: T64, bias: Float64Array): T64 {
  const [b, c] = t.shape;
  const hw = numel(t.shape.slice(2));
  for (let n = 0; n < b; n++) {
    for (let k = 0; k < c; k++) {
      for (let j = 0; j < hw; j++) t.data[(n * c + k) * hw + j] += bias[k];
    }
  }
  return t;
}

/** Sum of an NCHW tensor over batch and space, per channel. */
export function refBiasGrad(t: T64): T64 {
  const [b, c] = t.shape;
  const hw = numel(t.shape.slice(2));
  const g = new Float64Array(c);
  for (let n = 0; n < b; n++) {
    for (let k = 0; k < c; k++) {
      for (let j = 0; j < hw; j++) g[k] += t.data[(n * c + k) * hw + j];
    }
  }
  return { shape: [c], data: g };
}

// ------------------------------------------------------------------- kernels

/**
 * Channels per thread: each thread keeps up to 4 accumulators for consecutive
 * channels so one input load feeds several multiply-adds. The block must divide
 * the channel count so no thread needs a bounds check per channel.
 */
function channelBlock(c: number): number {
  return c % 4 === 0 ? 4 : c % 2 === 0 ? 2 : 1;
}

function consts(g: ConvGeom): string {
  return `const SRC_C = ${g.srcC}u;
const SRC_H = ${g.srcH};
const SRC_W = ${g.srcW};
const DST_C = ${g.dstC}u;
const DST_H = ${g.dstH};
const DST_W = ${g.dstW};
const KH = ${g.kh};
const KW = ${g.kw};
const S = ${g.s};
const PT = ${g.pt};
const PL = ${g.pl};`;
}

export interface KernelIO {
  /** role read as the kernel's input tensor */
  from: string;
  /** role written */
  to: string;
  weight: string;
  /** optional per-output-channel bias role, added to every output */
  bias?: string;
  accumulate: boolean;
}

/** dst = conv(src): one thread per (batch, block of dst channels, pixel). */
export function convGather(label: string, g: ConvGeom, io: KernelIO): Dispatch {
  const cb = channelBlock(g.dstC);
  const groups = g.dstC / cb;
  const bindings: Binding[] = [
    { role: io.from },
    { role: io.weight },
    ...(io.bias ? [{ role: io.bias }] : []),
    { role: io.to, write: true },
  ];
  const [src, w, dst] = [io.from, io.weight, io.to].map(ident);
  const bias = io.bias && ident(io.bias);
  const body = `  let ox = i32(i % ${g.dstW}u);
  let oy = i32((i / ${g.dstW}u) % ${g.dstH}u);
  let og = (i / ${g.dstW * g.dstH}u) % ${groups}u;
  let b = i / ${g.dstW * g.dstH * groups}u;
  let o0 = og * CB;
  var acc: array<f32, CB>;
  for (var c = 0u; c < SRC_C; c++) {
    let sbase = (b * SRC_C + c) * u32(SRC_H * SRC_W);
    for (var ky = 0; ky < KH; ky++) {
      let sy = oy * S - PT + ky;
      if (sy < 0 || sy >= SRC_H) { continue; }
      for (var kx = 0; kx < KW; kx++) {
        let sx = ox * S - PL + kx;
        if (sx < 0 || sx >= SRC_W) { continue; }
        let v = ${src}[sbase + u32(sy * SRC_W + sx)];
        let wi = ((o0 * SRC_C + c) * u32(KH) + u32(ky)) * u32(KW) + u32(kx);
        for (var k = 0u; k < CB; k++) {
          acc[k] = acc[k] + v * ${w}[wi + k * W_STEP];
        }
      }
    }
  }
  for (var k = 0u; k < CB; k++) {
    let di = ((b * DST_C + o0 + k) * u32(DST_H) + u32(oy)) * u32(DST_W) + u32(ox);
    ${store(io.accumulate, `${dst}[di]`, bias ? `acc[k] + ${bias}[o0 + k]` : "acc[k]")}
  }`;
  const prelude = `${consts(g)}
const CB = ${cb}u;
const W_STEP = ${g.srcC * g.kh * g.kw}u;`;
  return perElement(label, g.b * groups * g.dstH * g.dstW, bindings, body, prelude);
}

/**
 * src = conv^T(dst), the adjoint of convGather: one thread per (batch, block of
 * src channels, pixel), gathering over the dst pixels whose window covers it.
 */
export function convScatter(label: string, g: ConvGeom, io: KernelIO): Dispatch {
  const cb = channelBlock(g.srcC);
  const groups = g.srcC / cb;
  const bindings: Binding[] = [
    { role: io.from },
    { role: io.weight },
    ...(io.bias ? [{ role: io.bias }] : []),
    { role: io.to, write: true },
  ];
  const [dst, w, src] = [io.from, io.weight, io.to].map(ident);
  const bias = io.bias && ident(io.bias);
  const body = `  let sx = i32(i % ${g.srcW}u);
  let sy = i32((i / ${g.srcW}u) % ${g.srcH}u);
  let cg = (i / ${g.srcW * g.srcH}u) % ${groups}u;
  let b = i / ${g.srcW * g.srcH * groups}u;
  let c0 = cg * CB;
  var acc: array<f32, CB>;
  for (var o = 0u; o < DST_C; o++) {
    let dbase = (b * DST_C + o) * u32(DST_H * DST_W);
    for (var ky = 0; ky < KH; ky++) {
      let ty = sy + PT - ky;
      if (ty < 0 || ty % S != 0) { continue; }
      let oy = ty / S;
      if (oy >= DST_H) { continue; }
      for (var kx = 0; kx < KW; kx++) {
        let tx = sx + PL - kx;
        if (tx < 0 || tx % S != 0) { continue; }
        let ox = tx / S;
        if (ox >= DST_W) { continue; }
        let v = ${dst}[dbase + u32(oy * DST_W + ox)];
        let wi = ((o * SRC_C + c0) * u32(KH) + u32(ky)) * u32(KW) + u32(kx);
        for (var k = 0u; k < CB; k++) {
          acc[k] = acc[k] + v * ${w}[wi + k * W_STEP];
        }
      }
    }
  }
  for (var k = 0u; k < CB; k++) {
    let si = ((b * SRC_C + c0 + k) * u32(SRC_H) + u32(sy)) * u32(SRC_W) + u32(sx);
    ${store(io.accumulate, `${src}[si]`, bias ? `acc[k] + ${bias}[c0 + k]` : "acc[k]")}
  }`;
  const prelude = `${consts(g)}
const CB = ${cb}u;
const W_STEP = ${g.kh * g.kw}u;`;
  return perElement(label, g.b * groups * g.srcH * g.srcW, bindings, body, prelude);
}

/** dw[o, c, ky, kx] = sum over batch and dst pixels: one thread per weight element. */
export function convWeightGrad(
  label: string,
  g: ConvGeom,
  roles: { src: string; dst: string; dw: string },
  accumulate: boolean,
): Dispatch {
  const [src, dst, dw] = [roles.src, roles.dst, roles.dw].map(ident);
  const body = `  let kx = i32(i % KWu);
  let ky = i32((i / KWu) % KHu);
  let c = (i / (KWu * KHu)) % SRC_C;
  let o = i / (KWu * KHu * SRC_C);
  var acc = 0.0;
  for (var b = 0u; b < ${g.b}u; b++) {
    let sbase = (b * SRC_C + c) * u32(SRC_H * SRC_W);
    let dbase = (b * DST_C + o) * u32(DST_H * DST_W);
    for (var oy = 0; oy < DST_H; oy++) {
      let sy = oy * S - PT + ky;
      if (sy < 0 || sy >= SRC_H) { continue; }
      for (var ox = 0; ox < DST_W; ox++) {
        let sx = ox * S - PL + kx;
        if (sx < 0 || sx >= SRC_W) { continue; }
        acc = acc + ${dst}[dbase + u32(oy * DST_W + ox)] * ${src}[sbase + u32(sy * SRC_W + sx)];
      }
    }
  }
  ${store(accumulate, `${dw}[i]`, "acc")}`;
  const prelude = `${consts(g)}
const KHu = ${g.kh}u;
const KWu = ${g.kw}u;`;
  return perElement(
    label,
    g.dstC * g.srcC * g.kh * g.kw,
    [{ role: roles.src }, { role: roles.dst }, { role: roles.dw, write: true }],
    body,
    prelude,
  );
}

/** db[c] = sum over batch and pixels of an NCHW gradient: one thread per channel. */
export function biasGrad(
  label: string,
  shape: number[],
  roles: { grad: string; db: string },
  accumulate: boolean,
): Dispatch {
  const [b, c] = shape;
  const hw = numel(shape.slice(2));
  const [grad, db] = [roles.grad, roles.db].map(ident);
  const body = `  var acc = 0.0;
  for (var n = 0u; n < ${b}u; n++) {
    let base = (n * ${c}u + i) * ${hw}u;
    for (var j = 0u; j < ${hw}u; j++) {
      acc = acc + ${grad}[base + j];
    }
  }
  ${store(accumulate, `${db}[i]`, "acc")}`;
  return perElement(
    label,
    c,
    [{ role: roles.grad }, { role: roles.db, write: true }],
    body,
  );
}
