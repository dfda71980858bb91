import { z } from "../deps.ts";
import { unaryOp } from "./unary.ts";
import { f32 } from "./wgsl.ts";

export const leakyRelu = unaryOp({
  name: "leaky_relu",
  summary: "Leaky rectified linear unit: x if x > 0, else slope * x.",
  attrs: z.object({
    slope: z.number().min(0).default(0.2).describe(
      "gradient of the negative part (>= 0, so the sign of the output tells the side)",
    ),
  }).strict(),
  wgsl: (a) => `select(${f32(a.slope)} * x, x, x > 0.0)`,
  wgslGrad: (a) => `select(${f32(a.slope)}, 1.0, y > 0.0)`,
  f: (a, x) => x > 0 ? x : a.slope * x,
  df: (a, x) => x > 0 ? 1 : a.slope,
});
