// Factory for elementwise activations: each is a forward expression and a
// derivative written in terms of x and y, in WGSL and in float64.
import { z } from "../deps.ts";
import { defineOp, type OpDef, type T64 } from "./types.ts";
import { numel, perElement, store } from "./wgsl.ts";

export interface UnarySpec<A> {
  name: string;
  summary: string;
  attrs: z.ZodType<A>;
  /** WGSL expression of `x` */
  wgsl: (a: A) => string;
  /**
   * WGSL expression of dy/dx in terms of the output `y` only: the backward pass then
   * keeps no copy of the input alive (memory planning frees it after the forward).
   */
  wgslGrad: (a: A) => string;
  f: (a: A, x: number) => number;
  df: (a: A, x: number, y: number) => number;
}

export function unaryOp<A>(s: UnarySpec<A>): OpDef<A> {
  const map = (t: T64, fn: (v: number, i: number) => number): T64 => ({
    shape: t.shape,
    data: t.data.map(fn),
  });
  return defineOp<A>({
    name: s.name,
    summary: s.summary,
    attrs: s.attrs,
    arity: [1, 1],
    shape: (_a, [x]) => x,
    pointwise: (a) => ({ expr: s.wgsl(a), grad: s.wgslGrad(a) }),
    macs: (_a, _i, out) => numel(out),
    forwardRef: (a, [x]) => ({ y: map(x, (v) => s.f(a, v)) }),
    backwardRef: (a, [x], _p, y, dy) => ({
      dx: [map(dy, (g, i) => g * s.df(a, x.data[i], y.data[i]))],
      dp: {},
    }),
    forward: (a, ctx) => ({
      dispatches: [perElement(
        `${s.name}`,
        numel(ctx.output),
        [{ role: "x0" }, { role: "y", write: true }],
        `  let x = x0[i];\n  y[i] = ${s.wgsl(a)};`,
      )],
    }),
    backward: (a, ctx) => ({
      dispatches: [perElement(
        `${s.name}.grad`,
        numel(ctx.output),
        [{ role: "y" }, { role: "dy" }, { role: "dx0", write: true }],
        `  let y = y[i];\n  ${
          store(ctx.accumulate.has("dx0"), "dx0[i]", `dy[i] * (${s.wgslGrad(a)})`)
        }`,
      )],
    }),
  });
}

export const noAttrs = z.object({}).strict();
