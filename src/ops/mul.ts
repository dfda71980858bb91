// Elementwise product of two tensors of identical shape.
import { z } from "../deps.ts";
import { type Binding, defineOp, ShapeError, type T64 } from "./types.ts";
import { numel, perElement, store } from "./wgsl.ts";

const attrs = z.object({}).strict();

export const mul = defineOp<z.infer<typeof attrs>>({
  name: "mul",
  summary: "Elementwise product of two inputs of identical shape.",
  attrs,
  arity: [2, 2],
  shape(_a, [a, b]) {
    if (a.length !== b.length || a.some((d, j) => d !== b[j])) {
      throw new ShapeError(
        `needs inputs of identical shape: input 0 is [${a.join(", ")}] but input 1 is [${
          b.join(", ")
        }]`,
      );
    }
    return a;
  },
  macs: (_a, _i, out) => numel(out),
  forwardRef(_a, [a, b]) {
    return { y: { shape: a.shape, data: a.data.map((v, i) => v * b.data[i]) } };
  },
  backwardRef(_a, [a, b], _p, _y, dy) {
    const dx: T64[] = [
      { shape: a.shape, data: dy.data.map((g, i) => g * b.data[i]) },
      { shape: b.shape, data: dy.data.map((g, i) => g * a.data[i]) },
    ];
    return { dx, dp: {} };
  },
  forward(_a, ctx) {
    return {
      dispatches: [perElement(
        "mul",
        numel(ctx.output),
        [{ role: "x0" }, { role: "x1" }, { role: "y", write: true }],
        "  y[i] = x0[i] * x1[i];",
      )],
    };
  },
  backward(_a, ctx) {
    const bindings: Binding[] = [{ role: "x0" }, { role: "x1" }, { role: "dy" }];
    const lines: string[] = [];
    // Each input's gradient is the upstream gradient times the other input.
    for (const [k, other] of [[0, "x1"], [1, "x0"]] as const) {
      if (!ctx.needDx[k]) continue;
      bindings.push({ role: `dx${k}`, write: true });
      lines.push(`  ${store(ctx.accumulate.has(`dx${k}`), `dx${k}[i]`, `dy[i] * ${other}[i]`)}`);
    }
    if (!lines.length) return { dispatches: [] };
    return {
      dispatches: [perElement("mul.grad", numel(ctx.output), bindings, lines.join("\n"))],
    };
  },
});
