// Fraction of rows classified correctly: a metric for logs and for DR-GAN's
// "D is strong" schedule. Not differentiable.
import { z } from "../deps.ts";
import { defineOp, ShapeError, type T64 } from "./types.ts";
import { sumTerms } from "./loss_common.ts";

const attrs = z.object({
  target: z.number().min(0).max(1).optional().describe(
    "for one logit per row: the constant true class (1 if logit > 0 is right); " +
      "otherwise a labels input gives each row's class",
  ),
}).strict();

type Attrs = z.infer<typeof attrs>;

function correct(a: Attrs, x: T64, labels: T64 | undefined, b: number): boolean {
  const K = x.shape[1];
  if (K === 1) {
    const want = a.target ?? labels!.data[b];
    return (x.data[b] > 0) === (want > 0.5);
  }
  let best = 0;
  for (let k = 1; k < K; k++) if (x.data[b * K + k] > x.data[b * K + best]) best = k;
  return best === labels!.data[b];
}

export const accuracy = defineOp<Attrs>({
  name: "accuracy",
  summary: "Fraction of rows of logits [B, K] whose argmax is the label [B] (for K = 1: " +
    "whose sign matches the target); output [] (a scalar). A metric: no gradient.",
  attrs,
  arity: [1, 2],
  differentiable: () => false,
  shape(a, [x, labels]) {
    if (x.length !== 2 || typeof x[1] !== "number") {
      throw new ShapeError(`expects 2-D logits [B, K], got [${x.join(", ")}]`);
    }
    if (!labels && !(x[1] === 1 && a.target !== undefined)) {
      throw new ShapeError("needs a labels input, or 'target' with one logit per row", "target");
    }
    if (labels && a.target !== undefined) {
      throw new ShapeError("takes a labels input or 'target', not both", "target");
    }
    if (labels && (labels.length !== 1 || labels[0] !== x[0])) {
      throw new ShapeError(`expects labels [${x[0]}], got [${labels.join(", ")}]`);
    }
    return [];
  },
  forwardRef(a, [x, labels]) {
    const B = x.shape[0];
    let n = 0;
    for (let b = 0; b < B; b++) if (correct(a, x, labels, b)) n++;
    return { y: { shape: [], data: Float64Array.of(n / B) } };
  },
  backwardRef: (_a, xs) => ({ dx: xs.map(() => undefined), dp: {} }),
  forward(a, ctx) {
    const [B, K] = ctx.inputs[0];
    const bindings = [{ role: "x0" }, ...(ctx.inputs.length > 1 ? [{ role: "x1" }] : [])];
    const want = a.target !== undefined ? `${a.target > 0.5}` : "x1[b] > 0.5";
    const body = K === 1 ? `return select(0.0, 1.0, (x0[b] > 0.0) == (${want}));` : `
  var best = 0u;
  for (var k = 1u; k < ${K}u; k = k + 1u) {
    if (x0[b * ${K}u + k] > x0[b * ${K}u + best]) { best = k; }
  }
  return select(0.0, 1.0, f32(best) == x1[b]);`;
    return sumTerms(
      "accuracy",
      B,
      1 / B,
      bindings,
      `fn term(b: u32) -> f32 {${body}\n}`,
      ctx.fuse !== false,
    );
  },
  backward: () => ({ dispatches: [] }),
});
