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
import { grid, ident, numel, perElement, store, WG } from "./wgsl.ts";
import {
  isTile,
  type TileBlock,
  tiledGather,
  tiledScatter,
  tiledWeightGrad,
} from "./conv_tiled.ts";

import {
  bindingsOf,
  declareNamed,
  DST,
  type KernelIO,
  normPrelude,
  SRC,
  storeOutput,
  WGT,
} from "./conv_store.ts";

export type { TileBlock } from "./conv_tiled.ts";
export type { KernelIO } from "./conv_store.ts";

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
//
// Three register-blocked kernels, generated per shape with the loops over the
// kernel window and over the thread's block unrolled and the geometry inlined:
//   convGather      dst = conv(src): conv2d forward, conv_transpose2d input gradient
//   convScatter     src = conv^T(dst): conv2d input gradient, conv_transpose2d forward
//   convWeightGrad  dw, optionally split over rows of the reduction (partial sums
//                   in scratch, then a second small kernel adds them: no barriers)
// Each thread keeps a block of outputs in registers (channels x batch items x
// pixels) so that every value it loads feeds many multiply-adds. That is what
// matters on a software adapter, where a load from a storage buffer costs tens
// of cycles per invocation and a multiply-add a fraction of one; on a GPU it is
// the usual register tiling. No workgroup memory and no barriers, so the kernels
// are correct on any adapter and for any block size: blocks that do not divide a
// dimension get clamped loads and guarded stores, and where a thread's tile is
// the whole image, the zero padding is resolved while generating the code.

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

/** What the planner aims for; a function of the adapter (see `setConvTarget`). */
export interface ConvTarget {
  /** workgroups the device runs at once: fewer leave it idle */
  parallel: number;
  /** threads that execute in lockstep */
  simd: number;
  /** accumulators per thread, at most */
  maxAcc: number;
  /** multiply-adds per unrolled loop body, at most (compile time, code size) */
  maxBody: number;
  /** cost of one multiply-add relative to one load from a storage buffer */
  fma: number;
  /** cost of one loop iteration, in loads */
  iteration: number;
  /** cost of one extra dispatch, in loads */
  dispatch: number;
  /**
   * cost of compiling one line of unrolled code (a load or a multiply-add), in
   * loads, spread over `runs` executions of the kernel: big blocks compile slowly
   */
  compile: number;
  runs: number;
}

/**
 * Default target, measured on llvmpipe (2 cores shared with other work, 8-wide
 * SIMD): a load from a storage buffer costs ~12 multiply-adds of one invocation,
 * a loop iteration about a load, an extra dispatch ~70 us, and the LLVM compile
 * at a pipeline's first dispatch ~0.8 ms per line of unrolled code (~1 s for
 * the biggest bodies allowed). A GPU wants a target with far more parallelism
 * and cheaper loads, which picks smaller blocks; the kernels are correct for any.
 */
export const DEFAULT_TARGET: ConvTarget = {
  parallel: 3,
  simd: 8,
  maxAcc: 128,
  maxBody: 1536,
  fma: 1 / 12,
  iteration: 1,
  dispatch: 30000,
  compile: 240000,
  runs: 1000,
};

/**
 * Starting point for hardware adapters until `deno task tune` has measured them:
 * not fitted to any one GPU. What it encodes is what every GPU shares and a CPU
 * does not: thousands of threads in flight (so blocks stay small enough to fill
 * them), 32-wide SIMD, loads cheaper relative to arithmetic, fewer registers per
 * thread before occupancy drops, and compiles paid once when the pipeline is made.
 */
export const GPU_TARGET: ConvTarget = {
  parallel: 2048,
  simd: 32,
  maxAcc: 32,
  maxBody: 512,
  fma: 1 / 4,
  iteration: 1,
  dispatch: 30000,
  compile: 0,
  runs: 1000,
};

let target = DEFAULT_TARGET;

/** Sets the target the planners use from now on (e.g. from the adapter); returns the previous one. */
export function setConvTarget(t: ConvTarget): ConvTarget {
  const old = target;
  target = t;
  return old;
}

export type ConvKernel = "gather" | "scatter" | "wgrad";

/** Any kernel variant: a register block, or a workgroup-memory tile (conv_tiled.ts). */
export type ConvBlock = Block | WeightBlock | TileBlock;

type Planner = (kind: ConvKernel, g: ConvGeom) => ConvBlock | undefined;
let override: Planner | undefined;

/**
 * Replaces the block choice (tests force every variant; an autotuner may plug in
 * here). The function may return undefined to keep the default. Returns the previous one.
 */
export function setConvPlanner(p: Planner | undefined): Planner | undefined {
  const old = override;
  override = p;
  return old;
}

const cdiv = (a: number, b: number) => Math.ceil(a / b);
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Block sizes worth trying along an extent of n. */
function sizes(n: number, max: number): number[] {
  const out = new Set<number>();
  for (const v of [1, 2, 3, 4, 6, 8, 12, 16]) if (v <= Math.min(n, max)) out.add(v);
  if (n <= max) out.add(n);
  return [...out];
}

/**
 * Time, in loads, of `threads` threads each doing `loads` loads and `macs`
 * multiply-adds. Loads are paid per thread; arithmetic per SIMD group, so a
 * group with few live threads wastes it. The device runs `parallel` workgroups
 * at a time.
 */
function spread(t: ConvTarget, threads: number, loads: number, macs: number): number {
  const groups = cdiv(threads, t.simd);
  const work = threads * loads + groups * t.simd * t.fma * macs;
  return work / Math.min(cdiv(threads, WG), t.parallel);
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

function gatherAxis(nDst: number, p: number, s: number, k: number, pad: number, nSrc: number) {
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

function scatterAxis(nSrc: number, p: number, s: number, k: number, pad: number, nDst: number) {
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

/** Per-thread figures of a block, for the cost model and the limits. */
interface BlockShape {
  threads: number;
  /** per step of the reduction loop */
  loads: number;
  macs: number;
  acc: number;
  steps: number;
}

function gatherShape(g: ConvGeom, b: Block): BlockShape {
  const nb = b.nb ?? 1;
  const y = gatherAxis(g.dstH, b.py, g.s, g.kh, g.pt, g.srcH);
  const x = gatherAxis(g.dstW, b.px, g.s, g.kw, g.pl, g.srcW);
  return {
    threads: cdiv(g.b, nb) * cdiv(g.dstC, b.ch) * y.tiles * x.tiles,
    loads: b.ch * g.kh * g.kw + nb * y.reads.length * x.reads.length,
    macs: b.ch * nb * y.pairs.length * x.pairs.length,
    acc: b.ch * nb * y.outs.length * x.outs.length,
    steps: g.srcC,
  };
}

function scatterShape(g: ConvGeom, b: Block): BlockShape {
  const nb = b.nb ?? 1;
  const y = scatterAxis(g.srcH, b.py, g.s, g.kh, g.pt, g.dstH);
  const x = scatterAxis(g.srcW, b.px, g.s, g.kw, g.pl, g.dstW);
  return {
    threads: cdiv(g.b, nb) * cdiv(g.srcC, b.ch) * y.tiles * x.tiles,
    loads: b.ch * g.kh * g.kw + nb * y.reads.length * x.reads.length,
    macs: b.ch * nb * y.pairs.length * x.pairs.length,
    acc: b.ch * nb * y.pixels.length * x.pixels.length,
    steps: g.dstC,
  };
}

/** Columns of one step of the weight gradient: like a gather tile along x. */
function weightAxis(g: ConvGeom, px: number) {
  return gatherAxis(g.dstW, px, g.s, g.kw, g.pl, g.srcW);
}

function weightShape(g: ConvGeom, b: WeightBlock): BlockShape {
  const rows = g.b * g.dstH;
  const x = weightAxis(g, b.px);
  return {
    threads: cdiv(g.dstC, b.co) * cdiv(g.srcC, b.ci) * cdiv(rows, b.rows),
    loads: b.co * x.outs.length + b.ci * g.kh * x.reads.length,
    macs: b.co * b.ci * g.kh * x.pairs.length,
    acc: b.co * b.ci * g.kh * g.kw,
    steps: Math.min(b.rows, rows) * x.tiles,
  };
}

function cost(t: ConvTarget, s: BlockShape): number {
  const lines = s.loads + s.macs + 2 * s.acc;
  return spread(t, s.threads, s.steps * (s.loads + t.iteration), s.steps * s.macs) +
    t.compile * lines / t.runs;
}

export function gatherCost(g: ConvGeom, b: Block, t: ConvTarget = target): number {
  return cost(t, gatherShape(g, b));
}

export function scatterCost(g: ConvGeom, b: Block, t: ConvTarget = target): number {
  return cost(t, scatterShape(g, b));
}

export function weightGradCost(g: ConvGeom, b: WeightBlock, t: ConvTarget = target): number {
  const s = weightShape(g, b);
  let c = cost(t, s);
  const chunks = cdiv(g.b * g.dstH, b.rows);
  if (chunks > 1) {
    const nw = g.dstC * g.srcC * g.kh * g.kw;
    c += t.dispatch + spread(t, nw, chunks * (1 + t.iteration), 0) + spread(t, s.threads, s.acc, 0);
  }
  return c;
}

function best<B>(cands: B[], f: (b: B) => number): B {
  let pick = cands[0], min = Infinity;
  for (const c of cands) {
    const v = f(c);
    if (v < min) [pick, min] = [c, v];
  }
  return pick;
}

/** Every block within the target's limits (empty: none fits, use one output per thread). */
function blockCandidates(
  g: ConvGeom,
  t: ConvTarget,
  ch: number,
  h: number,
  w: number,
  shape: (b: Block) => BlockShape,
): Block[] {
  const cands: Block[] = [];
  for (const c of sizes(ch, 16)) {
    for (const nb of sizes(g.b, 8)) {
      for (const py of sizes(h, 8)) {
        for (const px of sizes(w, 16)) {
          const b = { ch: c, nb, py, px };
          const s = shape(b);
          if (s.acc > t.maxAcc || s.macs > t.maxBody) continue;
          cands.push(b);
        }
      }
    }
  }
  return cands;
}

const gatherCandidates = (g: ConvGeom, t: ConvTarget) =>
  blockCandidates(g, t, g.dstC, g.dstH, g.dstW, (b) => gatherShape(g, b));

const scatterCandidates = (g: ConvGeom, t: ConvTarget) =>
  blockCandidates(g, t, g.srcC, cdiv(g.srcH, g.s), cdiv(g.srcW, g.s), (b) => scatterShape(g, b));

const ONE: Block = { ch: 1, nb: 1, py: 1, px: 1 };

export function planGather(g: ConvGeom, t: ConvTarget = target): Block {
  const c = gatherCandidates(g, t);
  return c.length ? best(c, (b) => gatherCost(g, b, t)) : ONE;
}

export function planScatter(g: ConvGeom, t: ConvTarget = target): Block {
  const c = scatterCandidates(g, t);
  return c.length ? best(c, (b) => scatterCost(g, b, t)) : ONE;
}

/** Most floats of partial sums the weight gradient may keep in scratch. */
const MAX_PARTIAL = 1 << 22;

function weightCandidates(g: ConvGeom, t: ConvTarget): WeightBlock[] {
  const cands: WeightBlock[] = [];
  const rows = g.b * g.dstH;
  const nw = g.dstC * g.srcC * g.kh * g.kw;
  const rowChoices = new Set<number>([rows]);
  for (let c = 2; c <= 1024 && c <= rows && c * nw <= MAX_PARTIAL; c *= 2) {
    rowChoices.add(cdiv(rows, c));
  }
  for (const co of sizes(g.dstC, 8)) {
    for (const ci of sizes(g.srcC, 8)) {
      for (const px of sizes(g.dstW, 16)) {
        const s = weightShape(g, { co, ci, px, rows });
        // Half as many accumulators again as the other kernels: no loaded value stays
        // live across taps here, and 8 x 2 x 3 x 3 measured best for 3 x 3 kernels.
        if (s.acc > Math.max(t.maxAcc * 1.5, g.kh * g.kw) || s.macs > t.maxBody) continue;
        for (const r of rowChoices) cands.push({ co, ci, px, rows: r });
      }
    }
  }
  return cands;
}

export function planWeightGrad(g: ConvGeom, t: ConvTarget = target): WeightBlock {
  const c = weightCandidates(g, t);
  if (!c.length) return { co: 1, ci: 1, px: 1, rows: g.b * g.dstH };
  return best(c, (b) => weightGradCost(g, b, t));
}

/**
 * Version of the kernel generators: bump it whenever the code generated for a block
 * changes, so that block choices measured (and cached) for older kernels are ignored.
 */
export const CONV_GENERATOR_VERSION = 1;

/**
 * The cost model's `k` best blocks for a kernel, cheapest first: the first is the
 * model's own pick (what planGather / planScatter / planWeightGrad return). An
 * autotuner measures these instead of guessing among them.
 */
export function candidateBlocks(
  kind: ConvKernel,
  g: ConvGeom,
  k: number,
  t: ConvTarget = target,
): (Block | WeightBlock)[] {
  const ranked = <B>(c: B[], f: (b: B) => number, none: B): B[] => {
    if (!c.length) return [none];
    // Stable sort: among equal costs the first enumerated wins, as in best().
    return c.map((b) => [b, f(b)] as const).sort((x, y) => x[1] - y[1]).slice(0, k)
      .map(([b]) => b);
  };
  if (kind === "gather") return ranked(gatherCandidates(g, t), (b) => gatherCost(g, b, t), ONE);
  if (kind === "scatter") return ranked(scatterCandidates(g, t), (b) => scatterCost(g, b, t), ONE);
  return ranked(weightCandidates(g, t), (b) => weightGradCost(g, b, t), planWeightGrad(g, t));
}

function plan<B>(kind: ConvKernel, g: ConvGeom, def: () => B): B {
  return (override?.(kind, g) as B | undefined) ?? def();
}

/**
 * Run-time position variables of an axis of a tile: for each offset o, the
 * position `base + o` clamped into [0, size) and scaled (for addressing), and
 * whether it is in range. Offsets whose range is statically known need none.
 */
function positions(
  lines: string[],
  name: string,
  base: string,
  offsets: number[],
  size: number,
  scale: number,
  known: (o: number) => boolean | undefined,
  indent = "  ",
): { off: (o: number) => string; ok: (o: number) => string | boolean } {
  const fixed = (o: number) => known(o) !== undefined;
  for (const o of offsets) {
    if (fixed(o)) continue;
    lines.push(`${indent}let ${name}p${o} = ${base} + ${o};`);
    lines.push(`${indent}let ${name}o${o} = u32(clamp(${name}p${o}, 0, ${size - 1})) * ${scale}u;`);
    lines.push(`${indent}let ${name}v${o} = ${name}p${o} >= 0 && ${name}p${o} < ${size};`);
  }
  return {
    off: (o) => fixed(o) ? "" : `${name}o${o}`,
    ok: (o) => known(o) ?? `${name}v${o}`,
  };
}

/** `a + b + ...` of the non-empty terms, "0u" if none. */
const sum = (...t: (string | number)[]) => {
  const parts = t.map(String).filter((x) => x !== "" && x !== "0u" && x !== "0");
  return parts.length ? parts.join(" + ") : "0u";
};

function both(a: string | boolean, b: string | boolean): string | boolean {
  if (a === false || b === false) return false;
  if (a === true) return b;
  if (b === true) return a;
  return `${a} && ${b}`;
}

/** A load that reads 0 where `ok` is false (its index is clamped, so always in bounds). */
function guarded(expr: string, ok: string | boolean): string {
  return ok === true ? expr : `select(0.0, ${expr}, ${ok})`;
}

/** Thread index decomposition, fastest first: `let name = ...` for each [name, extent]. */
function decompose(dims: [string, number][]): string[] {
  const out: string[] = [];
  let div = 1;
  dims.forEach(([name, n], k) => {
    const q = div === 1 ? "i" : `(i / ${div}u)`;
    out.push(`  let ${name} = ${k === dims.length - 1 ? q : `${q} % ${n}u`};`);
    div *= n;
  });
  return out;
}

/** `let NAMEk = min(GROUP * n + k, N - 1)` for k < n: indices of a block, clamped. */
function blockIndices(name: string, group: string, n: number, total: number): string[] {
  return range(n).map((k) => {
    const v = `${group} * ${n}u + ${k}u`;
    return `  let ${name}${k} = ${total % n === 0 ? v : `min(${v}, ${total - 1}u)`};`;
  });
}

/** `if (cond) { body }` or just the body. */
function guard(conds: string[], body: string, indent = "  "): string {
  return conds.length ? `${indent}if (${conds.join(" && ")}) { ${body} }` : `${indent}${body}`;
}

/**
 * A one-thread-per-`i` kernel like wgsl.ts's perElement, but naming its bindings
 * by what they are to the kernel rather than by role, so that mirrored layers
 * (an encoder's conv and its decoder's transposed conv) share one pipeline.
 */
function kernel(
  label: string,
  n: number,
  bindings: [name: string, b: Binding][],
  body: string,
): Dispatch {
  const [gx] = grid(n);
  const code = `${declareNamed(bindings)}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x + gid.y * ${gx * WG}u;
  if (i >= ${n}u) { return; }
${body}
}
`;
  return { label, code, entry: "main", workgroups: grid(n), bindings: bindings.map(([, b]) => b) };
}

const PART = "part";

/**
 * dst = conv(src). Thread: (block of `ch` dst channels, `nb` batch items, tile
 * of py x px dst pixels). Per src channel it loads the block's weights and the
 * src window under the tile once, then does every multiply-add of the window.
 */
export function convGather(
  label: string,
  g: ConvGeom,
  io: KernelIO,
  block: Block | TileBlock = plan("gather", g, () => planGather(g)),
): Dispatch {
  if (isTile(block)) return tiledGather(label, g, io, block);
  const { ch, py, px } = block;
  const nb = block.nb ?? 1;
  const [src, w, dst] = [SRC, WGT, DST];
  const Y = gatherAxis(g.dstH, py, g.s, g.kh, g.pt, g.srcH);
  const X = gatherAxis(g.dstW, px, g.s, g.kw, g.pl, g.srcW);
  const [nog, nbg] = [cdiv(g.dstC, ch), cdiv(g.b, nb)];
  const L = decompose([["tx", X.tiles], ["ty", Y.tiles], ["og", nog], ["bg", nbg]]);
  L.push(`  let oy0 = i32(ty) * ${py};`, `  let ox0 = i32(tx) * ${px};`);
  const ry = positions(L, "r", `oy0 * ${g.s} - ${g.pt}`, Y.reads, g.srcH, g.srcW, Y.ok);
  const rx = positions(L, "q", `ox0 * ${g.s} - ${g.pl}`, X.reads, g.srcW, 1, X.ok);
  const KK = g.kh * g.kw;
  L.push(...blockIndices("oc", "og", ch, g.dstC), ...blockIndices("bi", "bg", nb, g.b));
  const acc = (k: number, n: number, y: number, x: number) => `a${k}_${n}_${y}_${x}`;
  for (const k of range(ch)) {
    for (const n of range(nb)) {
      for (const y of Y.outs) for (const x of X.outs) L.push(`  var ${acc(k, n, y, x)} = 0.0;`);
    }
  }
  L.push(`  for (var c = 0u; c < ${g.srcC}u; c++) {`);
  const used = new Set<string>();
  const body: string[] = [];
  for (const n of range(nb)) {
    body.push(`    let sb${n} = (bi${n} * ${g.srcC}u + c) * ${g.srcH * g.srcW}u;`);
    for (const r of Y.reads) {
      for (const q of X.reads) {
        const ix = sum(
          `sb${n}`,
          ry.off(r) || `${Math.max(r - g.pt, 0) * g.srcW}u`,
          rx.off(q) || `${q - g.pl}u`,
        );
        body.push(
          `    let v${n}_${r}_${q} = ${guarded(`${src}[${ix}]`, both(ry.ok(r), rx.ok(q)))};`,
        );
      }
    }
    for (const [y, ky, r] of Y.pairs) {
      for (const [x, kx, q] of X.pairs) {
        for (const k of range(ch)) {
          used.add(`${k}_${ky}_${kx}`);
          body.push(`    ${acc(k, n, y, x)} += v${n}_${r}_${q} * w${k}_${ky}_${kx};`);
        }
      }
    }
  }
  for (const k of range(ch)) {
    for (const ky of range(g.kh)) {
      for (const kx of range(g.kw)) {
        if (!used.has(`${k}_${ky}_${kx}`)) continue;
        L.push(
          `    let w${k}_${ky}_${kx} = ${w}[(oc${k} * ${g.srcC}u + c) * ${KK}u + ${
            ky * g.kw + kx
          }u];`,
        );
      }
    }
  }
  L.push(...body, `  }`);
  for (const k of range(ch)) {
    const o = `og * ${ch}u + ${k}u`;
    L.push(...normPrelude(io, `n${k}`, `oc${k}`).map((l) => `  ${l}`));
    for (const n of range(nb)) {
      const b = `bg * ${nb}u + ${n}u`;
      for (const y of Y.outs) {
        for (const x of X.outs) {
          const conds: string[] = [];
          if (g.dstC % ch !== 0) conds.push(`${o} < ${g.dstC}u`);
          if (g.b % nb !== 0) conds.push(`${b} < ${g.b}u`);
          if (Y.tiles > 1 && g.dstH % py !== 0) conds.push(`oy0 + ${y} < ${g.dstH}`);
          if (X.tiles > 1 && g.dstW % px !== 0) conds.push(`ox0 + ${x} < ${g.dstW}`);
          const di = `((${b}) * ${g.dstC}u + ${o}) * ${
            g.dstH * g.dstW
          }u + u32(oy0 + ${y}) * ${g.dstW}u + u32(ox0 + ${x})`;
          L.push(
            guard(conds, storeOutput(io, `${dst}[${di}]`, acc(k, n, y, x), `(${o})`, `n${k}`)),
          );
        }
      }
    }
  }
  return kernel(label, nbg * nog * Y.tiles * X.tiles, bindingsOf(io), L.join("\n"));
}

/**
 * src = conv^T(dst), the adjoint of convGather, phase by phase (see ScatterAxis):
 * a thread covers py * s rows and px * s columns of src for `ch` src channels and
 * `nb` batch items. Per dst channel it loads the (py + mMax) x (px + mMax) dst
 * values under the tile and the block's weights, then every multiply-add is
 * unrolled with its tap known, so no thread tests a phase or a divisibility.
 */
export function convScatter(
  label: string,
  g: ConvGeom,
  io: KernelIO,
  block: Block | TileBlock = plan("scatter", g, () => planScatter(g)),
): Dispatch {
  if (isTile(block)) return tiledScatter(label, g, io, block);
  const { ch, py, px } = block;
  const nb = block.nb ?? 1;
  const s = g.s;
  const [dst, w, src] = [SRC, WGT, DST];
  const Y = scatterAxis(g.srcH, py, s, g.kh, g.pt, g.dstH);
  const X = scatterAxis(g.srcW, px, s, g.kw, g.pl, g.dstW);
  const [ncg, nbg] = [cdiv(g.srcC, ch), cdiv(g.b, nb)];
  const L = decompose([["tx", X.tiles], ["ty", Y.tiles], ["cg", ncg], ["bg", nbg]]);
  // dst position of the tile's j = 0
  L.push(
    `  let ty0 = i32(ty) * ${py} + ${Y.origin};`,
    `  let tx0 = i32(tx) * ${px} + ${X.origin};`,
  );
  const ey = positions(L, "e", `ty0 - ${Y.mMax}`, Y.reads, g.dstH, g.dstW, Y.ok);
  const ex = positions(L, "f", `tx0 - ${X.mMax}`, X.reads, g.dstW, 1, X.ok);
  const KK = g.kh * g.kw;
  L.push(...blockIndices("cc", "cg", ch, g.srcC), ...blockIndices("bi", "bg", nb, g.b));
  const acc = (k: number, n: number, iy: number, ix: number) => `a${k}_${n}_${iy}_${ix}`;
  for (const k of range(ch)) {
    for (const n of range(nb)) {
      for (const iy of range(Y.pixels.length)) {
        for (const ix of range(X.pixels.length)) L.push(`  var ${acc(k, n, iy, ix)} = 0.0;`);
      }
    }
  }
  L.push(`  for (var o = 0u; o < ${g.dstC}u; o++) {`);
  const used = new Set<string>();
  const body: string[] = [];
  for (const n of range(nb)) {
    body.push(`    let db${n} = (bi${n} * ${g.dstC}u + o) * ${g.dstH * g.dstW}u;`);
    for (const e of Y.reads) {
      for (const f of X.reads) {
        const d = (ok: boolean | undefined, a: number, scale: number) => ok ? `${a * scale}u` : "";
        const ix = sum(
          `db${n}`,
          ey.off(e) || d(Y.ok(e), Y.origin - Y.mMax + e, g.dstW),
          ex.off(f) || d(X.ok(f), X.origin - X.mMax + f, 1),
        );
        body.push(
          `    let d${n}_${e}_${f} = ${guarded(`${dst}[${ix}]`, both(ey.ok(e), ex.ok(f)))};`,
        );
      }
    }
    for (const [iy, ky, e] of Y.pairs) {
      for (const [ix, kx, f] of X.pairs) {
        for (const k of range(ch)) {
          used.add(`${k}_${ky}_${kx}`);
          body.push(`    ${acc(k, n, iy, ix)} += d${n}_${e}_${f} * w${k}_${ky}_${kx};`);
        }
      }
    }
  }
  for (const k of range(ch)) {
    for (const ky of range(g.kh)) {
      for (const kx of range(g.kw)) {
        if (!used.has(`${k}_${ky}_${kx}`)) continue;
        L.push(
          `    let w${k}_${ky}_${kx} = ${w}[(o * ${g.srcC}u + cc${k}) * ${KK}u + ${
            ky * g.kw + kx
          }u];`,
        );
      }
    }
  }
  L.push(...body, `  }`);
  for (const k of range(ch)) {
    const c = `cg * ${ch}u + ${k}u`;
    L.push(...normPrelude(io, `n${k}`, `cc${k}`).map((l) => `  ${l}`));
    for (const n of range(nb)) {
      const b = `bg * ${nb}u + ${n}u`;
      Y.pixels.forEach(([jy, ry], iy) => {
        X.pixels.forEach(([jx, rx], ix) => {
          const conds: string[] = [];
          if (g.srcC % ch !== 0) conds.push(`${c} < ${g.srcC}u`);
          if (g.b % nb !== 0) conds.push(`${b} < ${g.b}u`);
          const ay = Y.at(jy, ry), ax = X.at(jx, rx);
          const sy = ay ?? `(ty0 + ${jy}) * ${s} + ${ry - g.pt}`;
          const sx = ax ?? `(tx0 + ${jx}) * ${s} + ${rx - g.pl}`;
          if (ay === undefined) conds.push(`${sy} >= 0 && ${sy} < ${g.srcH}`);
          if (ax === undefined) conds.push(`${sx} >= 0 && ${sx} < ${g.srcW}`);
          const si = `((${b}) * ${g.srcC}u + ${c}) * ${
            g.srcH * g.srcW
          }u + u32(${sy}) * ${g.srcW}u + u32(${sx})`;
          L.push(
            guard(conds, storeOutput(io, `${src}[${si}]`, acc(k, n, iy, ix), `(${c})`, `n${k}`)),
          );
        });
      });
    }
  }
  return kernel(label, nbg * ncg * Y.tiles * X.tiles, bindingsOf(io), L.join("\n"));
}

/**
 * dw[o, c, ky, kx] = sum over batch and dst pixels of dst[b, o, oy, ox] *
 * src[b, c, oy * s - pt + ky, ox * s - pl + kx]. Thread: (block of co dst
 * channels, block of ci src channels, chunk of `rows` dst rows over batch and
 * height), all kh x kw taps. Per step of px dst columns it loads co * px dst
 * values and ci * kh src row segments. With several chunks each writes its
 * partial sums to scratch `t.dw_part` and a second kernel adds them up (and into
 * dw when accumulating).
 */
export function convWeightGrad(
  label: string,
  g: ConvGeom,
  roles: { src: string; dst: string; dw: string },
  accumulate: boolean,
  block: WeightBlock | TileBlock = plan("wgrad", g, () => planWeightGrad(g)),
): { dispatches: Dispatch[]; scratch?: Record<string, number> } {
  if (isTile(block)) return { dispatches: [tiledWeightGrad(label, g, roles, accumulate, block)] };
  const { co, ci, px } = block;
  const [src, dst, dw] = ["xs", "ys", "dw"];
  const totalRows = g.b * g.dstH;
  const rowsPer = Math.min(block.rows, totalRows);
  const chunks = cdiv(totalRows, rowsPer);
  const KK = g.kh * g.kw;
  const nw = g.dstC * g.srcC * KK;
  const part = "t.dw_part";
  const [ncg, nog] = [cdiv(g.srcC, ci), cdiv(g.dstC, co)];
  const X = weightAxis(g, px);
  const L = decompose([["cg", ncg], ["og", nog], ["chunk", chunks]]);
  L.push(...blockIndices("oc", "og", co, g.dstC), ...blockIndices("cc", "cg", ci, g.srcC));
  const acc = (k: number, kk: number, ky: number, kx: number) => `a${k}_${kk}_${ky}_${kx}`;
  for (const k of range(co)) {
    for (const kk of range(ci)) {
      for (const ky of range(g.kh)) {
        for (const kx of range(g.kw)) L.push(`  var ${acc(k, kk, ky, kx)} = 0.0;`);
      }
    }
  }
  L.push(`  let n0 = chunk * ${rowsPer}u;`, `  let n1 = min(n0 + ${rowsPer}u, ${totalRows}u);`);
  L.push(`  for (var n = n0; n < n1; n++) {`);
  L.push(`    let b = n / ${g.dstH}u;`, `    let oy = i32(n % ${g.dstH}u);`);
  for (const k of range(co)) {
    L.push(`    let db${k} = ((b * ${g.dstC}u + oc${k}) * ${g.dstH}u + u32(oy)) * ${g.dstW}u;`);
  }
  for (const k of range(ci)) {
    L.push(`    let sb${k} = (b * ${g.srcC}u + cc${k}) * ${g.srcH * g.srcW}u;`);
  }
  const ry = positions(
    L,
    "r",
    `oy * ${g.s} - ${g.pt}`,
    range(g.kh),
    g.srcH,
    g.srcW,
    () => undefined,
    "    ",
  );
  const multi = X.tiles > 1;
  const I = multi ? "      " : "    ";
  if (multi) L.push(`    for (var ox0 = 0; ox0 < ${g.dstW}; ox0 += ${px}) {`);
  const base = multi ? "ox0" : "0";
  const rx = positions(L, "q", `${base} * ${g.s} - ${g.pl}`, X.reads, g.srcW, 1, X.ok, I);
  const colOk = (x: number): string | boolean =>
    !multi || g.dstW % px === 0 ? true : `ox0 + ${x} < ${g.dstW}`;
  for (const k of range(co)) {
    for (const x of X.outs) {
      const col = multi ? `u32(ox0 + ${x})` : `${x}u`;
      L.push(`${I}let d${k}_${x} = ${guarded(`${dst}[db${k} + ${col}]`, colOk(x))};`);
    }
  }
  for (const kk of range(ci)) {
    for (const ky of range(g.kh)) {
      for (const q of X.reads) {
        const ix = sum(`sb${kk}`, ry.off(ky), rx.off(q) || `${q - g.pl}u`);
        L.push(
          `${I}let v${kk}_${ky}_${q} = ${guarded(`${src}[${ix}]`, both(ry.ok(ky), rx.ok(q)))};`,
        );
      }
      for (const [x, kx, q] of X.pairs) {
        for (const k of range(co)) {
          L.push(`${I}${acc(k, kk, ky, kx)} += d${k}_${x} * v${kk}_${ky}_${q};`);
        }
      }
    }
  }
  if (multi) L.push(`    }`);
  L.push(`  }`);
  for (const k of range(co)) {
    for (const kk of range(ci)) {
      const conds: string[] = [];
      if (g.dstC % co !== 0) conds.push(`og * ${co}u + ${k}u < ${g.dstC}u`);
      if (g.srcC % ci !== 0) conds.push(`cg * ${ci}u + ${kk}u < ${g.srcC}u`);
      const st = range(KK).map((t) => {
        const wi = `(oc${k} * ${g.srcC}u + cc${kk}) * ${KK}u + ${t}u`;
        const a = acc(k, kk, Math.floor(t / g.kw), t % g.kw);
        return chunks > 1
          ? `${PART}[chunk * ${nw}u + ${wi}] = ${a};`
          : store(accumulate, `${dw}[${wi}]`, a);
      });
      L.push(guard(conds, st.join(" ")));
    }
  }
  const main = kernel(
    label,
    ncg * nog * chunks,
    [
      [src, { role: roles.src }],
      [dst, { role: roles.dst }],
      chunks > 1 ? [PART, { role: part, write: true }] : [dw, { role: roles.dw, write: true }],
    ],
    L.join("\n"),
  );
  if (chunks === 1) return { dispatches: [main] };
  const total = kernel(
    `${label}.sum`,
    nw,
    [[PART, { role: part }], [dw, { role: roles.dw, write: true }]],
    `  var acc = 0.0;
  for (var k = 0u; k < ${chunks}u; k++) {
    acc += ${PART}[k * ${nw}u + i];
  }
  ${store(accumulate, `${dw}[i]`, "acc")}`,
  );
  return { dispatches: [main, total], scratch: { dw_part: chunks * nw } };
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
