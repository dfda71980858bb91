// Kernels with one workgroup per channel of a [B, C, S] tensor: a reduction over
// the channel and the elementwise pass that needs its result, in one dispatch.
// Each reduction costs one barrier (every thread then adds the WG partial sums
// itself), since barriers are what is slow on software adapters. The sizes are
// read from a constant tensor (role c.dims, values channelDims), not written into
// the code: one pipeline serves every layer, and loops of unknown length are not
// unrolled (each pipeline costs a compile, ~80 ms when its loops were).
import type { Binding, Dispatch } from "./types.ts";
import { declare } from "./wgsl.ts";

export const CH_WG = 16;

export interface ChannelDims {
  B: number;
  C: number;
  S: number;
}

/** The values of the kernels' c.dims tensor. */
export const channelDims = (d: ChannelDims): number[] => [d.B, d.C, d.S];

/**
 * `body` sees `c` (the channel), `l` (the thread), the sizes `C`, `S` and `N` (B * S as
 * f32); workgroup arrays red0/red1 hold partials.
 */
export function perChannel(
  label: string,
  d: ChannelDims,
  bindings: Binding[],
  body: string,
  prelude = "",
): Dispatch {
  const all = [...bindings, { role: "c.dims" }];
  const code = `${declare(all)}
var<workgroup> red0: array<f32, ${CH_WG}>;
var<workgroup> red1: array<f32, ${CH_WG}>;
${prelude}
@compute @workgroup_size(${CH_WG})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) l: u32) {
  let c = wg.x;
  let C = u32(c_dims[1]);
  let S = u32(c_dims[2]);
  let n = u32(c_dims[0]) * S;
  let N = f32(n);
${body}
}
`;
  return { label, code, entry: "main", workgroups: [d.C, 1, 1], bindings: all };
}

/**
 * A loop over this thread's share of the channel; `e` is the element's flat index.
 * Element j is (jb, js) = (j / S, j % S): divided once, then stepped by CH_WG = db * S + ds
 * (a division by a run-time size costs much more than a multiply on a CPU).
 */
export function forChannel(body: string): string {
  return `  {
  var jb = l / S;
  var js = l % S;
  let db = ${CH_WG}u / S;
  let ds = ${CH_WG}u % S;
  for (var j = l; j < n; j = j + ${CH_WG}u) {
    let e = (jb * C + c) * S + js;
${body}
    jb = jb + db;
    js = js + ds;
    if (js >= S) {
      js = js - S;
      jb = jb + 1u;
    }
  }
  }`;
}

/**
 * Workgroup totals of per-thread values: `let NAME = total of EXPR` for each pair,
 * one barrier. Each array (red0, red1) may be used once per kernel, so a kernel
 * has at most two such totals in all.
 */
export function channelTotals(pairs: [name: string, expr: string, array: 0 | 1][]): string {
  const put = pairs.map(([, v, a]) => `  red${a}[l] = ${v};`).join("\n");
  const vars = pairs.map(([n]) => `  var ${n} = 0.0;`).join("\n");
  const add = pairs.map(([n, , a]) => `${n} = ${n} + red${a}[q];`).join(" ");
  return `${put}
  workgroupBarrier();
${vars}
  for (var q = 0u; q < ${CH_WG}u; q = q + 1u) { ${add} }`;
}
