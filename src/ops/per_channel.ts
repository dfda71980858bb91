// Kernels with one workgroup per channel of a [B, C, S] tensor: a reduction over
// the channel and the elementwise pass that needs its result, in one dispatch.
// Each reduction costs one barrier (every thread then adds the WG partial sums
// itself), since barriers are what is slow on software adapters. B and C are read
// from a constant tensor (role c.dims, values channelDims), not written into the
// code: one pipeline serves every layer of a spatial size S (each pipeline costs a
// compile). S stays in the code: with it the element index is a shift, and a
// division by a size read at run time made the kernels up to 20% slower on llvmpipe.
import type { Binding, Dispatch } from "./types.ts";
import { declare } from "./wgsl.ts";

export const CH_WG = 16;

export interface ChannelDims {
  B: number;
  C: number;
  S: number;
}

/** The values of the kernels' c.dims tensor. */
export const channelDims = (d: ChannelDims): number[] => [d.B, d.C];

/**
 * `body` sees `c` (the channel), `l` (the thread), the sizes `C`, `n` (B * S) and `N`
 * (n as f32); workgroup arrays red0/red1 hold partials.
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
  let n = u32(c_dims[0]) * ${d.S}u;
  let N = f32(n);
${body}
}
`;
  return { label, code, entry: "main", workgroups: [d.C, 1, 1], bindings: all };
}

/** A loop over this thread's share of channel c; `e` is the element's flat index. */
export function forChannel(d: ChannelDims, body: string): string {
  return `  for (var j = l; j < n; j = j + ${CH_WG}u) {
    let e = (j / ${d.S}u * C + c) * ${d.S}u + j % ${d.S}u;
${body}
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
