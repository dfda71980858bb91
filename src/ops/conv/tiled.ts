// Convolution kernels as implicit GEMM over workgroup-memory tiles: the layout
// GPUs want (each value loaded from a storage buffer once per workgroup, then
// read many times from workgroup memory), where the register-blocked kernels of
// kernels.ts suit a software adapter that pays dearly for barriers. Which
// one runs is measured per adapter by the autotuner (src/tune/autotune.ts).
//
// All three kernels are C[m, n] = sum_k A(m, k) * B(k, n), with the operands
// gathered from the tensors on the fly (no im2col buffer):
//   gather (dst = conv(src))   m = dst channel, n = (b, dst pixel), k = (src channel, tap)
//   scatter (src = conv^T(dst)) m = src channel, n = (b, src pixel), k = (dst channel, tap)
//   weight gradient            m = dst channel, n = (src channel, tap), k = (b, dst pixel)
import { cdiv, type ConvGeom, range } from "./geometry.ts";
import {
  bindingsOf,
  declareNamed,
  DST,
  type KernelIO,
  normPrelude,
  SRC,
  storeOutput,
  WGT,
} from "./store.ts";
import type { Binding, Dispatch } from "../types.ts";
import { store } from "../wgsl.ts";

/** A workgroup computes a tm x tn tile of C, tk steps of k at a time; a thread rm x rn of it. */
export interface TileBlock {
  tm: number;
  tn: number;
  tk: number;
  rm: number;
  rn: number;
}

export const isTile = (b: object): b is TileBlock => "tm" in b;

/** Tiles the autotuner measures next to the cost model's register blocks. */
export const TILE_CANDIDATES: readonly TileBlock[] = [
  { tm: 64, tn: 64, tk: 8, rm: 4, rn: 4 },
  { tm: 32, tn: 64, tk: 16, rm: 4, rn: 4 },
  { tm: 16, tn: 64, tk: 16, rm: 2, rn: 4 },
  { tm: 32, tn: 32, tk: 16, rm: 2, rn: 2 },
];

/** WebGPU's default limits, which every adapter offers. */
const LIMITS = { threads: 256, bytes: 16384 };

/** Why a tile cannot run within WebGPU's default limits, or undefined when it can. */
export function tileProblem(t: TileBlock): string | undefined {
  if (t.tm % t.rm || t.tn % t.rn) return "rm must divide tm and rn tn";
  const threads = (t.tm / t.rm) * (t.tn / t.rn);
  if (threads > LIMITS.threads) return `${threads} threads per workgroup`;
  if ((t.tm + t.tn) * t.tk * 4 > LIMITS.bytes) return "too much workgroup memory";
  return undefined;
}

interface Gemm {
  M: number;
  N: number;
  K: number;
  /** WGSL value of A(m, k) / B(k, n) for in-range u32 `m`, `n`, `k` (0 where padding) */
  a: (m: string, k: string) => string[];
  b: (k: string, n: string) => string[];
  /** `let`s a row's stores share, for u32 `m` clamped into range, named after `name` */
  row?: (m: string, name: string) => string[];
  /** statements storing `v` at C(m, n) for in-range m, n; `name`: the row's `let`s */
  c: (m: string, n: string, v: string, name: string) => string;
}

function gemmKernel(
  label: string,
  t: TileBlock,
  gm: Gemm,
  bindings: [name: string, b: Binding][],
): Dispatch {
  const problem = tileProblem(t);
  if (problem) throw new Error(`${label}: tile ${JSON.stringify(t)}: ${problem}`);
  const { tm, tn, tk, rm, rn } = t;
  const tx = tn / rn, ty = tm / rm, nt = tx * ty;
  const gx = cdiv(gm.N, tn), gy = cdiv(gm.M, tm);
  if (gx > 65535 || gy > 65535) throw new Error(`${label}: ${gx} x ${gy} tiles is too many`);
  const L: string[] = [];
  L.push(
    declareNamed(bindings),
    `var<workgroup> ta: array<f32, ${tk * tm}>;`,
    `var<workgroup> tb: array<f32, ${tk * tn}>;`,
    `@compute @workgroup_size(${nt})`,
    `fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {`,
    `  let m0 = wid.y * ${tm}u;`,
    `  let n0 = wid.x * ${tn}u;`,
    `  let tx = li % ${tx}u;`,
    `  let ty = li / ${tx}u;`,
  );
  for (const i of range(rm)) for (const j of range(rn)) L.push(`  var c${i}_${j} = 0.0;`);
  L.push(`  for (var k0 = 0u; k0 < ${gm.K}u; k0 += ${tk}u) {`);
  // Cooperative loads: every thread fills its share of both tiles; out-of-range
  // elements (and the zero padding of the convolution) load as 0.
  const load = (
    tile: string,
    size: number,
    at: (e: string) => string,
    f: (e: string) => string[],
  ) => {
    for (const r of range(cdiv(size, nt))) {
      const e = `e${r}`;
      L.push(`    {`, `      let ${e} = li + ${r * nt}u;`);
      const lines = f(e);
      L.push(...lines.slice(0, -1).map((l) => `      ${l}`));
      const st = `${tile}[${at(e)}] = ${lines.at(-1)};`;
      L.push((r + 1) * nt > size ? `      if (${e} < ${size}u) { ${st} }` : `      ${st}`, `    }`);
    }
  };
  // ta[kk * tm + mm] = A(m0 + mm, k0 + kk), kk fastest across threads (k is contiguous in A)
  load("ta", tk * tm, (e) => `(${e} % ${tk}u) * ${tm}u + ${e} / ${tk}u`, (e) => {
    const kk = `${e} % ${tk}u`, mm = `${e} / ${tk}u`;
    const a = gm.a("am", "ak");
    return [
      `let am = min(m0 + ${mm}, ${gm.M - 1}u);`,
      `let ak = min(k0 + ${kk}, ${gm.K - 1}u);`,
      ...a.slice(0, -1),
      `select(0.0, ${a.at(-1)}, m0 + ${mm} < ${gm.M}u && k0 + ${kk} < ${gm.K}u)`,
    ];
  });
  // tb[kk * tn + nn] = B(k0 + kk, n0 + nn), nn fastest (pixels are contiguous)
  load("tb", tk * tn, (e) => e, (e) => {
    const nn = `${e} % ${tn}u`, kk = `${e} / ${tn}u`;
    const b = gm.b("bk", "bn");
    return [
      `let bn = min(n0 + ${nn}, ${gm.N - 1}u);`,
      `let bk = min(k0 + ${kk}, ${gm.K - 1}u);`,
      ...b.slice(0, -1),
      `select(0.0, ${b.at(-1)}, n0 + ${nn} < ${gm.N}u && k0 + ${kk} < ${gm.K}u)`,
    ];
  });
  L.push(`    workgroupBarrier();`);
  // Thread (tx, ty) owns rows ty + ty_count * i and columns tx + tx_count * j:
  // neighbouring threads read neighbouring words of workgroup memory.
  L.push(`    for (var kk = 0u; kk < ${tk}u; kk++) {`);
  for (const i of range(rm)) L.push(`      let a${i} = ta[kk * ${tm}u + ty + ${ty * i}u];`);
  for (const j of range(rn)) L.push(`      let b${j} = tb[kk * ${tn}u + tx + ${tx * j}u];`);
  for (const i of range(rm)) {
    for (const j of range(rn)) L.push(`      c${i}_${j} = fma(a${i}, b${j}, c${i}_${j});`);
  }
  L.push(`    }`, `    workgroupBarrier();`, `  }`);
  for (const i of range(rm)) {
    const m = `m0 + ty + ${ty * i}u`;
    const row = gm.row?.(`min(${m}, ${gm.M - 1}u)`, `r${i}`) ?? [];
    L.push(...row.map((l) => `  ${l}`));
    for (const j of range(rn)) {
      const n = `n0 + tx + ${tx * j}u`;
      L.push(`  if (${m} < ${gm.M}u && ${n} < ${gm.N}u) {`);
      L.push(`    let cm = ${m};`, `    let cn = ${n};`);
      L.push(`    ${gm.c("cm", "cn", `c${i}_${j}`, `r${i}`)}`, `  }`);
    }
  }
  L.push(`}`, ``);
  return {
    label,
    code: L.join("\n"),
    entry: "main",
    workgroups: [gx, gy, 1],
    bindings: bindings.map(([, b]) => b),
  };
}

/** Source pixel (y, x) of dst pixel p at tap t, as i32, and whether it is inside src. */
function srcPixel(g: ConvGeom, p: string, t: string): string[] {
  return [
    `let sy = i32((${p} / ${g.dstW}u) * ${g.s}u + ${t} / ${g.kw}u) - ${g.pt};`,
    `let sx = i32((${p} % ${g.dstW}u) * ${g.s}u + ${t} % ${g.kw}u) - ${g.pl};`,
    `let sok = sy >= 0 && sy < ${g.srcH} && sx >= 0 && sx < ${g.srcW};`,
    `let sat = u32(clamp(sy, 0, ${g.srcH - 1})) * ${g.srcW}u + u32(clamp(sx, 0, ${g.srcW - 1}));`,
  ];
}

/** Row `let`s and stores of C[m, n] into an NCHW tensor of C channels, n = (b, pixel of HW). */
function nchwOut(io: KernelIO, C: number, HW: number): Pick<Gemm, "row" | "c"> {
  return {
    row: (m, name) => normPrelude(io, name, `(${m})`),
    c: (m, n, v, name) =>
      storeOutput(
        io,
        `${DST}[((${n} / ${HW}u) * ${C}u + ${m}) * ${HW}u + ${n} % ${HW}u]`,
        v,
        m,
        name,
      ),
  };
}

/** dst = conv(src) (+ bias), as convGather. */
export function tiledGather(label: string, g: ConvGeom, io: KernelIO, t: TileBlock): Dispatch {
  const KK = g.kh * g.kw, HW = g.dstH * g.dstW;
  const K = g.srcC * KK;
  return gemmKernel(label, t, {
    M: g.dstC,
    N: g.b * HW,
    K,
    a: (m, k) => [`${WGT}[${m} * ${K}u + ${k}]`],
    b: (k, n) => [
      ...srcPixel(g, `(${n} % ${HW}u)`, `(${k} % ${KK}u)`),
      `let sc = (${n} / ${HW}u) * ${g.srcC}u + ${k} / ${KK}u;`,
      `select(0.0, ${SRC}[sc * ${g.srcH * g.srcW}u + sat], sok)`,
    ],
    ...nchwOut(io, g.dstC, HW),
  }, bindingsOf(io));
}

/** src = conv^T(dst) (+ bias), as convScatter: taps whose dst pixel is not whole read 0. */
export function tiledScatter(label: string, g: ConvGeom, io: KernelIO, t: TileBlock): Dispatch {
  const KK = g.kh * g.kw, HW = g.srcH * g.srcW;
  const axis = (v: string, pos: string, tap: string, pad: number, n: number) => [
    `let ${v}t = i32(${pos}) + ${pad} - i32(${tap});`,
    `let ${v}q = ${v}t / ${g.s};`,
    `let ${v}ok = ${v}t >= 0 && ${v}t % ${g.s} == 0 && ${v}q < ${n};`,
  ];
  return gemmKernel(label, t, {
    M: g.srcC,
    N: g.b * HW,
    K: g.dstC * KK,
    a: (m, k) => [`${WGT}[((${k} / ${KK}u) * ${g.srcC}u + ${m}) * ${KK}u + ${k} % ${KK}u]`],
    b: (k, n) => [
      `let dp = ${n} % ${HW}u;`,
      `let dt = ${k} % ${KK}u;`,
      ...axis("y", `dp / ${g.srcW}u`, `dt / ${g.kw}u`, g.pt, g.dstH),
      ...axis("x", `dp % ${g.srcW}u`, `dt % ${g.kw}u`, g.pl, g.dstW),
      `let dat = ((${n} / ${HW}u) * ${g.dstC}u + ${k} / ${KK}u) * ${g.dstH * g.dstW}u + ` +
      `u32(clamp(yq, 0, ${g.dstH - 1})) * ${g.dstW}u + u32(clamp(xq, 0, ${g.dstW - 1}));`,
      `select(0.0, ${SRC}[dat], yok && xok)`,
    ],
    ...nchwOut(io, g.srcC, HW),
  }, bindingsOf(io));
}

/** dw = d<conv(src), dst>/dw, as convWeightGrad, in one dispatch (no partial sums). */
export function tiledWeightGrad(
  label: string,
  g: ConvGeom,
  roles: { src: string; dst: string; dw: string },
  accumulate: boolean,
  t: TileBlock,
): Dispatch {
  const KK = g.kh * g.kw, HW = g.dstH * g.dstW;
  const N = g.srcC * KK;
  return gemmKernel(label, t, {
    M: g.dstC,
    N,
    K: g.b * HW,
    a: (m, k) => [`ys[((${k} / ${HW}u) * ${g.dstC}u + ${m}) * ${HW}u + ${k} % ${HW}u]`],
    b: (k, n) => [
      ...srcPixel(g, `(${k} % ${HW}u)`, `(${n} % ${KK}u)`),
      `let sc = (${k} / ${HW}u) * ${g.srcC}u + ${n} / ${KK}u;`,
      `select(0.0, xs[sc * ${g.srcH * g.srcW}u + sat], sok)`,
    ],
    c: (m, n, v) => store(accumulate, `dw[${m} * ${N}u + ${n}]`, v),
  }, [
    ["xs", { role: roles.src }],
    ["ys", { role: roles.dst }],
    ["dw", { role: roles.dw, write: true }],
  ]);
}
