// The cost model and planner: what a register block costs on a target (loads,
// multiply-adds, loop iterations, dispatches and compile time, spread over the
// device's parallelism), and the cheapest block within the target's limits for
// each kernel. What it aims for comes from the KernelCtx's target (src/plan's
// Target): cost constants and blocks chosen outside the model, never module state.
import { cdiv, type ConvGeom } from "./geometry.ts";
import {
  type Block,
  gatherAxis,
  type Lanes,
  rowLanes,
  scatterAxis,
  vec4Weights,
  vecReads,
  weightAxis,
  type WeightBlock,
} from "./blocks.ts";
import type { TileBlock } from "./tiled.ts";
import { WG } from "../wgsl.ts";

/** What the planner aims for; a function of the adapter (the Target's `conv`). */
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
  /** cost of one vec4 load, in loads of one float */
  vec4: number;
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
  vec4: 2,
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
  vec4: 1,
  iteration: 1,
  dispatch: 30000,
  compile: 0,
  runs: 1000,
};

export type ConvKernel = "gather" | "scatter" | "wgrad";

/** Any kernel variant: a register block, or a workgroup-memory tile (tiled.ts). */
export type ConvBlock = Block | WeightBlock | TileBlock;

/**
 * What the conv kernels take from the target a plan is compiled for (src/plan's
 * Target satisfies it): the cost model's constants, and blocks chosen outside the
 * model, by geometry key (geomKey: measured by `deno task tune`) or by kernel kind
 * ("gather", "scatter", "wgrad": every geometry, as tests force variants).
 */
export interface ConvChoices {
  conv: ConvTarget;
  blocks: Record<string, ConvBlock>;
  /** told of every choice (the tuner lists the kernels a plan has); not part of a saved Target */
  onChoose?: (kind: ConvKernel, g: ConvGeom) => void;
}

/** The key of a kernel's geometry in ConvChoices.blocks (and in the tune cache). */
export function geomKey(kind: ConvKernel, g: ConvGeom): string {
  return `${kind} b${g.b} ${g.srcC}x${g.srcH}x${g.srcW} -> ${g.dstC}x${g.dstH}x${g.dstW}` +
    ` k${g.kh}x${g.kw} s${g.s} p${g.pt},${g.pl}`;
}

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

/** Per-thread figures of a block, for the cost model and the limits. */
interface BlockShape {
  threads: number;
  /** per step of the reduction loop */
  loads: number;
  macs: number;
  acc: number;
  steps: number;
}

/** An axis of a geometry by block extent, each computed once while planning it. */
type Axes<A> = { y(p: number): A; x(p: number): A };

function memo<A>(f: (p: number) => A): (p: number) => A {
  const m = new Map<number, A>();
  return (p) => {
    let a = m.get(p);
    if (a === undefined) m.set(p, a = f(p));
    return a;
  };
}

const gatherAxes = (g: ConvGeom): Axes<ReturnType<typeof gatherAxis>> => ({
  y: memo((p) => gatherAxis(g.dstH, p, g.s, g.kh, g.pt, g.srcH)),
  x: memo((p) => gatherAxis(g.dstW, p, g.s, g.kw, g.pl, g.srcW)),
});

const scatterAxes = (g: ConvGeom): Axes<ReturnType<typeof scatterAxis>> => ({
  y: memo((p) => scatterAxis(g.srcH, p, g.s, g.kh, g.pt, g.dstH)),
  x: memo((p) => scatterAxis(g.srcW, p, g.s, g.kw, g.pl, g.dstW)),
});

/**
 * Cost of one load of `v` lanes in loads of one float: t.vec4 for a vec4, and a vec2
 * a third of the way from one float to that (measured on llvmpipe: 1.3 against 2).
 */
const vecLoad = (t: ConvTarget, v: Lanes) => 1 + (t.vec4 - 1) * (v - 1) / 3;

/** Cost of the loads of one row segment of a thread (see kernels.ts's columns). */
function rowLoads(t: ConvTarget, v: Lanes, reads: number[], pad: number): number {
  return v === 1 ? reads.length : vecLoad(t, v) * vecReads(reads, pad, v).js.length;
}

function gatherShape(g: ConvGeom, b: Block, t: ConvTarget, ax = gatherAxes(g)): BlockShape {
  const nb = b.nb ?? 1;
  const [y, x] = [ax.y(b.py), ax.x(b.px)];
  const row = rowLoads(t, rowLanes(b.px, g.srcW), x.reads, g.pl);
  return {
    threads: cdiv(g.b, nb) * cdiv(g.dstC, b.ch) * y.tiles * x.tiles,
    loads: b.ch * g.kh * g.kw + nb * y.reads.length * row,
    macs: b.ch * nb * y.pairs.length * x.pairs.length,
    acc: b.ch * nb * y.outs.length * x.outs.length,
    steps: g.srcC,
  };
}

function scatterShape(g: ConvGeom, b: Block, t: ConvTarget, ax = scatterAxes(g)): BlockShape {
  const nb = b.nb ?? 1;
  const [y, x] = [ax.y(b.py), ax.x(b.px)];
  const row = rowLoads(t, rowLanes(b.px, g.dstW), x.reads, x.mMax - x.origin);
  const weights = b.ch * g.kh * g.kw;
  return {
    threads: cdiv(g.b, nb) * cdiv(g.srcC, b.ch) * y.tiles * x.tiles,
    loads: (vec4Weights(b.ch, g.srcC) ? t.vec4 * weights / 4 : weights) +
      nb * y.reads.length * row,
    macs: b.ch * nb * y.pairs.length * x.pairs.length,
    acc: b.ch * nb * y.pixels.length * x.pixels.length,
    steps: g.dstC,
  };
}

function weightShape(g: ConvGeom, b: WeightBlock, t: ConvTarget): BlockShape {
  const rows = g.b * g.dstH;
  const x = weightAxis(g, b.px);
  const vec = rowLanes(b.px, g.srcW, g.dstW);
  const dst = vecLoad(t, vec) * cdiv(x.outs.length, vec);
  const loads = b.co * dst + b.ci * g.kh * rowLoads(t, vec, x.reads, g.pl);
  return {
    threads: cdiv(g.dstC, b.co) * cdiv(g.srcC, b.ci) * cdiv(rows, b.rows),
    loads,
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

export function gatherCost(g: ConvGeom, b: Block, t: ConvTarget, ax = gatherAxes(g)): number {
  return cost(t, gatherShape(g, b, t, ax));
}

export function scatterCost(g: ConvGeom, b: Block, t: ConvTarget, ax = scatterAxes(g)): number {
  return cost(t, scatterShape(g, b, t, ax));
}

export function weightGradCost(g: ConvGeom, b: WeightBlock, t: ConvTarget): number {
  const s = weightShape(g, b, t);
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

const gatherCandidates = (g: ConvGeom, t: ConvTarget, ax = gatherAxes(g)) =>
  blockCandidates(g, t, g.dstC, g.dstH, g.dstW, (b) => gatherShape(g, b, t, ax));

const scatterCandidates = (g: ConvGeom, t: ConvTarget, ax = scatterAxes(g)) =>
  blockCandidates(
    g,
    t,
    g.srcC,
    cdiv(g.srcH, g.s),
    cdiv(g.srcW, g.s),
    (b) => scatterShape(g, b, t, ax),
  );

const ONE: Block = { ch: 1, nb: 1, py: 1, px: 1 };

export function planGather(g: ConvGeom, t: ConvTarget): Block {
  const ax = gatherAxes(g);
  const c = gatherCandidates(g, t, ax);
  return c.length ? best(c, (b) => gatherCost(g, b, t, ax)) : ONE;
}

export function planScatter(g: ConvGeom, t: ConvTarget): Block {
  const ax = scatterAxes(g);
  const c = scatterCandidates(g, t, ax);
  return c.length ? best(c, (b) => scatterCost(g, b, t, ax)) : ONE;
}

/** Most floats of partial sums the weight gradient may keep in scratch, and most chunks. */
const MAX_PARTIAL = 1 << 22;
const MAX_CHUNKS = 1024;

function weightCandidates(g: ConvGeom, t: ConvTarget): WeightBlock[] {
  const cands: WeightBlock[] = [];
  const rows = g.b * g.dstH;
  const nw = g.dstC * g.srcC * g.kh * g.kw;
  const rowChoices = new Set<number>([rows]);
  for (let c = 2; c <= MAX_CHUNKS && c <= rows && c * nw <= MAX_PARTIAL; c *= 2) {
    rowChoices.add(cdiv(rows, c));
  }
  for (const co of sizes(g.dstC, 8)) {
    for (const ci of sizes(g.srcC, 8)) {
      for (const px of sizes(g.dstW, 16)) {
        const s = weightShape(g, { co, ci, px, rows }, t);
        // Half as many accumulators again as the other kernels: no loaded value stays
        // live across taps here, and 8 x 2 x 3 x 3 measured best for 3 x 3 kernels.
        if (s.acc > Math.max(t.maxAcc * 1.5, g.kh * g.kw) || s.macs > t.maxBody) continue;
        for (const r of rowChoices) cands.push({ co, ci, px, rows: r });
      }
    }
  }
  return cands;
}

export function planWeightGrad(g: ConvGeom, t: ConvTarget): WeightBlock {
  const c = weightCandidates(g, t);
  if (!c.length) return { co: 1, ci: 1, px: 1, rows: g.b * g.dstH };
  return best(c, (b) => weightGradCost(g, b, t));
}

/**
 * The cost model's `k` best blocks for a kernel, cheapest first: the first is the
 * model's own pick (what chooseBlock returns untuned: see PLAN_BATCH). An
 * autotuner measures these instead of guessing among them.
 */
export function candidateBlocks(
  kind: ConvKernel,
  geom: ConvGeom,
  k: number,
  t: ConvTarget,
): (Block | WeightBlock)[] {
  const g = planned(kind, geom, t);
  const ranked = <B>(c: B[], f: (b: B) => number, none: B): B[] => {
    if (!c.length) return [none];
    // Stable sort: among equal costs the first enumerated wins, as in best().
    return c.map((b) => [b, f(b)] as const).sort((x, y) => x[1] - y[1]).slice(0, k)
      .map(([b]) => b);
  };
  // The pick first, then the model's others (the pick may be a shared block).
  const first = (pick: Block, c: Block[]) => [pick, ...c.filter((b) => !sameBlock(b, pick))];
  if (kind === "gather") {
    const ax = gatherAxes(g);
    const c = ranked(gatherCandidates(g, t, ax), (b) => gatherCost(g, b, t, ax), ONE);
    return first(planShared("gather", g, t), c).slice(0, Math.max(1, k));
  }
  if (kind === "scatter") {
    const ax = scatterAxes(g);
    const c = ranked(scatterCandidates(g, t, ax), (b) => scatterCost(g, b, t, ax), ONE);
    return first(planShared("scatter", g, t), c).slice(0, Math.max(1, k));
  }
  return ranked(weightCandidates(g, t), (b) => weightGradCost(g, b, t), planWeightGrad(g, t));
}

const sameBlock = (a: object, b: object) => JSON.stringify(a) === JSON.stringify(b);

/**
 * Gather and scatter read their channel counts at run time (kernels.ts), so layers of
 * one spatial geometry that differ only in channels share a pipeline where they share a
 * block. A layer takes the block planned for PLAN_CHANNELS channels in and out where
 * the model prices it within SHARE_COST of the layer's own pick: on the small training
 * plan that gave 4 pairs of layers one pipeline each (each pipeline costs a compile,
 * 0.2-1 s for these kernels on llvmpipe) at a predicted 3-4% on those layers.
 */
export const PLAN_CHANNELS = 32;
const SHARE_COST = 1.04;

function planShared(kind: "gather" | "scatter", g: ConvGeom, t: ConvTarget): Block {
  const [plan, cost] = kind === "gather" ? [planGather, gatherCost] : [planScatter, scatterCost];
  const own = plan(g, t);
  const common = plan({ ...g, srcC: PLAN_CHANNELS, dstC: PLAN_CHANNELS }, t);
  return cost(g, common, t) <= SHARE_COST * cost(g, own, t) ? common : own;
}

const PLANNERS = {
  gather: (g: ConvGeom, t: ConvTarget) => planShared("gather", g, t),
  scatter: (g: ConvGeom, t: ConvTarget) => planShared("scatter", g, t),
  wgrad: planWeightGrad,
} as const;

/**
 * Conv blocks are planned for at most this many batch items. The kernels' code
 * does not depend on the batch (kernels.ts; the weight gradient's where its row
 * chunk divides the rows), so an encoder at B and the discriminator at 2B can
 * share one pipeline if they share a block; past a batch that fills the device,
 * the batch scales every block's run time alike and only tips the balance
 * against the compile term. On llvmpipe this saved 15 of the small training
 * plan's 204 pipelines at no measurable cost per step (gather and scatter).
 */
export const PLAN_BATCH = 16;

/**
 * The geometry a kernel's block is planned for (see PLAN_BATCH): the real one for a
 * weight gradient whose row chunks, planned for fewer items, would be too many at
 * the real batch (its partial sums and dispatch grow with the batch).
 */
function planned(kind: ConvKernel, g: ConvGeom, t: ConvTarget): ConvGeom {
  const p = { ...g, b: Math.min(g.b, PLAN_BATCH) };
  if (kind !== "wgrad" || p.b === g.b) return p;
  const chunks = cdiv(g.b * g.dstH, planWeightGrad(p, t).rows);
  return chunks <= MAX_CHUNKS && chunks * g.dstC * g.srcC * g.kh * g.kw <= MAX_PARTIAL ? p : g;
}

/**
 * The block a kernel runs with: the one `target` names for its kind or geometry,
 * else the cost model's pick for the target's constants (the software adapter's
 * without a target).
 */
export function chooseBlock<K extends ConvKernel>(
  kind: K,
  g: ConvGeom,
  target?: ConvChoices,
): K extends "wgrad" ? WeightBlock | TileBlock : Block | TileBlock {
  target?.onChoose?.(kind, g);
  // A block forced for a kind wins over one measured for the geometry (tests force).
  const chosen = target?.blocks[kind] ?? target?.blocks[geomKey(kind, g)];
  type R = K extends "wgrad" ? WeightBlock | TileBlock : Block | TileBlock;
  if (chosen) return chosen as R;
  const t = target?.conv ?? DEFAULT_TARGET;
  return PLANNERS[kind](planned(kind, g, t), t) as R;
}
