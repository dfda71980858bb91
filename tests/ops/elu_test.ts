import { elu } from "../../src/ops/elu.ts";
import { checkOp } from "./harness.ts";

Deno.test("elu matches float64 reference and finite differences", async () => {
  await checkOp(elu, { inputs: [[2, 3, 5, 7]] });
  await checkOp(elu, { attrs: { alpha: 0.5 }, inputs: [[1, 130]] });
});
