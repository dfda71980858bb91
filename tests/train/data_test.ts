import assert from "node:assert/strict";
import { loadModel } from "../../src/lang/model.ts";
import { parseOverride } from "../../src/lang/files.ts";
import { trainingConfig } from "../../src/train/config.ts";
import { openTrainData } from "../../src/train/data.ts";
import { makePNG } from "../data/helpers.ts";

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
  assert.equal(cfg.group, 2);
  const data = await openTrainData(model, cfg, {});
  const { identity } = await data.batch(0);
  for (let g = 0; g < identity.length / 2; g++) {
    const ids = new Set(identity.slice(2 * g, 2 * g + 2));
    assert.equal(ids.size, 1, `group ${g}: ${[...identity]}`);
  }
});

Deno.test("a batch that is not a multiple of the group is a located error", () => {
  const model = loadModel("graphs/drgan-small-multi.yaml", [
    ...small,
    parseOverride("training.batch=7"),
  ]);
  assert.throws(() => trainingConfig(model), /multiple of the group size \(2\)/);
});

/**
 * A folder of flat-coloured PNGs, 5 people x 4 images, whose red channel encodes the
 * image's number, with its manifest (pose class i % 13).
 */
function colourFolder(): { dir: string; manifest: string; pose: number[]; identity: number[] } {
  const dir = Deno.makeTempDirSync({ prefix: "train_data_" });
  const lines = ["path,identity,pose"], pose: number[] = [], identity: number[] = [];
  for (let i = 0; i < 20; i++) {
    Deno.writeFileSync(`${dir}/${i}.png`, makePNG(16, 16, [10 * i, 0, 0]));
    identity.push(Math.floor(i / 4));
    pose.push(i % 13);
    lines.push(`${i}.png,p${identity[i]},${pose[i]}`);
  }
  const manifest = `${dir}/faces.csv`;
  Deno.writeTextFileSync(manifest, lines.join("\n") + "\n");
  return { dir, manifest, pose, identity };
}

/** The image number of batch entry k: its red channel, flat after any crop or mirror. */
const imageOf = (image: Float32Array, k: number) =>
  Math.round(Math.round((image[k * 3 * 16 * 16] + 1) * 127.5) / 10);

Deno.test("folder batches: labels of each image, mirrored poses, deterministic by step", async () => {
  const f = colourFolder();
  try {
    const model = loadModel("graphs/drgan-small.yaml", small);
    const cfg = { ...trainingConfig(model), batch: 16 };
    const data = await openTrainData(model, cfg, { manifest: f.manifest });
    const [a, b, c] = [await data.batch(2), await data.batch(2), await data.batch(3)];
    assert.deepEqual(a.image, b.image);
    assert.notDeepEqual(a.image, c.image);
    assert.equal(a.image.length, 16 * 3 * 16 * 16);
    let mirrored = 0;
    for (let k = 0; k < 16; k++) {
      const i = imageOf(a.image, k);
      assert.equal(a.identity[k], f.identity[i]);
      if (a.pose[k] !== f.pose[i]) {
        mirrored++;
        assert.equal(a.pose[k], 12 - f.pose[i]);
      }
    }
    assert.ok(mirrored > 0 && mirrored < 16, `${mirrored} of 16 mirrored`);
  } finally {
    Deno.removeSync(f.dir, { recursive: true });
  }
});

Deno.test("folder batches in multi-image mode: groups of images of one person", async () => {
  const f = colourFolder();
  try {
    const model = loadModel("graphs/drgan-small-multi.yaml", small);
    const cfg = trainingConfig(model);
    const data = await openTrainData(model, cfg, { manifest: f.manifest });
    for (let step = 0; step < 4; step++) {
      const { image, identity } = await data.batch(step);
      for (let g = 0; g < cfg.batch / cfg.group; g++) {
        const ks = Array.from({ length: cfg.group }, (_, k) => g * cfg.group + k);
        const ids = ks.map((k) => identity[k]);
        assert.ok(ids.every((id) => id === ids[0]), `group ${g}: ${ids}`);
        assert.ok(ks.every((k) => f.identity[imageOf(image, k)] === ids[0]));
      }
    }
  } finally {
    Deno.removeSync(f.dir, { recursive: true });
  }
});

Deno.test("paired views: each image's scene at its own pose is the image; another pose turns only the head", async () => {
  const model = loadModel("graphs/drgan-small-pair.yaml", small);
  const data = await openTrainData(model, trainingConfig(model), {});
  assert.equal(data.paired, true);
  const batch = await data.batch(5);
  assert.deepEqual(batch.sceneAt!(batch.pose), batch.image);
  const frontal = batch.sceneAt!(new Float32Array(batch.pose.length).fill(6));
  const plane = 3 * 16 * 16;
  for (let b = 0; b < batch.pose.length; b++) {
    const [was, now] = [batch.image, frontal].map((x) => x.subarray(b * plane, (b + 1) * plane));
    if (batch.pose[b] !== 6) assert.notDeepEqual(now, was, `image ${b}`);
    // The top-left pixel is background in every pose: the scene is the same photo.
    for (let c = 0; c < 3; c++) assert.equal(now[c * 256], was[c * 256], `image ${b}`);
  }
});

Deno.test("a graph that needs paired views refuses a folder of images in one line", async () => {
  const f = colourFolder();
  try {
    const model = loadModel("graphs/drgan-small-pair.yaml", small);
    await assert.rejects(
      openTrainData(model, trainingConfig(model), { manifest: f.manifest }),
      /target_image .* needs paired views, which only the built-in synthetic data has/,
    );
  } finally {
    Deno.removeSync(f.dir, { recursive: true });
  }
});
