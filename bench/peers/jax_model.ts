// The small DR-GAN training iteration in jax-js, as tfjs_drgan.ts and torch_drgan.py write
// it (NCHW here, as jax-js's convolutions take it): 3x3 convolutions without bias, 'same'
// padding, batch norm on batch statistics (running estimates updated), ELU, average pool;
// a linear layer and transposed convolutions in the decoder, tanh; softmax cross entropy
// and BCE with logits; Adam (2e-4, 0.5, 0.999). A D update then a G update, each one
// jit-compiled function of (parameters, Adam state, batch) computing valueAndGrad.
//
// jax-js counts references: every function consumes its array arguments, `.ref` keeps one.
// deno-lint-ignore no-import-prefix
import * as jax from "npm:@jax-js/jax@0.1.25";
import { Rng } from "../../src/util/rng.ts";
import { channels, DEC, ENC } from "./drgan_layers.ts";

const { lax, nn, numpy: np, tree } = jax;
type A = jax.Array;

export interface Config {
  size: number;
  width: number;
  nd: number;
  np: number;
  nz: number;
  batch: number;
}

type Layer = { w: A; g?: A; b?: A };
type Linear = { w: A; b: A };
type Gen = { enc: Layer[]; fc: Linear; dec: Layer[] };
type Dis = { trunk: Layer[]; fc: Linear };

const B1 = 0.5, B2 = 0.999, EPS = 1e-8, LR = 2e-4;

/** Adam's first and second moments, shaped as the parameters */
type Opt<T> = { m: T; v: T };

/** The model, its Adam state and running statistics, and one training iteration. */
export function drgan(c: Config) {
  const ch = (n: number) => channels(c.width, n);
  const nf = ch(320), base = c.size / 16, B = c.batch;
  const rng = new Rng(1);
  const normal = (shape: number[]) => {
    const a = new Float32Array(shape.reduce((x, y) => x * y, 1));
    for (let i = 0; i < a.length; i++) a[i] = 0.02 * rng.normal();
    return np.array(a, { shape });
  };
  const bnLayer = (w: A, out: number): Layer => ({ w, g: np.ones([out]), b: np.zeros([out]) });
  const encoder = () => {
    let cin = 3;
    return ENC.map(([n]) => {
      const out = ch(n), l = bnLayer(normal([out, cin, 3, 3]), out);
      cin = out;
      return l;
    });
  };
  const linear = (i: number, o: number): Linear => ({ w: normal([i, o]), b: np.zeros([o]) });
  const decoder = () => {
    let cin = nf;
    // transposed conv weights [in, out, k, k], as PyTorch's and ours
    const layers = DEC.map(([n]) => {
      const out = ch(n), l = bnLayer(normal([cin, out, 3, 3]), out);
      cin = out;
      return l;
    });
    layers.push({ w: normal([cin, 3, 3, 3]) });
    return layers;
  };

  /** y; this batch's mean and unbiased variance go to `seen` (no gradient through them) */
  function batchNorm(x: A, l: Layer, seen: A[]): A {
    const C = x.shape[1], n = x.size / C;
    const mean = x.ref.mean([0, 2, 3], { keepdims: true });
    const xc = x.sub(mean.ref);
    const v = np.square(xc.ref).mean([0, 2, 3], { keepdims: true });
    seen.push(
      lax.stopGradient(mean.reshape([C])),
      lax.stopGradient(v.ref.reshape([C]).mul(n / (n - 1))),
    );
    return xc.div(np.sqrt(v.add(1e-5)))
      .mul(l.g!.ref.reshape([1, C, 1, 1]))
      .add(l.b!.ref.reshape([1, C, 1, 1]));
  }

  // The networks borrow their parameters (`.ref`); the losses dispose what they were given.
  function runEncoder(x: A, ls: Layer[], seen: A[]): A {
    for (const [i, l] of ls.entries()) {
      const s = ENC[i][1];
      x = nn.elu(batchNorm(lax.conv(x, l.w.ref, [s, s], "SAME"), l, seen));
    }
    return x.mean([2, 3]); // average pool over the whole map
  }

  function runDecoder(code: A, g: Gen, seen: A[]): A {
    const fc = np.matmul(code, g.fc.w.ref).add(g.fc.b.ref);
    let x = fc.reshape([B, nf, base, base]);
    for (const [i, l] of g.dec.entries()) {
      const s = i < DEC.length ? DEC[i][1] : 1;
      const y = lax.convTranspose(x, l.w.ref, [s, s], "SAME", { transposeKernel: true });
      x = l.g ? nn.elu(batchNorm(y, l, seen)) : y;
    }
    return np.tanh(x);
  }

  function generate(g: Gen, image: A, code: A, noise: A, seen: A[]): A {
    const feature = runEncoder(image, g.enc, seen);
    return runDecoder(np.concatenate([feature, code, noise], 1), g, seen);
  }

  function runDis(x: A, d: Dis, seen: A[]) {
    const f = runEncoder(x, d.trunk, seen);
    const l = np.matmul(f, d.fc.w.ref).add(d.fc.b.ref);
    const cols = (a: number, b: number) => l.ref.slice([], [a, b]);
    const out = {
      id: cols(0, c.nd),
      fake: cols(c.nd, c.nd + 1),
      pose: cols(c.nd + 1, c.nd + 1 + c.np),
    };
    l.dispose();
    return out;
  }

  /** mean over the batch of -log softmax(logits)[label], labels one-hot */
  const ce = (logits: A, oneHot: A) => nn.logSoftmax(logits, -1).mul(oneHot).sum(-1).mean().neg();
  /** BCE with logits against a constant target t: mean of softplus(x) - t x */
  const bce = (x: A, t: number) => nn.softplus(x.ref).sub(x.mul(t)).mean();

  /** D's loss on the real batch and the generated one; aux: D's batch statistics */
  function dLoss(d: Dis, image: A, fake: A, id: A, pose: A): [A, A[]] {
    const seen: A[] = [];
    const r = runDis(image, d, seen), f = runDis(fake, d, seen);
    tree.dispose(d);
    f.id.dispose();
    f.pose.dispose();
    return [ce(r.id, id).add(ce(r.pose, pose)).add(bce(r.fake, 0)).add(bce(f.fake, 1)), seen];
  }

  /** G's loss through D; aux: G's batch statistics, then D's */
  function gLoss(g: Gen, d: Dis, image: A, code: A, noise: A, id: A, target: A): [A, A[][]] {
    const gSeen: A[] = [], dSeen: A[] = [];
    const f = runDis(generate(g, image, code, noise, gSeen), d, dSeen);
    tree.dispose([g, d]);
    return [ce(f.id, id).add(ce(f.pose, target)).add(bce(f.fake, 0)), [gSeen, dSeen]];
  }

  /** running = 0.9 running + 0.1 batch, once for each pass that saw the layers */
  function updateStats(stats: A[], seen: A[]): A[] {
    let out = stats;
    for (let i = 0; i < seen.length; i += stats.length) {
      out = out.map((s, j) => s.mul(0.9).add(seen[i + j].mul(0.1)));
    }
    return out;
  }

  /** one Adam step; lrT is the step size with both bias corrections folded in */
  function adam<T extends jax.JsTree<A>>(p: T, grad: T, o: Opt<T>, lrT: A): [T, Opt<T>] {
    const [ps, def] = tree.flatten(p);
    const [gs, ms, vs] = [tree.leaves(grad), tree.leaves(o.m), tree.leaves(o.v)];
    const next = ps.map((x, i) => {
      const g = gs[i];
      const m = ms[i].mul(B1).add(g.ref.mul(1 - B1));
      const v = vs[i].mul(B2).add(np.square(g).mul(1 - B2));
      return [x.sub(lrT.ref.mul(m.ref).div(np.sqrt(v.ref).add(EPS))), m, v];
    });
    lrT.dispose();
    const back = (k: number) => tree.unflatten(def, next.map((n) => n[k])) as T;
    return [back(0), { m: back(1), v: back(2) }];
  }

  // D update: G runs forward in training mode outside the gradient, then D's step.
  const dStep = jax.jit((
    d: Dis,
    opt: Opt<Dis>,
    g: Gen,
    stats: { g: A[]; d: A[] },
    batch: { image: A; code: A; noise: A; id: A; pose: A },
    lrT: A,
  ) => {
    const gSeen: A[] = [];
    const fake = lax.stopGradient(generate(g, batch.image.ref, batch.code, batch.noise, gSeen));
    tree.dispose(g);
    const [[loss, dSeen], grad] = jax.valueAndGrad(dLoss, { hasAux: true })(
      tree.ref(d),
      batch.image,
      fake,
      batch.id,
      batch.pose,
    );
    const [d1, opt1] = adam(d, grad, opt, lrT);
    return {
      d: d1,
      opt: opt1,
      stats: { g: updateStats(stats.g, gSeen), d: updateStats(stats.d, dSeen) },
      loss,
    };
  });

  // G update: gradients flow through D into the decoder and encoder.
  const gStep = jax.jit((
    g: Gen,
    opt: Opt<Gen>,
    d: Dis,
    stats: { g: A[]; d: A[] },
    batch: { image: A; code: A; noise: A; id: A; target: A },
    lrT: A,
  ) => {
    const [[loss, [gSeen, dSeen]], grad] = jax.valueAndGrad(gLoss, { hasAux: true })(
      tree.ref(g),
      d,
      batch.image,
      batch.code,
      batch.noise,
      batch.id,
      batch.target,
    );
    const [g1, opt1] = adam(g, grad, opt, lrT);
    return {
      g: g1,
      opt: opt1,
      stats: { g: updateStats(stats.g, gSeen), d: updateStats(stats.d, dSeen) },
      loss,
    };
  });

  const zerosLike = <T extends jax.JsTree<A>>(t: T) =>
    tree.map((x: A) => np.zeros(x.shape), t) as T;
  const statsOf = (ls: Layer[]) =>
    ls.filter((l) => l.g).flatMap((l) => [np.zeros(l.g!.shape), np.ones(l.g!.shape)]);
  const gen: Gen = {
    enc: encoder(),
    fc: linear(nf + c.np + c.nz, nf * base * base),
    dec: decoder(),
  };
  const dis: Dis = { trunk: encoder(), fc: linear(nf, c.nd + 1 + c.np) };
  let s = {
    gen,
    dis,
    gOpt: { m: zerosLike(gen), v: zerosLike(gen) },
    dOpt: { m: zerosLike(dis), v: zerosLike(dis) },
    stats: { g: statsOf([...gen.enc, ...gen.dec]), d: statsOf(dis.trunk) },
    t: 0,
  };
  const count = (t: jax.JsTree<A>) => tree.leaves(t).reduce((n, x) => n + x.size, 0);
  const params = {
    encoder: count(gen.enc),
    decoder: count([gen.fc, gen.dec]),
    discriminator: count(dis),
  };

  const image = np.array(
    Float32Array.from({ length: B * 3 * c.size * c.size }, () => rng.next() * 2 - 1),
    {
      shape: [B, 3, c.size, c.size],
    },
  );
  const oneHot = (labels: number[], k: number) => {
    const a = new Float32Array(labels.length * k);
    labels.forEach((l, i) => a[i * k + l] = 1);
    return np.array(a, { shape: [labels.length, k] });
  };
  const id = oneHot(Array.from({ length: B }, (_, i) => i % c.nd), c.nd);
  const pose = oneHot(Array.from({ length: B }, (_, i) => i % c.np), c.np);

  /** One D update and one G update; returns [D loss, G loss] (not yet computed: lazy). */
  function iterate(): A[] {
    s.t++;
    const lrT = (t: number) => np.array([LR * Math.sqrt(1 - B2 ** t) / (1 - B1 ** t)]).reshape([]);
    const target = oneHot(Array.from({ length: B }, () => rng.int(c.np)), c.np);
    const noise = np.array(Float32Array.from({ length: B * c.nz }, () => rng.next() * 2 - 1), {
      shape: [B, c.nz],
    });
    const D = dStep(
      s.dis,
      s.dOpt,
      tree.ref(s.gen),
      s.stats,
      { image: image.ref, code: target.ref, noise: noise.ref, id: id.ref, pose: pose.ref },
      lrT(s.t),
    );
    const G = gStep(
      s.gen,
      s.gOpt,
      tree.ref(D.d),
      D.stats,
      { image: image.ref, code: target.ref, noise, id: id.ref, target },
      lrT(s.t),
    );
    s = { ...s, gen: G.g, dis: D.d, gOpt: G.opt, dOpt: D.opt, stats: G.stats };
    return [D.loss, G.loss];
  }

  /** everything the next iteration reads: wait for it before timing ends */
  const live = () => [s.gen, s.dis, s.gOpt, s.dOpt, s.stats];
  return { iterate, params, live };
}
