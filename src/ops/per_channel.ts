// Kernels with one workgroup per channel of a [B, C, S] tensor: a reduction over
// the channel and the elementwise pass that needs its result, in one dispatch.
// Each reduction costs one barrier (every thread then adds the WG partial sums
// itself), since barriers are what is slow on software adapters. The sizes are read
// from a constant tensor (role c.dims, values channelDims), not written into the
// code, so one pipeline serves many layers (each pipeline costs a compile). Rows of
// at least RUNTIME_S elements are walked by a loop over the batch and one over the
// row; shorter ones keep S in the code, where the flat element index divides by it
// (dividing by a size read at run time, or two loops over short rows, made those
// kernels up to 20% slower on llvmpipe).
import type { Binding, Dispatch } from "./types.ts";
import { declare } from "./wgsl.ts";

export const CH_WG = 16;
const RUNTIME_S = 64;

export interface ChannelDims {
  B: number;
  C: number;
  S: number;
}

/** The values of the kernels' c.dims tensor. */
export const channelDims = (d: ChannelDims): number[] => [d.B, d.C, d.S];

/**
 * `body` sees `c` (the channel), `l` (the thread), the sizes `B`, `C`, `S`, `n` (B * S)
 * and `N` (n as f32); workgroup arrays red0/red1 hold partials.
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
  let B = u32(c_dims[0]);
  let C = u32(c_dims[1]);
  let S = ${d.S >= RUNTIME_S ? "u32(c_dims[2])" : `${d.S}u`};
  let n = B * S;
  let N = f32(n);
${body}
}
`;
  return { label, code, entry: "main", workgroups: [d.C, 1, 1], bindings: all };
}

/** A loop over this thread's share of channel c; `e` is the element's flat index. */
export function forChannel(d: ChannelDims, body: string): string {
  if (d.S >= RUNTIME_S) {
    return `  for (var jb = 0u; jb < B; jb = jb + 1u) {
    let base = (jb * C + c) * S;
    for (var js = l; js < S; js = js + ${CH_WG}u) {
      let e = base + js;
${body}
    }
  }`;
  }
  return `  for (var j = l; j < n; j = j + ${CH_WG}u) {
    let e = (j / S * C + c) * S + j % S;
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
