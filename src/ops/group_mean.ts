// Multi-image DR-GAN's fusion: rows come in groups of n images of one person; each
// group becomes one row, the mean of its rows weighted by a per-row confidence:
// y_g = sum_i w_i x_i / (sum_i w_i + eps). Without weights, the plain mean.
import { z } from "../deps.ts";
import { defineOp, type Dim, ShapeError, type T64 } from "./types.ts";
import { f32, numel, perElement, store } from "./wgsl.ts";
import { divideDim } from "./dim.ts";

const EPS = 1e-8;

const attrs = z.object({
  size: z.number().int().positive().describe("rows per group (n images of one identity)"),
}).strict();

type Attrs = z.infer<typeof attrs>;

function groups(a: Attrs, b: Dim): Dim {
  const g = divideDim(b, a.size);
  if (g === undefined) {
    throw new ShapeError(
      typeof b === "number"
        ? `batch ${b} is not a multiple of ${a.size}`
        : `cannot group rows of the size '${b}'`,
      "size",
    );
  }
  return g;
}

/** [groups, n, rest] view of x */
function view(a: Attrs, x: number[]) {
  return { G: x[0] / a.size, n: a.size, R: numel(x.slice(1)) };
}

export const groupMean = defineOp<Attrs>({
  name: "group_mean",
  summary: "Fuses groups of `size` adjacent rows [B, ...] into [B/size, ...]: their mean, " +
    "weighted by an optional second input of per-row weights [B] or [B, 1] (multi-image " +
    "DR-GAN's confidence): sum(w x) / (sum(w) + 1e-8).",
  attrs,
  arity: [1, 2],
  shape(a, [x, w]) {
    if (w && !(w[0] === x[0] && (w.length === 1 || (w.length === 2 && w[1] === 1)))) {
      throw new ShapeError(
        `expects weights [${x[0]}] or [${x[0]}, 1] for rows [${x.join(", ")}], got [${
          w.join(", ")
        }]`,
      );
    }
    return [groups(a, x[0]), ...x.slice(1)];
  },
  macs: (_a, [x]) => 2 * numel(x),
  forwardRef(a, [x, w]) {
    const { G, n, R } = view(a, x.shape);
    const y = new Float64Array(G * R);
    for (let g = 0; g < G; g++) {
      let s = EPS;
      for (let i = 0; i < n; i++) s += w ? w.data[g * n + i] : 1;
      for (let r = 0; r < R; r++) {
        let acc = 0;
        for (let i = 0; i < n; i++) {
          acc += (w ? w.data[g * n + i] : 1) * x.data[(g * n + i) * R + r];
        }
        y[g * R + r] = acc / s;
      }
    }
    return { y: { shape: [G, ...x.shape.slice(1)], data: y } };
  },
  backwardRef(a, [x, w], _p, y, dy) {
    const { G, n, R } = view(a, x.shape);
    const dx = new Float64Array(x.data.length);
    const dw = w ? new Float64Array(w.data.length) : undefined;
    for (let g = 0; g < G; g++) {
      let s = EPS;
      for (let i = 0; i < n; i++) s += w ? w.data[g * n + i] : 1;
      for (let i = 0; i < n; i++) {
        const wi = w ? w.data[g * n + i] : 1;
        let dwi = 0;
        for (let r = 0; r < R; r++) {
          const d = dy.data[g * R + r];
          dx[(g * n + i) * R + r] = (wi / s) * d;
          dwi += d * (x.data[(g * n + i) * R + r] - y.data[g * R + r]) / s;
        }
        if (dw) dw[g * n + i] = dwi;
      }
    }
    const dxs: (T64 | undefined)[] = [{ shape: x.shape, data: dx }];
    if (w) dxs.push({ shape: w.shape, data: dw! });
    return { dx: dxs, dp: {} };
  },
  forward(a, ctx) {
    const { n, R } = view(a, ctx.inputs[0]);
    const weighted = ctx.inputs.length > 1;
    const w = (i: string) => (weighted ? `x1[${i}]` : "1.0");
    return {
      dispatches: [perElement(
        "group_mean",
        numel(ctx.output),
        [{ role: "x0" }, ...(weighted ? [{ role: "x1" }] : []), { role: "y", write: true }],
        `  let g = i / ${R}u;
  let r = i % ${R}u;
  var s = ${f32(EPS)};
  var acc = 0.0;
  for (var k = 0u; k < ${n}u; k++) {
    let row = g * ${n}u + k;
    s += ${w("row")};
    acc += ${w("row")} * x0[row * ${R}u + r];
  }
  y[i] = acc / s;`,
      )],
    };
  },
  backward(a, ctx) {
    const { n, R } = view(a, ctx.inputs[0]);
    const weighted = ctx.inputs.length > 1;
    const w = (i: string) => (weighted ? `x1[${i}]` : "1.0");
    const sum = `  var s = ${f32(EPS)};
  for (var k = 0u; k < ${n}u; k++) { s += ${w("g * " + n + "u + k")}; }`;
    const dispatches = [];
    if (ctx.needDx[0]) {
      dispatches.push(perElement(
        "group_mean.dx",
        numel(ctx.inputs[0]),
        [{ role: "dy" }, ...(weighted ? [{ role: "x1" }] : []), { role: "dx0", write: true }],
        `  let row = i / ${R}u;
  let g = row / ${n}u;
${sum}
  ${store(ctx.accumulate.has("dx0"), "dx0[i]", `${w("row")} / s * dy[g * ${R}u + i % ${R}u]`)}`,
      ));
    }
    if (weighted && ctx.needDx[1]) {
      dispatches.push(perElement(
        "group_mean.dw",
        ctx.inputs[0][0],
        [{ role: "x0" }, { role: "x1" }, { role: "y" }, { role: "dy" }, {
          role: "dx1",
          write: true,
        }],
        `  let g = i / ${n}u;
${sum}
  var d = 0.0;
  for (var r = 0u; r < ${R}u; r++) {
    d += dy[g * ${R}u + r] * (x0[i * ${R}u + r] - y[g * ${R}u + r]);
  }
  ${store(ctx.accumulate.has("dx1"), "dx1[i]", "d / s")}`,
      ));
    }
    return { dispatches };
  },
});
