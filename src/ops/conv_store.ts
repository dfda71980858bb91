// How a convolution kernel (register-blocked or tiled) binds its tensors and
// stores an output: plain, plus bias, or, in inference, through a folded batch
// norm with running statistics and the activation folded into that.
import type { Binding } from "./types.ts";
import { f32, store } from "./wgsl.ts";

/** Inference batch norm folded into the store: y = act((v - mean) / sqrt(var + eps) * w + b). */
export interface NormIO {
  eps: number;
  /** per-channel weight and bias bound (roles n.weight, n.bias) */
  affine: boolean;
  /** the activation as a WGSL expression of `x`, when one is folded too */
  expr?: string;
}

export interface KernelIO {
  /** role read as the kernel's input tensor */
  from: string;
  /** role written */
  to: string;
  weight: string;
  /** optional per-output-channel bias role, added to every output */
  bias?: string;
  accumulate: boolean;
  norm?: NormIO;
}

// Binding names inside the kernels (locals must not collide with them).
export const SRC = "inp", WGT = "wgt", BIAS = "bia", DST = "outp";
const MEAN = "bnm", VAR = "bnv", SCALE = "bnw", SHIFT = "bnb";

export function bindingsOf(io: KernelIO): [string, Binding][] {
  const norm: [string, Binding][] = io.norm
    ? [
      [MEAN, { role: "n.running_mean" }],
      [VAR, { role: "n.running_var" }],
      ...(io.norm.affine
        ? [[SCALE, { role: "n.weight" }], [SHIFT, { role: "n.bias" }]] as [string, Binding][]
        : []),
    ]
    : [];
  return [
    [SRC, { role: io.from }],
    [WGT, { role: io.weight }],
    ...(io.bias ? [[BIAS, { role: io.bias }] as [string, Binding]] : []),
    ...norm,
    [DST, { role: io.to, write: true }],
  ];
}

/** The statement storing accumulator `v` of output channel `c` (a u32 expression) at `lhs`. */
export function storeOutput(io: KernelIO, lhs: string, v: string, c: string): string {
  const pre = io.bias ? `${v} + ${BIAS}[${c}]` : v;
  const n = io.norm;
  if (!n) return store(io.accumulate, lhs, pre);
  let x = `(${pre} - ${MEAN}[${c}]) * inverseSqrt(${VAR}[${c}] + ${f32(n.eps)})`;
  if (n.affine) x = `${x} * ${SCALE}[${c}] + ${SHIFT}[${c}]`;
  return `{ let x = ${x}; ${store(io.accumulate, lhs, n.expr ?? "x")} }`;
}
