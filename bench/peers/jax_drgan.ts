// jax-js peer of the DR-GAN benchmark, inside Deno on its WebGPU backend: the small
// DR-GAN training iteration (jax_model.ts) and the same convolution layers as bench/ops.ts
// and the TensorFlow.js peer, forward and forward + both gradients (one jit-compiled
// valueAndGrad), after a check of one conv and one transposed conv against our float64
// references.
//
//   deno run -A --lock=bench/peers/peers.lock bench/peers/jax_drgan.ts
//     [--size 32 --width 0.25 --nd 40 --np 13 --nz 50 --batch 16] [--skip-train]
//     [--layers FILE.json] [--quick]
//
// Prints one JSON object on the last line of stdout.
import { parseArgs } from "node:util";
// Named in full, with the peers' own lock (bench/peers/peers.lock), as tfjs_drgan.ts. The
// references' types bring the library's three packages into that lock too: type-checking
// reads them, `deno run` fetches none of them.
// deno-lint-ignore no-import-prefix
import * as jax from "npm:@jax-js/jax@0.1.25";
import { refConv, refConvAdjoint, refConvWeightGrad } from "../../src/ops/conv/reference.ts";
import type { ConvGeom } from "../../src/ops/conv/geometry.ts";
import { drgan } from "./jax_model.ts";
import { PEER_FLAGS } from "./drgan_layers.ts";

const { lax, numpy: np } = jax;
const VERSION = "0.1.25";

const { values: opt } = parseArgs({
  args: Deno.args,
  options: PEER_FLAGS,
});

/** as tfjs_drgan.ts times them: the iteration, and each layer (shorter: there are dozens) */
type Timing = { warmup: number; samples: number; sampleSeconds: number; net?: boolean };
const TIMING: Timing = opt.quick
  ? { warmup: 1, samples: 1, sampleSeconds: 0 }
  : { warmup: 2, samples: 5, sampleSeconds: 3 };
/** less one sync with nothing queued, as tfjs_drgan.ts and our bench/ops.ts */
const LAYER_TIMING = {
  ...(opt.quick ? TIMING : { warmup: 1, samples: 3, sampleSeconds: 0.3 }),
  net: true,
};

interface LayerSpec {
  name: string;
  op: "conv2d" | "conv_transpose2d";
  input: number[]; // NCHW, as jax-js takes it
  output: number[];
  kernel: number;
  stride: number;
}

/** Our layout throughout: NCHW; conv weight [out, in, k, k], transposed conv [in, out, k, k]. */
function layerFn(l: LayerSpec) {
  const s = [l.stride, l.stride];
  return l.op === "conv2d"
    // JAX's SAME is TensorFlow's: out = ceil(in / s), the odd padding row at the bottom
    ? (x: jax.Array, w: jax.Array) => lax.conv(x, w, s, "SAME")
    // transposeKernel: PyTorch's [in, out, k, k] weight, spatially flipped as its adjoint needs
    : (x: jax.Array, w: jax.Array) => lax.convTranspose(x, w, s, "SAME", { transposeKernel: true });
}

/** Forward alone, and forward + dx + dw as one jit-compiled program (dy given). */
function programs(l: LayerSpec) {
  const f = layerFn(l);
  const fwd = jax.jit((x: jax.Array, w: jax.Array) => f(x, w));
  const loss = (x: jax.Array, w: jax.Array, dy: jax.Array) => f(x, w).mul(dy).sum();
  const both = jax.jit(jax.valueAndGrad(loss, { argnums: [0, 1] }));
  return { fwd, both };
}

function weightShape(l: LayerSpec): number[] {
  const [, c] = l.input, [, o] = l.output, k = l.kernel;
  return l.op === "conv2d" ? [o, c, k, k] : [c, o, k, k];
}

/** Deterministic values in [-1, 1) (a 32-bit LCG), so the check is reproducible. */
function values(n: number, seed: number): Float32Array<ArrayBuffer> {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2 ** 31 - 1;
  }
  return a;
}

const numel = (s: number[]) => s.reduce((a, b) => a * b, 1);
const put = (data: Float32Array<ArrayBuffer>, shape: number[]) => np.array(data, { shape });

/**
 * Every output array's pending kernels are submitted (jax-js runs them lazily: an array
 * disposed unread would skip its work), and those of `keep` (state the calls updated), then
 * one scalar is read back, so the time covers the GPU work.
 */
async function sync(outs: jax.Array[], keep: jax.JsTree<jax.Array> = []): Promise<void> {
  await jax.blockUntilReady([outs, keep]);
  await outs[outs.length - 1].ref.flatten().slice([0, 1]).data();
  for (const o of outs) o.dispose();
}

const median = (xs: number[]) => {
  const s = xs.slice().sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/**
 * Median ms per call; each sample queues several calls and syncs once, as tfjs_drgan.ts
 * (with `net`, less a sync with nothing queued, measured just before).
 */
async function time(
  fn: () => jax.Array[],
  o: Timing = TIMING,
  keep: () => jax.JsTree<jax.Array> = () => [],
) {
  const run = async (n: number) => {
    let idle = 0;
    if (o.net) {
      const i0 = performance.now();
      await sync([np.zeros([1])]);
      idle = performance.now() - i0;
    }
    const t0 = performance.now();
    const outs: jax.Array[] = [];
    for (let i = 0; i < n; i++) outs.push(...fn());
    await sync(outs, keep());
    return Math.max(performance.now() - t0 - idle, 0) / n;
  };
  for (let i = 0; i < o.warmup; i++) await run(1);
  const one = await run(1);
  const per = Math.max(1, Math.min(100, Math.round(o.sampleSeconds * 1000 / one)));
  const samples: number[] = [];
  for (let s = 0; s < o.samples; s++) samples.push(await run(per));
  return { ms: median(samples), samples, per };
}

/** Our geometry (src/ops/conv/geometry.ts) of a layer with TensorFlow's 'same' padding. */
function geometry(l: LayerSpec): ConvGeom {
  const k = l.kernel, s = l.stride;
  // the conv runs from src to dst; a transposed conv is the adjoint of the conv back
  const [src, dst] = l.op === "conv2d" ? [l.input, l.output] : [l.output, l.input];
  const pad = (i: number, o: number) => Math.floor(Math.max((o - 1) * s + k - i, 0) / 2);
  return {
    b: src[0],
    srcC: src[1],
    srcH: src[2],
    srcW: src[3],
    dstC: dst[1],
    dstH: dst[2],
    dstW: dst[3],
    kh: k,
    kw: k,
    s,
    pt: pad(src[2], dst[2]),
    pl: pad(src[3], dst[3]),
  };
}

/** Largest |jax-js - float64| over the largest |float64|, for y, dx and dw. */
async function check(l: LayerSpec) {
  const g = geometry(l), ws = weightShape(l);
  const x = values(numel(l.input), 1), w = values(numel(ws), 2), dy = values(numel(l.output), 3);
  const f64 = (a: Float32Array) => Float64Array.from(a);
  const ref = l.op === "conv2d"
    ? {
      y: refConv(g, f64(x), f64(w)),
      dx: refConvAdjoint(g, f64(dy), f64(w)),
      dw: refConvWeightGrad(g, f64(x), f64(dy)),
    }
    : {
      y: refConvAdjoint(g, f64(x), f64(w)),
      dx: refConv(g, f64(dy), f64(w)),
      dw: refConvWeightGrad(g, f64(dy), f64(x)),
    };
  const { fwd, both } = programs(l);
  const y = await fwd(put(x, l.input), put(w, ws)).data();
  const [, [dx, dw]] = both(put(x, l.input), put(w, ws), put(dy, l.output));
  const got = { y, dx: await dx.data(), dw: await dw.data() };
  const err = (a: ArrayLike<number>, b: Float64Array) => {
    if (a.length !== b.length) return Infinity;
    let num = 0, den = 0;
    for (let i = 0; i < b.length; i++) {
      num = Math.max(num, Math.abs(a[i] - b[i]));
      den = Math.max(den, Math.abs(b[i]));
    }
    return num / den;
  };
  fwd.dispose();
  both.dispose();
  return { y: err(got.y, ref.y), dx: err(got.dx, ref.dx), dw: err(got.dw, ref.dw) };
}

/** Forward and forward + backward of one layer, on random inputs. */
async function timeLayer(l: LayerSpec) {
  const ws = weightShape(l);
  const x = put(values(numel(l.input), 4), l.input);
  const w = put(values(numel(ws), 5), ws);
  const dy = put(values(numel(l.output), 6), l.output);
  const { fwd, both } = programs(l);
  const f = await time(() => [fwd(x.ref, w.ref)], LAYER_TIMING);
  const b = await time(() => {
    const [v, [dx, dw]] = both(x.ref, w.ref, dy.ref);
    return [dx, dw, v];
  }, LAYER_TIMING);
  for (const a of [x, w, dy]) a.dispose();
  fwd.dispose();
  both.dispose();
  return {
    fwd_ms: f.ms,
    fwd_bwd_ms: b.ms,
    fwd_samples_ms: f.samples,
    fwd_bwd_samples_ms: b.samples,
  };
}

// --------------------------------------------------------------------- main

const out: Record<string, unknown> = { peer: "jax-js-webgpu", jax: VERSION };
const devices = await jax.init("webgpu");
if (!devices.includes("webgpu")) {
  out.error = navigator.gpu
    ? "jax-js found navigator.gpu but could not open a WebGPU device (init('webgpu'))"
    : "no navigator.gpu in this Deno";
  console.log(JSON.stringify(out));
  Deno.exit(0);
}
jax.defaultDevice("webgpu");
const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
const info = adapter?.info as (GPUAdapterInfo & { isFallbackAdapter?: boolean }) | undefined;
out.adapter = `${info?.description || info?.vendor || "unknown adapter"}${
  info?.isFallbackAdapter ? " [software]" : ""
}`;

// Like for like: a strided conv and a strided transposed conv where 'same' pads an odd number
// of rows (the extra one at the bottom), against the float64 loops our kernels are checked with.
const checks: Record<string, { y: number; dx: number; dw: number }> = {};
for (
  const l of [
    { name: "conv 5x10x10->6 k3 s2", op: "conv2d", input: [2, 5, 10, 10], output: [2, 6, 5, 5] },
    {
      name: "deconv 6x5x5->4 k3 s2",
      op: "conv_transpose2d",
      input: [2, 6, 5, 5],
      output: [2, 4, 10, 10],
    },
  ] as const
) {
  checks[l.name] = await check({
    ...l,
    input: [...l.input],
    output: [...l.output],
    kernel: 3,
    stride: 2,
  });
}
out.check_rel_err = checks;
const bad = Object.entries(checks).filter(([, e]) => !(Math.max(e.y, e.dx, e.dw) <= 1e-3));
if (bad.length) {
  out.error = `jax-js disagrees with the float64 reference: ${
    JSON.stringify(Object.fromEntries(bad))
  }`;
  console.log(JSON.stringify(out));
  Deno.exit(0);
}

if (!opt["skip-train"]) {
  const config = {
    size: Number(opt.size),
    width: Number(opt.width),
    nd: Number(opt.nd),
    np: Number(opt.np),
    nz: Number(opt.nz),
    batch: Number(opt.batch),
  };
  out.config = config;
  const model = drgan(config);
  out.params = model.params;
  const t = await time(model.iterate, TIMING, model.live);
  out.train_ms = t.ms;
  out.train_samples_ms = t.samples;
  out.train_per_sample = t.per;
  const last = model.iterate();
  out.last_losses = [(await last[0].data())[0], (await last[1].data())[0]];
}

if (opt.layers) {
  const specs = JSON.parse(Deno.readTextFileSync(opt.layers)) as LayerSpec[];
  const layers: Record<string, Awaited<ReturnType<typeof timeLayer>>> = {};
  for (const l of specs) layers[l.name] = await timeLayer(l);
  out.layers = layers;
}
console.log(JSON.stringify(out));
