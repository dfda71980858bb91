// The data pool: batches rendered by workers, split by rows and fetched ahead, equal
// the batches made on one thread; images read by workers equal readImage's, a bad
// file giving the same message.
import assert from "node:assert/strict";
import { loadModel } from "../../src/lang/model.ts";
import { parseOverride } from "../../src/lang/files.ts";
import { trainingConfig } from "../../src/train/config.ts";
import { openTrainData } from "../../src/train/data.ts";
import { DataPool } from "../../src/train/data_pool.ts";
import { readImage } from "../../src/data/folder.ts";
import { encodePNG } from "../../src/data/png.ts";

const GRAPH = "graphs/drgan-small.yaml";
const SETS = ["size=16", "width=0.125", "Nd=5", "training.batch=6"];

Deno.test("data pool: worker batches equal one thread's, for the whole batch and a shard", async () => {
  const model = loadModel(GRAPH, SETS.map(parseOverride));
  const cfg = trainingConfig(model);
  const base = await openTrainData(model, cfg, {});
  const pool = DataPool.start(2);
  try {
    for (const rows of [{ from: 0, to: 6 }, { from: 3, to: 6 }]) {
      const data = await pool.serve({ graph: GRAPH, overrides: SETS, options: {} }, base, rows);
      // Steps in order (served ahead), then one out of order (rendered on demand).
      for (const step of [0, 1, 2, 7]) {
        const got = await data.batch(step), want = await base.batch(step, rows);
        assert.deepEqual(got.image, want.image, `step ${step} rows ${rows.from}..${rows.to}`);
        assert.deepEqual(got.identity, want.identity);
        assert.deepEqual(got.pose, want.pose);
      }
    }
  } finally {
    pool.close();
  }
});

Deno.test("data pool: images read by workers equal readImage's, bad files their message", async () => {
  const dir = await Deno.makeTempDir();
  const files: string[] = [];
  for (let k = 0; k < 5; k++) {
    const rgb = Uint8Array.from({ length: 20 * 12 * 3 }, (_, i) => (i * (k + 3)) % 251);
    files.push(`${dir}/f${k}.png`);
    await Deno.writeFile(files[k], encodePNG(rgb, 20, 12, 3));
  }
  files.splice(2, 0, `${dir}/missing.png`);
  await Deno.writeTextFile(`${dir}/bad.png`, "not a png");
  files.push(`${dir}/bad.png`);
  const opts = { size: 8, dir };
  const pool = DataPool.start(2);
  try {
    const got = await pool.readMany(files, opts);
    assert.equal(got.length, files.length);
    for (const [k, file] of files.entries()) {
      const want = await readImage(file, opts).catch((e) => (e as Error).message);
      assert.deepEqual(got[k], want, file);
    }
    assert.equal(got[2], "file not found");
    assert.match(got[6] as string, /^cannot decode image/);
  } finally {
    pool.close();
  }
});
