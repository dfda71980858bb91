// Issue 13's diagnosis as a test: the discriminator alone learns to tell real faces from
// uniform noise images when it sees both in one batch, and barely moves when each batch
// is normalised on its own (why DR-GAN's real/fake losses stayed at ln 2).
import assert from "node:assert/strict";
import { diagnose } from "../../bench/diagnose.ts";
import { testGpu, testTarget } from "../gpu.ts";

Deno.test("diagnosis: D separates faces from noise in 30 steps on a joint batch, not apart", async () => {
  // Measured on llvmpipe: joint 0.41, apart 1.37 (chance 2 ln 2 = 1.39) after 30 steps.
  const gpu = await testGpu();
  const [joint] = await diagnose(gpu, testTarget(), "noise", true, 30, 30);
  const [apart] = await diagnose(gpu, testTarget(), "noise", false, 30, 30);
  assert.ok(joint.loss < 0.6, `joint batch: d_real + d_fake ${joint.loss} after 30 steps`);
  assert.ok(apart.loss > 1.2, `separate batches: d_real + d_fake ${apart.loss} after 30 steps`);
  assert.equal(joint.accReal, 1);
  assert.equal(joint.accFake, 1);
});
