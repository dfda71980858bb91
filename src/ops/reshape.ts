// Reshape of each sample: the batch dimension is kept, the data is copied as is.
import { z } from "../deps.ts";
import { defineOp, type Kernels, type Shape, ShapeError, type T64 } from "./types.ts";
import { numel, perElement, store } from "./wgsl.ts";

const attrs = z.object({
  shape: z.array(z.number().int()).min(1).describe(
    "dimensions after the batch; one entry may be -1 to take what is left",
  ),
}).strict();

type Attrs = z.infer<typeof attrs>;

/** Elements per sample of [B, ...]; every non-batch dim must be a number. */
export function perSample(x: Shape): number {
  if (x.length < 1) throw new ShapeError("expects an input with a batch dimension, got []");
  let n = 1;
  for (const d of x.slice(1)) {
    if (typeof d !== "number") {
      throw new ShapeError(`needs concrete dimensions after the batch, got [${x.join(", ")}]`);
    }
    n *= d;
  }
  return n;
}

/** The copy kernels shared by reshape and flatten (identical WGSL compiles once). */
export function copyForward(name: string, n: number): Kernels {
  return {
    dispatches: [
      perElement(name, n, [{ role: "x0" }, { role: "y", write: true }], "  y[i] = x0[i];"),
    ],
  };
}

export function copyBackward(
  name: string,
  n: number,
  needDx: boolean,
  accumulate: boolean,
): Kernels {
  if (!needDx) return { dispatches: [] };
  return {
    dispatches: [perElement(
      `${name}.grad`,
      n,
      [{ role: "dy" }, { role: "dx0", write: true }],
      `  ${store(accumulate, "dx0[i]", "dy[i]")}`,
    )],
  };
}

export const copyRef = (t: T64, shape: number[]): T64 => ({ shape, data: t.data.slice() });

function outShape(a: Attrs, x: Shape): Shape {
  const n = perSample(x);
  const free = a.shape.filter((d) => d === -1).length;
  if (free > 1 || a.shape.some((d) => d === 0 || d < -1)) {
    throw new ShapeError(
      `shape [${a.shape.join(", ")}] must hold positive sizes and at most one -1`,
      "shape",
    );
  }
  const known = a.shape.reduce((p, d) => d === -1 ? p : p * d, 1);
  const fill = free ? n / known : 1;
  if (!Number.isInteger(fill) || (!free && known !== n)) {
    throw new ShapeError(
      `cannot reshape [${x.join(", ")}] (${n} elements per sample) into [${
        [x[0], ...a.shape].join(", ")
      }]`,
      "shape",
    );
  }
  return [x[0], ...a.shape.map((d) => d === -1 ? fill : d)];
}

export const reshape = defineOp<Attrs>({
  name: "reshape",
  summary: "Reshapes each sample: [B, ...] -> [B, ...shape], one entry of shape may be -1.",
  attrs,
  arity: [1, 1],
  shape: (a, [x]) => outShape(a, x),
  forwardRef(a, [x]) {
    return { y: copyRef(x, outShape(a, x.shape) as number[]) };
  },
  backwardRef(_a, [x], _p, _y, dy) {
    return { dx: [copyRef(dy, x.shape)], dp: {} };
  },
  forward: (_a, ctx) => copyForward("reshape", numel(ctx.output)),
  backward: (_a, ctx) =>
    copyBackward("reshape", numel(ctx.output), ctx.needDx[0], ctx.accumulate.has("dx0")),
});
