import { noAttrs, unaryOp } from "./unary.ts";

export const relu = unaryOp({
  name: "relu",
  summary: "Rectified linear unit: max(x, 0).",
  attrs: noAttrs,
  wgsl: () => `max(x, 0.0)`,
  wgslGrad: () => `select(0.0, 1.0, y > 0.0)`,
  f: (_a, x) => Math.max(x, 0),
  df: (_a, x) => x > 0 ? 1 : 0,
});
