// Compiling aside: a worker with a device of its own runs every kernel of a plan once
// (on the software adapter, where that fills Mesa's shader cache for the main device).
import assert from "node:assert/strict";
import { openGpu } from "../../src/engine/device.ts";
import { compileAside } from "../../src/engine/compile_aside.ts";
import { loadModel } from "../../src/lang/model.ts";
import { parseOverride } from "../../src/lang/files.ts";
import { trainingConfig } from "../../src/train/config.ts";
import { trainingPlan } from "../../src/train/plan.ts";
import { Trainer } from "../../src/train/trainer.ts";
import { testTarget } from "../gpu.ts";

const model = loadModel(
  "graphs/drgan-small.yaml",
  ["size=16", "width=0.125", "Nd=5", "training.batch=4"].map(parseOverride),
);
const cfg = trainingConfig(model);
const plan = trainingPlan(model, cfg, { target: testTarget() });

Deno.test("compiling aside", async (t) => {
  const gpu = await openGpu();
  if (!gpu.software) return; // hardware adapters compile at pipeline creation: no worker
  await t.step("the worker runs every kernel of a training plan without an error", async () => {
    const aside = compileAside(gpu, plan.kernels);
    assert.ok(aside, "a worker for a plan of many kernels");
    assert.equal(await aside.done, true);
  });
  await t.step("stopped early, or failing on a kernel, it says so", async () => {
    // stop() resolves once the worker has ended (after the kernel it was compiling):
    // terminating it inside a compile crashed the process at its exit.
    const stopped = compileAside(gpu, plan.kernels)!;
    await stopped.stop();
    assert.equal(await stopped.done, false);
    await stopped.stop(); // again: already over
    const bad = { label: "bad", code: "fn broken(", entry: "main", writes: [true] };
    const failing = compileAside(gpu, plan.kernels, [bad])!;
    assert.equal(await failing.done, false);
  });
  await t.step("no worker when Mesa's cache is off or the device has them all", async () => {
    Deno.env.set("MESA_SHADER_CACHE_DISABLE", "true");
    try {
      assert.equal(compileAside(gpu, plan.kernels), undefined);
    } finally {
      Deno.env.delete("MESA_SHADER_CACHE_DISABLE");
    }
    const trainer = await Trainer.create(gpu, plan, model, cfg);
    assert.equal(compileAside(gpu, plan.kernels), undefined);
    trainer.destroy();
  });
  gpu.device.destroy();
});
