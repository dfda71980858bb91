import assert from "node:assert/strict";
import { concat } from "../../src/ops/concat.ts";
import { flatten } from "../../src/ops/flatten.ts";
import { reshape } from "../../src/ops/reshape.ts";
import { slice } from "../../src/ops/slice.ts";
import { ShapeError } from "../../src/ops/types.ts";
import { checkOp } from "./harness.ts";

const shapeErr = (re: RegExp, attr?: string) => (e: unknown) =>
  e instanceof ShapeError && re.test(e.message) && e.attr === attr;

Deno.test("concat matches float64 reference and finite differences", async () => {
  await checkOp(concat, { inputs: [[2, 3, 5], [2, 4, 5]] });
  await checkOp(concat, { attrs: { axis: -1 }, inputs: [[1, 2, 3], [1, 2, 1], [1, 2, 2]] });
  await checkOp(concat, { attrs: { axis: 0 }, inputs: [[2, 3], [1, 3]] });
  // More inputs than one dispatch binds.
  await checkOp(concat, { inputs: Array.from({ length: 9 }, (_, k) => [2, 1 + (k % 2)]) });
});

Deno.test("concat shape rule", () => {
  const a = concat.attrs.parse({});
  assert.deepEqual(concat.shape(a, [["B", 3, 4], ["B", 5, 4]]), ["B", 8, 4]);
  assert.deepEqual(concat.shape({ axis: -1 }, [["B", 3], ["B", 5]]), ["B", 8]);
  assert.throws(
    () => concat.shape(a, [["B", 3, 4], ["B", 5, 4], ["B", 1, 6]]),
    shapeErr(/input 2 has shape \[B, 1, 6\]/),
  );
  // Symbolic sizes add up: real and generated faces in one batch.
  assert.deepEqual(concat.shape({ axis: 0 }, [["B", 3], ["B", 3]]), ["2*B", 3]);
  assert.deepEqual(concat.shape({ axis: 0 }, [["B", 3], ["B", 3], ["B/4", 3]]), ["9*B/4", 3]);
  assert.throws(
    () => concat.shape({ axis: 0 }, [["B", 3], [2, 3]]),
    shapeErr(/B and 2 mix numbers and symbols/, "axis"),
  );
  assert.throws(() => concat.shape({ axis: 2 }, [["B", 3], ["B", 3]]), shapeErr(/axis 2/, "axis"));
});

Deno.test("reshape and flatten match float64 reference", async () => {
  await checkOp(reshape, { attrs: { shape: [-1, 2] }, inputs: [[2, 3, 4]] });
  await checkOp(reshape, { attrs: { shape: [3, 1, 5] }, inputs: [[1, 15]] });
  await checkOp(flatten, { inputs: [[2, 3, 4]] });
  await checkOp(flatten, { inputs: [[1, 3, 5, 1]] });
});

Deno.test("reshape and flatten shape rules", () => {
  assert.deepEqual(reshape.shape({ shape: [4, -1] }, [["B", 2, 3, 4]]), ["B", 4, 6]);
  assert.deepEqual(flatten.shape({}, [["B", 2, 3, 4]]), ["B", 24]);
  assert.throws(
    () => reshape.shape({ shape: [5, -1] }, [["B", 12]]),
    shapeErr(/12 elements/, "shape"),
  );
  assert.throws(
    () => reshape.shape({ shape: [7] }, [["B", 12]]),
    shapeErr(/cannot reshape/, "shape"),
  );
  assert.throws(() => reshape.shape({ shape: [-1, -1] }, [["B", 12]]), shapeErr(/one -1/, "shape"));
  assert.throws(() => flatten.shape({}, [["B", "C"]]), shapeErr(/concrete/));
});

Deno.test("slice matches float64 reference and finite differences", async () => {
  await checkOp(slice, { attrs: { start: 2, end: 5 }, inputs: [[2, 7, 3]] });
  await checkOp(slice, { attrs: { axis: -1, start: -2 }, inputs: [[1, 3, 5]] });
  await checkOp(slice, { attrs: { axis: 0, start: 1, end: -1 }, inputs: [[4, 3]] });
});

Deno.test("slice shape rule", () => {
  const s = (attrs: Record<string, unknown>, x: (number | string)[]) =>
    slice.shape(slice.attrs.parse(attrs), [x]);
  assert.deepEqual(s({ start: 1 }, ["B", 5, 2]), ["B", 4, 2]);
  assert.deepEqual(s({ start: -3, end: -1 }, ["B", 5, 2]), ["B", 2, 2]);
  assert.deepEqual(s({ axis: 2, end: 1 }, ["B", 5, 2]), ["B", 5, 1]);
  assert.throws(() => s({ start: 3, end: 3 }, ["B", 5]), shapeErr(/empty/, "end"));
  assert.throws(() => s({ start: 5 }, ["B", 5]), shapeErr(/start 5/, "start"));
  assert.throws(() => s({ end: 6 }, ["B", 5]), shapeErr(/end 6/, "end"));
  // A symbolic axis takes symbolic positions: the halves of a joint batch.
  assert.deepEqual(s({ axis: 0 }, ["B", 5]), ["B", 5]);
  assert.deepEqual(s({ axis: 0, end: "B" }, ["2*B", 5]), ["B", 5]);
  assert.deepEqual(s({ axis: 0, start: "B" }, ["2*B", 5]), ["B", 5]);
  assert.deepEqual(s({ axis: 0, start: "2*B", end: "9*B/4" }, ["9*B/4", 5]), ["B/4", 5]);
  assert.throws(() => s({ axis: 0, start: 1 }, ["B", 5]), shapeErr(/does not fit/, "start"));
  assert.throws(() => s({ axis: 0, end: "C" }, ["2*B", 5]), shapeErr(/does not fit/, "end"));
  assert.throws(() => s({ axis: 0, end: "3*B" }, ["2*B", 5]), shapeErr(/out of range/, "end"));
  assert.throws(() => s({ axis: 0, start: "B", end: "B" }, ["2*B"]), shapeErr(/empty/, "end"));
  assert.throws(() => s({ axis: 0, start: "B+1" }, ["2*B"]), shapeErr(/neither/, "start"));
  assert.throws(() => s({ axis: 0, start: -1 }, ["B"]), shapeErr(/count back/, "start"));
  assert.throws(() => s({ axis: 1, start: "B" }, ["B", 5]), shapeErr(/does not fit/, "start"));
  // Bound for a batch, the positions are indices.
  const a = slice.attrs.parse({ axis: 0, start: "B", end: "2*B" });
  assert.deepEqual(slice.bind!(a, 8), { axis: 0, start: 8, end: 16 });
});
