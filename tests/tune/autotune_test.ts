import assert from "node:assert/strict";
import { conv2d } from "../../src/ops/conv2d.ts";
import {
  candidateBlocks,
  chooseBlock,
  CONV_GENERATOR_VERSION,
  convGather,
  type ConvGeom,
  DEFAULT_TARGET,
  GPU_TARGET,
  isTile,
  planGather,
  planScatter,
  planWeightGrad,
  TILE_CANDIDATES,
} from "../../src/ops/conv/mod.ts";
import { applyTune } from "../../src/tune/target.ts";
import { tuneKernel } from "../../src/tune/autotune.ts";
import {
  adapterKey,
  cachePath,
  geomKey,
  loadCache,
  saveCache,
  type TuneCache,
  tuneCacheDir,
} from "../../src/tune/cache.ts";
import { checkOp } from "../ops/harness.ts";
import { testGpu, testTarget } from "../gpu.ts";

// Before any device opens: this file never reads or writes the user's real cache.
const TMP = Deno.makeTempDirSync({ prefix: "drgan-tune-test-" });
Deno.env.set("DRGAN_TUNE_CACHE", TMP);
Deno.env.delete("DRGAN_TUNE");

/** conv2d { out: 5 } of [2, 3, 7, 9]: "same" 3x3, stride 1. */
const G: ConvGeom = {
  b: 2,
  srcC: 3,
  srcH: 7,
  srcW: 9,
  dstC: 5,
  dstH: 7,
  dstW: 9,
  kh: 3,
  kw: 3,
  s: 1,
  pt: 1,
  pl: 1,
};

const ADAPTER = { description: "Test GPU", vendor: "0x1234", architecture: "x", device: "7" };

function cacheWith(entries: TuneCache["entries"]): TuneCache {
  return { adapter: adapterKey(ADAPTER), generator: CONV_GENERATOR_VERSION, entries };
}

Deno.test("the cache folder follows DRGAN_TUNE_CACHE and DRGAN_TUNE=off", () => {
  assert.equal(tuneCacheDir(), TMP);
  Deno.env.set("DRGAN_TUNE", "off");
  try {
    assert.equal(tuneCacheDir(), undefined);
  } finally {
    Deno.env.delete("DRGAN_TUNE");
  }
});

Deno.test("adapter keys are stable, file-name safe and change with the generator", () => {
  const k = adapterKey(ADAPTER);
  assert.equal(k, adapterKey({ ...ADAPTER }));
  assert.match(k, /^[a-z0-9-]+$/);
  assert.ok(k.startsWith(`test-gpu-g${CONV_GENERATOR_VERSION}-`), k);
  assert.notEqual(adapterKey(ADAPTER, CONV_GENERATOR_VERSION + 1), k);
  assert.notEqual(adapterKey({ ...ADAPTER, device: "8" }), k);
  assert.notEqual(adapterKey({ ...ADAPTER, vendor: "0x1235" }), k);
});

Deno.test("the cache round-trips, written atomically", () => {
  const dir = `${TMP}/round-trip`;
  const c = cacheWith({
    [geomKey("gather", G)]: {
      kind: "gather",
      block: { ch: 2, nb: 1, py: 4, px: 3 },
      model: { ch: 4, nb: 1, py: 4, px: 4 },
      ms: 1.5,
      modelMs: 2,
    },
    // a workgroup-memory tile may stand for any kernel
    [geomKey("scatter", G)]: {
      kind: "scatter",
      block: { tm: 32, tn: 64, tk: 16, rm: 4, rn: 4 },
      model: { ch: 4, nb: 1, py: 4, px: 4 },
      ms: 0.5,
      modelMs: 2,
    },
    [geomKey("wgrad", G)]: {
      kind: "wgrad",
      block: { co: 2, ci: 3, px: 9, rows: 7 },
      model: { co: 4, ci: 3, px: 9, rows: 14 },
      ms: 1,
      modelMs: 1,
    },
  });
  const path = saveCache(dir, c);
  assert.equal(path, cachePath(dir, c.adapter));
  assert.deepEqual(loadCache(dir, c.adapter), c);
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), [`${c.adapter}.json`]);
  // Another generator's key finds nothing.
  const stale = adapterKey(ADAPTER, CONV_GENERATOR_VERSION + 1);
  assert.deepEqual(loadCache(dir, stale).entries, {});
});

Deno.test("a corrupt cache is ignored with one warning", () => {
  const dir = `${TMP}/corrupt`;
  const key = adapterKey(ADAPTER);
  Deno.mkdirSync(dir, { recursive: true });
  const warnings: string[] = [];
  const warn = console.warn;
  console.warn = (...a: unknown[]) => warnings.push(a.join(" "));
  try {
    Deno.writeTextFileSync(cachePath(dir, key), '{"adapter": "x", "entr');
    assert.deepEqual(loadCache(dir, key).entries, {});
    assert.deepEqual(loadCache(dir, key).entries, {});
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /ignoring the conv tuning cache/);
    // Well-formed JSON with a block that does not fit its kernel is corrupt too.
    const other = `${TMP}/corrupt2`;
    Deno.mkdirSync(other);
    const bad = cacheWith({
      [geomKey("gather", G)]: {
        kind: "gather",
        block: { co: 1, ci: 1, px: 1, rows: 1 },
        model: { ch: 1, py: 1, px: 1 },
        ms: 1,
        modelMs: 1,
      },
    });
    Deno.writeTextFileSync(cachePath(other, key), JSON.stringify(bad));
    assert.deepEqual(loadCache(other, key).entries, {});
    assert.equal(warnings.length, 2);
    // So is a tile no adapter can run (rm must divide tm).
    const third = `${TMP}/corrupt3`;
    Deno.mkdirSync(third);
    const tile = cacheWith({
      [geomKey("gather", G)]: {
        kind: "gather",
        block: { tm: 6, tn: 64, tk: 8, rm: 4, rn: 4 },
        model: { ch: 1, py: 1, px: 1 },
        ms: 1,
        modelMs: 1,
      },
    });
    Deno.writeTextFileSync(cachePath(third, key), JSON.stringify(tile));
    assert.deepEqual(loadCache(third, key).entries, {});
    assert.equal(warnings.length, 3);
  } finally {
    console.warn = warn;
  }
});

Deno.test("the tuned target serves cached blocks, the cost model the rest", () => {
  {
    const block = { ch: 3, nb: 2, py: 2, px: 5 };
    const model = planGather(G, DEFAULT_TARGET);
    assert.notDeepEqual(block, model);
    const target = applyTune(
      testTarget(),
      cacheWith({
        [geomKey("gather", G)]: { kind: "gather", block, model, ms: 1, modelMs: 2 },
      }),
    );
    assert.deepEqual(chooseBlock("gather", G, target), block);
    assert.deepEqual(chooseBlock("scatter", G, target), planScatter(G, DEFAULT_TARGET));
    assert.deepEqual(
      chooseBlock("gather", { ...G, b: 3 }, target),
      planGather({ ...G, b: 3 }, DEFAULT_TARGET),
    );
    // The kernels built for it use it.
    const io = { from: "x", to: "y", weight: "w", accumulate: false };
    assert.equal(
      convGather("c", G, io, chooseBlock("gather", G, target)).code,
      convGather("c", G, io, block).code,
    );
    assert.notEqual(
      convGather("c", G, io, chooseBlock("gather", G, target)).code,
      convGather("c", G, io, model).code,
    );
  }
  // A block forced for every geometry of a kind (a test's) keeps precedence.
  {
    const forced = { ch: 1, nb: 1, py: 1, px: 1 };
    const target = applyTune(
      { ...testTarget(), blocks: { gather: forced } },
      cacheWith({
        [geomKey("gather", G)]: {
          kind: "gather",
          block: { ch: 3, py: 2, px: 5 },
          model: { ch: 3, py: 2, px: 5 },
          ms: 1,
          modelMs: 1,
        },
      }),
    );
    assert.deepEqual(chooseBlock("gather", G, target), forced);
  }
});

Deno.test("candidateBlocks ranks the model's pick first", () => {
  const t = DEFAULT_TARGET;
  assert.deepEqual(candidateBlocks("gather", G, 4, t)[0], planGather(G, t));
  assert.deepEqual(candidateBlocks("scatter", G, 4, t)[0], planScatter(G, t));
  assert.deepEqual(candidateBlocks("wgrad", G, 4, t)[0], planWeightGrad(G, t));
  assert.equal(candidateBlocks("gather", G, 4, t).length, 4);
  assert.equal(candidateBlocks("wgrad", G, 1, t).length, 1);
});

Deno.test("on hardware the untuned starting point fills the GPU; on llvmpipe a few cores", () => {
  // The paper's 256x6x6 -> 160 layer at batch 4: 23,040 outputs.
  const g: ConvGeom = {
    b: 4,
    srcC: 256,
    srcH: 6,
    srcW: 6,
    dstC: 160,
    dstH: 6,
    dstW: 6,
    kh: 3,
    kw: 3,
    s: 1,
    pt: 1,
    pl: 1,
  };
  const threads = (b: { ch: number; nb?: number; py: number; px: number }) =>
    Math.ceil(g.dstC / b.ch) * Math.ceil(g.b / (b.nb ?? 1)) * Math.ceil(6 / b.py) *
    Math.ceil(6 / b.px);
  assert.ok(threads(planGather(g, GPU_TARGET)) >= 8192);
  assert.ok(threads(planGather(g, DEFAULT_TARGET)) <= 1024);
});

Deno.test("a tuning run picks blocks that match the float64 reference", async () => {
  const { device } = await testGpu();
  const entries: TuneCache["entries"] = {};
  for (const kind of ["gather", "scatter", "wgrad"] as const) {
    const r = await tuneKernel(device, kind, G, { top: 3, rounds: 2, targetMs: 5 });
    assert.deepEqual(r.mismatches, [], `${kind}: candidates disagree`);
    // the model's 3 best register blocks, then every tile, each checked against the first
    assert.equal(r.candidates.length, 3 + TILE_CANDIDATES.length);
    assert.ok(r.candidates.slice(3).every((c) => isTile(c.block)));
    assert.ok(r.candidates.some((c) => c.block === r.block));
    assert.ok(Number.isFinite(r.ms) && r.ms >= 0 && Number.isFinite(r.modelMs));
    entries[geomKey(kind, G)] = {
      kind,
      block: r.block,
      model: r.model,
      ms: r.ms,
      modelMs: r.modelMs,
    };
  }
  const dir = `${TMP}/tuned`;
  const c = cacheWith(entries);
  saveCache(dir, c);
  const tuned = applyTune(testTarget(), loadCache(dir, c.adapter));
  const served = new Set<string>();
  const target = {
    ...tuned,
    onChoose: (kind: string, g: ConvGeom) => {
      if (tuned.blocks[geomKey(kind as "gather", g)]) served.add(kind);
    },
  };
  // forward (gather), input gradient (scatter), weight gradient, each checked in float64
  await checkOp(conv2d, { attrs: { out: 5 }, inputs: [[2, 3, 7, 9]], target });
  assert.deepEqual([...served].sort(), ["gather", "scatter", "wgrad"]);
});

Deno.test({
  name: "clean up the temporary cache",
  fn: () => Deno.removeSync(TMP, { recursive: true }),
});
