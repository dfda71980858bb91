import assert from "node:assert/strict";
import { add } from "../../src/ops/add.ts";
import { mul } from "../../src/ops/mul.ts";
import { scale } from "../../src/ops/scale.ts";
import { ShapeError } from "../../src/ops/types.ts";
import { checkOp } from "./harness.ts";

Deno.test("add matches float64 reference and finite differences", async () => {
  await checkOp(add, { inputs: [[2, 3, 5], [2, 3, 5]] });
  await checkOp(add, { inputs: [[1, 7], [1, 7], [1, 7]] });
  // More inputs than one dispatch binds: the sum continues in a second pass.
  await checkOp(add, { inputs: Array.from({ length: 9 }, () => [1, 3]) });
});

Deno.test("add refuses mismatched shapes, naming both", () => {
  assert.throws(
    () => add.shape({}, [["B", 3], ["B", 4]]),
    (e) => e instanceof ShapeError && /\[B, 3\].*\[B, 4\]/.test(e.message),
  );
  assert.deepEqual(add.shape({}, [["B", 3], ["B", 3]]), ["B", 3]);
});

Deno.test("mul matches float64 reference and finite differences", async () => {
  await checkOp(mul, { inputs: [[2, 3, 5], [2, 3, 5]] });
  await checkOp(mul, { inputs: [[1, 7], [1, 7]] });
  assert.throws(() => mul.shape({}, [["B", 3], [2, 3]]), ShapeError);
});

Deno.test("scale matches float64 reference and finite differences", async () => {
  await checkOp(scale, { attrs: { factor: -2.5 }, inputs: [[2, 3, 5]] });
  await checkOp(scale, { attrs: { factor: 3 }, inputs: [[1, 7]] });
  assert.throws(() => scale.attrs.parse({}));
});
