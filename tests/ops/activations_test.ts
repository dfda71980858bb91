import assert from "node:assert/strict";
import { elu } from "../../src/ops/elu.ts";
import { leakyRelu } from "../../src/ops/leaky_relu.ts";
import { relu } from "../../src/ops/relu.ts";
import { sigmoid } from "../../src/ops/sigmoid.ts";
import { tanh } from "../../src/ops/tanh.ts";
import { checkOp } from "./harness.ts";

/** Inputs uniform in [-m, m]: large magnitudes probe overflow in exp-based formulas. */
const wide = (m: number) => (_i: number, s: number[], next: () => number) =>
  Float64Array.from({ length: s.reduce((a, b) => a * b, 1) }, () => m * (2 * next() - 1));

Deno.test("relu matches float64 reference and finite differences", async () => {
  await checkOp(relu, { inputs: [[2, 3, 5, 7]] });
  await checkOp(relu, { inputs: [[1, 13]] });
});

Deno.test("leaky_relu matches float64 reference and finite differences", async () => {
  await checkOp(leakyRelu, { inputs: [[2, 3, 5, 7]] });
  await checkOp(leakyRelu, { attrs: { slope: 0.01 }, inputs: [[1, 13]] });
  assert.equal(leakyRelu.attrs.parse({}).slope, 0.2);
});

Deno.test("tanh matches float64 reference, also for large |x|", async () => {
  await checkOp(tanh, { inputs: [[2, 3, 5, 7]] });
  await checkOp(tanh, { inputs: [[1, 130]], make: wide(100) });
});

Deno.test("sigmoid matches float64 reference, also for large |x|", async () => {
  await checkOp(sigmoid, { inputs: [[2, 3, 5, 7]] });
  await checkOp(sigmoid, { inputs: [[1, 130]], make: wide(200) });
});

Deno.test("activations count one MAC per element", () => {
  assert.equal(relu.macs?.({}, [[2, 3]], [2, 3]), 6);
  assert.equal(tanh.macs?.({}, [[4, 5]], [4, 5]), 20);
  assert.equal(elu.macs?.({ alpha: 1 }, [[4, 5]], [4, 5]), 20);
});
