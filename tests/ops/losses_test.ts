import assert from "node:assert/strict";
import { bceWithLogits } from "../../src/ops/bce_with_logits.ts";
import { l1Loss } from "../../src/ops/l1_loss.ts";
import { l2Loss } from "../../src/ops/l2_loss.ts";
import { softmaxCrossEntropy } from "../../src/ops/softmax_cross_entropy.ts";
import { ShapeError } from "../../src/ops/types.ts";
import { checkOp } from "./harness.ts";

/** Logits [B, K] uniform in [-m, m] as input 0, integer labels in [0, K) as input 1. */
const logitsAndLabels =
  (K: number, m: number) => (i: number, s: number[], next: () => number): Float64Array =>
    i === 1
      ? Float64Array.from({ length: s[0] }, () => Math.min(K - 1, Math.floor(next() * K)))
      : Float64Array.from({ length: s[0] * K }, () => m * (2 * next() - 1));

Deno.test("softmax_cross_entropy matches float64 reference and finite differences", async () => {
  for (const [B, K, m] of [[3, 5, 3], [1, 7, 1], [4, 11, 60]]) {
    await checkOp(softmaxCrossEntropy, { inputs: [[B, K], [B]], make: logitsAndLabels(K, m) });
  }
});

Deno.test("softmax_cross_entropy shape rule and label checks", () => {
  assert.deepEqual(softmaxCrossEntropy.shape({}, [["B", 10], ["B"]]), []);
  assert.throws(() => softmaxCrossEntropy.shape({}, [["B", 10, 2], ["B"]]), ShapeError);
  assert.throws(
    () => softmaxCrossEntropy.shape({}, [["B", 10], ["B", 10]]),
    (e) => e instanceof ShapeError && /labels \[B\]/.test(e.message),
  );
  const x = { shape: [1, 3], data: new Float64Array(3) };
  for (const bad of [3, -1, 0.5]) {
    assert.throws(
      () =>
        softmaxCrossEntropy.forwardRef({}, [x, { shape: [1], data: Float64Array.of(bad) }], {}, {
          training: true,
        }),
      RangeError,
    );
  }
});

Deno.test("bce_with_logits matches float64 reference and finite differences", async () => {
  const targets = (m: number) => (i: number, s: number[], next: () => number) =>
    Float64Array.from(
      { length: s.reduce((a, b) => a * b, 1) },
      () => i === 1 ? next() : m * (2 * next() - 1),
    );
  await checkOp(bceWithLogits, { inputs: [[3, 4], [3, 4]], make: targets(3) });
  await checkOp(bceWithLogits, { attrs: { target: 1 }, inputs: [[2, 1]] });
  await checkOp(bceWithLogits, { attrs: { target: 0 }, inputs: [[5, 1, 3, 3]], make: targets(80) });
});

Deno.test("bce_with_logits shape rule", () => {
  const bad = (attrs: Record<string, unknown>, inputs: (number | string)[][], attr?: string) =>
    assert.throws(
      () => bceWithLogits.shape(bceWithLogits.attrs.parse(attrs), inputs),
      (e) => e instanceof ShapeError && e.attr === attr,
    );
  assert.deepEqual(bceWithLogits.shape({}, [["B", 1], ["B", 1]]), []);
  assert.deepEqual(bceWithLogits.shape({ target: 0.9 }, [["B", 1]]), []);
  bad({}, [["B", 1]], "target");
  bad({ target: 1 }, [["B", 1], ["B", 1]], "target");
  bad({}, [["B", 1], ["B", 2]]);
  assert.throws(() => bceWithLogits.attrs.parse({ target: 2 }));
});

Deno.test("l1_loss and l2_loss match float64 reference and finite differences", async () => {
  await checkOp(l1Loss, { inputs: [[2, 3, 5], [2, 3, 5]] });
  await checkOp(l1Loss, { inputs: [[1, 7], [1, 7]] });
  await checkOp(l2Loss, { inputs: [[2, 3, 5], [2, 3, 5]] });
  await checkOp(l2Loss, { inputs: [[1, 7], [1, 7]] });
  // Large enough for several partial sums per thread: one workgroup (fused), two kernels
  // (unfused), and two kernels because it is too big for one workgroup.
  await checkOp(l2Loss, { inputs: [[3, 1500], [3, 1500]] });
  await checkOp(l2Loss, { inputs: [[3, 1500], [3, 1500]], fuse: false });
  await checkOp(l1Loss, { inputs: [[2, 40000], [2, 40000]] });
  await checkOp(softmaxCrossEntropy, {
    inputs: [[5, 4], [5]],
    make: logitsAndLabels(4, 0),
    fuse: false,
  });
  assert.throws(
    () => l1Loss.shape({}, [["B", 3], ["B", 4]]),
    (e) => e instanceof ShapeError && /\[B, 3\].*\[B, 4\]/.test(e.message),
  );
});
