// src/tune, beside the pipeline: `deno task tune` measures kernel choices on the
// adapter at hand and writes them as a Target (target.ts, cache.ts) that the commands
// then compile for; merge.ts measures the merge policy.
//
// Measures the cost model's best few register blocks of one conv kernel, and the
// workgroup-memory tiles of ops/conv/tiled.ts, on the device and picks the fastest:
// the model's constants were measured on one software adapter (where barriers are
// slow), and what is fast elsewhere has to be measured, not guessed.
import {
  type Block,
  candidateBlocks,
  type ConvBlock,
  convConsts,
  convGather,
  type ConvGeom,
  type ConvKernel,
  convScatter,
  type ConvTarget,
  convWeightGrad,
  DEFAULT_TARGET,
  gatherWeights,
  TILE_CANDIDATES,
  type TileBlock,
  type WeightBlock,
} from "../ops/conv/mod.ts";
import type { Kernels } from "../ops/types.ts";
import { rng } from "../util/rng.ts";
import { relErr } from "../util/compare.ts";
import { createStorage, readBack, upload } from "../engine/buffers.ts";
import { encode, prepare, type Prepared } from "../engine/launch.ts";
import type { PipelineCache } from "../engine/pipelines.ts";
import { idleMs, net, submitMs } from "../engine/timing.ts";

export interface TuneOptions {
  /** the adapter's cost-model constants, which rank the candidates (default: software's) */
  costs?: ConvTarget;
  /** candidates measured, the model's pick included */
  top?: number;
  /** timed submits per candidate, interleaved across candidates */
  rounds?: number;
  /** about how long one timed submit should run: short kernels are dispatched repeatedly */
  targetMs?: number;
  /** a candidate must beat the model's pick by this fraction: timing noise changes nothing */
  margin?: number;
}

export interface Measured {
  block: ConvBlock;
  /**
   * median time per dispatch over the timed rounds it ran (fewer when dropped as
   * clearly slower; when dropped at its second run, that run);
   * Infinity when its output disagreed
   */
  ms: number;
  /** wall time of the first run: pipeline compile and submit latency included */
  firstMs: number;
  /** dropped after its second run (over 4x the model pick's): `ms` is that run */
  screened: boolean;
  /** relative difference of its output from the model pick's */
  err: number;
}

export interface TuneResult {
  kind: ConvKernel;
  geom: ConvGeom;
  model: ConvBlock;
  /** per dispatch; when another block won, from the fresh runs that confirmed it */
  modelMs: number;
  block: ConvBlock;
  ms: number;
  candidates: Measured[];
  /** candidates whose output differs from the model pick's: kernel generator bugs */
  mismatches: Measured[];
}

/** Any block computes the same sums; only the order of float32 additions may differ. */
const TOLERANCE = 1e-3;

/** The kernel's dispatches with role names the tuner binds ("out" is the result). */
function generate(kind: ConvKernel, g: ConvGeom, b: ConvBlock): Kernels {
  if (kind === "gather") {
    // as the plans run it: with its weights packed first where the block packs
    const block = b as Block | TileBlock;
    const w = gatherWeights("tune", g, block, "w");
    const io = { from: "src", to: "out", ...w.io, accumulate: false };
    return {
      dispatches: [...w.dispatches, convGather("tune.gather", g, io, block)],
      scratch: w.scratch,
      consts: convConsts(g),
    };
  }
  if (kind === "scatter") {
    const io = { from: "dst", to: "out", weight: "w", accumulate: false };
    return {
      dispatches: [convScatter("tune.scatter", g, io, b as Block | TileBlock)],
      consts: convConsts(g),
    };
  }
  const roles = { src: "src", dst: "dst", dw: "out" };
  return convWeightGrad("tune.wgrad", g, roles, false, b as WeightBlock | TileBlock);
}

const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Wall time of `n` back-to-back runs in one submit, the wait's latency included. */
function timed(device: GPUDevice, steps: Prepared[], n: number): Promise<number> {
  return submitMs(device, (pass) => {
    for (let i = 0; i < n; i++) encode(pass, steps);
  });
}

/**
 * Runs the model's `top` best blocks of a kernel on random data, checks they all
 * agree with the model's pick, and returns the fastest (the model's pick unless
 * another beats it by `margin`).
 */
export async function tuneKernel(
  device: GPUDevice,
  kind: ConvKernel,
  g: ConvGeom,
  opts: TuneOptions = {},
): Promise<TuneResult> {
  const { top = 4, rounds = 5, targetMs = 40, margin = 0.03, costs = DEFAULT_TARGET } = opts;
  // The tiles fit WebGPU's default limits, which every adapter offers.
  const blocks: ConvBlock[] = [
    ...candidateBlocks(kind, g, Math.max(1, top), costs),
    ...TILE_CANDIDATES,
  ];
  const kernels = blocks.map((b) => generate(kind, g, b));
  // each candidate is its own kernel: nothing to share with the plans' pipelines
  const pipelines: PipelineCache = new Map();
  const sizes: Record<string, number> = {
    src: g.b * g.srcC * g.srcH * g.srcW,
    dst: g.b * g.dstC * g.dstH * g.dstW,
    w: g.dstC * g.srcC * g.kh * g.kw,
  };
  const outSize = kind === "gather" ? sizes.dst : kind === "scatter" ? sizes.src : sizes.w;
  const next = rng(0x7e57);
  const owned: GPUBuffer[] = [];
  const buffer = (n: number, label: string, random: boolean) => {
    const b = createStorage(device, n, label);
    owned.push(b);
    if (random) upload(device, b, Float32Array.from({ length: n }, () => 2 * next() - 1));
    return b;
  };
  try {
    const inputs = new Map(Object.entries(sizes).map(([r, n]) => [r, buffer(n, r, true)]));
    // Scratch is only written and read within one run: one buffer serves every candidate.
    for (const name of ["dw_part", "wpack"]) {
      const n = Math.max(0, ...kernels.map((k) => k.scratch?.[name] ?? 0));
      if (n) inputs.set(`t.${name}`, buffer(n, `t.${name}`, false));
    }
    const outs = kernels.map((_, i) => buffer(outSize, `out${i}`, false));
    // A candidate's constant tensors (sizes its kernels read): its own buffers.
    const consts = kernels.map((k) =>
      new Map(
        Object.entries(k.consts ?? {}).map(([c, v]) => {
          const b = buffer(v.length, `c.${c}`, false);
          upload(device, b, Float32Array.from(v));
          return [`c.${c}`, b];
        }),
      )
    );
    const steps = await Promise.all(
      kernels.map((k, i) =>
        prepare(device, k.dispatches, (role) => {
          const b = role === "out" ? outs[i] : consts[i].get(role) ?? inputs.get(role);
          if (!b) throw new Error(`tuner: kernel binds unknown role ${role}`);
          return b;
        }, pipelines)
      ),
    );
    // First runs compile (llvmpipe compiles at the first dispatch), then check outputs.
    const firstMs: number[] = [];
    for (const s of steps) firstMs.push(await timed(device, s, 1));
    const got = await readBack(device, outs.map((b) => ({ buffer: b, elements: outSize })));
    const err = got.map((o) => relErr(o, got[0]));
    const live = blocks.map((_, i) => i).filter((i) => err[i] < TOLERANCE);
    // Runs per submit so that the work, not the submit's latency, dominates.
    const latency = await idleMs(device);
    const per = Math.max(net(await timed(device, steps[0], 8), latency, 8), 1e-3);
    const n = Math.max(2, Math.min(256, Math.ceil(targetMs / per)));
    const times: number[][] = blocks.map(() => []);
    // A second run (compiled now: the first may have compiled, or found the pipeline in
    // a disk cache) over 4x the model pick's is a clear loser: on a software adapter, a
    // workgroup-memory tile can be 10x slower, and timing it for several rounds would
    // cost more than the whole rest of the tuning.
    const second: number[] = [];
    for (const i of live) second[i] = net(await timed(device, steps[i], 1), latency, 1);
    for (const i of live) if (i && second[i] > 4 * second[0] + 5) times[i].push(second[i]);
    const screened = live.filter((i) => times[i].length);
    let running = live.filter((i) => !times[i].length);
    for (let r = 0; r < rounds; r++) {
      const idle = await idleMs(device);
      // Interleaved, so that load from other processes hits every candidate alike.
      for (const i of running) times[i].push(net(await timed(device, steps[i], n), idle, n));
      if (r < 2) {
        // Clearly slower after one round, or two: not worth more device time.
        const fastest = Math.min(...running.map((i) => median(times[i])));
        running = running.filter((i) => i === 0 || median(times[i]) < (r ? 1.5 : 2) * fastest);
      }
    }
    const ms = blocks.map((_, i) => (times[i].length ? median(times[i]) : Infinity));
    let pick = 0;
    for (const i of running) if (ms[i] < ms[pick]) pick = i;
    let [modelMs, pickMs] = [ms[0], ms[pick]];
    if (pick !== 0) {
      // The fastest of several noisy medians flatters itself: fresh runs of the winner
      // against the model's pick decide, and give the times reported.
      const fresh: [number[], number[]] = [[], []];
      for (let r = 0; r < rounds; r++) {
        const idle = await idleMs(device);
        fresh[0].push(net(await timed(device, steps[0], n), idle, n));
        fresh[1].push(net(await timed(device, steps[pick], n), idle, n));
      }
      [modelMs, pickMs] = fresh.map(median);
      if (pickMs > modelMs * (1 - margin)) [pick, pickMs] = [0, modelMs];
    }
    const candidates = blocks.map((block, i) => ({
      block,
      ms: ms[i],
      firstMs: firstMs[i],
      screened: screened.includes(i),
      err: err[i],
    }));
    return {
      kind,
      geom: g,
      model: blocks[0],
      modelMs,
      block: blocks[pick],
      ms: pickMs,
      candidates,
      mismatches: candidates.filter((c) => !(c.err < TOLERANCE)),
    };
  } finally {
    for (const b of owned) b.destroy();
  }
}

/** `{ch:4,nb:2,py:2,px:8}` -> "ch4 nb2 py2 px8": for progress lines. */
export function formatBlock(b: ConvBlock): string {
  return Object.entries(b).map(([k, v]) => `${k}${v}`).join(" ");
}

/** "b16 3x64x64 -> 32x32x32 k3x3 s2", in the kernel's direction: for progress lines. */
export function describeGeom(kind: ConvKernel, g: ConvGeom): string {
  const src = `${g.srcC}x${g.srcH}x${g.srcW}`, dst = `${g.dstC}x${g.dstH}x${g.dstW}`;
  const arrow = kind === "scatter" ? `${dst} -> ${src}` : `${src} -> ${dst}`;
  return `b${g.b} ${arrow} k${g.kh}x${g.kw} s${g.s}`;
}
