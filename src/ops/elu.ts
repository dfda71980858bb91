import { z } from "../deps.ts";
import { unaryOp } from "./unary.ts";
import { f32 } from "./wgsl.ts";

export const elu = unaryOp({
  name: "elu",
  summary: "Exponential linear unit: x if x > 0, else alpha * (exp(x) - 1).",
  attrs: z.object({
    alpha: z.number().positive().default(1).describe("scale of the negative part"),
  })
    .strict(),
  wgsl: (a) => `select(${f32(a.alpha)} * (exp(x) - 1.0), x, x > 0.0)`,
  wgslGrad: (a) => `select(y + ${f32(a.alpha)}, 1.0, y > 0.0)`,
  f: (a, x) => x > 0 ? x : a.alpha * Math.expm1(x),
  df: (a, x, y) => x > 0 ? 1 : y + a.alpha,
});
