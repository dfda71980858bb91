// Seeded randomness for the data pipeline: every image and batch is a pure function of
// integers (seed, identity, pose, ...), so nothing here ever calls Math.random.
import { mix, rng } from "../util/rng.ts";

/** A well-mixed 32-bit hash of several integers: seeds for independent streams. */
export const hashInts: (...xs: number[]) => number = mix;

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
