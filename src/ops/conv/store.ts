// How a convolution kernel (register-blocked or tiled) binds its tensors and
// stores an output: plain, plus bias, or, in inference, through a folded batch
// norm with running statistics and the activation folded into that.
import type { Binding } from "../types.ts";
import { elementType, f32, store } from "../wgsl.ts";
import type { Lanes } from "./blocks.ts";

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
  /** the weight role holds the gather's packed layout (kernels.ts convPackWeights) */
  packed?: boolean;
  /** optional per-output-channel bias role, added to every output */
  bias?: string;
  accumulate: boolean;
  norm?: NormIO;
}

// Binding names inside the kernels (locals must not collide with them).
export const SRC = "inp", WGT = "wgt", BIAS = "bia", DST = "outp";
const MEAN = "bnm", VAR = "bnv", SCALE = "bnw", SHIFT = "bnb";

/** Storage declarations of bindings named by what they are to the kernel, in order. */
export function declareNamed(bindings: [name: string, b: Binding][]): string {
  return bindings.map(([name, b], i) =>
    `@group(0) @binding(${i}) var<storage, ${b.write ? "read_write" : "read"}> ${name}: array<${
      elementType(b)
    }>;`
  ).join("\n");
}

/** A binding read or written as vectors of `v` lanes. */
export const withLanes = (b: Binding, v: Lanes): Binding => ({
  ...b,
  ...(v === 4 ? { vec4: true } : v === 2 ? { vec2: true } : {}),
});

/** The bindings of a kernel's tensors; `vecFrom`, `vecTo`: lanes; `vecWeight`: as vec4s. */
export function bindingsOf(
  io: KernelIO,
  vecFrom: Lanes = 1,
  vecWeight = false,
  vecTo: Lanes = 1,
): [string, Binding][] {
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
    [SRC, withLanes({ role: io.from }, vecFrom)],
    [WGT, withLanes({ role: io.weight }, vecWeight ? 4 : 1)],
    ...(io.bias ? [[BIAS, { role: io.bias }] as [string, Binding]] : []),
    ...norm,
    [DST, withLanes({ role: io.to, write: true }, vecTo)],
  ];
}

/**
 * The folded batch norm (and bias) as one scale and shift per output channel `c` (a u32
 * expression), computed once per channel a thread stores: `let NAMEs`, `let NAMEh`.
 */
export function normPrelude(io: KernelIO, name: string, c: string): string[] {
  const n = io.norm;
  if (!n) return [];
  let scale = `inverseSqrt(${VAR}[${c}] + ${f32(n.eps)})`;
  if (n.affine) scale = `${scale} * ${SCALE}[${c}]`;
  let shift = `(${io.bias ? `${BIAS}[${c}] - ` : "-"}${MEAN}[${c}]) * ${name}s`;
  if (n.affine) shift = `${shift} + ${SHIFT}[${c}]`;
  return [`let ${name}s = ${scale};`, `let ${name}h = ${shift};`];
}

/**
 * The statement storing accumulator `v` of output channel `c` (a u32 expression) at
 * `lhs`; with a folded batch norm, through the scale and shift `name` of normPrelude.
 */
export function storeOutput(io: KernelIO, lhs: string, v: string, c: string, name = ""): string {
  const n = io.norm;
  if (!n) return store(io.accumulate, lhs, io.bias ? `${v} + ${BIAS}[${c}]` : v);
  return `{ let x = fma(${v}, ${name}s, ${name}h); ${store(io.accumulate, lhs, n.expr ?? "x")} }`;
}

/**
 * storeOutput for two or four accumulators of channel `c` stored as one vector at `lhs`
 * (each through the folded batch norm and activation, written for scalars).
 */
export function storeOutputVec(
  io: KernelIO,
  lhs: string,
  v: string[],
  c: string,
  name = "",
): string {
  const n = io.norm;
  const type = `vec${v.length}f`;
  const q = `${type}(${v.join(", ")})`;
  if (!n) return store(io.accumulate, lhs, io.bias ? `${q} + ${BIAS}[${c}]` : q);
  const lanes = v.map((a, i) =>
    `{ let x = fma(${a}, ${name}s, ${name}h); q.${"xyzw"[i]} = ${n.expr ?? "x"}; }`
  );
  return `{ var q: ${type}; ${lanes.join(" ")} ${store(io.accumulate, lhs, "q")} }`;
}
