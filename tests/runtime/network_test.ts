// Whole networks of the small variant: GPU forward and backward against the
// float64 reference executor, with every output and gradient poisoned first.
import assert from "node:assert/strict";
import { loadModel } from "../../src/compiler/model.ts";
import { buildProgram, gradName } from "../../src/compiler/program.ts";
import { getGpu } from "../../src/runtime/device.ts";
import { Executor } from "../../src/runtime/executor.ts";
import { runReference } from "../../src/runtime/reference.ts";
import { initParams } from "../../src/runtime/params.ts";
import { numel } from "../../src/ops/wgsl.ts";
import { rng } from "../../src/util/rng.ts";
import { relErr } from "../ops/harness.ts";

const model = loadModel("graphs/drgan-small.yaml", []);

for (const training of [true, false]) {
  for (const net of model.networks) {
    Deno.test(`${net.name} (small, ${training ? "training" : "inference"}): GPU matches float64 reference`, async () => {
      const next = rng(7);
      const program = buildProgram(net, {
        batch: 2,
        training,
        backwardFrom: net.outputs.map((o) => o.name),
        inputGrads: net.inputs.map((i) => i.name),
      });
      const gpu = await getGpu();
      const exec = await Executor.create(gpu, program);
      const values = new Map<string, Float64Array>();
      for (const [name, data] of initParams(program, 3)) {
        // Perturb batch norm's ones/zeros so that every parameter matters.
        values.set(name, Float64Array.from(data, (v) => v + 0.1 * (next() - 0.5)));
      }
      for (const name of program.inputs) {
        values.set(
          name,
          Float64Array.from(
            { length: numel(program.tensors.get(name)!.shape) },
            () => 2 * next() - 1,
          ),
        );
      }
      for (const o of Object.values(program.outputs)) {
        values.set(
          gradName(o),
          Float64Array.from({ length: numel(program.tensors.get(o)!.shape) }, () => 2 * next() - 1),
        );
      }
      exec.poison(["activation", "grad", "scratch"]);
      for (const [k, v] of values) exec.write(k, Float32Array.from(v));
      exec.run({ backward: true });
      const want = runReference(net, program, values, { backward: true });
      const check = [
        ...Object.values(program.outputs),
        ...[...program.tensors.values()].filter((t) => t.kind === "grad").map((t) => t.name),
        ...program.params,
      ];
      const got = await exec.read(check);
      exec.destroy();
      const errs = check.map((n) => [n, relErr(got.get(n)!, want.get(n)!)] as const);
      const bad = errs.filter(([, e]) => !(e < 1e-3));
      assert.deepEqual(
        bad,
        [],
        `tensors off: ${bad.map(([n, e]) => `${n} ${e.toExponential(1)}`).join(", ")}`,
      );
    });
  }
}
