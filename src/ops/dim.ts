// Symbolic sizes: a dimension known only when a plan is built for a batch size,
// written as a positive rational multiple of one symbol: "B", "B/4" (groups of four
// rows fused into one), "2*B" (real and generated faces in one batch), "9*B/4".
import type { Dim } from "./types.ts";

/** num/den times the symbol `name`, with num/den in lowest terms. */
export interface SymDim {
  name: string;
  num: number;
  den: number;
}

const SYM = /^(?:(\d+)\s*\*\s*)?([A-Za-z_]\w*)(?:\s*\/\s*(\d+))?$/;

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

function sym(name: string, num: number, den: number): SymDim {
  const g = gcd(num, den);
  return { name, num: num / g, den: den / g };
}

/** The symbolic form of `d`, or undefined when it is a number or not of that form. */
export function parseDim(d: Dim): SymDim | undefined {
  if (typeof d !== "string") return undefined;
  const m = SYM.exec(d.trim());
  if (!m) return undefined;
  const num = m[1] === undefined ? 1 : Number(m[1]);
  const den = m[3] === undefined ? 1 : Number(m[3]);
  if (!(num > 0 && den > 0)) return undefined;
  return sym(m[2], num, den);
}

export function formatDim(s: SymDim): Dim {
  if (s.num === 0) return 0;
  return `${s.num === 1 ? "" : `${s.num}*`}${s.name}${s.den === 1 ? "" : `/${s.den}`}`;
}

/** Both as multiples of one symbol (0 counts as any symbol's); undefined when they are not. */
function sameSymbol(a: Dim, b: Dim): [SymDim, SymDim] | undefined {
  const name = (parseDim(a) ?? parseDim(b))?.name ?? "";
  const as = (d: Dim) => d === 0 ? { name, num: 0, den: 1 } : parseDim(d);
  const x = as(a), y = as(b);
  return x && y && x.name === y.name ? [x, y] : undefined;
}

/** a + b (k = 1) or a - b (k = -1); undefined when they mix numbers and symbols or two symbols. */
export function combineDims(a: Dim, b: Dim, k: 1 | -1 = 1): Dim | undefined {
  if (typeof a === "number" && typeof b === "number") return a + k * b;
  const pair = sameSymbol(a, b);
  if (!pair) return undefined;
  const [x, y] = pair;
  const num = x.num * y.den + k * y.num * x.den;
  if (num < 0) return undefined;
  return formatDim(sym(x.name, num, x.den * y.den));
}

/** a / n for a positive integer n; undefined when a number does not divide. */
export function divideDim(a: Dim, n: number): Dim | undefined {
  if (typeof a === "number") return a % n === 0 ? a / n : undefined;
  const s = parseDim(a);
  return s && formatDim(sym(s.name, s.num, s.den * n));
}

/** Sign of a - b when comparable (both numbers, or multiples of one symbol, 0 included). */
export function compareDims(a: Dim, b: Dim): number | undefined {
  if (typeof a === "number" && typeof b === "number") return Math.sign(a - b);
  const pair = sameSymbol(a, b);
  return pair && Math.sign(pair[0].num * pair[1].den - pair[1].num * pair[0].den);
}

/** The size for a batch: every symbol stands for the batch. */
export function bindDim(d: Dim, batch: number): number {
  if (typeof d === "number") return d;
  const s = parseDim(d);
  if (!s) throw new Error(`cannot bind dimension '${d}'`);
  if ((batch * s.num) % s.den !== 0) {
    throw new Error(`batch ${batch} is not a multiple of ${s.den} (dimension '${d}')`);
  }
  return (batch * s.num) / s.den;
}

/** Rows per sample (batch 1): what per-sample figures such as MACs count. */
export function perSample(d: Dim): number {
  if (typeof d === "number") return d;
  const s = parseDim(d);
  return s ? s.num / s.den : 1;
}

/** The smallest batch every one of these sizes binds to a whole number. */
export function batchUnit(dims: Dim[]): number {
  let unit = 1;
  for (const d of dims) {
    const s = parseDim(d);
    if (s) unit = (unit * s.den) / gcd(unit, s.den);
  }
  return unit;
}
