import { distanceLoss } from "./loss_common.ts";

export const l2Loss = distanceLoss({
  name: "l2_loss",
  summary: "Mean squared difference of two inputs of identical shape; output [] (a scalar).",
  wgsl: "d * d",
  wgslGrad: "2.0 * d",
  f: (d) => d * d,
  df: (d) => 2 * d,
});
