import { noAttrs, unaryOp } from "./unary.ts";

export const tanh = unaryOp({
  name: "tanh",
  summary: "Hyperbolic tangent.",
  attrs: noAttrs,
  // Built-in tanh overflows to NaN for large |x| on some drivers; with
  // e = exp(-2|x|) in (0, 1] this form cannot overflow.
  wgsl: () => `sign(x) * (1.0 - exp(-2.0 * abs(x))) / (1.0 + exp(-2.0 * abs(x)))`,
  wgslGrad: () => `1.0 - y * y`,
  f: (_a, x) => Math.tanh(x),
  df: (_a, _x, y) => 1 - y * y,
});
