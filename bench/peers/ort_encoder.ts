// onnxruntime-web peer of the inference benchmark, inside Deno: the encoder's
// features for one batch, from the ONNX file our exporter wrote (the same weights
// and graph as bench/infer.ts runs), on ORT's WebGPU execution provider
// (navigator.gpu) or its wasm CPU provider.
//
//   deno run --allow-read --allow-env bench/peers/ort_encoder.ts --model enc.onnx
//     [--size 32 --batch 16] [--ep webgpu|wasm] [--threads N] [--quick]
//
// WebGPU: the input lives in a GPU buffer and outputs stay on the GPU
// (preferredOutputLocation "gpu-buffer"), so a run is the dispatches alone, as ours
// is; a sample of n runs ends by reading the last output back (one sync, as our
// harness does). wasm: plain CPU tensors. Prints one JSON object on the last line.
import { parseArgs } from "node:util";

const { values: opt } = parseArgs({
  args: Deno.args,
  options: {
    model: { type: "string" },
    size: { type: "string", default: "32" },
    batch: { type: "string", default: "16" },
    ep: { type: "string", default: "webgpu" },
    threads: { type: "string", default: "1" },
    quick: { type: "boolean", default: false },
  },
});
const B = Number(opt.batch), SIZE = Number(opt.size), EP = opt.ep!;
const TIMING = opt.quick
  ? { warmup: 1, samples: 1, sampleSeconds: 0 }
  : { warmup: 2, samples: 7, sampleSeconds: 1 }; // as bench/infer.ts times ours

const out: Record<string, unknown> = { peer: `ort-${EP}`, ep: EP };
const fail = (what: string, e: unknown): never => {
  out.error = `${what}: ${e instanceof Error ? e.message : e}`;
  console.log(JSON.stringify(out));
  Deno.exit(0);
};
if (!opt.model) fail("usage", "--model FILE.onnx is required");
if (!["webgpu", "wasm"].includes(EP)) fail("usage", "--ep is webgpu or wasm");

// The WebGPU build also has the wasm EP; the plain build is what a CPU user loads.
const ort = EP === "webgpu"
  // deno-lint-ignore no-import-prefix
  ? await import("npm:onnxruntime-web@1.30.0/webgpu")
  // deno-lint-ignore no-import-prefix
  : await import("npm:onnxruntime-web@1.30.0");
out.ort = ort.env.versions.web;
ort.env.wasm.numThreads = Number(opt.threads);
ort.env.logLevel = "error";

const median = (xs: number[]) => {
  const s = xs.slice().sort((a, b) => a - b), m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const bytes = Deno.readFileSync(opt.model!);
const dims = [B, 3, SIZE, SIZE];
const x = new Float32Array(B * 3 * SIZE * SIZE);
let seed = 2;
for (let i = 0; i < x.length; i++) {
  x[i] = 2 * ((seed = (seed * 48271) % 2147483647) / 2147483647) - 1;
}

type Session = Awaited<ReturnType<typeof ort.InferenceSession.create>>;
type Feeds = Parameters<Session["run"]>[0];
let feeds: Feeds;
const t0 = performance.now();
const session: Session = await ort.InferenceSession.create(bytes, {
  executionProviders: [EP],
  ...(EP === "webgpu" ? { preferredOutputLocation: "gpu-buffer" as const } : {}),
}).catch((e) => fail(`the ${EP} execution provider failed to create a session`, e));
out.session_ms = performance.now() - t0;

if (EP === "webgpu") {
  // ORT's types leave GPUDevice unknown outside a DOM lib; Deno has the real one
  const device = await ort.env.webgpu.device as unknown as GPUDevice;
  const info = (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo ??
    (await navigator.gpu.requestAdapter())?.info;
  const soft = (info as GPUAdapterInfo & { isFallbackAdapter?: boolean })?.isFallbackAdapter ||
    /llvmpipe|lavapipe|swiftshader/i.test(`${info?.description} ${info?.device}`);
  out.adapter = `${info?.description || info?.vendor || "unknown adapter"}${
    soft ? " [software]" : ""
  }`;
  const buf = device.createBuffer({
    size: x.byteLength,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
  });
  device.queue.writeBuffer(buf, 0, x);
  feeds = { image: ort.Tensor.fromGpuBuffer(buf, { dataType: "float32", dims }) };
} else {
  out.adapter = `CPU (onnxruntime-web wasm, ${opt.threads} thread${
    opt.threads === "1" ? "" : "s"
  })`;
  feeds = { image: new ort.Tensor("float32", x, dims) };
}

/** Runs `n` passes, reads the last result back; ms per pass. */
async function sample(n: number): Promise<number> {
  const t = performance.now();
  let last: Awaited<ReturnType<Session["run"]>> | undefined;
  for (let i = 0; i < n; i++) {
    if (last) { for (const v of Object.values(last)) v.dispose(); }
    last = await session.run(feeds);
  }
  const f = last!.feature;
  await f.getData();
  for (const v of Object.values(last!)) v.dispose();
  return (performance.now() - t) / n;
}

let features: Float32Array;
try {
  for (let i = 0; i < TIMING.warmup; i++) await sample(1);
  const one = await sample(1);
  const per = Math.max(1, Math.min(100, Math.round(TIMING.sampleSeconds * 1000 / one)));
  const samples = per === 1 ? [one] : [];
  while (samples.length < TIMING.samples) samples.push(await sample(per));
  Object.assign(out, {
    infer_ms: median(samples),
    samples_ms: samples,
    per,
    warmup: TIMING.warmup,
  });
  const r = await session.run(feeds);
  features = await r.feature.getData() as Float32Array;
} catch (e) {
  fail(`the ${EP} execution provider failed to run`, e);
}

// The WebGPU result against the same build's wasm EP: the figure is of a correct run.
if (EP === "webgpu") {
  const cpu = await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"] });
  const r = await cpu.run({ image: new ort.Tensor("float32", x, dims) });
  const want = r.feature.data as Float32Array;
  let num = 0, den = 0;
  want.forEach((v, i) => {
    num = Math.max(num, Math.abs(v - features![i]));
    den = Math.max(den, Math.abs(v));
  });
  out.check_rel_err_vs_wasm = den ? num / den : num;
}
console.log(JSON.stringify(out));
Deno.exit(0); // ORT's device and wasm module would keep the process alive
