// A head compiled for ray casting: each solid's transforms and cut planes packed into
// one Float64Array, computed once per person and reused for every view.
import { buildHead, type Head } from "./head.ts";
import type { Identity } from "./identity.ts";

// Per-head constants, STRIDE_H numbers per solid:
// M (9: head -> unit sphere), c (3), N (9: unit sphere point -> head normal),
// planes count (1), 2 planes x (n, d) (8), material (1), caster (1),
// E (9: unit sphere -> head offset, for screen bounds).
export const STRIDE_H = 41;

export interface Compiled {
  head: Head;
  h: Float64Array;
  count: number;
  casters: number[];
}

const compiledCache = new WeakMap<Identity, Compiled>();

/** The compiled head of a person (cached while the Identity object lives). */
export function compile(identity: Identity): Compiled {
  const hit = compiledCache.get(identity);
  if (hit) return hit;
  const head = buildHead(identity);
  const n = head.prims.length;
  const h = new Float64Array(n * STRIDE_H);
  const casters: number[] = [];
  head.prims.forEach((p, i) => {
    const o = i * STRIDE_H;
    const R = p.rot ?? [[1, 0, 0], [0, 1, 0], [0, 0, 1]];
    for (let a = 0; a < 3; a++) {
      for (let b = 0; b < 3; b++) {
        h[o + a * 3 + b] = R[a][b] / p.r[a]; // M = diag(1/r) R
        h[o + 12 + b * 3 + a] = R[a][b] / p.r[a]; // N = R^T diag(1/r)
        h[o + 32 + b * 3 + a] = R[a][b] * p.r[a]; // E = R^T diag(r)
      }
      h[o + 9 + a] = p.c[a];
    }
    h[o + 21] = p.cut.length;
    p.cut.forEach((cut, k) => {
      h.set([cut.n[0], cut.n[1], cut.n[2], cut.d], o + 22 + 4 * k);
    });
    h[o + 30] = p.mat;
    h[o + 31] = p.caster ? 1 : 0;
    if (p.caster) casters.push(i);
  });
  const c = { head, h, count: n, casters };
  compiledCache.set(identity, c);
  return c;
}
