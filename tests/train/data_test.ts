import assert from "node:assert/strict";
import { loadModel } from "../../src/lang/model.ts";
import { parseOverride } from "../../src/lang/files.ts";
import { trainingConfig } from "../../src/train/config.ts";
import { openTrainData } from "../../src/train/data.ts";

const small = ["size=16", "width=0.125", "Nd=5", "training.batch=8"].map(parseOverride);

Deno.test("training batches are a pure function of the step", async () => {
  const model = loadModel("graphs/drgan-small.yaml", small);
  const data = await openTrainData(model, trainingConfig(model), {});
  const [a, b, c] = [await data.batch(3), await data.batch(3), await data.batch(4)];
  assert.deepEqual(a.image, b.image);
  assert.deepEqual(a.identity, b.identity);
  assert.notDeepEqual(a.image, c.image);
  assert.ok(a.identity.every((v) => Number.isInteger(v) && v >= 0 && v < 5));
  assert.ok(a.pose.every((v) => Number.isInteger(v) && v >= 0 && v < 13));
});

Deno.test("multi-image batches hold groups of one identity", async () => {
  const model = loadModel("graphs/drgan-small-multi.yaml", small);
  const cfg = trainingConfig(model);
  assert.equal(cfg.group, 4);
  const data = await openTrainData(model, cfg, {});
  const { identity } = await data.batch(0);
  for (let g = 0; g < 2; g++) {
    const ids = new Set(identity.slice(4 * g, 4 * g + 4));
    assert.equal(ids.size, 1, `group ${g}: ${[...identity]}`);
  }
});

Deno.test("a batch that is not a multiple of the group is a located error", () => {
  const model = loadModel("graphs/drgan-small-multi.yaml", [
    ...small,
    parseOverride("training.batch=6"),
  ]);
  assert.throws(() => trainingConfig(model), /multiple of the group size \(4\)/);
});
