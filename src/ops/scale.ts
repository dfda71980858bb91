import { z } from "../deps.ts";
import { unaryOp } from "./unary.ts";
import { f32, numel } from "./wgsl.ts";

export const scale = {
  ...unaryOp({
    name: "scale",
    summary: "Multiplies by a constant: factor * x.",
    attrs: z.object({
      factor: z.number().describe("the constant multiplier (required)"),
    }).strict(),
    wgsl: (a) => `${f32(a.factor)} * x`,
    wgslGrad: (a) => f32(a.factor),
    f: (a, x) => a.factor * x,
    df: (a) => a.factor,
  }),
  macs: (_a: unknown, _i: number[][], out: number[]) => numel(out),
};
