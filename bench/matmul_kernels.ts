// WGSL generators of plain matmul kernels C[M,N] = A[M,K] x B[K,N] (f32), the
// "practical ceiling" our convolution kernels are compared with (bench/matmul.ts).
//
// Families:
//   storage  operands in storage buffers; each thread keeps an rm x rn block of C
//            in registers, the K loop unrolled, vec4 loads (A along K, B along N),
//            no workgroup memory and no barriers: the conv kernels' recipe
//   texture  the same, operands read with textureLoad from rgba32float textures;
//            A's texels hold 4 consecutive K values (aLayout "k") or 4 consecutive
//            M values ("m"), B's texels 4 consecutive N values
//   tiled    the classic GPU kernel: a workgroup stages tiles of A and B in
//            workgroup memory between barriers, each thread an rm x rn block
//
// Layout: row-major, with K and N padded with zeros to multiples of 4 (so that
// rows are whole vec4s / texels); for sizes that are multiples of 4 that is plain
// row-major. Blocks that do not divide M or N get clamped loads and guarded stores.
// Sizes are inlined into the code, as in the conv kernels.

export type Family = "storage" | "texture" | "tiled";

export interface MatmulVariant {
  family: Family;
  /** rows (M) and columns (N) of C per thread; rn a multiple of 4 */
  rm: number;
  rn: number;
  /** storage/texture: threads per workgroup (1-D); tiled: workgroup is wx x wy */
  wg?: number;
  wx?: number;
  wy?: number;
  /** K steps per loop iteration (storage/texture; a multiple of 4 unless aLayout "m") */
  unroll?: number;
  /** texture: what A's texels hold (4 consecutive K or 4 consecutive M values) */
  aLayout?: "k" | "m";
  /** storage/texture: which block index neighbouring threads step along (default "n") */
  order?: "n" | "m";
  /** tiled: K steps per tile */
  tk?: number;
}

export interface Shape {
  m: number;
  n: number;
  k: number;
}

/** How an operand is handed to the kernel: a storage buffer, or a texture of w x h texels. */
export interface Operand {
  texture?: { width: number; height: number };
  /** the host data in the kernel's layout (zero padded) */
  pack(x: Float32Array, rows: number, cols: number): Float32Array<ArrayBuffer>;
}

export interface MatmulKernel {
  code: string;
  workgroups: [number, number, number];
  a: Operand;
  b: Operand;
  /** C as written: M rows of ldc floats (ldc = N rounded up to 4) */
  ldc: number;
}

const cdiv = (a: number, b: number) => Math.ceil(a / b);
const ceil4 = (x: number) => cdiv(x, 4) * 4;
const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const MAX_GROUPS = 65535;

export function describe(v: MatmulVariant): string {
  const blk = `${v.rm}x${v.rn}`;
  if (v.family === "tiled") return `tiled ${blk} wg ${v.wx}x${v.wy} tk ${v.tk}`;
  const fam = v.family === "texture" ? `texture A-${v.aLayout ?? "k"}` : "storage";
  return `${fam} ${blk} wg ${v.wg ?? 64} u${unrollOf(v)}${v.order === "m" ? " m-order" : ""}`;
}

/** Default unroll: about 1024 multiply-adds per loop body (code size vs loop overhead). */
export function unrollOf(v: MatmulVariant): number {
  if (v.unroll) return v.unroll;
  return Math.max(4, Math.min(16, 4 * Math.floor(1024 / (v.rm * v.rn) / 4)));
}

/** Row-major rows x cols, zero padded to rows' x cols' (cols' a multiple of 4). */
function padded(rowsP: number, colsP: number): Operand["pack"] {
  return (x, rows, cols) => {
    const out = new Float32Array(rowsP * colsP);
    for (let r = 0; r < rows; r++) out.set(x.subarray(r * cols, (r + 1) * cols), r * colsP);
    return out;
  };
}

/** A [M, K] as texels of 4 consecutive rows: texel (k, y) = A[4y .. 4y+3, k]. */
function byRows4(m: number, k: number): Operand["pack"] {
  return (x) => {
    const out = new Float32Array(ceil4(m) * k);
    for (let r = 0; r < m; r++) {
      for (let c = 0; c < k; c++) out[((r >> 2) * k + c) * 4 + (r & 3)] = x[r * k + c];
    }
    return out;
  };
}

/** Workgroups for `groups` groups, folded into y past the 65535 limit. */
function fold(groups: number): [number, number, number] {
  if (groups <= MAX_GROUPS) return [Math.max(1, groups), 1, 1];
  const y = cdiv(groups, MAX_GROUPS);
  return [cdiv(groups, y), y, 1];
}

export function matmulKernel(v: MatmulVariant, s: Shape): MatmulKernel {
  if (v.rn % 4 !== 0) throw new Error(`rn must be a multiple of 4, got ${v.rn}`);
  return v.family === "tiled" ? tiled(v, s) : blocked(v, s);
}

/** storage and texture: one thread per rm x rn block of C, no barriers. */
function blocked(v: MatmulVariant, s: Shape): MatmulKernel {
  const { m, n, k } = s;
  const { rm, rn } = v;
  const tex = v.family === "texture";
  const byM = tex && v.aLayout === "m";
  if (byM && rm % 4 !== 0) throw new Error(`aLayout "m" needs rm a multiple of 4, got ${rm}`);
  const wg = v.wg ?? 64;
  const u = unrollOf(v);
  if (!byM && u % 4 !== 0) throw new Error(`unroll must be a multiple of 4, got ${u}`);
  // K as the kernel sees it: padded to 4 when A's texels / vec4s run along K
  const kk = byM ? k : ceil4(k);
  const k4 = kk / 4, n4 = ceil4(n) / 4, rn4 = rn / 4, m4 = cdiv(m, 4);
  const tn = cdiv(n4, rn4), tm = cdiv(m, rm);
  const threads = tm * tn;
  const [gx, gy] = fold(cdiv(threads, wg));
  const L: string[] = [];
  if (tex) {
    L.push(
      `@group(0) @binding(0) var ta: texture_2d<f32>;`,
      `@group(0) @binding(1) var tb: texture_2d<f32>;`,
    );
  } else {
    L.push(
      `@group(0) @binding(0) var<storage, read> a: array<vec4f>;`,
      `@group(0) @binding(1) var<storage, read> b: array<vec4f>;`,
    );
  }
  L.push(
    `@group(0) @binding(2) var<storage, read_write> c: array<vec4f>;`,
    `@compute @workgroup_size(${wg})`,
    `fn main(@builtin(global_invocation_id) gid: vec3u) {`,
    `  let t = gid.x + gid.y * ${gx * wg}u;`,
    `  if (t >= ${threads}u) { return; }`,
    // neighbouring threads take neighbouring column blocks (they share A's rows), or
    // with order "m" neighbouring row blocks (they share B's columns)
    ...(v.order === "m"
      ? [`  let r0 = (t % ${tm}u) * ${rm}u;`, `  let c0 = (t / ${tm}u) * ${rn4}u;`]
      : [`  let r0 = (t / ${tn}u) * ${rm}u;`, `  let c0 = (t % ${tn}u) * ${rn4}u;`]),
  );
  const clampM = m % rm !== 0, clampN = n4 % rn4 !== 0;
  if (byM) {
    for (const i of range(rm / 4)) {
      const r = `r0 / 4u + ${i}u`;
      L.push(`  let ra${i} = ${clampM ? `min(${r}, ${m4 - 1}u)` : r};`);
    }
  } else {
    for (const i of range(rm)) {
      const r = `r0 + ${i}u`;
      const row = clampM ? `min(${r}, ${m - 1}u)` : r;
      L.push(tex ? `  let ra${i} = ${row};` : `  let ra${i} = (${row}) * ${k4}u;`);
    }
  }
  for (const j of range(rn4)) {
    const col = `c0 + ${j}u`;
    L.push(`  let cb${j} = ${clampN ? `min(${col}, ${n4 - 1}u)` : col};`);
  }
  for (const i of range(rm)) for (const j of range(rn4)) L.push(`  var c${i}_${j} = vec4f(0.0);`);
  const loadB = (j: number, kx: string) =>
    tex ? `textureLoad(tb, vec2u(cb${j}, ${kx}), 0)` : `b[(${kx}) * ${n4}u + cb${j}]`;
  const step = (kx: string) => range(rn4).map((j) => `      let b${j} = ${loadB(j, kx)};`);
  /** code for `cnt` K steps from k = `k0 + off` (k0 a WGSL u32 expression); each
   * group of loads and the multiply-adds using them in its own { } scope */
  const body = (k0: string, off: number, cnt: number): string[] => {
    const B: string[] = [];
    const at = (d: number) => `${k0} + ${off + d}u`;
    const fmas = (a: (i: number) => string) => {
      for (const i of range(rm)) {
        for (const j of range(rn4)) B.push(`      c${i}_${j} += ${a(i)} * b${j};`);
      }
    };
    if (byM) {
      for (const d of range(cnt)) {
        B.push(`    {`);
        for (const i of range(rm / 4)) {
          B.push(`      let a${i} = textureLoad(ta, vec2u(${at(d)}, ra${i}), 0);`);
        }
        B.push(...step(at(d)));
        fmas((i) => `a${i >> 2}[${i & 3}]`);
        B.push(`    }`);
      }
      return B;
    }
    for (const q of range(cnt / 4)) {
      const kq = `(${k0} + ${off + 4 * q}u) / 4u`;
      B.push(`    {`);
      for (const i of range(rm)) {
        B.push(
          tex
            ? `      let a${i} = textureLoad(ta, vec2u(${kq}, ra${i}), 0);`
            : `      let a${i} = a[ra${i} + ${kq}];`,
        );
      }
      for (const d of range(4)) {
        B.push(`    {`, ...step(at(4 * q + d)));
        fmas((i) => `a${i}[${d}]`);
        B.push(`    }`);
      }
      B.push(`    }`);
    }
    return B;
  };
  const main = Math.floor(kk / u) * u;
  if (main > 0) {
    L.push(`  for (var k0 = 0u; k0 < ${main}u; k0 += ${u}u) {`, ...body("k0", 0, u), `  }`);
  }
  if (kk > main) L.push(...body("0u", main, kk - main));
  for (const i of range(rm)) {
    for (const j of range(rn4)) {
      const conds: string[] = [];
      if (clampM) conds.push(`r0 + ${i}u < ${m}u`);
      if (clampN) conds.push(`c0 + ${j}u < ${n4}u`);
      const st = `c[(r0 + ${i}u) * ${n4}u + c0 + ${j}u] = c${i}_${j};`;
      L.push(conds.length ? `  if (${conds.join(" && ")}) { ${st} }` : `  ${st}`);
    }
  }
  L.push(`}`);
  const aOp: Operand = byM
    ? { texture: { width: k, height: m4 }, pack: byRows4(m, k) }
    : { texture: tex ? { width: k4, height: m } : undefined, pack: padded(m, kk) };
  const bOp: Operand = {
    texture: tex ? { width: n4, height: kk } : undefined,
    pack: padded(kk, n4 * 4),
  };
  return { code: L.join("\n"), workgroups: [gx, gy, 1], a: aOp, b: bOp, ldc: n4 * 4 };
}

/**
 * The classic shared-memory kernel: a wx x wy workgroup computes a (wy*rm) x (wx*rn)
 * tile of C; per K tile its threads load tm x tk of A and tk x tn of B into
 * workgroup memory, barrier, multiply from there, barrier.
 */
function tiled(v: MatmulVariant, s: Shape): MatmulKernel {
  const { m, n, k } = s;
  const { rm, rn } = v;
  const wx = v.wx ?? 8, wy = v.wy ?? 8, tk = v.tk ?? 16;
  if (tk % 4 !== 0) throw new Error(`tk must be a multiple of 4, got ${tk}`);
  const kk = ceil4(k), k4 = kk / 4, n4 = ceil4(n) / 4, rn4 = rn / 4;
  const TM = wy * rm, TN4 = wx * rn4, TK4 = tk / 4, nt = wx * wy;
  const gm = cdiv(m, TM), gn = cdiv(n4, TN4);
  const [gx, gy] = fold(gm * gn);
  const L: string[] = [
    `@group(0) @binding(0) var<storage, read> a: array<vec4f>;`,
    `@group(0) @binding(1) var<storage, read> b: array<vec4f>;`,
    `@group(0) @binding(2) var<storage, read_write> c: array<vec4f>;`,
    `var<workgroup> sa: array<vec4f, ${TM * TK4}>;`, // [TM][tk/4]: A along K
    `var<workgroup> sb: array<vec4f, ${tk * TN4}>;`, // [tk][TN/4]
    `@compute @workgroup_size(${wx}, ${wy})`,
    `fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {`,
    `  let g = wid.x + wid.y * ${gx}u;`,
    // every thread reaches the barriers, so no early return: out-of-range groups clamp
    `  let gr = min(g / ${gn}u, ${gm - 1}u) * ${TM}u;`,
    `  let gc = (g % ${gn}u) * ${TN4}u;`,
    `  let tx = li % ${wx}u;`,
    `  let ty = li / ${wx}u;`,
  ];
  for (const i of range(rm)) for (const j of range(rn4)) L.push(`  var c${i}_${j} = vec4f(0.0);`);
  /** one K tile of `cnt` steps (a multiple of 4) from vec4 column `kq` of A */
  const tile = (kq: string, cnt: number): string[] => {
    const T: string[] = [];
    const c4 = cnt / 4;
    // cooperative loads, thread li taking elements li, li + nt, ...
    for (let e = 0; e < TM * c4; e += nt) {
      const idx = `${e}u + li`;
      const guard = (TM * c4) % nt !== 0 && e + nt > TM * c4;
      const ld =
        `sa[(${idx}) / ${c4}u * ${TK4}u + (${idx}) % ${c4}u] = a[min(gr + (${idx}) / ${c4}u, ${
          m - 1
        }u) * ${k4}u + ${kq} + (${idx}) % ${c4}u];`;
      T.push(guard ? `    if (${idx} < ${TM * c4}u) { ${ld} }` : `    ${ld}`);
    }
    for (let e = 0; e < cnt * TN4; e += nt) {
      const idx = `${e}u + li`;
      const guard = (cnt * TN4) % nt !== 0 && e + nt > cnt * TN4;
      const ld =
        `sb[${idx}] = b[(${kq} * 4u + (${idx}) / ${TN4}u) * ${n4}u + min(gc + (${idx}) % ${TN4}u, ${
          n4 - 1
        }u)];`;
      T.push(guard ? `    if (${idx} < ${cnt * TN4}u) { ${ld} }` : `    ${ld}`);
    }
    T.push(`    workgroupBarrier();`);
    T.push(`    for (var q = 0u; q < ${c4}u; q++) {`);
    for (const i of range(rm)) T.push(`      let a${i} = sa[(ty * ${rm}u + ${i}u) * ${TK4}u + q];`);
    for (const d of range(4)) {
      T.push(`      {`);
      for (const j of range(rn4)) {
        T.push(`        let b${j} = sb[(q * 4u + ${d}u) * ${TN4}u + tx * ${rn4}u + ${j}u];`);
      }
      for (const i of range(rm)) {
        for (const j of range(rn4)) T.push(`        c${i}_${j} += a${i}[${d}] * b${j};`);
      }
      T.push(`      }`);
    }
    T.push(`    }`, `    workgroupBarrier();`);
    return T;
  };
  const main = Math.floor(kk / tk) * tk;
  if (main > 0) {
    L.push(`  for (var kq = 0u; kq < ${main / 4}u; kq += ${TK4}u) {`, ...tile("kq", tk), `  }`);
  }
  if (kk > main) L.push(`  {`, ...tile(`${main / 4}u`, kk - main), `  }`);
  L.push(`  if (g >= ${gm * gn}u) { return; }`);
  for (const i of range(rm)) {
    for (const j of range(rn4)) {
      const r = `gr + ty * ${rm}u + ${i}u`, col = `gc + tx * ${rn4}u + ${j}u`;
      const conds: string[] = [];
      if (m % TM !== 0) conds.push(`${r} < ${m}u`);
      if (n4 % TN4 !== 0) conds.push(`${col} < ${n4}u`);
      const st = `c[(${r}) * ${n4}u + ${col}] = c${i}_${j};`;
      L.push(conds.length ? `  if (${conds.join(" && ")}) { ${st} }` : `  ${st}`);
    }
  }
  L.push(`}`);
  return {
    code: L.join("\n"),
    workgroups: [gx, gy, 1],
    a: { pack: padded(m, kk) },
    b: { pack: padded(kk, n4 * 4) },
    ldc: n4 * 4,
  };
}
