// Binary cross entropy on logits, mean over all elements.
import { z } from "../deps.ts";
import { type Binding, defineOp, ShapeError, type T64 } from "./types.ts";
import { f32, numel, perElement, store } from "./wgsl.ts";
import { sameShape, sumTerms } from "./loss_common.ts";

const attrs = z.object({
  target: z.number().min(0).max(1).optional().describe(
    "constant target for every element, used when there is no targets input",
  ),
}).strict();

type Attrs = z.infer<typeof attrs>;

const sigmoid = (x: number) => x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));

/** Target of element i: the second input, or the constant attribute. */
const targetRef = (a: Attrs, xs: T64[]) => (i: number) => xs.length > 1 ? xs[1].data[i] : a.target!;

/** WGSL expression of the target of element i. */
const targetWgsl = (a: Attrs, inputs: number[][]) => inputs.length > 1 ? "x1[i]" : f32(a.target!);

export const bceWithLogits = defineOp<Attrs>({
  name: "bce_with_logits",
  summary: "Binary cross entropy of sigmoid(logits) against targets in [0, 1] (a second input " +
    "of the same shape, or the constant `target`); mean over all elements, output [] (a " +
    "scalar). Only the logits get a gradient.",
  attrs,
  arity: [1, 2],
  differentiable: (i) => i === 0,
  shape(a, inputs) {
    const [x, t] = inputs;
    if (t) {
      if (a.target !== undefined) {
        throw new ShapeError(
          "takes either a targets input or the `target` attribute, not both",
          "target",
        );
      }
      if (!sameShape(x, t)) {
        throw new ShapeError(
          `needs targets of the logits' shape: logits are [${x.join(", ")}] but targets are [${
            t.join(", ")
          }]`,
        );
      }
    } else if (a.target === undefined) {
      throw new ShapeError("needs a targets input or the `target` attribute", "target");
    }
    return [];
  },
  macs: (_a, [x]) => 4 * numel(x),
  forwardRef(a, xs) {
    const x = xs[0].data, t = targetRef(a, xs);
    let sum = 0;
    for (let i = 0; i < x.length; i++) {
      sum += Math.max(x[i], 0) - x[i] * t(i) + Math.log1p(Math.exp(-Math.abs(x[i])));
    }
    return { y: { shape: [], data: Float64Array.of(sum / x.length) } };
  },
  backwardRef(a, xs, _p, _y, dy) {
    const x = xs[0], t = targetRef(a, xs);
    const g = dy.data[0] / x.data.length;
    const dx: T64 = { shape: x.shape, data: x.data.map((v, i) => g * (sigmoid(v) - t(i))) };
    return { dx: [dx, ...(xs.length > 1 ? [undefined] : [])], dp: {} };
  },
  forward(a, ctx) {
    const n = numel(ctx.inputs[0]);
    const bindings: Binding[] = ctx.inputs.map((_, k) => ({ role: `x${k}` }));
    // max(x, 0) - x t + log(1 + exp(-|x|)): exp never overflows.
    return sumTerms(
      "bce_with_logits",
      n,
      1 / n,
      bindings,
      `fn term(i: u32) -> f32 {
  let x = x0[i];
  return max(x, 0.0) - x * ${targetWgsl(a, ctx.inputs)} + log(1.0 + exp(-abs(x)));
}`,
      ctx.fuse !== false,
    );
  },
  backward(a, ctx) {
    if (!ctx.needDx[0]) return { dispatches: [] };
    const n = numel(ctx.inputs[0]);
    const bindings: Binding[] = [
      ...ctx.inputs.map((_, k) => ({ role: `x${k}` })),
      { role: "dy" },
      { role: "dx0", write: true },
    ];
    return {
      dispatches: [perElement(
        "bce_with_logits.grad",
        n,
        bindings,
        `  let x = x0[i];
  let e = exp(-abs(x));
  let s = select(e / (1.0 + e), 1.0 / (1.0 + e), x >= 0.0);
  ${
          store(
            ctx.accumulate.has("dx0"),
            "dx0[i]",
            `dy[0] * ${f32(1 / n)} * (s - ${targetWgsl(a, ctx.inputs)})`,
          )
        }`,
      )],
    };
  },
});
