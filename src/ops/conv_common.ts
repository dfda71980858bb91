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
//
// Three register-blocked kernels, generated per shape with every loop over the
// kernel window unrolled and the geometry as constants:
//   convGather      dst = conv(src): conv2d forward, conv_transpose2d input gradient
//   convScatter     src = conv^T(dst): conv2d input gradient, conv_transpose2d forward
//   convWeightGrad  dw, optionally split over rows of the reduction (partial sums
//                   in scratch, then a second kernel adds them up: no barriers)
// Each thread keeps a block of outputs in registers (several channels x several
// pixels) so that every value it loads feeds many multiply-adds. That is what
// matters on a software adapter, where each storage-buffer load inside a loop
// costs tens of cycles per invocation while an FMA costs a fraction of one, and
// it is the classic register tiling on a GPU. No workgroup memory, no barriers,
// so the kernels are correct on any adapter and for any block size.

/** Register block of convGather (pixels of dst) and convScatter (per phase, see there). */
export interface Block {
  /** channels of the written tensor per thread */
  ch: number;
  /** output rows and columns per thread */
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

/** What the planner aims for; a function of the adapter (see `convTarget`). */
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
}

/**
 * Default target, measured on llvmpipe (2 cores, 8-wide SIMD): a load from a
 * storage buffer is ~30x a multiply-add, a loop iteration about one load, an
 * extra dispatch ~70 us. Blocks it picks are also sensible on a GPU.
 */
export const DEFAULT_TARGET: ConvTarget = {
  parallel: 3,
  simd: 8,
  maxAcc: 128,
  maxBody: 1536,
  fma: 1 / 12,
  iteration: 1,
  dispatch: 30000,
};

export type ConvKernel = "gather" | "scatter" | "wgrad";

type Planner = (kind: ConvKernel, g: ConvGeom) => Block | WeightBlock | undefined;
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

const WGSIZE = 64;
const cdiv = (a: number, b: number) => Math.ceil(a / b);

/** Small divisors-or-powers: the block sizes worth trying along one extent. */
function sizes(n: number, max: number): number[] {
  const out = new Set<number>();
  for (const v of [1, 2, 3, 4, 6, 8, 12, 16, 24, 32]) if (v <= Math.min(n, max)) out.add(v);
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
  return work / Math.min(cdiv(threads, WGSIZE), t.parallel);
}

/** Source rows / columns a block of `p` outputs at stride s with kernel k reads. */
const span = (p: number, s: number, k: number) => (p - 1) * s + k;

export function gatherCost(g: ConvGeom, b: Block, t: ConvTarget = DEFAULT_TARGET): number {
  const threads = g.b * cdiv(g.dstC, b.ch) * cdiv(g.dstH, b.py) * cdiv(g.dstW, b.px);
  const loads = b.ch * g.kh * g.kw + span(b.py, g.s, g.kh) * span(b.px, g.s, g.kw);
  const macs = b.ch * b.py * b.px * g.kh * g.kw;
  return spread(t, threads, g.srcC * (loads + t.iteration), g.srcC * macs);
}

/** Taps of a scatter along one axis: max taps per phase (m range) */
const taps = (k: number, s: number) => Math.floor((k - 1) / s) + 1;

export function scatterCost(g: ConvGeom, b: Block, t: ConvTarget = DEFAULT_TARGET): number {
  const nty = scatterTiles(g.srcH, g.pt, b.py * g.s)[1];
  const ntx = scatterTiles(g.srcW, g.pl, b.px * g.s)[1];
  const threads = g.b * cdiv(g.srcC, b.ch) * nty * ntx;
  const loads = b.ch * g.kh * g.kw +
    (b.py + taps(g.kh, g.s) - 1) * (b.px + taps(g.kw, g.s) - 1);
  const macs = b.ch * b.py * b.px * g.kh * g.kw;
  return spread(t, threads, g.dstC * (loads + t.iteration), g.dstC * macs);
}

export function weightGradCost(
  g: ConvGeom,
  b: WeightBlock,
  t: ConvTarget = DEFAULT_TARGET,
): number {
  const rows = g.b * g.dstH;
  const chunks = cdiv(rows, b.rows);
  const threads = cdiv(g.dstC, b.co) * cdiv(g.srcC, b.ci) * chunks;
  const segs = cdiv(g.dstW, b.px);
  const loads = b.co * b.px + b.ci * g.kh * span(b.px, g.s, g.kw);
  const macs = b.co * b.ci * g.kh * g.kw * b.px;
  const steps = Math.min(b.rows, rows) * segs;
  let cost = spread(t, threads, steps * (loads + t.iteration), steps * macs);
  if (chunks > 1) {
    const nw = g.dstC * g.srcC * g.kh * g.kw;
    cost += t.dispatch + spread(t, nw, chunks * (1 + t.iteration), 0) +
      spread(t, threads, b.co * b.ci * g.kh * g.kw, 0);
  }
  return cost;
}

function best<B>(cands: B[], cost: (b: B) => number): B {
  let pick = cands[0], min = Infinity;
  for (const c of cands) {
    const v = cost(c);
    if (v < min) [pick, min] = [c, v];
  }
  return pick;
}

export function planGather(g: ConvGeom, t: ConvTarget = DEFAULT_TARGET): Block {
  const cands: Block[] = [];
  for (const ch of sizes(g.dstC, 16)) {
    for (const py of sizes(g.dstH, 8)) {
      for (const px of sizes(g.dstW, 16)) {
        const acc = ch * py * px;
        if (acc > t.maxAcc || acc * g.kh * g.kw > t.maxBody) continue;
        cands.push({ ch, py, px });
      }
    }
  }
  if (!cands.length) cands.push({ ch: 1, py: 1, px: 1 });
  return best(cands, (b) => gatherCost(g, b, t));
}

export function planScatter(g: ConvGeom, t: ConvTarget = DEFAULT_TARGET): Block {
  const cands: Block[] = [];
  const s2 = g.s * g.s;
  for (const ch of sizes(g.srcC, 16)) {
    for (const py of sizes(cdiv(g.srcH, g.s), 8)) {
      for (const px of sizes(cdiv(g.srcW, g.s), 16)) {
        const acc = ch * py * px * s2;
        if (acc > t.maxAcc || ch * py * px * g.kh * g.kw > t.maxBody) continue;
        cands.push({ ch, py, px });
      }
    }
  }
  if (!cands.length) cands.push({ ch: 1, py: 1, px: 1 });
  return best(cands, (b) => scatterCost(g, b, t));
}

export function planWeightGrad(g: ConvGeom, t: ConvTarget = DEFAULT_TARGET): WeightBlock {
  const cands: WeightBlock[] = [];
  const rows = g.b * g.dstH;
  const rowChoices = new Set<number>([rows]);
  for (let c = 2; c <= 1024; c *= 2) rowChoices.add(Math.max(1, cdiv(rows, c)));
  for (const co of sizes(g.dstC, 8)) {
    for (const ci of sizes(g.srcC, 8)) {
      const acc = co * ci * g.kh * g.kw;
      if (acc > Math.max(t.maxAcc * 1.5, g.kh * g.kw)) continue;
      for (const px of sizes(g.dstW, 16)) {
        if (acc * px > t.maxBody) continue;
        for (const r of rowChoices) cands.push({ co, ci, px, rows: r });
      }
    }
  }
  if (!cands.length) cands.push({ co: 1, ci: 1, px: 1, rows });
  return best(cands, (b) => weightGradCost(g, b, t));
}

function plan<B>(kind: ConvKernel, g: ConvGeom, def: () => B): B {
  return (override?.(kind, g) as B | undefined) ?? def();
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

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/**
 * One axis of a tile: positions base + j (j < n) of a tensor of extent `size`.
 * When the base is a compile-time constant (a single tile along the axis) the
 * bounds are known here and out-of-range positions are dropped from the code.
 */
interface Axis {
  /** WGSL i32 expression of the base, or a number when constant */
  base: string | number;
  size: number;
}

/** undefined: unknown until run time; true/false: statically in or out of range. */
function inside(a: Axis, j: number): boolean | undefined {
  if (typeof a.base !== "number") return undefined;
  const p = a.base + j;
  return p >= 0 && p < a.size;
}

/** Emits i32 clamped position and in-range flag for each j; returns per-j accessors. */
function axisVars(
  lines: string[],
  name: string,
  a: Axis,
  n: number,
  scale: number,
  indent = "  ",
): { off: (j: number) => string; ok: (j: number) => string | boolean } {
  if (typeof a.base === "number") {
    const base = a.base;
    return {
      off: (j) => `${Math.min(Math.max(base + j, 0), a.size - 1) * scale}u`,
      ok: (j) => inside(a, j)!,
    };
  }
  for (const j of range(n)) {
    lines.push(`${indent}let ${name}p${j} = ${a.base} + ${j};`);
    lines.push(
      `${indent}let ${name}o${j} = u32(clamp(${name}p${j}, 0, ${a.size - 1})) * ${scale}u;`,
    );
    lines.push(`${indent}let ${name}v${j} = ${name}p${j} >= 0 && ${name}p${j} < ${a.size};`);
  }
  return { off: (j) => `${name}o${j}`, ok: (j) => `${name}v${j}` };
}

function both(a: string | boolean, b: string | boolean): string | boolean {
  if (a === false || b === false) return false;
  if (a === true) return b;
  if (b === true) return a;
  return `${a} && ${b}`;
}

/** A load that reads 0 where `ok` is false (the index is clamped, so always in bounds). */
function guarded(expr: string, ok: string | boolean): string {
  return ok === true ? expr : `select(0.0, ${expr}, ${ok})`;
}

/** Thread index decomposition, fastest first: `let name = ...` for each [name, extent]. */
function decompose(dims: [string, number][]): string {
  const out: string[] = [];
  let div = 1;
  dims.forEach(([name, n], k) => {
    const q = div === 1 ? "i" : `(i / ${div}u)`;
    out.push(`  let ${name} = ${k === dims.length - 1 ? q : `${q} % ${n}u`};`);
    div *= n;
  });
  return out.join("\n");
}

/**
 * dst = conv(src). Thread: (batch, block of `ch` dst channels, tile of py x px
 * dst pixels). Per src channel it loads the block's weights and the src window
 * under the tile once, then does ch * py * px * kh * kw multiply-adds.
 */
export function convGather(
  label: string,
  g: ConvGeom,
  io: KernelIO,
  block: Block = plan("gather", g, () => planGather(g)),
): Dispatch {
  const { ch, py, px } = block;
  const bindings: Binding[] = [
    { role: io.from },
    { role: io.weight },
    ...(io.bias ? [{ role: io.bias }] : []),
    { role: io.to, write: true },
  ];
  const [src, w, dst] = [io.from, io.weight, io.to].map(ident);
  const bias = io.bias && ident(io.bias);
  const [nog, nty, ntx] = [cdiv(g.dstC, ch), cdiv(g.dstH, py), cdiv(g.dstW, px)];
  const rows = span(py, g.s, g.kh), cols = span(px, g.s, g.kw);
  const L: string[] = [];
  L.push(decompose([["tx", ntx], ["ty", nty], ["og", nog], ["b", g.b]]));
  L.push(`  let oy0 = i32(ty) * ${py};`, `  let ox0 = i32(tx) * ${px};`);
  const ry = axisVars(
    L,
    "r",
    { base: nty === 1 ? -g.pt : `oy0 * S - PT`, size: g.srcH },
    rows,
    g.srcW,
  );
  const rx = axisVars(L, "q", { base: ntx === 1 ? -g.pl : `ox0 * S - PL`, size: g.srcW }, cols, 1);
  const KK = g.kh * g.kw;
  for (const k of range(ch)) {
    const o = g.dstC % ch === 0 ? `og * ${ch}u + ${k}u` : `min(og * ${ch}u + ${k}u, DST_C - 1u)`;
    L.push(`  let wb${k} = (${o}) * ${g.srcC * KK}u;`);
  }
  // statically out-of-range outputs (single tile, extent not a multiple of the block)
  const yOut = (j: number) => nty === 1 && j >= g.dstH;
  const xOut = (j: number) => ntx === 1 && j >= g.dstW;
  const acc = (k: number, y: number, x: number) => `a${k}_${y}_${x}`;
  for (const k of range(ch)) {
    for (const y of range(py)) {
      for (const x of range(px)) {
        if (!yOut(y) && !xOut(x)) L.push(`  var ${acc(k, y, x)} = 0.0;`);
      }
    }
  }
  L.push(`  for (var c = 0u; c < SRC_C; c++) {`);
  L.push(`    let sb = (b * SRC_C + c) * ${g.srcH * g.srcW}u;`);
  L.push(`    let wc = c * ${KK}u;`);
  // weights of this src channel, only those some output uses
  const wUsed = new Set<string>();
  const body: string[] = [];
  for (const r of range(rows)) {
    const okR = ry.ok(r);
    if (okR === false) continue;
    // (y, ky) pairs reading this src row
    const pairs = range(py).flatMap((y) =>
      range(g.kh).filter((ky) => y * g.s + ky === r && !yOut(y)).map((ky) => [y, ky])
    );
    if (!pairs.length) continue;
    const loaded = new Set<number>();
    const mac: string[] = [];
    for (const [y, ky] of pairs) {
      for (const x of range(px)) {
        if (xOut(x)) continue;
        for (const kx of range(g.kw)) {
          const q = x * g.s + kx;
          if (rx.ok(q) === false) continue;
          loaded.add(q);
          for (const k of range(ch)) {
            wUsed.add(`${k}_${ky}_${kx}`);
            mac.push(`    ${acc(k, y, x)} += v${r}_${q} * w${k}_${ky}_${kx};`);
          }
        }
      }
    }
    body.push(`    let sr${r} = sb + ${ry.off(r)};`);
    for (const q of [...loaded].sort((a, b) => a - b)) {
      body.push(
        `    let v${r}_${q} = ${guarded(`${src}[sr${r} + ${rx.off(q)}]`, both(okR, rx.ok(q)))};`,
      );
    }
    body.push(...mac);
  }
  for (const k of range(ch)) {
    for (const ky of range(g.kh)) {
      for (const kx of range(g.kw)) {
        if (wUsed.has(`${k}_${ky}_${kx}`)) {
          L.push(`    let w${k}_${ky}_${kx} = ${w}[wb${k} + wc + ${ky * g.kw + kx}u];`);
        }
      }
    }
  }
  L.push(...body, `  }`);
  // stores
  for (const k of range(ch)) {
    const oc = `og * ${ch}u + ${k}u`;
    for (const y of range(py)) {
      if (yOut(y)) continue;
      for (const x of range(px)) {
        if (xOut(x)) continue;
        const conds: string[] = [];
        if (g.dstC % ch !== 0) conds.push(`${oc} < DST_C`);
        if (nty > 1 && g.dstH % py !== 0) conds.push(`oy0 + ${y} < DST_H`);
        if (ntx > 1 && g.dstW % px !== 0) conds.push(`ox0 + ${x} < DST_W`);
        const di =
          `((b * DST_C + ${oc}) * ${g.dstH}u + u32(oy0 + ${y})) * ${g.dstW}u + u32(ox0 + ${x})`;
        const v = bias ? `${acc(k, y, x)} + ${bias}[${oc}]` : acc(k, y, x);
        const st = store(io.accumulate, `${dst}[${di}]`, v);
        L.push(conds.length ? `  if (${conds.join(" && ")}) { ${st} }` : `  ${st}`);
      }
    }
  }
  return perElement(label, g.b * nog * nty * ntx, bindings, L.join("\n"), consts(g));
}

/**
 * Tiles along one axis of the scatter: positions t = p + pad (p the src position)
 * are cut into tiles of `size`, aligned to the stride, covering t in [pad, n + pad).
 * Returns [index of the first tile, number of tiles].
 */
function scatterTiles(n: number, pad: number, size: number): [number, number] {
  const first = Math.floor(pad / size);
  return [first, cdiv(n + pad, size) - first];
}

/**
 * src = conv^T(dst), the adjoint of convGather. A src position p along an axis
 * receives from taps k = r + s*m where r = (p + pad) mod s is its phase, at dst
 * position (p + pad - k) / s. A thread covers py * s rows and px * s columns of
 * src, all phases of py x px dst positions, for `ch` src channels: per dst channel
 * it loads the (py + my) x (px + mx) dst values under the tile and the block's
 * weights, then every multiply-add is unrolled with its tap known.
 */
export function convScatter(
  label: string,
  g: ConvGeom,
  io: KernelIO,
  block: Block = plan("scatter", g, () => planScatter(g)),
): Dispatch {
  const { ch, py, px } = block;
  const s = g.s;
  const bindings: Binding[] = [
    { role: io.from },
    { role: io.weight },
    ...(io.bias ? [{ role: io.bias }] : []),
    { role: io.to, write: true },
  ];
  const [dst, w, src] = [io.from, io.weight, io.to].map(ident);
  const bias = io.bias && ident(io.bias);
  const [fty, nty] = scatterTiles(g.srcH, g.pt, py * s);
  const [ftx, ntx] = scatterTiles(g.srcW, g.pl, px * s);
  const ncg = cdiv(g.srcC, ch);
  const my = taps(g.kh, s) - 1, mx = taps(g.kw, s) - 1;
  const L: string[] = [];
  L.push(decompose([["tx", ntx], ["ty", nty], ["cg", ncg], ["b", g.b]]));
  // dst base positions (tile index * block) of this thread
  const Y0: string | number = nty === 1 ? fty * py : `(i32(ty) + ${fty}) * ${py}`;
  const X0: string | number = ntx === 1 ? ftx * px : `(i32(tx) + ${ftx}) * ${px}`;
  // (locals must not be called like roles: x0, y, dy, dx0, ...)
  if (typeof Y0 === "string") L.push(`  let ty0 = ${Y0};`);
  if (typeof X0 === "string") L.push(`  let tx0 = ${X0};`);
  const yb = typeof Y0 === "number" ? Y0 : "ty0", xb = typeof X0 === "number" ? X0 : "tx0";
  const off = (b: string | number, d: number) =>
    typeof b === "number" ? b + d : d === 0 ? b : `${b} - ${-d}`;
  // dst rows e = 0..py+my-1 at position Y0 - my + e
  const ey = axisVars(L, "e", { base: off(yb, -my), size: g.dstH }, py + my, g.dstW);
  const ex = axisVars(L, "f", { base: off(xb, -mx), size: g.dstW }, px + mx, 1);
  const KK = g.kh * g.kw;
  for (const k of range(ch)) {
    const c = g.srcC % ch === 0 ? `cg * ${ch}u + ${k}u` : `min(cg * ${ch}u + ${k}u, SRC_C - 1u)`;
    L.push(`  let cb${k} = (${c}) * ${KK}u;`);
  }
  // src position of (tile offset j, phase r) along an axis, and whether it is statically out
  const pos = (b: string | number, j: number, r: number, pad: number): string | number =>
    typeof b === "number" ? (b + j) * s + r - pad : `(${b} + ${j}) * ${s} + ${r - pad}`;
  const out = (p: string | number, n: number) => typeof p === "number" && (p < 0 || p >= n);
  const acc = (k: number, j: number, r: number, jj: number, rr: number) =>
    `a${k}_${j}_${r}_${jj}_${rr}`;
  type Pix = { j: number; r: number; jj: number; rr: number };
  const pix: Pix[] = [];
  for (const j of range(py)) {
    for (const r of range(s)) {
      if (out(pos(yb, j, r, g.pt), g.srcH)) continue;
      for (const jj of range(px)) {
        for (const rr of range(s)) {
          if (out(pos(xb, jj, rr, g.pl), g.srcW)) continue;
          pix.push({ j, r, jj, rr });
        }
      }
    }
  }
  for (const k of range(ch)) {
    for (const p of pix) L.push(`  var ${acc(k, p.j, p.r, p.jj, p.rr)} = 0.0;`);
  }
  L.push(`  for (var o = 0u; o < DST_C; o++) {`);
  L.push(`    let db = (b * DST_C + o) * ${g.dstH * g.dstW}u;`);
  L.push(`    let wo = o * ${g.srcC * KK}u;`);
  const wUsed = new Set<string>();
  const loads = new Map<string, string>();
  const mac: string[] = [];
  for (const p of pix) {
    for (let ky = p.r; ky < g.kh; ky += s) {
      const e = p.j - (ky - p.r) / s + my;
      if (ey.ok(e) === false) continue;
      for (let kx = p.rr; kx < g.kw; kx += s) {
        const f = p.jj - (kx - p.rr) / s + mx;
        if (ex.ok(f) === false) continue;
        loads.set(
          `${e}_${f}`,
          guarded(`${dst}[db + ${ey.off(e)} + ${ex.off(f)}]`, both(ey.ok(e), ex.ok(f))),
        );
        for (const k of range(ch)) {
          wUsed.add(`${k}_${ky}_${kx}`);
          mac.push(`    ${acc(k, p.j, p.r, p.jj, p.rr)} += d${e}_${f} * w${k}_${ky}_${kx};`);
        }
      }
    }
  }
  for (const [ef, expr] of [...loads].sort()) L.push(`    let d${ef} = ${expr};`);
  for (const k of range(ch)) {
    for (const ky of range(g.kh)) {
      for (const kx of range(g.kw)) {
        if (wUsed.has(`${k}_${ky}_${kx}`)) {
          L.push(`    let w${k}_${ky}_${kx} = ${w}[wo + cb${k} + ${ky * g.kw + kx}u];`);
        }
      }
    }
  }
  L.push(...mac, `  }`);
  for (const k of range(ch)) {
    const cc = `cg * ${ch}u + ${k}u`;
    for (const p of pix) {
      const y = pos(yb, p.j, p.r, g.pt), x = pos(xb, p.jj, p.rr, g.pl);
      const conds: string[] = [];
      if (g.srcC % ch !== 0) conds.push(`${cc} < SRC_C`);
      if (typeof y === "string") conds.push(`${y} >= 0 && ${y} < SRC_H`);
      if (typeof x === "string") conds.push(`${x} >= 0 && ${x} < SRC_W`);
      const si = `((b * SRC_C + ${cc}) * ${g.srcH}u + u32(${y})) * ${g.srcW}u + u32(${x})`;
      const a = acc(k, p.j, p.r, p.jj, p.rr);
      const v = bias ? `${a} + ${bias}[${cc}]` : a;
      const st = store(io.accumulate, `${src}[${si}]`, v);
      L.push(conds.length ? `  if (${conds.join(" && ")}) { ${st} }` : `  ${st}`);
    }
  }
  return perElement(label, g.b * ncg * nty * ntx, bindings, L.join("\n"), consts(g));
}

/**
 * dw[o, c, ky, kx] = sum over batch and dst pixels of dst[b, o, oy, ox] *
 * src[b, c, oy * s - pt + ky, ox * s - pl + kx]. Thread: (block of co dst
 * channels, block of ci src channels, chunk of `rows` dst rows), all kh x kw taps.
 * Per step of px dst columns it loads co * px dst values and ci * kh src row
 * segments. With several chunks each writes its partial sums to scratch `t.dw_part`
 * and a second kernel adds them (and accumulates into dw if asked).
 */
export function convWeightGrad(
  label: string,
  g: ConvGeom,
  roles: { src: string; dst: string; dw: string },
  accumulate: boolean,
  block: WeightBlock = plan("wgrad", g, () => planWeightGrad(g)),
): { dispatches: Dispatch[]; scratch?: Record<string, number> } {
  const { co, ci, px } = block;
  const [src, dst, dw] = [roles.src, roles.dst, roles.dw].map(ident);
  const totalRows = g.b * g.dstH;
  const rowsPer = Math.min(block.rows, totalRows);
  const chunks = cdiv(totalRows, rowsPer);
  const nw = g.dstC * g.srcC * g.kh * g.kw;
  const part = "t.dw_part";
  const [ncg, nog] = [cdiv(g.srcC, ci), cdiv(g.dstC, co)];
  const segs = cdiv(g.dstW, px);
  const cols = span(px, g.s, g.kw);
  const L: string[] = [];
  L.push(decompose([["cg", ncg], ["og", nog], ["chunk", chunks]]));
  for (const k of range(co)) {
    L.push(
      `  let o${k} = ${
        g.dstC % co === 0 ? `og * ${co}u + ${k}u` : `min(og * ${co}u + ${k}u, DST_C - 1u)`
      };`,
    );
  }
  for (const k of range(ci)) {
    L.push(
      `  let c${k} = ${
        g.srcC % ci === 0 ? `cg * ${ci}u + ${k}u` : `min(cg * ${ci}u + ${k}u, SRC_C - 1u)`
      };`,
    );
  }
  const acc = (k: number, kk: number, ky: number, kx: number) => `a${k}_${kk}_${ky}_${kx}`;
  for (const k of range(co)) {
    for (const kk of range(ci)) {
      for (const ky of range(g.kh)) {
        for (const kx of range(g.kw)) L.push(`  var ${acc(k, kk, ky, kx)} = 0.0;`);
      }
    }
  }
  L.push(`  let n0 = chunk * ${rowsPer}u;`);
  L.push(`  let n1 = min(n0 + ${rowsPer}u, ${totalRows}u);`);
  L.push(`  for (var n = n0; n < n1; n++) {`);
  L.push(`    let b = n / ${g.dstH}u;`);
  L.push(`    let oy = i32(n % ${g.dstH}u);`);
  for (const k of range(co)) {
    L.push(`    let db${k} = ((b * DST_C + o${k}) * ${g.dstH}u + u32(oy)) * ${g.dstW}u;`);
  }
  for (const k of range(ci)) L.push(`    let sb${k} = (b * SRC_C + c${k}) * ${g.srcH * g.srcW}u;`);
  const ry = axisVars(L, "r", { base: `oy * S - PT`, size: g.srcH }, g.kh, g.srcW, "    ");
  const I = segs === 1 ? "" : "  ";
  const xbase: string | number = segs === 1 ? 0 : "ox0";
  if (segs > 1) L.push(`    for (var ox0 = 0; ox0 < DST_W; ox0 += ${px}) {`);
  const seg: string[] = [];
  const rx = axisVars(
    seg,
    "q",
    { base: segs === 1 ? -g.pl : `ox0 * S - PL`, size: g.srcW },
    cols,
    1,
    `${I}    `,
  );
  // the statically out-of-range dst columns (one segment, width not a multiple of px)
  const colOk = (x: number): string | boolean =>
    segs === 1 ? x < g.dstW : g.dstW % px === 0 ? true : `ox0 + ${x} < DST_W`;
  const dcol = (x: number) => typeof xbase === "number" ? `${x}u` : `u32(ox0 + ${x})`;
  for (const k of range(co)) {
    for (const x of range(px)) {
      const ok = colOk(x);
      if (ok === false) continue;
      seg.push(`${I}    let d${k}_${x} = ${guarded(`${dst}[db${k} + ${dcol(x)}]`, ok)};`);
    }
  }
  for (const kk of range(ci)) {
    for (const ky of range(g.kh)) {
      const okR = ry.ok(ky);
      const used = new Set<number>();
      const mac: string[] = [];
      for (const x of range(px)) {
        if (colOk(x) === false) continue;
        for (const kx of range(g.kw)) {
          const q = x * g.s + kx;
          if (rx.ok(q) === false) continue;
          used.add(q);
          for (const k of range(co)) {
            mac.push(`${I}    ${acc(k, kk, ky, kx)} += d${k}_${x} * v${kk}_${ky}_${q};`);
          }
        }
      }
      for (const q of [...used].sort((a, b) => a - b)) {
        const ix = `${src}[sb${kk} + ${ry.off(ky)} + ${rx.off(q)}]`;
        seg.push(`${I}    let v${kk}_${ky}_${q} = ${guarded(ix, both(okR, rx.ok(q)))};`);
      }
      seg.push(...mac);
    }
  }
  L.push(...seg);
  if (segs > 1) L.push(`    }`);
  L.push(`  }`);
  // results
  for (const k of range(co)) {
    for (const kk of range(ci)) {
      const conds: string[] = [];
      if (g.dstC % co !== 0) conds.push(`og * ${co}u + ${k}u < DST_C`);
      if (g.srcC % ci !== 0) conds.push(`cg * ${ci}u + ${kk}u < SRC_C`);
      const st: string[] = [];
      for (const ky of range(g.kh)) {
        for (const kx of range(g.kw)) {
          const wi = `(o${k} * SRC_C + c${kk}) * ${g.kh * g.kw}u + ${ky * g.kw + kx}u`;
          st.push(
            chunks > 1
              ? `${ident(part)}[chunk * ${nw}u + ${wi}] = ${acc(k, kk, ky, kx)};`
              : store(accumulate, `${dw}[${wi}]`, acc(k, kk, ky, kx)),
          );
        }
      }
      L.push(
        conds.length
          ? `  if (${conds.join(" && ")}) {\n    ${st.join("\n    ")}\n  }`
          : `  ${st.join("\n  ")}`,
      );
    }
  }
  const main = perElement(
    label,
    ncg * nog * chunks,
    [{ role: roles.src }, { role: roles.dst }, { role: chunks > 1 ? part : roles.dw, write: true }],
    L.join("\n"),
    consts(g),
  );
  if (chunks === 1) return { dispatches: [main] };
  const sum = perElement(
    `${label}.sum`,
    nw,
    [{ role: part }, { role: roles.dw, write: true }],
    `  var acc = 0.0;
  for (var k = 0u; k < ${chunks}u; k++) {
    acc += ${ident(part)}[k * ${nw}u + i];
  }
  ${store(accumulate, `${dw}[i]`, "acc")}`,
  );
  return { dispatches: [main, sum], scratch: { dw_part: chunks * nw } };
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
