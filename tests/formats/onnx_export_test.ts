// ONNX export: the small multi-image encoder and the decoder, with random weights,
// run by onnxruntime-web (its wasm CPU backend: no GPU needed) against our float64
// reference; the trained model in models/ exported by the CLI; our WebGPU features
// against ORT's where an adapter exists; one clear error per kind of bad input.
import assert from "node:assert/strict";
import { join } from "node:path";
import { ort } from "../deps.ts";
import { loadModel } from "../../src/lang/model.ts";
import type { TypedNetwork } from "../../src/lang/ir.ts";
import { buildProgram, type Program } from "../../src/plan/program.ts";
import { numel } from "../../src/ops/wgsl.ts";
import { runReference } from "../../src/plan/reference.ts";
import { exportOnnx } from "../../src/formats/onnx_export.ts";
import { InferError, resolveModel } from "../../src/infer/mod.ts";
import { command } from "../commands.ts";
import { relErr } from "../../src/util/compare.ts";
import { NoAdapterError } from "../../src/engine/device.ts";
import { Executor } from "../../src/engine/executor.ts";
import { Rng } from "../../src/util/rng.ts";
import { planOf, testGpu } from "../gpu.ts";

ort.env.wasm.numThreads = 1; // no worker threads: deterministic, and nothing left running
ort.env.logLevel = "error";

type Weights = Map<string, { shape: number[]; data: Float32Array }>;

/** relErr, after checking the reference is large enough for it to be strict (order 0.1 to 1). */
function strictRelErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let den = 0;
  for (let i = 0; i < b.length; i++) den = Math.max(den, Math.abs(b[i]));
  assert.ok(den > 1e-3, `reference output too small to compare (${den})`);
  return relErr(a, b);
}

/**
 * Weights that keep activations of order 1 (the N(0, 0.02) initialisation makes
 * features of 1e-9) and batch norm statistics far from the 0/1 identity, so that a
 * wrong epsilon, mean or variance mapping shows.
 */
function randomWeights(p: Program, seed: number): Weights {
  const rng = new Rng(seed), u = () => rng.next();
  const out: Weights = new Map();
  for (const name of p.params) {
    const shape = p.tensors.get(name)!.shape, n = numel(shape);
    const fan = numel(shape.slice(1));
    const gen: () => number = shape.length > 1
      ? () => (u() * 2 - 1) * Math.sqrt(3 / fan)
      : name.endsWith("running_var")
      ? () => 10 ** (-4 * u()) // down to 1e-4: there epsilon (1e-5) matters
      : name.endsWith("weight")
      ? () => 0.5 + u()
      : () => 0.4 * (u() - 0.5);
    out.set(name, { shape, data: Float32Array.from({ length: n }, gen) });
  }
  // scale * rsqrt(var + eps) of order 1 whatever the variance
  for (const [name, v] of out) {
    const scale = out.get(name.replace(/running_var$/, "weight"));
    if (!name.endsWith("running_var") || !scale) continue;
    scale.data.forEach((s, c) => (scale.data[c] = s * Math.sqrt(v.data[c])));
  }
  return out;
}

function randomInput(n: number, seed: number): Float32Array<ArrayBuffer> {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => 2 * rng.next() - 1);
}

/** Our float64 reference outputs of `net` at the inputs' batch. */
function reference(
  net: TypedNetwork,
  w: Weights,
  inputs: Record<string, Float32Array>,
  batch: number,
  outputs: string[],
): Record<string, Float64Array> {
  const p = buildProgram(net, { batch, training: false, outputs });
  const values = new Map<string, Float64Array>();
  for (const [k, v] of Object.entries(inputs)) values.set(k, Float64Array.from(v));
  for (const [k, v] of w) values.set(k, Float64Array.from(v.data));
  const out = runReference(net, p, values);
  return Object.fromEntries(outputs.map((o) => [o, out.get(p.outputs[o])!]));
}

async function runOrt(
  bytes: Uint8Array,
  inputs: Record<string, { data: Float32Array; dims: number[] }>,
): Promise<Record<string, Float32Array>> {
  const s = await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"] });
  try {
    const feeds = Object.fromEntries(
      Object.entries(inputs).map(([k, v]) => [k, new ort.Tensor("float32", v.data, v.dims)]),
    );
    const r = await s.run(feeds);
    return Object.fromEntries(Object.entries(r).map(([k, t]) => [k, t.data as Float32Array]));
  } finally {
    await s.release();
  }
}

const multi = loadModel("graphs/drgan-small-multi.yaml");
const net = (name: string) => multi.networks.find((n) => n.name === name)!;
const SIZE = 32, PLANE = 3 * SIZE * SIZE;

Deno.test("onnx: the multi-image encoder matches the float64 reference, any batch", async () => {
  const enc = net("encoder"), outputs = ["feature", "confidence"];
  const w = randomWeights(buildProgram(enc, { batch: 1, training: false, outputs }), 1);
  const bytes = exportOnnx(enc, w, { outputs });
  const B = 3, image = randomInput(B * PLANE, 2);
  const want = reference(enc, w, { image }, B, outputs);
  const got = await runOrt(bytes, { image: { data: image, dims: [B, 3, SIZE, SIZE] } });
  assert.deepEqual(Object.keys(got).sort(), [...outputs].sort());
  assert.equal(got.feature.length, B * 80);
  for (const o of outputs) {
    const e = strictRelErr(got[o], want[o]);
    assert.ok(e < 1e-4, `${o}: rel. err ${e}`);
  }
  // the batch dimension is symbolic: one image through the same file
  const one = await runOrt(bytes, { image: { data: image.slice(0, PLANE), dims: [1, 3, 32, 32] } });
  assert.ok(strictRelErr(one.feature, want.feature.slice(0, 80)) < 1e-4);
});

Deno.test("onnx: the decoder (transposed convolutions, concat, linear, reshape, scene background, tanh)", async () => {
  const dec = net("decoder");
  const w = randomWeights(buildProgram(dec, { batch: 1, training: false }), 3);
  // noise: Nz = 50 and the 6-value scene code (the multi graph extends the aux variant)
  const B = 2, inputs = { feature: B * 80, pose: B * 13, noise: B * 56 };
  const data = Object.fromEntries(
    Object.entries(inputs).map(([k, n], i) => [k, randomInput(n, 10 + i)]),
  );
  const want = reference(dec, w, data, B, ["image"]);
  const got = await runOrt(
    exportOnnx(dec, w),
    Object.fromEntries(
      Object.entries(data).map(([k, v]) => [k, { data: v, dims: [B, v.length / B] }]),
    ),
  );
  const e = strictRelErr(got.image, want.image);
  assert.ok(e < 1e-4, `image: rel. err ${e}`);
});

Deno.test("onnx: deno task infer --onnx exports the trained model in models/", async () => {
  const dir = await Deno.makeTempDir({ prefix: "onnx-test-" });
  const file = join(dir, "encoder.onnx");
  try {
    const run = (out: string) => command("infer", ["--model", "models/drgan-small", "--onnx", out]);
    const ok = await run(file);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stderr, /wrote .*encoder\.onnx: the encoder, ONNX opset 17/);
    const bad = await run(join(dir, "encoder.bin"));
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--onnx names a \.onnx file/);

    const r = resolveModel({ run: "models/drgan-small" });
    const image = randomInput(2 * PLANE, 4);
    const want = reference(r.encoder, r.weights, { image }, 2, ["feature"]);
    const got = await runOrt(Deno.readFileSync(file), {
      image: { data: image, dims: [2, 3, SIZE, SIZE] },
    });
    const e = strictRelErr(got.feature, want.feature);
    assert.ok(e < 1e-4, `feature: rel. err ${e}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("onnx: our WebGPU features match onnxruntime-web's", async (t) => {
  let gpu;
  try {
    gpu = await testGpu();
  } catch (e) {
    if (e instanceof NoAdapterError) {
      return void t.step({ name: "no adapter", ignore: true, fn() {} });
    }
    throw e;
  }
  const r = resolveModel({ run: "models/drgan-small" });
  const p = buildProgram(r.encoder, { batch: 2, training: false, outputs: ["feature"] });
  const exec = await Executor.create(gpu, planOf(p));
  try {
    for (const name of p.params) exec.write(name, r.weights.get(name)!.data.slice());
    const image = randomInput(2 * PLANE, 5);
    exec.write("image", image);
    exec.run();
    const ours = (await exec.read([p.outputs.feature])).get(p.outputs.feature)!;
    const { feature } = await runOrt(exportOnnx(r.encoder, r.weights, { outputs: ["feature"] }), {
      image: { data: image, dims: [2, 3, SIZE, SIZE] },
    });
    const e = strictRelErr(ours, feature);
    assert.ok(e < 1e-4, `rel. err ${e} (${gpu.description})`);
  } finally {
    exec.destroy();
  }
});

Deno.test("onnx: clear errors for an unsupported op, missing weights, an unknown output", async () => {
  const dir = await Deno.makeTempDir({ prefix: "onnx-test-" });
  try {
    const g = join(dir, "fuse.yaml");
    Deno.writeTextFileSync(
      g,
      "inputs: { x: [B, 8], c: [B, 1] }\nlayers:\n" +
        "  fused: { op: group_mean, in: [x, c], size: 4 }\noutputs: { fused: fused }\n",
    );
    const fuse = loadModel(g).networks[0];
    assert.throws(
      () => exportOnnx(fuse, new Map()),
      (e: Error) =>
        e instanceof InferError &&
        /no ONNX mapping for 'fused' \(op group_mean, .*fuse\.yaml:3\); supported ops: .*conv2d/
          .test(e.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const enc = net("encoder");
  const w = randomWeights(buildProgram(enc, { batch: 1, training: false }), 1);
  w.delete("encoder.conv11.conv.weight");
  w.set("encoder.conv12.bn.running_var", { shape: [3], data: new Float32Array(3) });
  assert.throws(
    () => exportOnnx(enc, w),
    (e: Error) =>
      e instanceof InferError && /do not fit encoder \(2 problems\)/.test(e.message) &&
      /missing tensor "encoder\.conv11\.conv\.weight" \[8, 3, 3, 3\]/.test(e.message) &&
      /"encoder\.conv12\.bn\.running_var" has shape \[3\], the graph needs \[16\]/.test(e.message),
  );
  assert.throws(
    () => exportOnnx(enc, w, { outputs: ["pose"] }),
    /encoder has no output pose \(it has feature, confidence, scene\)/,
  );
});
