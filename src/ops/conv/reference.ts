// Float64 references of the three conv computations (and of the bias), written
// as plain loops over the geometry of geometry.ts: what every kernel is checked against.
import type { T64 } from "../types.ts";
import { numel } from "../wgsl.ts";
import type { ConvGeom } from "./geometry.ts";

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
