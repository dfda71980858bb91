// The inference API on one tiny trained run (made once for this file): features and
// rotations against the float64 reference, fusion, verification thresholds, export,
// multi-image fusion with confidences, the evaluation protocol and its metrics, and
// one clear error for each kind of bad input.
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  CHECKPOINT_FORMAT,
  exportModel,
  FaceModel,
  imagesToPNG,
  InferError,
  loadImage,
  poseFromYaw,
  resolveModel,
  WEIGHTS_FORMAT,
} from "../../mod.ts";
import { buildProgram } from "../../src/plan/program.ts";
import { runReference } from "../../src/plan/reference.ts";
import { INIT_STD, initParams } from "../../src/train/params.ts";
import { readSafetensors, writeSafetensors } from "../../src/formats/safetensors.ts";
import {
  backgroundMask,
  bestThreshold,
  cosine,
  equalErrorRate,
  evaluateModel,
  frontalTruth,
  heldOutFaces,
  maskedAbsError,
  meanAbsError,
  roc,
  rocAuc,
  ssim,
  verificationMetrics,
} from "../../src/eval/evaluate.ts";
import { decodePNG, encodePNG } from "../../src/data/png.ts";
import { fromCHW } from "../../src/data/image.ts";
import { relErr } from "../ops/harness.ts";
import { trainRun } from "../commands.ts";
import { testGpu, testTarget } from "../gpu.ts";

async function tinyRun(): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "infer-test-" });
  await trainRun(root, "tiny");
  // Training ends with the full evaluation; these tests start from one without the
  // verification calibration (the default threshold) and put one in where they need it.
  const evalPath = join(root, "tiny", "eval.json");
  const { verification: _, ...rest } = JSON.parse(Deno.readTextFileSync(evalPath));
  Deno.writeTextFileSync(evalPath, JSON.stringify(rest));
  return join(root, "tiny");
}

const run = await tinyRun();
const faces = heldOutFaces(1, 3, 16);
let shared: FaceModel | undefined;
/** One model for the whole file: its pipelines are compiled once. */
async function model(): Promise<FaceModel> {
  return shared ??= await FaceModel.load({ run, batch: 4 });
}

async function rejects(p: Promise<unknown> | (() => unknown), re: RegExp) {
  await assert.rejects(
    async () => await (typeof p === "function" ? p() : p),
    (e: Error) => {
      assert.ok(
        e instanceof InferError || e.name === "SafetensorsError",
        `${e.name}: ${e.message}`,
      );
      assert.match(e.message, re);
      return true;
    },
  );
}

Deno.test("features and rotations match the float64 reference (inference plans, padded batches)", async () => {
  const m = await model();
  const r = m.resolved;
  assert.equal(m.size, 16);
  assert.equal(m.featureSize, 40);
  assert.equal(m.multi, false);
  const images = [faces[0][6], faces[1][2], faces[2][11], faces[0][0], faces[1][9]]; // 5: batches 4 + 1
  const got = await m.features(images);
  assert.equal(got.length, 5);
  const values = (prog: ReturnType<typeof buildProgram>) =>
    new Map(
      [...r.weights].filter(([k]) => prog.tensors.has(k)).map((
        [k, w],
      ) => [k, Float64Array.from(w.data)]),
    );
  const enc = buildProgram(r.encoder, { batch: 5, training: false });
  const ev = values(enc);
  ev.set(enc.inputs[0], Float64Array.from(images.flatMap((im) => [...im])));
  const want = runReference(r.encoder, enc, ev).get(enc.outputs.feature)!;
  const flat = Float64Array.from(got.flatMap((f) => [...f]));
  assert.ok(relErr(flat, want) < 1e-3, `features: ${relErr(flat, want)}`);

  const rot = await m.rotate(images.slice(0, 2), [0, 12]);
  const dec = buildProgram(r.decoder!, { batch: 2, training: false });
  const dv = values(dec);
  dv.set("feature", Float64Array.from([...got[0], ...got[1]]));
  const code = new Float64Array(2 * 13);
  code[0] = 1;
  code[13 + 12] = 1;
  dv.set("pose", code);
  const z = (m as unknown as { noiseCode: Float32Array }).noiseCode;
  dv.set("noise", Float64Array.from([...z, ...z]));
  const img = runReference(r.decoder!, dec, dv).get(dec.outputs.image)!;
  const rf = Float64Array.from(rot.flatMap((x) => [...x]));
  assert.ok(relErr(rf, img) < 1e-3, `rotation: ${relErr(rf, img)}`);
  // The same image in another batch slot gives the same result; frontalize is pose 6.
  const again = await m.features([images[3]]);
  assert.ok(relErr(again[0], got[3]) < 1e-6);
  const front = await m.frontalize([images[0]]);
  assert.deepEqual(front[0], (await m.rotate([images[0]], 6))[0]);
  const all = await m.rotateAll([images[1]]);
  assert.equal(all[0].length, 13);
  assert.ok(relErr(all[0][12], rot[1]) < 1e-5);
});

Deno.test("the decoder's noise: the model's fixed draw, given per call, or drawn from a seed", async () => {
  // Random weights at unit gain per layer: the tiny run's decoder, two steps from its
  // N(0, 0.02) start, moves its output by the noise only in the last bit or so.
  const graph = "graphs/drgan-small.yaml";
  const ckpt = await randomWeights(
    graph,
    (name, data, shape) =>
      name.startsWith("decoder.") && shape.length > 1
        ? data.map((v) => v / (INIT_STD * Math.sqrt(data.length / shape[0])))
        : data,
  );
  const m = await FaceModel.load({ graph, checkpoint: ckpt, set: SMALL, batch: 4 });
  try {
    await noiseChecks(m);
  } finally {
    m.destroy();
  }
});

async function noiseChecks(m: FaceModel) {
  const face = heldOutFaces(1, 2, m.size)[0][3];
  const [f] = await m.features([face]);
  const fixed = await m.render([f, f], 6);
  assert.deepEqual(fixed[0], fixed[1], "one fixed draw: the same picture twice");
  const seeded = await m.render([f, f], 6, { seed: 7 });
  assert.notDeepEqual(seeded[0], seeded[1], "a fresh draw per face");
  assert.deepEqual(await m.render([f, f], 6, { seed: 7 }), seeded, "a seed reproduces");
  const zero = new Float32Array(m.noiseSize);
  const [a] = await m.render([f], 6, { noise: zero });
  const [b] = await m.rotate([face], 6, { noise: [zero] });
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, fixed[0]);
  await rejects(
    m.render([f], 6, { noise: new Float32Array(3) }),
    /noise 0: expected \d+ finite values/,
  );
  await rejects(m.render([f, f, f], 6, { noise: [zero, zero] }), /2 noise vectors for 3 faces/);
  await rejects(m.render([f], 6, { noise: zero, seed: 1 }), /not both/);
}

Deno.test("estimatePose: the discriminator's pose and realness, loaded on request", async () => {
  const m = await model();
  await rejects(m.estimatePose([faces[0][0]]), /load with discriminator: true/);
  const d = await FaceModel.load({ run, batch: 4, discriminator: true, gpu: m.gpu });
  try {
    const probes = [faces[0][0], faces[0][6], faces[1][12], faces[2][3], faces[2][9]];
    const est = await d.estimatePose(probes);
    assert.equal(est.length, 5);
    for (const e of est) {
      assert.ok(Number.isInteger(e.pose) && e.pose >= 0 && e.pose < 13);
      assert.equal(e.yaw, (e.pose - 6) * 15);
      assert.equal(e.probabilities.length, 13);
      assert.ok(Math.abs(e.probabilities.reduce((a, b) => a + b, 0) - 1) < 1e-6);
      assert.equal(e.probabilities[e.pose], Math.max(...e.probabilities));
      assert.ok(e.real! > 0 && e.real! < 1);
    }
    // batches are independent: one image alone gets the same judgement
    assert.deepEqual((await d.estimatePose([probes[3]]))[0], est[3]);
  } finally {
    d.destroy();
  }
});

Deno.test("fuse is the plain mean without a confidence output; verify is cosine against the threshold", async () => {
  const m = await model();
  const ims = [faces[0][6], faces[0][3], faces[0][9]];
  const f = await m.features(ims);
  const fused = await m.fuse(ims);
  assert.equal(fused.mode, "mean");
  assert.deepEqual(fused.weights, [1, 1, 1]);
  for (let k = 0; k < f[0].length; k++) {
    assert.ok(Math.abs(fused.feature[k] - (f[0][k] + f[1][k] + f[2][k]) / 3) < 1e-6);
  }
  const v = await m.verify(ims[0], ims[1]);
  assert.ok(Math.abs(v.similarity - cosine(f[0], f[1])) < 1e-6);
  assert.equal(v.threshold, 0.5);
  assert.match(v.thresholdSource, /default 0\.5/);
  assert.equal(v.same, v.similarity >= 0.5);
  const w = await m.verify(ims[0], ims[1], 2);
  assert.equal(w.same, false);
  // Several images a side are fused first.
  const sets = await m.verify([ims[0], ims[1]], [ims[2]]);
  const pair = (await m.fuse([ims[0], ims[1]])).feature;
  assert.ok(Math.abs(sets.similarity - cosine(pair, f[2])) < 1e-6);
});

Deno.test("the threshold comes from the run's eval.json calibration when present", () => {
  const path = join(run, "eval.json");
  const before = Deno.readTextFileSync(path);
  try {
    const ev = JSON.parse(before);
    Deno.writeTextFileSync(path, JSON.stringify({ ...ev, verification: { threshold: 0.8125 } }));
    const r = resolveModel({ run });
    assert.equal(r.threshold.value, 0.8125);
    assert.match(r.threshold.source, /eval\.json, calibrated .* at step 2/);
    assert.equal(resolveModel({ run, threshold: 0.1 }).threshold.source, "given");
  } finally {
    Deno.writeTextFileSync(path, before);
  }
});

Deno.test("bad input to the model: wrong image size, NaN, pose out of range", async () => {
  const m = await model();
  await rejects(
    m.features([new Float32Array(3 * 32 * 32)]),
    /image 0 has 3072 values \(3x32x32\); this model takes 3x16x16 = 768/,
  );
  const nan = new Float32Array(768);
  nan[5] = NaN;
  await rejects(m.features([faces[0][0], nan]), /image 1 holds NaN/);
  await rejects(m.rotate([faces[0][0]], 13), /pose 13 is out of range: pose classes are 0\.\.12/);
  await rejects(m.rotate([faces[0][0]], -1), /pose -1 is out of range/);
  await rejects(m.rotate([faces[0][0]], 2.5), /pose 2.5 is out of range/);
  await rejects(m.rotate([faces[0][0]], [1, 2]), /2 poses for 1 images/);
  await rejects(m.fuse([]), /at least one image/);
  assert.equal(poseFromYaw(-45), 3);
  assert.throws(() => poseFromYaw(100), /yaw 100 is out of range/);
  assert.throws(() => poseFromYaw(20), /not a pose class/);
});

Deno.test("bad checkpoints: another graph, truncated, malicious, not ours, NaN; one line per mismatch", async () => {
  const dir = await Deno.makeTempDir();
  // Another graph: every encoder/decoder tensor is the wrong shape; five listed, the count of the rest.
  await rejects(
    () => resolveModel({ run, set: ["width=0.25"] }),
    /does not fit graphs\/drgan-small\.yaml \(\d+ problems\):\n {2}- tensor "encoder\.conv11\.conv\.weight" has shape \[4, 3, 3, 3\], the graph needs \[8, 3, 3, 3\]\n( {2}- .*\n){4} {2}- and \d+ more$/,
  );
  const ckpt = resolveModel({ run }).checkpoint;
  const bytes = Deno.readFileSync(ckpt);
  const cut = join(dir, "cut.safetensors");
  Deno.writeFileSync(cut, bytes.slice(0, bytes.length - 100));
  await rejects(
    () => resolveModel({ run, checkpoint: cut }),
    /cut\.safetensors: .*exceed the data section/,
  );
  const evil = join(dir, "evil.safetensors");
  const head = new Uint8Array(16);
  new DataView(head.buffer).setBigUint64(0, 2n ** 62n, true);
  Deno.writeFileSync(evil, head);
  await rejects(() => resolveModel({ run, checkpoint: evil }), /header length .* is absurd/);
  const garbage = join(dir, "garbage.safetensors");
  Deno.writeFileSync(garbage, new TextEncoder().encode('\x10\0\0\0\0\0\0\0{"a":[1,2,3]}   '));
  await rejects(
    () => resolveModel({ run, checkpoint: garbage }),
    /tensor "a": entry is not an object/,
  );
  // Not one of this project's files (a PyTorch state_dict, say).
  const { tensors } = readSafetensors(ckpt);
  const plain = join(dir, "plain.safetensors");
  writeSafetensors(plain, tensors);
  await rejects(
    () => resolveModel({ run, checkpoint: plain }),
    /not a checkpoint of this project .*deno task import/,
  );
  // A missing tensor, an extra one and a NaN.
  const t = new Map(tensors);
  t.delete("decoder.fc.bias");
  t.set("encoder.extra.weight", { dtype: "F32", shape: [1], data: new Float32Array(1) });
  const w = t.get("encoder.conv11.bn.weight")!;
  const bad = Float32Array.from(w.data as Float32Array);
  bad[0] = NaN;
  t.set("encoder.conv11.bn.weight", { ...w, data: bad });
  const broken = join(dir, "broken.safetensors");
  writeSafetensors(broken, t, { format: CHECKPOINT_FORMAT, graph: "graphs/drgan-small.yaml" });
  await rejects(
    () => resolveModel({ run, checkpoint: broken }),
    /\(3 problems\):\n {2}- tensor "encoder\.conv11\.bn\.weight" holds NaN or infinite values\n {2}- missing tensor "decoder\.fc\.bias" \(the graph needs shape \[40\]\)\n {2}- tensor "encoder\.extra\.weight" is not in this graph$/,
  );
  await rejects(
    () => resolveModel({ run: join(dir, "nope") }),
    /cannot open the run folder .*nope/,
  );
  await rejects(() => resolveModel({ run: dir }), /is not a run folder \(no config\.json\)/);
  await rejects(() => resolveModel({ graph: "graphs/drgan-small.yaml" }), /give the checkpoint/);
});

Deno.test("images: PNG files resized to the model's size, --exact, corrupt and missing files", async () => {
  const dir = await Deno.makeTempDir();
  const big = heldOutFaces(1, 1, 64)[0][6];
  const png = join(dir, "face.png");
  Deno.writeFileSync(png, encodePNG(fromCHW(big, 64), 64, 64, 3));
  const im = loadImage(png, 16);
  assert.equal(im.length, 768);
  assert.ok(
    meanAbsError(im, faces[0][6]) < 0.08,
    "a 64px render resized is close to the 16px render",
  );
  assert.throws(
    () => loadImage(png, 16, { exact: true }),
    /face\.png is 64x64; this model takes 16x16/,
  );
  const bad = join(dir, "bad.png");
  Deno.writeFileSync(bad, Deno.readFileSync(png).slice(0, 60));
  assert.throws(
    () => loadImage(bad, 16),
    /bad\.png: not a readable PNG or JPEG image \(PNG: truncated/,
  );
  const txt = join(dir, "x.png");
  Deno.writeTextFileSync(txt, "hello");
  assert.throws(
    () => loadImage(txt, 16),
    /x\.png: not a readable PNG or JPEG image \(not a PNG or JPEG/,
  );
  assert.throws(
    () => loadImage(join(dir, "none.png"), 16),
    /none\.png: cannot read the image \(not found\)/,
  );
  // Strips: rows of images with 2-pixel gaps.
  const strip = decodePNG(imagesToPNG([[faces[0][0], faces[0][1], faces[0][2]]], 16));
  assert.deepEqual([strip.width, strip.height], [3 * 16 + 4 * 2, 16 + 2 * 2]);
  const m = await model();
  const f = await m.features([im, loadImage(png, 16)]);
  assert.deepEqual(f[0], f[1]);
});

Deno.test("export: a self-contained model folder that loads to the same parameters", async () => {
  const out = join(await Deno.makeTempDir(), "model");
  const { files } = exportModel({ run }, out);
  const names = files.map((f) => f.slice(out.length + 1));
  for (const f of ["config.json", "eval.json", "graph/drgan-small.yaml", "graph/encoder.yaml"]) {
    assert.ok(names.includes(f), `${f} in ${names}`);
  }
  const a = resolveModel({ run }), b = resolveModel({ run: out });
  assert.equal(b.graph, join(out, "graph/drgan-small.yaml"));
  assert.equal(b.step, 2);
  assert.deepEqual([...b.weights.keys()].sort(), [...a.weights.keys()].sort());
  for (const [k, w] of a.weights) assert.deepEqual(b.weights.get(k)!.data, w.data);
  const meta = readSafetensors(b.checkpoint).metadata;
  assert.equal(meta.format, WEIGHTS_FORMAT);
  assert.ok(
    ![...readSafetensors(b.checkpoint).tensors.keys()].some((k) =>
      /^(d|g)\.|^discriminator/.test(k)
    ),
  );
  await rejects(() => exportModel({ run }, out), /exists already/);
});

Deno.test("export with a target ships plan.json: loading walks it, compiles nothing, computes the same", async () => {
  const out = join(await Deno.makeTempDir(), "model");
  const { files } = exportModel({ run, batch: 4 }, out, testTarget());
  assert.ok(files.includes(join(out, "plan.json")), `plan.json in ${files}`);
  const gpu = await testGpu();
  const shipped = await FaceModel.load({ run: out, batch: 4, gpu });
  assert.equal(shipped.shippedPlan, gpu.software, "walked on a software adapter");
  assert.deepEqual(
    JSON.parse(JSON.stringify(shipped.plan)),
    JSON.parse(Deno.readTextFileSync(join(out, "plan.json"))),
  );
  // Another batch than the plan's: compiled as usual.
  const other = await FaceModel.load({ run: out, batch: 2, gpu });
  assert.equal(other.shippedPlan, false);
  const compiled = await model();
  const ims = faces.slice(0, 3).map((f) => f[0]);
  assert.deepEqual(await shipped.features(ims), await compiled.features(ims));
  assert.deepEqual(await shipped.frontalize(ims), await compiled.frontalize(ims));
  shipped.destroy();
  other.destroy();
});

const SMALL = ["size=16", "width=0.125", "Nd=5"];

/** A weights file of the graph's encoder and decoder (at SMALL), randomly initialised. */
async function randomWeights(
  graph: string,
  edit = (_name: string, data: Float32Array, _shape: number[]) => data,
): Promise<string> {
  const { loadModel } = await import("../../src/lang/model.ts");
  const { parseOverride } = await import("../../src/lang/files.ts");
  const mm = loadModel(graph, SMALL.map(parseOverride));
  const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const net of mm.networks.filter((n) => n.name === "encoder" || n.name === "decoder")) {
    const p = buildProgram(net, { batch: 1, training: false });
    for (const [name, data] of initParams(p, 5)) {
      const shape = p.tensors.get(name)!.shape;
      tensors[name] = { shape, data: edit(name, data, shape) };
    }
  }
  const ckpt = join(await Deno.makeTempDir(), "w.safetensors");
  writeSafetensors(ckpt, tensors, { format: WEIGHTS_FORMAT, graph });
  return ckpt;
}

Deno.test("multi-image graph: fuse weights features by the encoder's confidences", async () => {
  const graph = "graphs/drgan-small-multi.yaml";
  // Random weights; the confidence channel's scaled up so that confidences differ.
  const ckpt = await randomWeights(
    graph,
    (name, data) => name.endsWith("conv53.conv.weight") ? data.map((v) => v * 40) : data,
  );
  const m = await FaceModel.load({ graph, checkpoint: ckpt, set: SMALL, batch: 4 });
  try {
    assert.equal(m.multi, true);
    const ims = [faces[0][6], faces[0][1], faces[0][11]];
    const { features, confidences } = await m.encode(ims);
    assert.equal(confidences!.length, 3);
    assert.ok(confidences!.every((c) => c > 0 && c < 1));
    const fused = await m.fuse(ims);
    assert.equal(fused.mode, "confidence");
    assert.deepEqual(fused.weights, confidences);
    const sw = confidences!.reduce((a, b) => a + b, 0);
    for (let k = 0; k < features[0].length; k++) {
      const want = features.reduce((s, f, i) => s + confidences![i] * f[k], 0) / sw;
      assert.ok(Math.abs(fused.feature[k] - want) < 1e-6);
    }
    // The multi-image protocol of the evaluation runs on it too.
    const ev = await evaluateModel(m, {
      seed: 1,
      identities: 2,
      maxImages: 2,
      trials: 1,
      folds: 2,
    });
    assert.deepEqual(ev.multiImage!.perN.map((x) => x.n), [1, 2]);
  } finally {
    m.destroy();
  }
});

Deno.test("scene code: the border colours measured by the encoder drive the decoder's last noise values", async () => {
  const graph = "graphs/drgan-small-aux.yaml";
  const ckpt = await randomWeights(graph);
  const m = await FaceModel.load({ graph, checkpoint: ckpt, set: SMALL, batch: 4 });
  try {
    assert.equal(m.sceneSize, 6);
    assert.equal(m.noiseSize, 56);
    const ims = [faces[0][6], faces[1][1], faces[2][11]];
    const { features, scenes } = await m.encode(ims);
    // the mean colour of the top two rows, then of the bottom two rows
    const S = 16;
    ims.forEach((im, i) => {
      const want = [0, S - 2].flatMap((r0) =>
        [0, 1, 2].map((c) => {
          let sum = 0;
          for (let r = r0; r < r0 + 2; r++) {
            for (let x = 0; x < S; x++) sum += im[c * S * S + r * S + x];
          }
          return sum / (2 * S);
        })
      );
      want.forEach((v, k) => assert.ok(Math.abs(scenes![i][k] - v) < 1e-5, `scene ${i}.${k}`));
    });
    // rotate renders with each image's own scene code in the noise's last six values
    const rot = await m.rotate(ims, 6);
    const noise = ims.map((_, i) => {
      const z = (m as unknown as { noiseCode: Float32Array }).noiseCode.slice();
      z.set(scenes![i], 50);
      return z;
    });
    assert.deepEqual(await m.render(features, 6, { noise }), rot);
    assert.deepEqual(await m.render(features, 6, { scene: scenes }), rot);
    assert.notDeepEqual((await m.render(features, 6))[0], rot[0]);
    assert.deepEqual((await m.rotateAll([ims[1]]))[0][6], rot[1]);
    await rejects(m.render(features, 6, { scene: scenes!.slice(1) }), /2 scene codes for 3 faces/);
    await rejects(
      m.render([features[0]], 6, { scene: [new Float32Array(2)] }),
      /scene 0: expected 6 finite values/,
    );
  } finally {
    m.destroy();
  }
  const plain = await model();
  assert.equal(plain.sceneSize, 0);
  await rejects(
    plain.render([new Float32Array(40)], 6, { scene: [new Float32Array(6)] }),
    /has no scene code/,
  );
});

Deno.test("evaluation protocol on the tiny run: every section, sane ranges", async () => {
  const m = await model();
  const r = await evaluateModel(m, { seed: 1, identities: 3, folds: 10 });
  assert.equal(r.rank1.identities, 3);
  assert.equal(r.rank1.perPose.length, 12);
  for (const p of [r.verification.frontalFrontal, r.verification.frontalProfile]) {
    for (const v of [p.features, p.pixels]) {
      assert.equal(v.pairs, 18);
      assert.equal(v.same, 9);
      assert.ok(v.auc >= 0 && v.auc <= 1 && v.eer >= 0 && v.eer <= 1);
      assert.equal(v.roc.fpr[0], 0);
      assert.equal(v.roc.tpr.at(-1), 1);
    }
  }
  assert.equal(r.frontalization!.perPose.length, 12);
  assert.ok(r.frontalization!.mean.ssim <= 1);
  assert.equal(r.multiImage, undefined);
});

Deno.test("verification metrics: ROC, AUC, EER, best threshold, k folds", () => {
  const scores = [0.9, 0.8, 0.7, 0.6, 0.4, 0.3, 0.2, 0.1];
  const same = [true, true, true, false, true, false, false, false];
  const r = roc(scores, same);
  assert.deepEqual(r.tpr, [0, 0.25, 0.5, 0.75, 0.75, 1, 1, 1, 1]);
  assert.equal(rocAuc(r), 15 / 16);
  assert.equal(equalErrorRate(r), 0.25);
  const b = bestThreshold(scores, same);
  assert.equal(b.accuracy, 7 / 8);
  assert.ok(b.threshold > 0.3 && b.threshold <= 0.7);
  // Perfectly separable: AUC 1, EER 0, every fold right.
  const s2 = [0.9, 0.1, 0.8, 0.2, 0.85, 0.15, 0.95, 0.05];
  const y2 = [true, false, true, false, true, false, true, false];
  const v = verificationMetrics(s2, y2, [0, 0, 1, 1, 2, 2, 3, 3], 4);
  assert.equal(v.auc, 1);
  assert.equal(v.eer, 0);
  assert.deepEqual(v.accuracy, { mean: 1, std: 0, folds: 4 });
  // Ties count half in the AUC.
  assert.equal(rocAuc(roc([0.5, 0.5], [true, false])), 0.5);
});

Deno.test("image metrics: SSIM 1 for equal images, lower for noise; L1 on the [0, 1] scale", () => {
  const a = faces[0][6], b = faces[1][6];
  assert.ok(Math.abs(ssim(a, a, 16) - 1) < 1e-9);
  assert.ok(ssim(a, b, 16) < 0.95);
  assert.equal(meanAbsError(a, a), 0);
  assert.equal(meanAbsError(new Float32Array([-1, 1]), new Float32Array([1, 1])), 0.5);
  // The background mask: the corners are background, the centre (the face) is not.
  const truth = frontalTruth(1, 0, 2, 16), mask = backgroundMask(1, 0, 2, truth, 16);
  assert.deepEqual([mask[0], mask[15], mask[8 * 16 + 8]], [1, 1, 0]);
  const share = mask.reduce((x, y) => x + y, 0) / mask.length;
  assert.ok(share > 0.3 && share < 0.9, `background share ${share}`);
  const [bg, head] = [mask, mask.map((v) => 1 - v)].map((m) => maskedAbsError(a, truth, m));
  assert.ok(bg > 0 && head > 0);
  assert.ok(Math.abs(bg + head - meanAbsError(a, truth)) < 1e-6);
});

globalThis.addEventListener("unload", () => {
  shared?.destroy();
  try {
    Deno.removeSync(join(run, ".."), { recursive: true });
  } catch {
    // best effort
  }
});

Deno.test("an encoder-only graph: features and evaluation work, rotation says there is no decoder", async () => {
  const graph = "graphs/encoder-id-small.yaml";
  const ckpt = await randomWeights(graph);
  const m = await FaceModel.load({ graph, checkpoint: ckpt, set: SMALL, batch: 4 });
  try {
    assert.equal(m.canRotate, false);
    assert.equal((await m.features([faces[0][0]]))[0].length, 40);
    await rejects(m.frontalize([faces[0][0]]), /encoder-id-small\.yaml has no decoder/);
    const ev = await evaluateModel(m, { seed: 1, identities: 2, folds: 2 });
    assert.equal(ev.frontalization, undefined);
    assert.equal(ev.rank1.perPose.length, 12);
  } finally {
    m.destroy();
  }
});
