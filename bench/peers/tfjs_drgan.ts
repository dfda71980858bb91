// TensorFlow.js peer of the DR-GAN benchmark, inside Deno: the same small DR-GAN
// training iteration (a D update, then a G update), an encoder inference pass, and
// optionally the same convolution layers forward and backward, on tfjs's WebGPU
// backend (navigator.gpu) or, with --backend cpu, its plain-JS CPU backend.
//
// Written from the architecture's facts (see torch_drgan.py), NHWC as tfjs prefers:
// 3x3 convolutions without bias, TF 'same' padding, batch norm (batch statistics,
// running estimates updated), ELU; transposed convolutions with TF 'same'; linear
// layers with bias; softmax cross entropy and BCE with logits; Adam (2e-4, 0.5, 0.999).
//
//   deno run -A bench/peers/tfjs_drgan.ts [--size 32 --width 0.25 --nd 40 --batch 16]
//     [--backend webgpu|cpu] [--layers FILE.json] [--skip-train] [--quick]
//
// Prints one JSON object on the last line of stdout.
import { parseArgs } from "node:util";
// Named in full, with the peers' own lock (bench/peers/peers.lock): the project's deno.json and
// lock stay free of TensorFlow.js, so the demo and the tests never fetch it (deno.lock is
// frozen: check this file with --lock=bench/peers/peers.lock).
// deno-lint-ignore no-import-prefix
import * as tf from "npm:@tensorflow/tfjs@4.22.0";
// deno-lint-ignore no-import-prefix
import "npm:@tensorflow/tfjs-backend-webgpu@4.22.0";
import { channels, DEC, ENC, PEER_FLAGS } from "./drgan_layers.ts";

const { values: opt } = parseArgs({
  args: Deno.args,
  options: { ...PEER_FLAGS, backend: { type: "string", default: "webgpu" } },
});

const SIZE = Number(opt.size), WIDTH = Number(opt.width), B = Number(opt.batch);
const Nd = Number(opt.nd), Np = Number(opt.np), Nz = Number(opt.nz);
type Timing = { warmup: number; samples: number; sampleSeconds: number; net?: boolean };
const TIMING: Timing = opt.quick
  ? { warmup: 1, samples: 1, sampleSeconds: 0 }
  : { warmup: 2, samples: 5, sampleSeconds: 3 };
/**
 * per layer: shorter, there are dozens of them; less one sync with nothing queued, as
 * our bench/ops.ts takes the queue wait's fixed latency off its per-layer figures
 */
const LAYER_TIMING = {
  ...(opt.quick ? TIMING : { warmup: 1, samples: 3, sampleSeconds: 0.3 }),
  net: true,
};

const ch = (c: number) => channels(WIDTH, c);

// ------------------------------------------------------------------ the model

interface BN {
  gamma: tf.Variable;
  beta: tf.Variable;
  mean: tf.Variable;
  variance: tf.Variable;
}
interface ConvLayer {
  w: tf.Variable;
  stride: number;
  out: number;
  bn?: BN;
}
interface Linear {
  w: tf.Variable;
  b: tf.Variable;
}

const normal = (shape: number[]) => tf.variable(tf.randomNormal(shape, 0, 0.02, "float32", 1));

function bn(c: number): BN {
  return {
    gamma: tf.variable(tf.ones([c])),
    beta: tf.variable(tf.zeros([c])),
    mean: tf.variable(tf.zeros([c]), false),
    variance: tf.variable(tf.ones([c]), false),
  };
}

function linear(i: number, o: number): Linear {
  return { w: normal([i, o]), b: tf.variable(tf.zeros([o])) };
}

function encoder(): ConvLayer[] {
  let cin = 3;
  return ENC.map(([c, s]) => {
    const out = ch(c);
    const l = { w: normal([3, 3, cin, out]), stride: s, out, bn: bn(out) };
    cin = out;
    return l;
  });
}

function decoder(): { fc: Linear; layers: ConvLayer[] } {
  const nf = ch(320), base = SIZE / 16;
  let cin = nf;
  const layers: ConvLayer[] = DEC.map(([c, s]) => {
    const out = ch(c);
    // conv2dTranspose filters are [kh, kw, out, in]
    const l = { w: normal([3, 3, out, cin]), stride: s, out, bn: bn(out) };
    cin = out;
    return l;
  });
  layers.push({ w: normal([3, 3, 3, cin]), stride: 1, out: 3 });
  return { fc: linear(nf + Np + Nz, nf * base * base), layers };
}

function batchNorm(x: tf.Tensor4D, p: BN, training: boolean): tf.Tensor4D {
  const [beta, gamma] = [p.beta as tf.Tensor1D, p.gamma as tf.Tensor1D];
  if (!training) {
    return tf.batchNorm4d(x, p.mean as tf.Tensor1D, p.variance as tf.Tensor1D, beta, gamma, 1e-5);
  }
  const { mean, variance } = tf.moments(x, [0, 1, 2]);
  // Running estimates as PyTorch keeps them (unbiased variance); no gradient flows here.
  const n = x.size / x.shape[3];
  p.mean.assign(tf.add(tf.mul(p.mean, 0.9), tf.mul(mean, 0.1)));
  p.variance.assign(tf.add(tf.mul(p.variance, 0.9), tf.mul(variance, 0.1 * n / (n - 1))));
  return tf.batchNorm4d(x, mean as tf.Tensor1D, variance as tf.Tensor1D, beta, gamma, 1e-5);
}

function runEncoder(x: tf.Tensor4D, layers: ConvLayer[], training: boolean): tf.Tensor2D {
  for (const l of layers) {
    x = tf.elu(batchNorm(tf.conv2d(x, l.w as tf.Tensor4D, l.stride, "same"), l.bn!, training));
  }
  return tf.mean(x, [1, 2]) as tf.Tensor2D;
}

function runDecoder(
  code: tf.Tensor2D,
  d: ReturnType<typeof decoder>,
  training: boolean,
): tf.Tensor4D {
  const nf = ch(320), base = SIZE / 16;
  const fc = tf.add(tf.matMul(code, d.fc.w as tf.Tensor2D), d.fc.b) as tf.Tensor2D;
  // our reshape is [Nf, base, base] (NCHW); NHWC needs the transpose
  let x = tf.transpose(tf.reshape(fc, [-1, nf, base, base]), [0, 2, 3, 1]) as tf.Tensor4D;
  for (const l of d.layers) {
    const [n, h, w] = x.shape;
    const y = tf.conv2dTranspose(
      x,
      l.w as tf.Tensor4D,
      [n, h * l.stride, w * l.stride, l.out],
      l.stride,
      "same",
    );
    x = l.bn ? tf.elu(batchNorm(y, l.bn, training)) : y;
  }
  return tf.tanh(x);
}

function runDiscriminator(x: tf.Tensor4D, d: { trunk: ConvLayer[]; fc: Linear }): tf.Tensor2D {
  const f = runEncoder(x, d.trunk, true);
  return tf.add(tf.matMul(f, d.fc.w as tf.Tensor2D), d.fc.b) as tf.Tensor2D;
}

const ce = (logits: tf.Tensor2D, labels: tf.Tensor1D, k: number) =>
  tf.losses.softmaxCrossEntropy(tf.oneHot(labels, k), logits);
const bce = (logit: tf.Tensor2D, target: number) =>
  tf.losses.sigmoidCrossEntropy(tf.fill(logit.shape, target), logit);
const split = (l: tf.Tensor2D) => ({
  id: tf.slice(l, [0, 0], [-1, Nd]),
  fake: tf.slice(l, [0, Nd], [-1, 1]),
  pose: tf.slice(l, [0, Nd + 1], [-1, Np]),
});

// ------------------------------------------------------------------- timing

const median = (xs: number[]) => {
  const s = xs.slice().sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Waits for everything queued so far: reads one element of the last result back. */
async function sync(t: tf.Tensor | tf.Tensor[]): Promise<void> {
  const x = Array.isArray(t) ? t[0] : t;
  const one = tf.tidy(() => tf.slice(tf.reshape(x, [-1]), 0, 1));
  await one.data();
  one.dispose();
}

/**
 * Median ms per call; one sync per timed batch of calls, as our harness does. With
 * `net`, less a sync with nothing queued, measured just before.
 */
async function time(fn: () => tf.Tensor | tf.Tensor[], o: Timing = TIMING) {
  const probe = tf.zeros([1]);
  const run = async (n: number) => {
    let last: tf.Tensor | tf.Tensor[] | undefined;
    let idle = 0;
    if (o.net) {
      const i0 = performance.now();
      await sync(probe);
      idle = performance.now() - i0;
    }
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      if (last) tf.dispose(last);
      last = fn();
    }
    await sync(last!);
    tf.dispose(last!);
    return Math.max(performance.now() - t0 - idle, 0) / n;
  };
  for (let i = 0; i < o.warmup; i++) await run(1);
  const one = await run(1);
  const per = Math.max(1, Math.min(100, Math.round(o.sampleSeconds * 1000 / one)));
  const samples: number[] = [];
  for (let s = 0; s < o.samples; s++) samples.push(await run(per));
  probe.dispose();
  return { ms: median(samples), samples, per, warmup: o.warmup };
}

// --------------------------------------------------------------------- main

const out: Record<string, unknown> = { peer: `tfjs-${opt.backend}`, tfjs: tf.version.tfjs };
try {
  if (!(await tf.setBackend(opt.backend!))) {
    throw new Error(`tf.setBackend('${opt.backend}') failed`);
  }
  await tf.ready();
} catch (e) {
  out.error = `${opt.backend} backend failed to initialise: ${e instanceof Error ? e.message : e}`;
  console.log(JSON.stringify(out));
  Deno.exit(0);
}
out.backend = tf.getBackend();
if (out.backend === "webgpu") {
  const adapter = await navigator.gpu.requestAdapter();
  const i = adapter?.info as (GPUAdapterInfo & { isFallbackAdapter?: boolean }) | undefined;
  out.adapter = `${i?.description || i?.vendor || "unknown adapter"}${
    i?.isFallbackAdapter ? " [software]" : ""
  }`;
} else out.adapter = `CPU (tfjs ${out.backend} backend, one JS thread)`;
out.config = { size: SIZE, width: WIDTH, Nd, Np, Nz, batch: B };

const enc = encoder();
const dec = decoder();
const dis = { trunk: encoder(), fc: linear(ch(320), Nd + 1 + Np) };
const trainable = (vs: tf.Variable[]) => vs.filter((v) => v.trainable);
const varsOf = (ls: ConvLayer[]) =>
  ls.flatMap((l) => [l.w, ...(l.bn ? [l.bn.gamma, l.bn.beta, l.bn.mean, l.bn.variance] : [])]);
const encVars = trainable(varsOf(enc));
const decVars = trainable([dec.fc.w, dec.fc.b, ...varsOf(dec.layers)]);
const disVars = trainable([...varsOf(dis.trunk), dis.fc.w, dis.fc.b]);
const count = (vs: tf.Variable[]) => vs.reduce((s, v) => s + v.size, 0);
out.params = { encoder: count(encVars), decoder: count(decVars), discriminator: count(disVars) };

const image = tf.randomUniform([B, SIZE, SIZE, 3], -1, 1, "float32", 2) as tf.Tensor4D;
const identity = tf.tensor1d(Array.from({ length: B }, (_, i) => i % Nd), "int32");
const pose = tf.tensor1d(Array.from({ length: B }, (_, i) => i % Np), "int32");
const adam = () => tf.train.adam(2e-4, 0.5, 0.999, 1e-8);
const optD = adam(), optG = adam();

function iterate(): tf.Tensor[] {
  const target = tf.tensor1d(
    Array.from({ length: B }, () => Math.floor(Math.random() * Np)),
    "int32",
  );
  const code = tf.oneHot(target, Np).toFloat() as tf.Tensor2D;
  const noise = tf.randomUniform([B, Nz], -1, 1) as tf.Tensor2D;
  // D update: the generator forward in training mode, outside any gradient tape.
  const fake = tf.tidy(() =>
    runDecoder(tf.concat([runEncoder(image, enc, true), code, noise], 1), dec, true)
  );
  const dLoss = optD.minimize(
    () => {
      const r = split(runDiscriminator(image, dis)), f = split(runDiscriminator(fake, dis));
      return tf.addN([
        ce(r.id, identity, Nd),
        ce(r.pose, pose, Np),
        bce(r.fake, 0),
        bce(f.fake, 1),
      ]) as tf.Scalar;
    },
    true,
    disVars,
  )!;
  // G update: gradients flow through D into the decoder and encoder.
  const gLoss = optG.minimize(
    () => {
      const feature = runEncoder(image, enc, true);
      const g = runDecoder(tf.concat([feature, code, noise], 1), dec, true);
      const f = split(runDiscriminator(g, dis));
      return tf.addN([ce(f.id, identity, Nd), ce(f.pose, target, Np), bce(f.fake, 0)]) as tf.Scalar;
    },
    true,
    [...encVars, ...decVars],
  )!;
  tf.dispose([target, code, noise, fake]);
  return [gLoss, dLoss];
}

if (!opt["skip-train"]) {
  const t = await time(iterate);
  out.train_ms = t.ms;
  out.train_samples_ms = t.samples;
  out.train_per_sample = t.per;
  const last = iterate();
  out.last_losses = [...await last[1].data(), ...await last[0].data()];
  tf.dispose(last);
}

const inf = await time(() => tf.tidy(() => runEncoder(image, enc, false)));
out.infer_ms = inf.ms;
out.infer_samples_ms = inf.samples;

// The same convolution layers as bench/ops.ts, forward and forward + backward (dx, dw).
if (opt.layers) {
  interface LayerSpec {
    name: string;
    op: "conv2d" | "conv_transpose2d";
    input: number[]; // NCHW, ours
    output: number[];
    kernel: number;
    stride: number;
  }
  const specs = JSON.parse(Deno.readTextFileSync(opt.layers)) as LayerSpec[];
  const layers: Record<string, { fwd_ms: number; fwd_bwd_ms: number }> = {};
  for (const l of specs) {
    const [n, c, h, w] = l.input, [, o, oh, ow] = l.output, k = l.kernel;
    const x = tf.randomNormal([n, h, w, c]) as tf.Tensor4D;
    const dy = tf.randomNormal([n, oh, ow, o]) as tf.Tensor4D;
    const conv = l.op === "conv2d"
      ? (x: tf.Tensor4D, f: tf.Tensor4D) => tf.conv2d(x, f, l.stride, "same")
      : (x: tf.Tensor4D, f: tf.Tensor4D) =>
        tf.conv2dTranspose(x, f, [n, oh, ow, o], l.stride, "same");
    const f = tf.randomNormal(l.op === "conv2d" ? [k, k, c, o] : [k, k, o, c]) as tf.Tensor4D;
    const grads = tf.grads((a, b) => conv(a as tf.Tensor4D, b as tf.Tensor4D));
    const fwd = await time(() => conv(x, f), LAYER_TIMING);
    const both = await time(() => grads([x, f], dy), LAYER_TIMING);
    layers[l.name] = { fwd_ms: fwd.ms, fwd_bwd_ms: both.ms };
    tf.dispose([x, dy, f]);
  }
  out.layers = layers;
}
console.log(JSON.stringify(out));
