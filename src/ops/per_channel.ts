// Kernels with one workgroup per channel of a [B, C, S] tensor: a reduction over
// the channel and the elementwise pass that needs its result, in one dispatch.
// Each reduction costs one barrier (every thread then adds the WG partial sums
// itself), since barriers are what is slow on software adapters. A workgroup is
// one SIMD group of the adapter (the target's `simd`): on llvmpipe 8 threads in
// place of 16 made batch norm's training kernels 1.3x (forward) and 1.5x (backward)
// faster at DR-GAN's shapes (docs/performance.md). The sizes are read
// from a constant tensor (role c.dims, values channelDims), not written into the
// code, so one pipeline serves many layers (each pipeline costs a compile). Rows of
// at least RUNTIME_S elements are walked by a loop over the batch and one over the
// row; shorter ones keep S in the code, where the flat element index divides by it
// (dividing by a size read at run time, or two loops over short rows, made those
// kernels up to 20% slower on llvmpipe).
// Rows whose length divides by 4 are walked four elements at a time (the tensors
// bound as array<vec4f>): on llvmpipe each load of a thread costs far more than its
// width, and vec4 made the batch-norm training kernels 1.35x (backward) to 1.7x
// (forward) faster (docs/performance.md).
import type { Binding, Dispatch } from "./types.ts";
import { declare } from "./wgsl.ts";
import { type ConvChoices, DEFAULT_TARGET } from "./conv/cost_model.ts";

const RUNTIME_S = 64;

export interface ChannelDims {
  B: number;
  C: number;
  S: number;
  /** threads per channel (channelThreads) */
  wg: number;
}

/** Threads per channel for a target: one SIMD group (the software adapter's without one). */
export const channelThreads = (t?: ConvChoices): number => (t?.conv ?? DEFAULT_TARGET).simd;

/** Whether kernels over these dims walk vec4s: the rows hold a multiple of 4 elements. */
export const vec4Rows = (d: ChannelDims): boolean => d.S % 4 === 0;

/** The bindings of whole [B, C, S] tensors, as vec4 arrays where the rows allow. */
export const rowBindings = (d: ChannelDims, bs: Binding[]): Binding[] =>
  bs.map((b) => ({ ...b, vec4: vec4Rows(d) }));

/** WGSL for a per-thread accumulator of row elements and for its scalar total. */
export function accumulator(d: ChannelDims): { zero: string; total: (v: string) => string } {
  return vec4Rows(d)
    ? { zero: "vec4f(0.0)", total: (v) => `dot(${v}, vec4f(1.0))` }
    : { zero: "0.0", total: (v) => v };
}

/** The values of the kernels' c.dims tensor. */
export const channelDims = (d: ChannelDims): number[] => [d.B, d.C, d.S];

/**
 * `body` sees `c` (the channel), `l` (the thread), the sizes `B`, `C`, `S`, `n` (B * S)
 * and `N` (n as f32); workgroup arrays red0/red1 hold partials. With vec4 rows,
 * forChannel's `e` indexes vec4s of the tensors bound by rowBindings.
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
var<workgroup> red0: array<f32, ${d.wg}>;
var<workgroup> red1: array<f32, ${d.wg}>;
${prelude}
@compute @workgroup_size(${d.wg})
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

/**
 * A loop over this thread's share of channel c; `e` is the flat index of the element,
 * or of the vec4 with vec4 rows.
 */
export function forChannel(d: ChannelDims, body: string): string {
  const v = vec4Rows(d);
  if (d.S >= RUNTIME_S) {
    const row = v ? "S / 4u" : "S";
    return `  for (var jb = 0u; jb < B; jb = jb + 1u) {
    let base = (jb * C + c) * ${row};
    for (var js = l; js < ${row}; js = js + ${d.wg}u) {
      let e = base + js;
${body}
    }
  }`;
  }
  const row = v ? `${d.S / 4}u` : "S";
  return `  for (var j = l; j < B * ${row}; j = j + ${d.wg}u) {
    let e = (j / ${row} * C + c) * ${row} + j % ${row};
${body}
  }`;
}

/**
 * WGSL applying `fn NAME(x: f32) -> f32` to `v`: per component when `v` is a vec4, since
 * the pointwise expressions an op fuses (select(.., x > 0.0)) are written for scalars.
 */
export const applyEach = (vec4: boolean, name: string, v: string): string =>
  vec4
    ? `vec4f(${name}(${v}.x), ${name}(${v}.y), ${name}(${v}.z), ${name}(${v}.w))`
    : `${name}(${v})`;

/**
 * Workgroup totals of per-thread values: `let NAME = total of EXPR` for each pair,
 * one barrier. Each array (red0, red1) may be used once per kernel, so a kernel
 * has at most two such totals in all.
 */
export function channelTotals(
  d: ChannelDims,
  pairs: [name: string, expr: string, array: 0 | 1][],
): string {
  const put = pairs.map(([, v, a]) => `  red${a}[l] = ${v};`).join("\n");
  const vars = pairs.map(([n]) => `  var ${n} = 0.0;`).join("\n");
  const add = pairs.map(([n, , a]) => `${n} = ${n} + red${a}[q];`).join(" ");
  return `${put}
  workgroupBarrier();
${vars}
  for (var q = 0u; q < ${d.wg}u; q = q + 1u) { ${add} }`;
}
