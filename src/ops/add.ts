// Elementwise sum of two or more tensors of identical shape.
import { z } from "../deps.ts";
import { type Binding, defineOp, type Dispatch, ShapeError, type T64 } from "./types.ts";
import { ident, numel, perElement, store } from "./wgsl.ts";

const attrs = z.object({}).strict();

/** Inputs per dispatch: 7 plus the output stays within the default 8 storage buffers. */
const CHUNK = 7;

function chunks<T>(xs: T[]): T[][] {
  const out: T[][] = [];
  for (let k = 0; k < xs.length; k += CHUNK) out.push(xs.slice(k, k + CHUNK));
  return out;
}

export const add = defineOp<z.infer<typeof attrs>>({
  name: "add",
  summary: "Elementwise sum of two or more inputs of identical shape.",
  attrs,
  arity: [2, Infinity],
  shape(_a, inputs) {
    const [first] = inputs;
    inputs.forEach((s, k) => {
      if (s.length !== first.length || s.some((d, j) => d !== first[j])) {
        throw new ShapeError(
          `needs inputs of identical shape: input 0 is [${first.join(", ")}] but input ${k} is [${
            s.join(", ")
          }]`,
        );
      }
    });
    return first;
  },
  macs: (_a, inputs, out) => numel(out) * (inputs.length - 1),
  forwardRef(_a, xs) {
    const y: T64 = { shape: xs[0].shape, data: new Float64Array(xs[0].data.length) };
    for (const x of xs) for (let i = 0; i < x.data.length; i++) y.data[i] += x.data[i];
    return { y };
  },
  backwardRef(_a, xs, _p, _y, dy) {
    return { dx: xs.map(() => ({ shape: dy.shape, data: dy.data.slice() })), dp: {} };
  },
  forward(_a, ctx) {
    const n = numel(ctx.output);
    const groups = chunks(ctx.inputs.map((_, k) => `x${k}`));
    const dispatches = groups.map((roles, g): Dispatch => {
      const bindings: Binding[] = [...roles.map((role) => ({ role })), { role: "y", write: true }];
      // Later groups add onto the partial sum already in y.
      const terms = [...(g > 0 ? ["y[i]"] : []), ...roles.map((r) => `${ident(r)}[i]`)];
      return perElement(`add.${g}`, n, bindings, `  y[i] = ${terms.join(" + ")};`);
    });
    return { dispatches };
  },
  backward(_a, ctx) {
    const n = numel(ctx.output);
    const roles = ctx.inputs.map((_, k) => `dx${k}`).filter((_, k) => ctx.needDx[k]);
    const dispatches = chunks(roles).map((group, g) =>
      perElement(
        `add.grad.${g}`,
        n,
        [{ role: "dy" }, ...group.map((role) => ({ role, write: true }))],
        `  let g = dy[i];\n${
          group.map((r) => `  ${store(ctx.accumulate.has(r), `${ident(r)}[i]`, "g")}`).join("\n")
        }`,
      )
    );
    return { dispatches };
  },
});
