// Block choices shared by the conv2d and conv_transpose2d kernel tests.
import type { Block, TileBlock, WeightBlock } from "../../src/ops/conv/mod.ts";
import type { Target } from "../../src/plan/target.ts";
import { testTarget } from "../gpu.ts";

/** Block choices that together exercise every code path of the three kernels. */
export const VARIANTS: {
  gather: Block | TileBlock;
  scatter: Block | TileBlock;
  wgrad: WeightBlock | TileBlock;
}[] = [
  // one output per thread, one row per weight-gradient chunk (many partial sums)
  {
    gather: { ch: 1, py: 1, px: 1 },
    scatter: { ch: 1, py: 1, px: 1 },
    wgrad: { co: 1, ci: 1, px: 1, rows: 1 },
  },
  // blocks dividing nothing: channel, row and column tails, chunks with a tail; vec4
  // loads where a test's rows are whole vec4s (px 4), vec2 loads where whole vec2s
  {
    gather: { ch: 4, nb: 1, py: 2, px: 4 },
    scatter: { ch: 4, nb: 1, py: 2, px: 4 },
    wgrad: { co: 4, ci: 2, px: 4, rows: 3 },
  },
  {
    gather: { ch: 3, nb: 2, py: 3, px: 5 },
    scatter: { ch: 3, nb: 2, py: 3, px: 3 },
    wgrad: { co: 3, ci: 3, px: 5, rows: 2 },
  },
  // larger than the tensors: one tile, bounds known when the kernel is generated, no chunks;
  // batch blocks with a tail
  {
    gather: { ch: 2, nb: 3, py: 16, px: 16 },
    scatter: { ch: 2, nb: 3, py: 16, px: 16 },
    wgrad: { co: 2, ci: 3, px: 16, rows: 1000 },
  },
  // workgroup-memory tiles (ops/conv/tiled.ts): tails in every GEMM dimension, then the
  // biggest tile the autotuner tries (larger than the tensors)
  {
    gather: { tm: 8, tn: 16, tk: 4, rm: 2, rn: 4 },
    scatter: { tm: 4, tn: 8, tk: 4, rm: 2, rn: 2 },
    wgrad: { tm: 4, tn: 8, tk: 8, rm: 1, rn: 2 },
  },
  {
    gather: { tm: 64, tn: 64, tk: 8, rm: 4, rn: 4 },
    scatter: { tm: 64, tn: 64, tk: 8, rm: 4, rn: 4 },
    wgrad: { tm: 64, tn: 64, tk: 8, rm: 4, rn: 4 },
  },
];

/** Runs `fn` with a target that forces every kernel's block (for each geometry). */
export async function withBlocks(
  v: (typeof VARIANTS)[number],
  fn: (target: Target) => Promise<void>,
) {
  await fn({ ...testTarget(), blocks: { ...v } });
}
