// Concatenation along one axis; every other dimension must match.
import { z } from "../deps.ts";
import {
  type Binding,
  defineOp,
  type Dim,
  type Dispatch,
  type Shape,
  ShapeError,
  type T64,
} from "./types.ts";
import { ident, numel, perElement, store } from "./wgsl.ts";
import { combineDims } from "./dim.ts";

const attrs = z.object({
  axis: z.number().int().default(1).describe(
    "axis to join along; negative counts from the end (-1 is the last)",
  ),
}).strict();

type Attrs = z.infer<typeof attrs>;

/** Tensors per dispatch: 7 plus the other side stays within 8 storage buffers. */
const CHUNK = 7;

function normAxis(axis: number, rank: number): number {
  const ax = axis < 0 ? axis + rank : axis;
  if (ax < 0 || ax >= rank) {
    throw new ShapeError(`axis ${axis} is out of range for ${rank}-D inputs`, "axis");
  }
  return ax;
}

/** outer x (sizes along the axis) x inner view of concrete shapes. */
function layout(a: Attrs, inputs: number[][]) {
  const ax = normAxis(a.axis, inputs[0].length);
  const sizes = inputs.map((s) => s[ax]);
  const offsets = sizes.map((_, k) => sizes.slice(0, k).reduce((s, v) => s + v, 0));
  const total = sizes.reduce((s, v) => s + v, 0);
  return {
    outer: numel(inputs[0].slice(0, ax)),
    inner: numel(inputs[0].slice(ax + 1)),
    sizes,
    offsets,
    total,
  };
}

/**
 * One thread per output element: `body(k, xi)` handles the element that comes
 * from input k at flat index `xi` (a WGSL expression); inputs without a body
 * are skipped, so several dispatches can split the inputs between them.
 */
function kernel(
  label: string,
  a: Attrs,
  inputs: number[][],
  bindings: Binding[],
  body: (k: number, xi: string) => string | undefined,
): Dispatch {
  const { outer, inner, sizes, offsets, total } = layout(a, inputs);
  const branches = sizes.map((c, k) => {
    const xi = `(o * ${c}u + c - ${offsets[k]}u) * ${inner}u + r`;
    return `  if (c < ${offsets[k] + c}u) {${body(k, xi) ?? ""} return; }`;
  });
  return perElement(
    label,
    outer * total * inner,
    bindings,
    `  let r = i % ${inner}u;
  let q = i / ${inner}u;
  let c = q % ${total}u;
  let o = q / ${total}u;
${branches.join("\n")}`,
  );
}

function groups(ks: number[]): number[][] {
  const out: number[][] = [];
  for (let j = 0; j < ks.length; j += CHUNK) out.push(ks.slice(j, j + CHUNK));
  return out;
}

const fmt = (s: Shape) => `[${s.join(", ")}]`;

export const concat = defineOp<Attrs>({
  name: "concat",
  summary: "Concatenates two or more inputs along `axis`; all other dimensions must match.",
  attrs,
  arity: [2, Infinity],
  shape(a, inputs) {
    const first = inputs[0];
    const ax = normAxis(a.axis, first.length);
    let total: Dim = 0;
    inputs.forEach((s, k) => {
      if (s.length !== first.length || s.some((d, j) => j !== ax && d !== first[j])) {
        const want = first.map((d, j) => j === ax ? "*" : d);
        throw new ShapeError(
          `input ${k} has shape ${fmt(s)} but must be ${fmt(want)} to match input 0 ${
            fmt(first)
          } on every axis but ${ax}`,
        );
      }
      // Symbolic sizes add up ([B, ...] and [B, ...] make [2*B, ...]); a number and a symbol do not.
      const sum = combineDims(total, s[ax]);
      if (sum === undefined) {
        throw new ShapeError(
          `cannot concatenate along axis ${ax}: the sizes ${
            inputs.slice(0, k + 1).map((x) => x[ax]).join(" and ")
          } mix numbers and symbols`,
          "axis",
        );
      }
      total = sum;
    });
    return first.map((d, j) => j === ax ? total : d);
  },
  forwardRef(a, xs) {
    const { outer, inner, sizes, offsets, total } = layout(a, xs.map((x) => x.shape));
    const shape = xs[0].shape.map((d, j) => j === normAxis(a.axis, xs[0].shape.length) ? total : d);
    const y: T64 = { shape, data: new Float64Array(numel(shape)) };
    xs.forEach((x, k) => {
      for (let o = 0; o < outer; o++) {
        for (let c = 0; c < sizes[k]; c++) {
          for (let r = 0; r < inner; r++) {
            y.data[(o * total + offsets[k] + c) * inner + r] =
              x.data[(o * sizes[k] + c) * inner + r];
          }
        }
      }
    });
    return { y };
  },
  backwardRef(a, xs, _p, _y, dy) {
    const { outer, inner, sizes, offsets, total } = layout(a, xs.map((x) => x.shape));
    const dx = xs.map((x, k) => {
      const g: T64 = { shape: x.shape, data: new Float64Array(x.data.length) };
      for (let o = 0; o < outer; o++) {
        for (let c = 0; c < sizes[k]; c++) {
          for (let r = 0; r < inner; r++) {
            g.data[(o * sizes[k] + c) * inner + r] =
              dy.data[(o * total + offsets[k] + c) * inner + r];
          }
        }
      }
      return g;
    });
    return { dx, dp: {} };
  },
  forward(a, ctx) {
    const ks = ctx.inputs.map((_, k) => k);
    const dispatches = groups(ks).map((g, j) =>
      kernel(
        `concat.${j}`,
        a,
        ctx.inputs,
        [...g.map((k) => ({ role: `x${k}` })), { role: "y", write: true }],
        (k, xi) => g.includes(k) ? ` y[i] = x${k}[${xi}];` : undefined,
      )
    );
    return { dispatches };
  },
  backward(a, ctx) {
    const ks = ctx.inputs.map((_, k) => k).filter((k) => ctx.needDx[k]);
    const dispatches = groups(ks).map((g, j) =>
      kernel(
        `concat.grad.${j}`,
        a,
        ctx.inputs,
        [{ role: "dy" }, ...g.map((k) => ({ role: `dx${k}`, write: true }))],
        (k, xi) => {
          if (!g.includes(k)) return undefined;
          const role = `dx${k}`;
          return ` ${store(ctx.accumulate.has(role), `${ident(role)}[${xi}]`, "dy[i]")}`;
        },
      )
    );
    return { dispatches };
  },
});
