// [B, ...] -> [B, prod(...)]: a copy, as the layout is already row-major.
import { z } from "../deps.ts";
import { defineOp } from "./types.ts";
import { numel } from "./wgsl.ts";
import { copyBackward, copyForward, copyRef, perSample } from "./reshape.ts";

const attrs = z.object({}).strict();

export const flatten = defineOp<z.infer<typeof attrs>>({
  name: "flatten",
  summary: "Flattens each sample: [B, ...] -> [B, product of the rest].",
  attrs,
  arity: [1, 1],
  shape: (_a, [x]) => [x[0], perSample(x)],
  forwardRef: (_a, [x]) => ({ y: copyRef(x, [x.shape[0], numel(x.shape.slice(1))]) }),
  backwardRef: (_a, [x], _p, _y, dy) => ({ dx: [copyRef(dy, x.shape)], dp: {} }),
  forward: (_a, ctx) => copyForward("flatten", numel(ctx.output)),
  backward: (_a, ctx) =>
    copyBackward("flatten", numel(ctx.output), ctx.needDx[0], ctx.accumulate.has("dx0")),
});
