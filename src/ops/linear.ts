// Fully connected layer y = x W^T + b, PyTorch's nn.Linear layout (weight [out, in]).
import { z } from "../deps.ts";
import { defineOp, type Dispatch, ShapeError, type T64 } from "./types.ts";
import { perElement, store } from "./wgsl.ts";

const attrs = z.object({
  out: z.number().int().positive().describe("number of output features"),
  bias: z.boolean().default(true).describe("add a learned bias"),
  in_features: z.number().int().positive().optional().describe(
    "expected input features; checked against the input when given",
  ),
  init: z.enum(["normal", "zeros"]).default("normal").describe(
    "weight initialisation: DR-GAN's N(0, 0.02), or zeros for a path that starts switched off",
  ),
}).strict();

type Attrs = z.infer<typeof attrs>;

/**
 * Batch rows per thread in the forward and input-gradient kernels: each weight load
 * serves them all (one thread per output and row read the weight once per row, and
 * ran at 1 GFLOP/s on llvmpipe for the paper decoder's 383 -> 11520 at batch 4).
 * Each row's sum keeps its order, so the results do not change.
 */
const NB = 8;

/**
 * The threads of a kernel over `n` features x B rows, each taking up to NB rows of one
 * feature, and WGSL for them: `decl` binds the thread's rows b0.. (clamped to the last
 * row, so a tail group loads in bounds), `each` repeats a line per row, `store` writes
 * each row that exists.
 */
function batchRows(B: number, n: number) {
  const nb = Math.min(B, NB);
  const ks = Array.from({ length: nb }, (_, k) => k);
  const tail = B % nb !== 0;
  return {
    threads: Math.ceil(B / nb) * n,
    decl: [
      `  let g = i / ${n}u;`,
      ...ks.map((k) => `  let b${k} = min(g * ${nb}u + ${k}u, ${B - 1}u);`),
    ].join("\n"),
    each: (f: (k: number) => string) => ks.map(f).join("\n"),
    store: (f: (k: number) => string) =>
      ks.map((k) => tail ? `  if (g * ${nb}u + ${k}u < ${B}u) { ${f(k)} }` : `  ${f(k)}`).join(
        "\n",
      ),
  };
}

export const linear = defineOp<Attrs>({
  name: "linear",
  summary: "Fully connected layer on [B, F] input: y = x W^T + b, weight [out, F].",
  attrs,
  arity: [1, 1],
  shape(a, [x]) {
    if (x.length !== 2) {
      const hint = x.length > 2 ? "; add a flatten layer before it" : "";
      throw new ShapeError(`expects 2-D input [B, F], got [${x.join(", ")}]${hint}`);
    }
    const F = x[1];
    if (typeof F !== "number") {
      throw new ShapeError(`needs a concrete feature count, got [${x.join(", ")}]`);
    }
    if (a.in_features !== undefined && a.in_features !== F) {
      throw new ShapeError(
        `expects ${a.in_features} input features, got ${F}`,
        "in_features",
      );
    }
    return [x[0], a.out];
  },
  params(a, [x]) {
    const F = x[1] as number;
    return {
      weight: { shape: [a.out, F], init: a.init, trainable: true },
      ...(a.bias ? { bias: { shape: [a.out], init: "zeros" as const, trainable: true } } : {}),
    };
  },
  macs: (a, [x]) => x[0] * x[1] * a.out,

  forwardRef(a, [x], p) {
    const [B, F] = x.shape, O = a.out;
    const y = new Float64Array(B * O);
    for (let b = 0; b < B; b++) {
      for (let o = 0; o < O; o++) {
        let s = a.bias ? p.bias.data[o] : 0;
        for (let f = 0; f < F; f++) s += x.data[b * F + f] * p.weight.data[o * F + f];
        y[b * O + o] = s;
      }
    }
    return { y: { shape: [B, O], data: y } };
  },

  backwardRef(a, [x], p, _y, dy) {
    const [B, F] = x.shape, O = a.out;
    const dx = new Float64Array(B * F), dw = new Float64Array(O * F), db = new Float64Array(O);
    for (let b = 0; b < B; b++) {
      for (let o = 0; o < O; o++) {
        const g = dy.data[b * O + o];
        db[o] += g;
        for (let f = 0; f < F; f++) {
          dx[b * F + f] += g * p.weight.data[o * F + f];
          dw[o * F + f] += g * x.data[b * F + f];
        }
      }
    }
    const dp: Record<string, T64> = { weight: { shape: [O, F], data: dw } };
    if (a.bias) dp.bias = { shape: [O], data: db };
    return { dx: [{ shape: [B, F], data: dx }], dp };
  },

  forward(a, ctx) {
    const [B, F] = ctx.inputs[0], O = a.out;
    const rows = batchRows(B, O);
    return {
      dispatches: [perElement(
        "linear",
        rows.threads,
        [
          { role: "x0" },
          { role: "p.weight" },
          ...(a.bias ? [{ role: "p.bias" }] : []),
          { role: "y", write: true },
        ],
        `  let o = i % ${O}u;
${rows.decl}
${rows.each((k) => `  var s${k} = ${a.bias ? "p_bias[o]" : "0.0"};`)}
  for (var f = 0u; f < ${F}u; f++) {
    let w = p_weight[o * ${F}u + f];
${rows.each((k) => `    s${k} += x0[b${k} * ${F}u + f] * w;`)}
  }
${rows.store((k) => `y[b${k} * ${O}u + o] = s${k};`)}`,
      )],
    };
  },

  backward(a, ctx) {
    const [B, F] = ctx.inputs[0], O = a.out;
    const acc = (r: string) => ctx.accumulate.has(r);
    const dispatches: Dispatch[] = [];
    if (ctx.needDx[0]) {
      const rows = batchRows(B, F);
      dispatches.push(perElement(
        "linear.dx",
        rows.threads,
        [{ role: "dy" }, { role: "p.weight" }, { role: "dx0", write: true }],
        `  let f = i % ${F}u;
${rows.decl}
${rows.each((k) => `  var s${k} = 0.0;`)}
  for (var o = 0u; o < ${O}u; o++) {
    let w = p_weight[o * ${F}u + f];
${rows.each((k) => `    s${k} += dy[b${k} * ${O}u + o] * w;`)}
  }
${rows.store((k) => store(acc("dx0"), `dx0[b${k} * ${F}u + f]`, `s${k}`))}`,
      ));
    }
    if (ctx.needDp.has("weight")) {
      dispatches.push(perElement(
        "linear.dweight",
        O * F,
        [{ role: "x0" }, { role: "dy" }, { role: "dp.weight", write: true }],
        `  let o = i / ${F}u;
  let f = i % ${F}u;
  var s = 0.0;
  for (var b = 0u; b < ${B}u; b++) { s += dy[b * ${O}u + o] * x0[b * ${F}u + f]; }
  ${store(acc("dp.weight"), "dp_weight[i]", "s")}`,
      ));
    }
    if (a.bias && ctx.needDp.has("bias")) {
      dispatches.push(perElement(
        "linear.dbias",
        O,
        [{ role: "dy" }, { role: "dp.bias", write: true }],
        `  var s = 0.0;
  for (var b = 0u; b < ${B}u; b++) { s += dy[b * ${O}u + i]; }
  ${store(acc("dp.bias"), "dp_bias[i]", "s")}`,
      ));
    }
    return { dispatches };
  },
});
