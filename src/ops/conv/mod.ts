// The convolution family of src/ops: conv2d and conv_transpose2d, the adjoint pair
// that src/plan lowers to kernels. Both are phrased as one ordinary convolution
// from a "src" to a "dst" tensor (geometry.ts), checked against float64 loops
// (reference.ts), and run by three kernels: gather (dst = conv(src)), scatter (src
// = conv^T(dst)) and the weight gradient, each either register-blocked (kernels.ts,
// best on a software adapter) or a workgroup-memory tile (tiled.ts, implicit GEMM
// for GPUs); store.ts is how either writes its output, bias and folded batch norm
// included. The planner (cost_model.ts) prices every register block within the
// target's limits and picks the cheapest; tiles run only when chosen from outside
// (the autotuner, src/tune, measures them; its picks come back as the Target's
// blocks through KernelCtx.target). This file is the family's surface for the rest
// of the program.
export {
  biasAttr,
  type ConvGeom,
  inChannelsAttr,
  inputCHW,
  kernelAttr,
  kernelHW,
  outAttr,
  strideAttr,
} from "./geometry.ts";
export {
  refAddBias,
  refBiasGrad,
  refConv,
  refConvAdjoint,
  refConvWeightGrad,
} from "./reference.ts";
export type { Block, WeightBlock } from "./blocks.ts";
export {
  candidateBlocks,
  chooseBlock,
  type ConvBlock,
  type ConvChoices,
  type ConvKernel,
  type ConvTarget,
  DEFAULT_TARGET,
  gatherCost,
  geomKey,
  GPU_TARGET,
  planGather,
  planScatter,
  planWeightGrad,
  scatterCost,
  weightGradCost,
} from "./cost_model.ts";
export {
  biasGrad,
  CONV_GENERATOR_VERSION,
  convConsts,
  convGather,
  convPackWeights,
  convScatter,
  convWeightGrad,
  gatherWeights,
} from "./kernels.ts";
export {
  isTile,
  TILE_CANDIDATES,
  type TileBlock,
  tiledGather,
  tiledScatter,
  tiledWeightGrad,
  tileProblem,
} from "./tiled.ts";
export type { KernelIO, NormIO } from "./store.ts";
export { type ConvOpSpec, defineConvOp } from "./pair.ts";
