import assert from "node:assert/strict";
import { groupMean } from "../../src/ops/group_mean.ts";
import { checkOp } from "./harness.ts";

// Confidence weights are sigmoid outputs: positive.
const positive = (i: number, s: number[], next: () => number) =>
  i === 1
    ? Float64Array.from({ length: s.reduce((a, b) => a * b, 1) }, () => 0.1 + next())
    : undefined;

Deno.test("group_mean: weighted and plain, against the reference and finite differences", async () => {
  await checkOp(groupMean, { attrs: { size: 3 }, inputs: [[6, 5], [6, 1]], make: positive });
  await checkOp(groupMean, { attrs: { size: 2 }, inputs: [[4, 2, 3], [4]], make: positive });
  await checkOp(groupMean, { attrs: { size: 4 }, inputs: [[8, 7]] });
  await checkOp(groupMean, { attrs: { size: 1 }, inputs: [[3]] });
});

Deno.test("group_mean: shapes, symbolic batch and errors", () => {
  const a = groupMean.attrs.parse({ size: 4 });
  assert.deepEqual(groupMean.shape(a, [["B", 320], ["B", 1]]), ["B/4", 320]);
  assert.deepEqual(groupMean.shape(a, [[8, 3]]), [2, 3]);
  assert.throws(() => groupMean.shape(a, [[6, 3]]), /not a multiple of 4/);
  assert.throws(() => groupMean.shape(a, [["B", 3], ["B", 2]]), /weights/);
  // Grouping again divides again; a size that is not a multiple of the batch cannot group.
  assert.deepEqual(groupMean.shape(a, [["B/4", 3]]), ["B/16", 3]);
  assert.deepEqual(groupMean.shape(a, [["2*B", 3]]), ["B/2", 3]);
  assert.throws(() => groupMean.shape(a, [["B+1", 3]]), /cannot group/);
});
