// A contiguous range [start, end) along one axis.
import { z } from "zod";
import { defineOp, type Shape, ShapeError, type T64 } from "./types.ts";
import { numel, perElement, store } from "./wgsl.ts";

const attrs = z.object({
  axis: z.number().int().default(1).describe("axis to slice; negative counts from the end"),
  start: z.number().int().default(0).describe(
    "first index kept; negative counts from the end",
  ),
  end: z.number().int().optional().describe(
    "one past the last index kept (default: the size); negative counts from the end",
  ),
}).strict();

type Attrs = z.infer<typeof attrs>;

/** Normalised axis and range; throws on an empty or out-of-range slice. */
function range(a: Attrs, x: Shape): { ax: number; start: number; end: number; size: number } {
  const ax = a.axis < 0 ? a.axis + x.length : a.axis;
  if (ax < 0 || ax >= x.length) {
    throw new ShapeError(`axis ${a.axis} is out of range for input [${x.join(", ")}]`, "axis");
  }
  const size = x[ax];
  if (typeof size !== "number") {
    throw new ShapeError(
      `cannot slice axis ${ax} of [${x.join(", ")}]: its size is symbolic`,
      "axis",
    );
  }
  const start = a.start < 0 ? a.start + size : a.start;
  if (start < 0 || start >= size) {
    throw new ShapeError(
      `start ${a.start} is out of range for axis ${ax} of size ${size}`,
      "start",
    );
  }
  const end = a.end === undefined ? size : a.end < 0 ? a.end + size : a.end;
  if (end > size || end < 0) {
    throw new ShapeError(`end ${a.end} is out of range for axis ${ax} of size ${size}`, "end");
  }
  if (end <= start) {
    throw new ShapeError(
      `slice [${a.start}, ${a.end}) of axis ${ax} (size ${size}) is empty`,
      "end",
    );
  }
  return { ax, start, end, size };
}

/** outer x size x inner view of the input; the output has `len` instead of `size`. */
function view(a: Attrs, x: number[]) {
  const { ax, start, end, size } = range(a, x);
  return {
    ax,
    outer: numel(x.slice(0, ax)),
    inner: numel(x.slice(ax + 1)),
    start,
    len: end - start,
    size,
  };
}

export const slice = defineOp<Attrs>({
  name: "slice",
  summary: "Keeps indices [start, end) along `axis`; negative values count from the end.",
  attrs,
  arity: [1, 1],
  shape(a, [x]) {
    const { ax, start, end } = range(a, x);
    return x.map((d, j) => j === ax ? end - start : d);
  },
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
  forward(a, ctx) {
    const { inner, start, len, size } = view(a, ctx.inputs[0]);
    return {
      dispatches: [perElement(
        "slice",
        numel(ctx.output),
        [{ role: "x0" }, { role: "y", write: true }],
        `  let r = i % ${inner}u;
  let q = i / ${inner}u;
  y[i] = x0[((q / ${len}u) * ${size}u + q % ${len}u + ${start}u) * ${inner}u + r];`,
      )],
    };
  },
  backward(a, ctx) {
    if (!ctx.needDx[0]) return { dispatches: [] };
    const { inner, start, len, size } = view(a, ctx.inputs[0]);
    const bindings = [{ role: "dy" }, { role: "dx0", write: true }];
    if (ctx.accumulate.has("dx0")) {
      // Only the sliced region receives gradient; the rest keeps what it holds.
      return {
        dispatches: [perElement(
          "slice.grad.acc",
          numel(ctx.output),
          bindings,
          `  let r = i % ${inner}u;
  let q = i / ${inner}u;
  let j = ((q / ${len}u) * ${size}u + q % ${len}u + ${start}u) * ${inner}u + r;
  ${store(true, "dx0[j]", "dy[i]")}`,
        )],
      };
    }
    // Overwriting: one thread per input element, zero outside the slice.
    return {
      dispatches: [perElement(
        "slice.grad",
        numel(ctx.inputs[0]),
        bindings,
        `  let r = i % ${inner}u;
  let q = i / ${inner}u;
  let c = q % ${size}u;
  var g = 0.0;
  if (c >= ${start}u && c < ${start + len}u) {
    g = dy[((q / ${size}u) * ${len}u + c - ${start}u) * ${inner}u + r];
  }
  dx0[i] = g;`,
      )],
    };
  },
});
