import assert from "node:assert/strict";
import { avgPool } from "../../src/ops/avg_pool.ts";
import { ShapeError } from "../../src/ops/types.ts";
import { checkOp } from "./harness.ts";

Deno.test("avg_pool windows match float64 reference and finite differences", async () => {
  await checkOp(avgPool, { attrs: { kernel: 2 }, inputs: [[2, 3, 4, 4]] });
  await checkOp(avgPool, { attrs: { kernel: 2, stride: 2 }, inputs: [[1, 2, 7, 5]] });
  await checkOp(avgPool, { attrs: { kernel: 3, stride: 1 }, inputs: [[2, 2, 5, 6]] });
  await checkOp(avgPool, { attrs: { kernel: 3, stride: 2 }, inputs: [[1, 3, 7, 7]] });
  await checkOp(avgPool, { attrs: { kernel: 2, stride: 3 }, inputs: [[2, 1, 8, 7]] });
});

Deno.test("avg_pool global matches float64 reference and finite differences", async () => {
  await checkOp(avgPool, { attrs: { global: true }, inputs: [[2, 5, 3, 3]] });
  await checkOp(avgPool, { attrs: { global: true }, inputs: [[1, 4, 6, 5]] });
});

Deno.test("avg_pool shape rule", () => {
  const p = (attrs: Record<string, unknown>) => avgPool.attrs.parse(attrs);
  assert.deepEqual(avgPool.shape(p({ global: true }), [["B", 320, 6, 6]]), ["B", 320]);
  assert.deepEqual(avgPool.shape(p({ kernel: 3, stride: 2 }), [["B", 8, 7, 8]]), ["B", 8, 3, 3]);
  assert.deepEqual(avgPool.shape(p({ kernel: 2 }), [["B", 8, 5, 5]]), ["B", 8, 2, 2]);
  const blames = (attrs: Record<string, unknown>, shape: (number | string)[], attr?: string) =>
    assert.throws(
      () => avgPool.shape(p(attrs), [shape]),
      (e) => e instanceof ShapeError && e.attr === attr,
    );
  blames({}, ["B", 8, 4, 4], "kernel");
  blames({ kernel: 2, global: true }, ["B", 8, 4, 4], "kernel");
  blames({ stride: 2, global: true }, ["B", 8, 4, 4], "stride");
  blames({ kernel: 5 }, ["B", 8, 4, 6], "kernel");
  blames({ kernel: 2 }, ["B", 8], undefined);
});
