// Helpers shared by op kernels: binding declarations and 1-D grids.
import type { Binding, Dispatch } from "./types.ts";

/** WGSL identifier of a role: "p.weight" -> "p_weight", "dx0" -> "dx0". */
export function ident(role: string): string {
  return role.replace(/[^A-Za-z0-9_]/g, "_");
}

/** The WGSL type of a binding's elements. */
export const elementType = (b: Binding): string => b.vec4 ? "vec4f" : b.vec2 ? "vec2f" : "f32";

export function declare(bindings: Binding[]): string {
  return bindings.map((b, i) =>
    `@group(0) @binding(${i}) var<storage, ${b.write ? "read_write" : "read"}> ${
      ident(b.role)
    }: array<${elementType(b)}>;`
  ).join("\n");
}

/** `lhs = rhs;` or, when gradients from several uses meet, `lhs = lhs + rhs;`. */
export function store(accumulate: boolean, lhs: string, rhs: string): string {
  return accumulate ? `${lhs} = ${lhs} + (${rhs});` : `${lhs} = ${rhs};`;
}

export const WG = 64;
const MAX_GROUPS = 65535;

/** Workgroup counts for n threads of WG each, folded into y when x would overflow. */
export function grid(n: number, wg = WG): [number, number, number] {
  const groups = Math.max(1, Math.ceil(n / wg));
  if (groups <= MAX_GROUPS) return [groups, 1, 1];
  const y = Math.ceil(groups / MAX_GROUPS);
  return [Math.ceil(groups / y), y, 1];
}

/**
 * A kernel with one thread per element i in [0, n): `body` sees `i: u32`.
 * Handles the folded 2-D grid so callers never think about the 65535 limit.
 */
export function perElement(
  label: string,
  n: number,
  bindings: Binding[],
  body: string,
  prelude = "",
): Dispatch {
  const [gx] = grid(n);
  const code = `${declare(bindings)}
${prelude}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x + gid.y * ${gx * WG}u;
  if (i >= ${n}u) { return; }
${body}
}
`;
  return { label, code, entry: "main", workgroups: grid(n), bindings };
}

/**
 * perElement for sizes read at run time: `sizes` (role c.NAME, Kernels.consts) holds
 * the element count first, then what `body` reads of it, so one pipeline serves every
 * size (each pipeline costs a compile). For small tensors: a division by a size read
 * at run time costs more than one by a constant.
 */
export function perElementSized(
  label: string,
  n: number,
  bindings: Binding[],
  name: string,
  body: string,
): Dispatch {
  const all = [...bindings, { role: `c.${name}` }];
  const code = `${declare(all)}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * ${WG}u;
  if (i >= u32(c_${ident(name)}[0])) { return; }
${body}
}
`;
  return { label, code, entry: "main", workgroups: grid(n), bindings: all };
}

/** Product of a shape's dimensions. */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** WGSL float literal that always parses as f32. */
export function f32(x: number): string {
  if (!Number.isFinite(x)) throw new Error(`non-finite constant ${x} in a kernel`);
  const s = String(x);
  return /[.eE]/.test(s) ? s : `${s}.0`;
}
