// Register blocks of the gather, scatter and weight-gradient kernels, and what a
// block covers along each spatial axis: shared by the generators that unroll a
// block (kernels.ts) and the cost model that prices it (cost_model.ts).
import { cdiv, type ConvGeom, range } from "./geometry.ts";

/** Register block of convGather (dst pixels) and convScatter (dst positions, see there). */
export interface Block {
  /** channels of the written tensor per thread */
  ch: number;
  /** batch items per thread (weights are shared across them: small images) */
  nb?: number;
  /** rows and columns per thread */
  py: number;
  px: number;
}

/** Register block of convWeightGrad. */
export interface WeightBlock {
  /** dst (output) channels and src (input) channels per thread: co * ci * kh * kw sums */
  co: number;
  ci: number;
  /** dst columns per step of the inner loop */
  px: number;
  /** dst rows (over batch and height) each thread sums; fewer than all means partial sums */
  rows: number;
}

/**
 * One axis of a gather tile: p dst positions from `base` (tile * p), reading src
 * positions base * s - pad + r for r < (p - 1) * s + k. With a single tile the
 * base is 0 and everything out of range is known when generating the code.
 */
interface GatherAxis {
  tiles: number;
  /** dst offsets j in the tile that exist */
  outs: number[];
  /** src offsets r read, not statically out of range */
  reads: number[];
  /** (dst offset, tap, src offset) with a possibly nonzero product */
  pairs: [j: number, k: number, r: number][];
  /** r in range: true/false when known, undefined when only at run time */
  ok(r: number): boolean | undefined;
}

export function gatherAxis(
  nDst: number,
  p: number,
  s: number,
  k: number,
  pad: number,
  nSrc: number,
) {
  const tiles = cdiv(nDst, p);
  const single = tiles === 1;
  const ok = (r: number) => single ? r - pad >= 0 && r - pad < nSrc : undefined;
  const outs = range(p).filter((j) => !single || j < nDst);
  const pairs: [number, number, number][] = [];
  for (const j of outs) {
    for (const kk of range(k)) if (ok(j * s + kk) !== false) pairs.push([j, kk, j * s + kk]);
  }
  const reads = [...new Set(pairs.map(([, , r]) => r))].sort((a, b) => a - b);
  return { tiles, outs, reads, pairs, ok } satisfies GatherAxis;
}

/**
 * One axis of a scatter tile. With t = src position + pad, a src position of
 * phase r = t mod s receives from taps k = r + s*m at dst position t / s - m. Tile
 * T covers dst positions D = origin + T*p + j (j < p), i.e. t = D*s + r in every
 * phase, and reads dst positions origin + T*p - mMax + e for e < p + mMax. The
 * origin floor(pad / s) starts the first tile at src position 0 when s = 1.
 */
interface ScatterAxis {
  origin: number;
  tiles: number;
  mMax: number;
  /** (j, phase) of the src positions in the tile that exist */
  pixels: [j: number, r: number][];
  /** dst offsets e read */
  reads: number[];
  /** (index into pixels, tap, dst offset) with a possibly nonzero product */
  pairs: [pix: number, k: number, e: number][];
  /** e in range: true/false when known, undefined when only at run time */
  ok(e: number): boolean | undefined;
  /** src position of a pixel, when known */
  at(j: number, r: number): number | undefined;
}

export function scatterAxis(
  nSrc: number,
  p: number,
  s: number,
  k: number,
  pad: number,
  nDst: number,
) {
  const origin = Math.floor(pad / s);
  const tiles = cdiv(cdiv(nSrc + pad, s) - origin, p);
  const single = tiles === 1;
  const mMax = Math.floor((k - 1) / s);
  const at = (j: number, r: number) => single ? (origin + j) * s + r - pad : undefined;
  const ok = (e: number) => {
    if (!single) return undefined;
    const d = origin - mMax + e;
    return d >= 0 && d < nDst;
  };
  const pixels: [number, number][] = [];
  for (const j of range(p)) {
    for (const r of range(s)) {
      const a = at(j, r);
      if (a === undefined || (a >= 0 && a < nSrc)) pixels.push([j, r]);
    }
  }
  const pairs: [number, number, number][] = [];
  pixels.forEach(([j, r], i) => {
    for (let kk = r; kk < k; kk += s) {
      const e = j - (kk - r) / s + mMax;
      if (ok(e) !== false) pairs.push([i, kk, e]);
    }
  });
  const reads = [...new Set(pairs.map(([, , e]) => e))].sort((a, b) => a - b);
  return { origin, tiles, mMax, pixels, reads, pairs, ok, at } satisfies ScatterAxis;
}

/** Columns of one step of the weight gradient: like a gather tile along x. */
export function weightAxis(g: ConvGeom, px: number) {
  return gatherAxis(g.dstW, px, g.s, g.kw, g.pl, g.srcW);
}

/** Elements per load of a row: a vec4, a vec2, or one float. */
export type Lanes = 1 | 2 | 4;

/**
 * How a kernel reads rows of tensors of these widths: a load costs llvmpipe about as much
 * for a vec4 as for 2 floats and for a vec2 as for 1.3 (a loop over the SIMD lanes either
 * way), so where rows are whole vec4s (else vec2s) and a thread's columns (px of them, or
 * px times the stride) start on one, it loads the aligned vectors covering its columns.
 */
export const rowLanes = (px: number, ...widths: number[]): Lanes =>
  ([4, 2] as const).find((v) => px % v === 0 && widths.every((w) => w % v === 0)) ?? 1;

/**
 * The vectors of `v` lanes covering src reads q of a thread whose first column is a
 * multiple of v minus `pad`: read q is lane (q - pad) - v j(q) of vector j(q); js lists
 * the vectors j - j0 loaded.
 */
export function vecReads(reads: number[], pad: number, v: Lanes) {
  const j = (q: number) => Math.floor((q - pad) / v);
  const j0 = j(reads[0]);
  return { j, j0, js: [...new Set(reads.map((q) => j(q) - j0))] };
}

/**
 * Whether a scatter block of `ch` src channels loads its weights as vec4s: for one dst
 * channel they are ch * kh * kw floats in a row of the [dst, src, kh, kw] weight, whole
 * vec4s from a vec4 boundary when ch and srcC are multiples of 4.
 */
export const vec4Weights = (ch: number, srcC: number): boolean => ch % 4 === 0 && srcC % 4 === 0;
