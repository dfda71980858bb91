import { noAttrs, unaryOp } from "./unary.ts";

export const sigmoid = unaryOp({
  name: "sigmoid",
  summary: "Logistic sigmoid: 1 / (1 + exp(-x)).",
  attrs: noAttrs,
  // exp(-|x|) never overflows; pick the form that avoids inf / inf.
  wgsl: () => `select(exp(-abs(x)) / (1.0 + exp(-abs(x))), 1.0 / (1.0 + exp(-abs(x))), x >= 0.0)`,
  wgslGrad: () => `y * (1.0 - y)`,
  f: (_a, x) => x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)),
  df: (_a, _x, y) => y * (1 - y),
});
