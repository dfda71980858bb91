// Kernels with one workgroup per channel of a [B, C, S] tensor: a reduction over
// the channel and the elementwise pass that needs its result, in one dispatch.
// Each reduction costs one barrier (every thread then adds the WG partial sums
// itself), since barriers are what is slow on software adapters.
import type { Binding, Dispatch } from "./types.ts";
import { declare } from "./wgsl.ts";

export const CH_WG = 16;

export interface ChannelDims {
  B: number;
  C: number;
  S: number;
}

/** `body` sees `c` (the channel) and `l` (the thread); workgroup arrays red0/red1 hold partials. */
export function perChannel(
  label: string,
  d: ChannelDims,
  bindings: Binding[],
  body: string,
  prelude = "",
): Dispatch {
  const code = `${declare(bindings)}
var<workgroup> red0: array<f32, ${CH_WG}>;
var<workgroup> red1: array<f32, ${CH_WG}>;
${prelude}
@compute @workgroup_size(${CH_WG})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) l: u32) {
  let c = wg.x;
${body}
}
`;
  return { label, code, entry: "main", workgroups: [d.C, 1, 1], bindings };
}

/** A loop over this thread's share of channel c; `e` is the element's flat index. */
export function forChannel(d: ChannelDims, body: string): string {
  return `  for (var j = l; j < ${d.B * d.S}u; j = j + ${CH_WG}u) {
    let e = (j / ${d.S}u * ${d.C}u + c) * ${d.S}u + j % ${d.S}u;
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
