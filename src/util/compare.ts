// Comparing computed tensors with a reference: one figure per tensor, independent of
// its scale. The tuner compares kernel candidates with the first; the tests compare
// kernels with float64 references and exports with the engine.

/** max |a - b| / max(max |b|, 1e-3); NaN anywhere in the difference gives Infinity. */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`length mismatch: ${a.length} vs ${b.length}`);
  let num = 0, den = 1e-3;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    num = Number.isNaN(d) ? Infinity : Math.max(num, d);
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / den;
}
