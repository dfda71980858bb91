import assert from "node:assert/strict";
import { linear } from "../../src/ops/linear.ts";
import { ShapeError } from "../../src/ops/types.ts";
import { checkOp } from "./harness.ts";

Deno.test("linear matches float64 reference and finite differences", async () => {
  await checkOp(linear, { attrs: { out: 7 }, inputs: [[3, 5]] });
  await checkOp(linear, { attrs: { out: 1, in_features: 13 }, inputs: [[1, 13]] });
  await checkOp(linear, { attrs: { out: 4, bias: false }, inputs: [[5, 9]] });
  // more rows than a thread takes (8): two groups of rows, the second a tail of 3
  await checkOp(linear, { attrs: { out: 5 }, inputs: [[11, 6]] });
  await checkOp(linear, { attrs: { out: 3, bias: false }, inputs: [[16, 4]] });
});

Deno.test("linear shape rule and parameters", () => {
  const a = linear.attrs.parse({ out: 10, in_features: 320 });
  assert.deepEqual(linear.shape(a, [["B", 320]]), ["B", 10]);
  assert.deepEqual(linear.params!(a, [["B", 320]]).weight.shape, [10, 320]);
  assert.equal(linear.params!(a, [["B", 320]]).weight.init, "normal");
  const off = linear.attrs.parse({ out: 10, init: "zeros" });
  assert.equal(linear.params!(off, [["B", 320]]).weight.init, "zeros");
  assert.throws(() => linear.attrs.parse({ out: 3, init: "ones" }));
  assert.equal(linear.macs!(a, [[4, 320]], [4, 10]), 4 * 320 * 10);
  assert.throws(() => linear.shape(a, [["B", 32, 4, 4]]), /flatten/);
  assert.throws(
    () => linear.shape(a, [["B", 321]]),
    (e) =>
      e instanceof ShapeError && e.attr === "in_features" &&
      e.message === "expects 320 input features, got 321",
  );
  assert.throws(() => linear.attrs.parse({}));
  assert.throws(() => linear.attrs.parse({ out: 3, outs: 4 }));
});
