import { distanceLoss } from "./loss_common.ts";

export const l1Loss = distanceLoss({
  name: "l1_loss",
  summary: "Mean absolute difference of two inputs of identical shape; output [] (a scalar).",
  wgsl: "abs(d)",
  // sign(0) = 0: the subgradient PyTorch uses too.
  wgslGrad: "sign(d)",
  f: (d) => Math.abs(d),
  df: (d) => Math.sign(d),
});
