// Shared by the loss ops: a scalar mean over many terms in two passes with no
// workgroup barriers (slow on software adapters), and the l1/l2 factory.
import { z } from "../deps.ts";
import {
  type Binding,
  defineOp,
  type Dispatch,
  type Kernels,
  type OpDef,
  type Shape,
  ShapeError,
} from "./types.ts";
import { declare, f32, numel, perElement, store, WG } from "./wgsl.ts";

/**
 * y[0] = scale * sum of term(i) for i in [0, n). `prelude` defines
 * `fn term(i: u32) -> f32` over the given `bindings` (which must not include
 * y or the scratch). Fused and n up to ONE_GROUP: one workgroup, whose threads
 * each add a strided subset, one barrier, then thread 0 adds the partial sums.
 * Otherwise two kernels: P threads each add a strided subset into scratch
 * `t.partial`, then one thread adds the P partial sums. Both are deterministic.
 */
export function sumTerms(
  label: string,
  n: number,
  scale: number,
  bindings: Binding[],
  prelude: string,
  fuse: boolean,
): Kernels {
  if (fuse && n <= ONE_GROUP) {
    return { dispatches: [oneGroupSum(label, n, scale, bindings, prelude)] };
  }
  const parts = Math.min(n, Math.max(WG, Math.ceil(Math.sqrt(n))));
  const partial: Binding = { role: "t.partial", write: true };
  return {
    scratch: { partial: parts },
    dispatches: [
      perElement(
        `${label}.partial`,
        parts,
        [...bindings, partial],
        `  var s = 0.0;
  for (var k = i; k < ${n}u; k = k + ${parts}u) {
    s = s + term(k);
  }
  t_partial[i] = s;`,
        prelude,
      ),
      perElement(
        `${label}.sum`,
        1,
        [{ role: "t.partial" }, { role: "y", write: true }],
        `  var s = 0.0;
  for (var k = 0u; k < ${parts}u; k = k + 1u) {
    s = s + t_partial[k];
  }
  y[0] = s * ${f32(scale)};`,
      ),
    ],
  };
}

/** Terms one workgroup sums in a single kernel: a loss over a batch or an image batch. */
const ONE_GROUP = 1 << 16;

function oneGroupSum(
  label: string,
  n: number,
  scale: number,
  bindings: Binding[],
  prelude: string,
): Dispatch {
  const all = [...bindings, { role: "y", write: true }];
  return {
    label,
    entry: "main",
    workgroups: [1, 1, 1],
    bindings: all,
    code: `${declare(all)}
var<workgroup> part: array<f32, ${WG}>;
${prelude}
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_index) l: u32) {
  var s = 0.0;
  for (var k = l; k < ${n}u; k = k + ${WG}u) {
    s = s + term(k);
  }
  part[l] = s;
  workgroupBarrier();
  if (l == 0u) {
    var t = 0.0;
    for (var q = 0u; q < ${WG}u; q = q + 1u) { t = t + part[q]; }
    y[0] = t * ${f32(scale)};
  }
}
`,
  };
}

/** True when a and b are the same shape (symbolic dims compared by name). */
export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, j) => d === b[j]);
}

const fmt = (s: Shape) => `[${s.join(", ")}]`;

export interface DistanceSpec {
  name: string;
  summary: string;
  /** WGSL expression of the difference `d` = a - b */
  wgsl: string;
  /** WGSL expression of d(term)/dd */
  wgslGrad: string;
  f: (d: number) => number;
  df: (d: number) => number;
}

/** mean over all elements of f(a - b) for two inputs of identical shape, both differentiable. */
export function distanceLoss(s: DistanceSpec): OpDef<Record<string, never>> {
  return defineOp<Record<string, never>>({
    name: s.name,
    summary: s.summary,
    attrs: z.object({}).strict(),
    arity: [2, 2],
    shape(_a, [a, b]) {
      if (!sameShape(a, b)) {
        throw new ShapeError(
          `needs inputs of identical shape: input 0 is ${fmt(a)} but input 1 is ${fmt(b)}`,
        );
      }
      return [];
    },
    macs: (_a, [a]) => numel(a),
    forwardRef(_a, [a, b]) {
      let sum = 0;
      for (let i = 0; i < a.data.length; i++) sum += s.f(a.data[i] - b.data[i]);
      return { y: { shape: [], data: Float64Array.of(sum / a.data.length) } };
    },
    backwardRef(_a, [a, b], _p, _y, dy) {
      const g = dy.data[0] / a.data.length;
      const da = a.data.map((v, i) => g * s.df(v - b.data[i]));
      return {
        dx: [{ shape: a.shape, data: da }, { shape: b.shape, data: da.map((v) => -v) }],
        dp: {},
      };
    },
    forward(_a, ctx) {
      const n = numel(ctx.inputs[0]);
      return sumTerms(
        s.name,
        n,
        1 / n,
        [{ role: "x0" }, { role: "x1" }],
        `fn term(i: u32) -> f32 {
  let d = x0[i] - x1[i];
  return ${s.wgsl};
}`,
        ctx.fuse !== false,
      );
    },
    backward(_a, ctx) {
      const n = numel(ctx.inputs[0]);
      const bindings: Binding[] = [{ role: "x0" }, { role: "x1" }, { role: "dy" }];
      const lines: string[] = [];
      for (const [k, sign] of [[0, ""], [1, "-"]] as const) {
        if (!ctx.needDx[k]) continue;
        bindings.push({ role: `dx${k}`, write: true });
        lines.push(`  ${store(ctx.accumulate.has(`dx${k}`), `dx${k}[i]`, `${sign}g`)}`);
      }
      if (!lines.length) return { dispatches: [] };
      return {
        dispatches: [perElement(
          `${s.name}.grad`,
          n,
          bindings,
          `  let d = x0[i] - x1[i];
  let g = dy[0] * ${f32(1 / n)} * (${s.wgslGrad});
${lines.join("\n")}`,
        )],
      };
    },
  });
}
