// A contiguous range [start, end) along one axis.
import { z } from "../deps.ts";
import { defineOp, type Dim, type Shape, ShapeError, type T64 } from "./types.ts";
import { bindDim, combineDims, compareDims, parseDim } from "./dim.ts";
import { numel, perElementSized, store } from "./wgsl.ts";

/** `let` the sizes of a slice's kernel from its constant tensor (perElementSized). */
const sizes = (c: string) =>
  ["inner", "len", "size", "start"].map((v, k) => `  let ${v} = u32(${c}[${k + 1}]);`).join("\n");

const index = z.union([z.number().int(), z.string()]);

const attrs = z.object({
  axis: z.number().int().default(1).describe("axis to slice; negative counts from the end"),
  start: index.default(0).describe(
    "first index kept; negative counts from the end; a symbolic size such as `B` on a " +
      "symbolic axis (the rows of one batch in a joint batch [2*B, ...])",
  ),
  end: index.optional().describe(
    "one past the last index kept (default: the size); negative counts from the end; " +
      "a symbolic size such as `2*B` on a symbolic axis",
  ),
}).strict();

type Attrs = z.infer<typeof attrs>;

/** start or end as a size: negative counts from the end; a symbol must be one. */
function position(v: number | string, size: Dim, what: "start" | "end"): Dim {
  if (typeof v === "string") {
    if (!parseDim(v)) {
      throw new ShapeError(
        `${what} '${v}' is neither an integer nor a symbolic size such as B or 2*B`,
        what,
      );
    }
    return v;
  }
  if (v >= 0) return v;
  const from = combineDims(size, -v, -1);
  if (from === undefined) {
    throw new ShapeError(`${what} ${v} cannot count back from the symbolic size ${size}`, what);
  }
  return from;
}

/** Normalised axis and range; throws on an empty or out-of-range slice. */
function range(a: Attrs, x: Shape): { ax: number; start: Dim; len: Dim } {
  const ax = a.axis < 0 ? a.axis + x.length : a.axis;
  if (ax < 0 || ax >= x.length) {
    throw new ShapeError(`axis ${a.axis} is out of range for input [${x.join(", ")}]`, "axis");
  }
  const size = x[ax];
  const start = position(a.start, size, "start");
  const end = a.end === undefined ? size : position(a.end, size, "end");
  // Numbers compare with numbers, and multiples of the batch with each other (and 0).
  const within = (v: Dim, lo: number, hi: number, what: "start" | "end") => {
    const above = compareDims(v, 0), below = compareDims(v, size);
    if (above === undefined || below === undefined) {
      throw new ShapeError(
        `${what} ${v} does not fit axis ${ax} of size ${size}: slice a symbolic size with ` +
          `symbolic positions (0, B, 2*B, ...) and a fixed one with integers`,
        what,
      );
    }
    if (above < lo || below > hi) {
      throw new ShapeError(`${what} ${v} is out of range for axis ${ax} of size ${size}`, what);
    }
  };
  within(start, 0, -1, "start");
  within(end, 0, 0, "end");
  const len = combineDims(end, start, -1);
  if (len === undefined || compareDims(len, 0) !== 1) {
    throw new ShapeError(
      `slice [${a.start}, ${a.end}) of axis ${ax} (size ${size}) is empty`,
      "end",
    );
  }
  return { ax, start, len };
}

/** outer x size x inner view of a concrete input; the output has `len` instead of `size`. */
function view(a: Attrs, x: number[]) {
  const { ax, start, len } = range(a, x);
  if (typeof start !== "number" || typeof len !== "number") {
    throw new Error(`slice: symbolic start or end not bound to the batch`);
  }
  return {
    ax,
    outer: numel(x.slice(0, ax)),
    inner: numel(x.slice(ax + 1)),
    start,
    len,
    size: x[ax],
  };
}

const bound = (v: number | string | undefined, batch: number) =>
  typeof v === "string" ? bindDim(v, batch) : v;

export const slice = defineOp<Attrs>({
  name: "slice",
  summary: "Keeps indices [start, end) along `axis`; negative values count from the end.",
  attrs,
  arity: [1, 1],
  shape(a, [x]) {
    const { ax, len } = range(a, x);
    return x.map((d, j) => j === ax ? len : d);
  },
  bind: (a, batch) => ({ ...a, start: bound(a.start, batch)!, end: bound(a.end, batch) }),
  forwardRef(a, [x]) {
    const { ax, outer, inner, start, len, size } = view(a, x.shape);
    const shape = x.shape.map((d, j) => j === ax ? len : d);
    const y: T64 = { shape, data: new Float64Array(numel(shape)) };
    for (let o = 0; o < outer; o++) {
      for (let c = 0; c < len; c++) {
        for (let r = 0; r < inner; r++) {
          y.data[(o * len + c) * inner + r] = x.data[(o * size + start + c) * inner + r];
        }
      }
    }
    return { y };
  },
  backwardRef(a, [x], _p, _y, dy) {
    const { outer, inner, start, len, size } = view(a, x.shape);
    const dx: T64 = { shape: x.shape, data: new Float64Array(x.data.length) };
    for (let o = 0; o < outer; o++) {
      for (let c = 0; c < len; c++) {
        for (let r = 0; r < inner; r++) {
          dx.data[(o * size + start + c) * inner + r] = dy.data[(o * len + c) * inner + r];
        }
      }
    }
    return { dx: [dx], dp: {} };
  },
  // Sizes from constant tensors (perElementSized): one pipeline for every slice.
  forward(a, ctx) {
    const { inner, start, len, size } = view(a, ctx.inputs[0]);
    const n = numel(ctx.output);
    return {
      dispatches: [perElementSized(
        "slice",
        n,
        [{ role: "x0" }, { role: "y", write: true }],
        "slice",
        `${sizes("c_slice")}
  let r = i % inner;
  let q = i / inner;
  y[i] = x0[((q / len) * size + q % len + start) * inner + r];`,
      )],
      consts: { slice: [n, inner, len, size, start] },
    };
  },
  backward(a, ctx) {
    if (!ctx.needDx[0]) return { dispatches: [] };
    const { inner, start, len, size } = view(a, ctx.inputs[0]);
    const bindings = [{ role: "dy" }, { role: "dx0", write: true }];
    if (ctx.accumulate.has("dx0")) {
      // Only the sliced region receives gradient; the rest keeps what it holds.
      const n = numel(ctx.output);
      return {
        dispatches: [perElementSized(
          "slice.grad.acc",
          n,
          bindings,
          "slice_grad",
          `${sizes("c_slice_grad")}
  let r = i % inner;
  let q = i / inner;
  let j = ((q / len) * size + q % len + start) * inner + r;
  ${store(true, "dx0[j]", "dy[i]")}`,
        )],
        consts: { slice_grad: [n, inner, len, size, start] },
      };
    }
    // Overwriting: one thread per input element, zero outside the slice.
    const n = numel(ctx.inputs[0]);
    return {
      dispatches: [perElementSized(
        "slice.grad",
        n,
        bindings,
        "slice_grad",
        `${sizes("c_slice_grad")}
  let r = i % inner;
  let q = i / inner;
  let c = q % size;
  var g = 0.0;
  if (c >= start && c < start + len) {
    g = dy[((q / size) * len + c - start) * inner + r];
  }
  dx0[i] = g;`,
      )],
      consts: { slice_grad: [n, inner, len, size, start] },
    };
  },
});
