import { deepEqual, equal, notEqual, ok } from "node:assert/strict";
import { cachePath } from "../../src/data/cache.ts";
import { openData } from "../../src/data/open.ts";
import { loadSynthetic, SyntheticDataset } from "../../src/data/synthetic_set.ts";
import { makePNG } from "./helpers.ts";

Deno.test("synthetic sets are cached on disk under a key of their parameters", async () => {
  const dir = await Deno.makeTempDir({ prefix: "drgan-cache-" });
  try {
    const opts = { seed: 4, split: "train" as const, identities: 2, imageSize: 16, lights: [0] };
    const first = await loadSynthetic(opts, { cacheDir: dir });
    equal(first.cached, false);
    equal(first.set.size, 2 * 13);
    const second = await loadSynthetic(opts, { cacheDir: dir });
    equal(second.cached, true);
    deepEqual(second.set.pixels, first.set.pixels);
    deepEqual(second.set.pose, first.set.pose);
    // the cached image is the rendered one, to 8-bit precision
    const direct = new SyntheticDataset(opts).get(5).image;
    const cached = second.set.get(5).image;
    ok(direct.every((v, i) => Math.abs(v - cached[i]) <= 1 / 127.5 + 1e-6));
    notEqual(new SyntheticDataset({ ...opts, seed: 5 }).cacheKey(), first.key);
    notEqual(new SyntheticDataset({ ...opts, lights: [1] }).cacheKey(), first.key);
    // no temporary files are left behind; a damaged file is regenerated
    deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), [`${first.key}.bin`]);
    await Deno.writeFile(cachePath(dir, first.key), new Uint8Array([1, 2, 3]));
    const third = await loadSynthetic(opts, { cacheDir: dir });
    equal(third.cached, false);
    deepEqual(third.set.pixels, first.set.pixels);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openData gives the synthetic set by default and a folder for a manifest", async () => {
  const dir = await Deno.makeTempDir({ prefix: "drgan-open-" });
  try {
    const syn = await openData({
      imageSize: 8,
      seed: 1,
      identities: 1,
      lights: [2],
      cacheDir: dir,
    });
    equal(syn.dataset.size, 13);
    ok(syn.summary.startsWith("synthetic train set: 13 images of 1 person (rendered"));
    await Deno.writeFile(`${dir}/a.png`, makePNG(4, 4, [9, 9, 9]));
    await Deno.writeTextFile(`${dir}/m.csv`, "a.png,x,3\n");
    const real = await openData({ imageSize: 8, seed: 1, manifest: `${dir}/m.csv` });
    equal(real.dataset.size, 1);
    equal(real.dataset.labels(0).pose, 3);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
