// Seeded randomness for the data pipeline: every image and batch is a pure function of
// integers (seed, identity, pose, ...), so nothing here ever calls Math.random.
import { rng } from "../util/rng.ts";

/** A well-mixed 32-bit hash of several integers: seeds for independent streams. */
export function hashInts(...xs: number[]): number {
  let h = 0x9e3779b9;
  for (const x of xs) {
    h = Math.imul(h ^ (x >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/** A seeded stream with the few helpers sampling needs. */
export class Random {
  readonly next: () => number;
  constructor(seed: number) {
    this.next = rng(seed);
  }
  /** uniform in [a, b) */
  range(a: number, b: number): number {
    return a + (b - a) * this.next();
  }
  /** integer in [0, n) */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
  /** true with probability p */
  chance(p: number): boolean {
    return this.next() < p;
  }
  /** Fisher-Yates in place */
  shuffle<T extends { [i: number]: unknown; length: number }>(xs: T): T {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = xs[i];
      xs[i] = xs[j];
      xs[j] = t;
    }
    return xs;
  }
}
