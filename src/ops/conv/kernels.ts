// Three register-blocked kernels, generated per shape with the loops over the
// kernel window and over the thread's block unrolled and the geometry inlined
// (but for gather's and scatter's channel counts, read at run time: convConsts):
//   convGather      dst = conv(src): conv2d forward, conv_transpose2d input gradient
//   convScatter     src = conv^T(dst): conv2d input gradient, conv_transpose2d forward
//   convWeightGrad  dw, optionally split over rows of the reduction (partial sums
//                   in scratch, then a second small kernel adds them: no barriers)
// Each thread keeps a block of outputs in registers (channels x batch items x
// pixels) so that every value it loads feeds many multiply-adds. That is what
// matters on a software adapter, where a load from a storage buffer costs tens
// of cycles per invocation and a multiply-add a fraction of one; on a GPU it is
// the usual register tiling. No workgroup memory and no barriers, so the kernels
// are correct on any adapter and for any block size: blocks that do not divide a
// dimension get clamped loads and guarded stores, and where a thread's tile is
// the whole image, the zero padding is resolved while generating the code.
import type { Binding, Dispatch, Kernels } from "../types.ts";
import { grid, ident, numel, perElement, store, WG } from "../wgsl.ts";
import { cdiv, type ConvGeom, range } from "./geometry.ts";
import {
  type Block,
  gatherAxis,
  type Lanes,
  rowLanes,
  scatterAxis,
  vec4Weights,
  vecReads,
  weightAxis,
  type WeightBlock,
} from "./blocks.ts";
import { isTile, type TileBlock, tiledGather, tiledScatter, tiledWeightGrad } from "./tiled.ts";
import {
  bindingsOf,
  declareNamed,
  DST,
  type KernelIO,
  normPrelude,
  SRC,
  storeOutput,
  storeOutputVec,
  WGT,
  withLanes,
} from "./store.ts";

/**
 * Version of the kernel generators: bump it whenever the code generated for a block
 * changes, so that block choices measured (and cached) for older kernels are ignored.
 */
export const CONV_GENERATOR_VERSION = 7;

/**
 * Run-time position variables of an axis of a tile: for each offset o, the
 * position `base + o` clamped into [0, size) and scaled (for addressing), and
 * whether it is in range. Offsets whose range is statically known need none.
 */
function positions(
  lines: string[],
  name: string,
  base: string,
  offsets: number[],
  size: number,
  scale: number,
  known: (o: number) => boolean | undefined,
  indent = "  ",
): { off: (o: number) => string; ok: (o: number) => string | boolean } {
  const fixed = (o: number) => known(o) !== undefined;
  for (const o of offsets) {
    if (fixed(o)) continue;
    lines.push(`${indent}let ${name}p${o} = ${base} + ${o};`);
    lines.push(`${indent}let ${name}o${o} = u32(clamp(${name}p${o}, 0, ${size - 1})) * ${scale}u;`);
    lines.push(`${indent}let ${name}v${o} = ${name}p${o} >= 0 && ${name}p${o} < ${size};`);
  }
  return {
    off: (o) => fixed(o) ? "" : `${name}o${o}`,
    ok: (o) => known(o) ?? `${name}v${o}`,
  };
}

/** `e + k` for a signed constant k, without `+ -`. */
const plus = (e: string, k: number) => k < 0 ? `${e} - ${-k}` : `${e} + ${k}`;

/** `a + b + ...` of the non-empty terms, "0u" if none. */
const sum = (...t: (string | number)[]) => {
  const parts = t.map(String).filter((x) => x !== "" && x !== "0u" && x !== "0");
  return parts.length ? parts.join(" + ") : "0u";
};

function both(a: string | boolean, b: string | boolean): string | boolean {
  if (a === false || b === false) return false;
  if (a === true) return b;
  if (b === true) return a;
  return `${a} && ${b}`;
}

/**
 * A load that reads 0 where `ok` is false (its index is clamped, so always in bounds);
 * `v`: the lanes it loads.
 */
function guarded(expr: string, ok: string | boolean, v: Lanes = 1): string {
  return ok === true ? expr : `select(${v === 1 ? "0.0" : `vec${v}f(0.0)`}, ${expr}, ${ok})`;
}

const LANE = ["x", "y", "z", "w"];

/** The loads of a thread's row segment and where each read's value is in them. */
interface Columns {
  /** `id` names the loaded variable; `ix` its index in the row; `ok` whether in range */
  loads: { id: number; ix: string; ok: string | boolean }[];
  /** the value of read q, loaded into variables named `${prefix}_${id}` */
  at(prefix: string, q: number): string;
}

/**
 * Column loads of the reads q of a row, read q at column `start + q - pad` of `width`.
 * `start` is "0" for a single tile (columns known while generating, `known` says which
 * are in range) and a multiple of `vec` (indices then count vectors of that many lanes).
 */
function columns(
  L: string[],
  name: string,
  start: string,
  pad: number,
  reads: number[],
  width: number,
  known: (q: number) => boolean | undefined,
  vec: Lanes,
  indent = "  ",
): Columns {
  const single = start === "0";
  if (vec === 1) {
    const p = positions(L, name, plus(start, -pad), reads, width, 1, known, indent);
    return {
      loads: reads.map((q) => ({ id: q, ix: p.off(q) || `${q - pad}u`, ok: p.ok(q) })),
      at: (prefix, q) => `${prefix}_${q}`,
    };
  }
  const { j, j0, js } = vecReads(reads, pad, vec);
  const n = width / vec;
  const p = positions(
    L,
    name,
    single ? `${j0}` : plus(`${start} / ${vec}`, j0),
    js,
    n,
    1,
    (o) => single ? j0 + o >= 0 && j0 + o < n : undefined,
    indent,
  );
  return {
    loads: js.map((o) => ({ id: o, ix: p.off(o) || `${j0 + o}u`, ok: p.ok(o) })),
    at: (prefix, q) => `${prefix}_${j(q) - j0}.${LANE[q - pad - vec * j(q)]}`,
  };
}

/** Thread index decomposition, fastest first: `let name = ...` for each [name, extent]. */
function decompose(dims: [string, number][]): string[] {
  const out: string[] = [];
  let div = 1;
  dims.forEach(([name, n], k) => {
    const q = div === 1 ? "i" : `(i / ${div}u)`;
    out.push(`  let ${name} = ${k === dims.length - 1 ? q : `${q} % ${n}u`};`);
    div *= n;
  });
  return out;
}

/**
 * `let NAMEk = min(GROUP * n + k, N - 1)` for k < n: indices of a block, clamped; `N` is
 * `total`, or the expression `size` when given (a size read at run time).
 */
function blockIndices(
  name: string,
  group: string,
  n: number,
  total: number,
  size = `${total}u`,
): string[] {
  return range(n).map((k) => {
    const v = `${group} * ${n}u + ${k}u`;
    return `  let ${name}${k} = ${total % n === 0 ? v : `min(${v}, ${size} - 1u)`};`;
  });
}

/**
 * The channel counts gather and scatter read at run time (role c.conv, values
 * convConsts): the code then depends on the layer's spatial geometry and block only,
 * and layers that differ in channels alone share one pipeline (see PLAN_CHANNELS).
 */
export const convConsts = (g: ConvGeom): Record<string, number[]> => ({
  conv: [g.srcC, g.dstC],
});
const CONV_SIZES: [string, Binding] = ["sizes", { role: "c.conv" }];
const readSizes = ["  let srcC = u32(sizes[0]);", "  let dstC = u32(sizes[1]);"];

/** `if (cond) { body }` or just the body. */
function guard(conds: string[], body: string, indent = "  "): string {
  return conds.length ? `${indent}if (${conds.join(" && ")}) { ${body} }` : `${indent}${body}`;
}

/**
 * A one-thread-per-`i` kernel like wgsl.ts's perElement, but naming its bindings
 * by what they are to the kernel rather than by role, so that mirrored layers
 * (an encoder's conv and its decoder's transposed conv) share one pipeline.
 * With `layers` > 1, the dispatch's z is the layer `gid.z` and `i` < n counts
 * threads of one layer: the batch groups of gather and scatter, groups of row chunks of
 * the weight gradient, so that the code does not depend on the batch and one
 * pipeline serves an encoder at batch B and a discriminator at 2B (each pipeline
 * costs a compile on first use). `prelude` lines come first (sizes read at run time);
 * `threads` is the WGSL expression of n when it depends on them.
 */
function kernel(
  label: string,
  n: number,
  bindings: [name: string, b: Binding][],
  body: string,
  layers = 1,
  prelude: string[] = [],
  threads = `${n}u`,
): Dispatch {
  const [gx, gy] = grid(n);
  const code = `${declareNamed(bindings)}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
${prelude.map((l) => `${l}\n`).join("")}  let i = gid.x + gid.y * nwg.x * ${WG}u;
  if (i >= ${threads}) { return; }
${body}
}
`;
  return {
    label,
    code,
    entry: "main",
    workgroups: [gx, gy, layers],
    bindings: bindings.map(([, b]) => b),
  };
}

const PART = "part";
const PACKED = "packed";

/**
 * dst = conv(src). Thread: (block of `ch` dst channels, `nb` batch items, tile
 * of py x px dst pixels). Per src channel it loads the block's weights and the
 * src window under the tile once, then does every multiply-add of the window.
 */
export function convGather(
  label: string,
  g: ConvGeom,
  io: KernelIO,
  block: Block | TileBlock,
): Dispatch {
  if (isTile(block)) return tiledGather(label, g, io, block);
  const { ch, py, px } = block;
  const nb = block.nb ?? 1;
  const [src, w, dst] = [SRC, WGT, DST];
  const Y = gatherAxis(g.dstH, py, g.s, g.kh, g.pt, g.srcH);
  const X = gatherAxis(g.dstW, px, g.s, g.kw, g.pl, g.srcW);
  const [nog, nbg] = [cdiv(g.dstC, ch), cdiv(g.b, nb)];
  const L = decompose([["tx", X.tiles], ["ty", Y.tiles], ["og", nog]]);
  L.push(`  let bg = gid.z;`);
  L.push(`  let oy0 = i32(ty) * ${py};`, `  let ox0 = i32(tx) * ${px};`);
  // With vector rows, src offsets count vectors; with vector dst rows, each row of the
  // thread's tile is stored as vectors too.
  const u = rowLanes(px, g.srcW);
  const uo = rowLanes(px, g.dstW);
  const ry = positions(L, "r", `oy0 * ${g.s} - ${g.pt}`, Y.reads, g.srcH, g.srcW / u, Y.ok);
  const cx = columns(
    L,
    "q",
    X.tiles > 1 ? `ox0 * ${g.s}` : "0",
    g.pl,
    X.reads,
    g.srcW,
    X.ok,
    u,
  );
  const KK = g.kh * g.kw;
  L.push(...blockIndices("oc", "og", ch, g.dstC, "dstC"), ...blockIndices("bi", "bg", nb, g.b));
  const acc = (k: number, n: number, y: number, x: number) => `a${k}_${n}_${y}_${x}`;
  for (const k of range(ch)) {
    for (const n of range(nb)) {
      for (const y of Y.outs) for (const x of X.outs) L.push(`  var ${acc(k, n, y, x)} = 0.0;`);
    }
  }
  // Packed weights (packsWeights): the four output channels of a vec4 in one load.
  const packed = io.packed === true;
  if (packed && ch % 4) throw new Error(`packed weights need a block of 4k channels, got ${ch}`);
  if (packed) L.push(`  let dstC4 = (dstC + 3u) / 4u;`);
  L.push(`  for (var c = 0u; c < srcC; c++) {`);
  const used = new Set<string>();
  const body: string[] = [];
  for (const n of range(nb)) {
    body.push(`    let sb${n} = (bi${n} * srcC + c) * ${g.srcH * g.srcW / u}u;`);
    for (const r of Y.reads) {
      for (const { id, ix, ok } of cx.loads) {
        const at = sum(`sb${n}`, ry.off(r) || `${Math.max(r - g.pt, 0) * g.srcW / u}u`, ix);
        const v = guarded(`${src}[${at}]`, both(ry.ok(r), ok), u);
        body.push(`    let v${n}_${r}_${id} = ${v};`);
      }
    }
    for (const [y, ky, r] of Y.pairs) {
      for (const [x, kx, q] of X.pairs) {
        for (const k of range(ch)) {
          used.add(`${k}_${ky}_${kx}`);
          body.push(`    ${acc(k, n, y, x)} += ${cx.at(`v${n}_${r}`, q)} * w${k}_${ky}_${kx};`);
        }
      }
    }
  }
  const wq = new Set<string>();
  for (const k of range(ch)) {
    for (const ky of range(g.kh)) {
      for (const kx of range(g.kw)) {
        if (!used.has(`${k}_${ky}_${kx}`)) continue;
        const t = ky * g.kw + kx;
        if (!packed) {
          L.push(`    let w${k}_${ky}_${kx} = ${w}[(oc${k} * srcC + c) * ${KK}u + ${t}u];`);
          continue;
        }
        const q = `${k >> 2}_${t}`;
        if (!wq.has(q)) {
          wq.add(q);
          const at = `(c * ${KK}u + ${t}u) * dstC4 + og * ${ch / 4}u + ${k >> 2}u`;
          L.push(`    let wp${q} = ${w}[${at}];`);
        }
        L.push(`    let w${k}_${ky}_${kx} = wp${q}.${LANE[k & 3]};`);
      }
    }
  }
  L.push(...body, `  }`);
  for (const k of range(ch)) {
    const o = `og * ${ch}u + ${k}u`;
    L.push(...normPrelude(io, `n${k}`, `oc${k}`).map((l) => `  ${l}`));
    for (const n of range(nb)) {
      const b = `bg * ${nb}u + ${n}u`;
      for (const y of Y.outs) {
        for (const x of X.outs) {
          if (x % uo) continue;
          const conds: string[] = [];
          if (g.dstC % ch !== 0) conds.push(`${o} < dstC`);
          if (g.b % nb !== 0) conds.push(`${b} < ${g.b}u`);
          if (Y.tiles > 1 && g.dstH % py !== 0) conds.push(`oy0 + ${y} < ${g.dstH}`);
          if (X.tiles > 1 && g.dstW % px !== 0) conds.push(`ox0 + ${x} < ${g.dstW}`);
          const row = `((${b}) * dstC + ${o}) * ${g.dstH * g.dstW / uo}u + u32(oy0 + ${y}) * ${
            g.dstW / uo
          }u`;
          const at = `${dst}[${row} + u32(ox0 + ${x})${uo > 1 ? ` / ${uo}u` : ""}]`;
          const st = uo > 1
            ? storeOutputVec(io, at, range(uo).map((e) => acc(k, n, y, x + e)), `(${o})`, `n${k}`)
            : storeOutput(io, at, acc(k, n, y, x), `(${o})`, `n${k}`);
          L.push(guard(conds, st));
        }
      }
    }
  }
  return kernel(
    label,
    nog * Y.tiles * X.tiles,
    [...bindingsOf(io, u, packed, uo), CONV_SIZES],
    L.join("\n"),
    nbg,
    readSizes,
    `(dstC + ${ch - 1}u) / ${ch}u * ${Y.tiles * X.tiles}u`,
  );
}

/**
 * Whether the gather reads its weights packed: blocks of a multiple of 4 output
 * channels. In the [dst, src, kh, kw] layout a block's channels are srcC * kh * kw
 * floats apart, one scalar load each; packed, four of them are one vec4 load. The
 * packing costs one small dispatch per gather (convPackWeights); measured on
 * llvmpipe the paper's ch-4 gathers ran 10-15% faster with it.
 */
export const packsWeights = (b: Block | TileBlock): boolean => !isTile(b) && b.ch % 4 === 0;

/** Floats of the packed weights: srcC * kh * kw rows of whole vec4s of output channels. */
export const packedSize = (g: ConvGeom): number => g.srcC * g.kh * g.kw * cdiv(g.dstC, 4) * 4;

/**
 * The gather's packed weights: vec4 (c * kh * kw + t) * ceil(dstC / 4) + o / 4, lane
 * o % 4, holds w[o, c, t] of the [dst, src, kh, kw] weight (zero past dstC). The
 * channel counts are read at run time, as the gather's: one pipeline for every layer.
 */
export function convPackWeights(label: string, g: ConvGeom, weight: string, out: string): Dispatch {
  const KK = g.kh * g.kw;
  const lanes = range(4).map((e) =>
    `  let o${e} = o4 * 4u + ${e}u;\n  if (o${e} < dstC) { q.${
      LANE[e]
    } = ${WGT}[(o${e} * srcC + c) * ${KK}u + t]; }`
  );
  return kernel(
    label,
    packedSize(g) / 4,
    [[WGT, { role: weight }], [PACKED, { role: out, write: true, vec4: true }], CONV_SIZES],
    `  let dstC4 = (dstC + 3u) / 4u;
  let o4 = i % dstC4;
  let c = i / dstC4 / ${KK}u;
  let t = i / dstC4 % ${KK}u;
  var q = vec4f(0.0);
${lanes.join("\n")}
  ${PACKED}[i] = q;`,
    1,
    readSizes,
    `srcC * ${KK}u * ((dstC + 3u) / 4u)`,
  );
}

/**
 * The weight a gather block reads and what prepares it: `weight` itself, or where the
 * block packs (packsWeights) a packed copy in scratch t.wpack, made by one more
 * dispatch just before the gather. The plans and the tuner wire packing through this.
 */
export function gatherWeights(
  label: string,
  g: ConvGeom,
  block: Block | TileBlock,
  weight: string,
): {
  io: { weight: string; packed?: boolean };
  dispatches: Dispatch[];
  scratch?: Record<string, number>;
} {
  if (!packsWeights(block)) return { io: { weight }, dispatches: [] };
  return {
    io: { weight: "t.wpack", packed: true },
    dispatches: [convPackWeights(`${label}.wpack`, g, weight, "t.wpack")],
    scratch: { wpack: packedSize(g) },
  };
}

/**
 * src = conv^T(dst), the adjoint of convGather, phase by phase (see ScatterAxis):
 * a thread covers py * s rows and px * s columns of src for `ch` src channels and
 * `nb` batch items. Per dst channel it loads the (py + mMax) x (px + mMax) dst
 * values under the tile and the block's weights, then every multiply-add is
 * unrolled with its tap known, so no thread tests a phase or a divisibility.
 */
export function convScatter(
  label: string,
  g: ConvGeom,
  io: KernelIO,
  block: Block | TileBlock,
): Dispatch {
  if (isTile(block)) return tiledScatter(label, g, io, block);
  const { ch, py, px } = block;
  const nb = block.nb ?? 1;
  const s = g.s;
  const [dst, w, src] = [SRC, WGT, DST];
  const Y = scatterAxis(g.srcH, py, s, g.kh, g.pt, g.dstH);
  const X = scatterAxis(g.srcW, px, s, g.kw, g.pl, g.dstW);
  const [ncg, nbg] = [cdiv(g.srcC, ch), cdiv(g.b, nb)];
  const L = decompose([["tx", X.tiles], ["ty", Y.tiles], ["cg", ncg]]);
  L.push(`  let bg = gid.z;`);
  // dst position of the tile's j = 0
  L.push(
    `  let ty0 = i32(ty) * ${py} + ${Y.origin};`,
    `  let tx0 = i32(tx) * ${px} + ${X.origin};`,
  );
  // With vector rows, dst offsets count vectors; read f is at column tx * px + origin - mMax + f.
  const u = rowLanes(px, g.dstW);
  const ey = positions(L, "e", `ty0 - ${Y.mMax}`, Y.reads, g.dstH, g.dstW / u, Y.ok);
  const cx = columns(
    L,
    "f",
    X.tiles > 1 ? `i32(tx) * ${px}` : "0",
    X.mMax - X.origin,
    X.reads,
    g.dstW,
    X.ok,
    u,
  );
  const KK = g.kh * g.kw;
  L.push(...blockIndices("cc", "cg", ch, g.srcC, "srcC"), ...blockIndices("bi", "bg", nb, g.b));
  const acc = (k: number, n: number, iy: number, ix: number) => `a${k}_${n}_${iy}_${ix}`;
  for (const k of range(ch)) {
    for (const n of range(nb)) {
      for (const iy of range(Y.pixels.length)) {
        for (const ix of range(X.pixels.length)) L.push(`  var ${acc(k, n, iy, ix)} = 0.0;`);
      }
    }
  }
  L.push(`  for (var o = 0u; o < dstC; o++) {`);
  const used = new Set<string>();
  const body: string[] = [];
  for (const n of range(nb)) {
    body.push(`    let db${n} = (bi${n} * dstC + o) * ${g.dstH * g.dstW / u}u;`);
    for (const e of Y.reads) {
      const row = ey.off(e) || (Y.ok(e) ? `${(Y.origin - Y.mMax + e) * g.dstW / u}u` : "");
      for (const { id, ix, ok } of cx.loads) {
        const v = guarded(
          `${dst}[${sum(`db${n}`, row, ix)}]`,
          both(ey.ok(e), ok),
          u,
        );
        body.push(`    let d${n}_${e}_${id} = ${v};`);
      }
    }
    for (const [iy, ky, e] of Y.pairs) {
      for (const [ix, kx, f] of X.pairs) {
        for (const k of range(ch)) {
          used.add(`${k}_${ky}_${kx}`);
          body.push(`    ${acc(k, n, iy, ix)} += ${cx.at(`d${n}_${e}`, f)} * w${k}_${ky}_${kx};`);
        }
      }
    }
  }
  // Weights as vec4s (vec4Weights): a tail block's extra channels read other weights,
  // and their outputs are not stored.
  const vecW = vec4Weights(ch, g.srcC);
  const wv = new Set<number>();
  for (const k of range(ch)) {
    for (const ky of range(g.kh)) {
      for (const kx of range(g.kw)) {
        if (!used.has(`${k}_${ky}_${kx}`)) continue;
        const t = ky * g.kw + kx;
        const f = k * KK + t;
        if (!vecW) {
          L.push(`    let w${k}_${ky}_${kx} = ${w}[(o * srcC + cc${k}) * ${KK}u + ${t}u];`);
          continue;
        }
        if (!wv.has(f >> 2)) {
          wv.add(f >> 2);
          const at = `o * (srcC * ${KK}u / 4u) + cg * ${(ch * KK) / 4}u + ${f >> 2}u`;
          L.push(`    let wq${f >> 2} = ${w}[${at}];`);
        }
        L.push(`    let w${k}_${ky}_${kx} = wq${f >> 2}.${LANE[f & 3]};`);
      }
    }
  }
  L.push(...body, `  }`);
  for (const k of range(ch)) {
    const c = `cg * ${ch}u + ${k}u`;
    L.push(...normPrelude(io, `n${k}`, `cc${k}`).map((l) => `  ${l}`));
    for (const n of range(nb)) {
      const b = `bg * ${nb}u + ${n}u`;
      Y.pixels.forEach(([jy, ry], iy) => {
        X.pixels.forEach(([jx, rx], ix) => {
          const conds: string[] = [];
          if (g.srcC % ch !== 0) conds.push(`${c} < srcC`);
          if (g.b % nb !== 0) conds.push(`${b} < ${g.b}u`);
          const ay = Y.at(jy, ry), ax = X.at(jx, rx);
          const sy = ay ?? `(ty0 + ${jy}) * ${s} + ${ry - g.pt}`;
          const sx = ax ?? `(tx0 + ${jx}) * ${s} + ${rx - g.pl}`;
          if (ay === undefined) conds.push(`${sy} >= 0 && ${sy} < ${g.srcH}`);
          if (ax === undefined) conds.push(`${sx} >= 0 && ${sx} < ${g.srcW}`);
          const si = `((${b}) * srcC + ${c}) * ${
            g.srcH * g.srcW
          }u + u32(${sy}) * ${g.srcW}u + u32(${sx})`;
          L.push(
            guard(conds, storeOutput(io, `${src}[${si}]`, acc(k, n, iy, ix), `(${c})`, `n${k}`)),
          );
        });
      });
    }
  }
  return kernel(
    label,
    ncg * Y.tiles * X.tiles,
    [...bindingsOf(io, u, vecW), CONV_SIZES],
    L.join("\n"),
    nbg,
    readSizes,
    `(srcC + ${ch - 1}u) / ${ch}u * ${Y.tiles * X.tiles}u`,
  );
}

/**
 * dw[o, c, ky, kx] = sum over batch and dst pixels of dst[b, o, oy, ox] *
 * src[b, c, oy * s - pt + ky, ox * s - pl + kx]. Thread: (block of co dst
 * channels, block of ci src channels, chunk of `rows` dst rows over batch and
 * height), all kh x kw taps. Per step of px dst columns it loads co * px dst
 * values and ci * kh src row segments. With several chunks each writes its
 * partial sums to scratch `t.dw_part` and a second kernel adds them up (and into
 * dw when accumulating). The dispatch's z counts groups of `per` chunks, `per`
 * enough to fill a workgroup, so that where the chunks divide the rows the main
 * kernel's code does not depend on the batch.
 */
export function convWeightGrad(
  label: string,
  g: ConvGeom,
  roles: { src: string; dst: string; dw: string },
  accumulate: boolean,
  block: WeightBlock | TileBlock,
): Kernels {
  if (isTile(block)) return { dispatches: [tiledWeightGrad(label, g, roles, accumulate, block)] };
  const { co, ci, px } = block;
  const [src, dst, dw] = ["xs", "ys", "dw"];
  const totalRows = g.b * g.dstH;
  const rowsPer = Math.min(block.rows, totalRows);
  const chunks = cdiv(totalRows, rowsPer);
  const KK = g.kh * g.kw;
  const nw = g.dstC * g.srcC * KK;
  const part = "t.dw_part";
  const [ncg, nog] = [cdiv(g.srcC, ci), cdiv(g.dstC, co)];
  const X = weightAxis(g, px);
  // Chunks per layer of the dispatch: a power of two that fills a workgroup with
  // threads, at most all chunks (the same for B and 2B unless B has fewer chunks).
  let per = 1;
  while (per < chunks && ncg * nog * per < WG) per *= 2;
  const L = decompose([["cg", ncg], ["og", nog], ["ck", per]]);
  L.push(`  let chunk = gid.z * ${per}u + ck;`);
  if (chunks % per !== 0) L.push(`  if (chunk >= ${chunks}u) { return; }`);
  L.push(...blockIndices("oc", "og", co, g.dstC), ...blockIndices("cc", "cg", ci, g.srcC));
  const acc = (k: number, kk: number, ky: number, kx: number) => `a${k}_${kk}_${ky}_${kx}`;
  for (const k of range(co)) {
    for (const kk of range(ci)) {
      for (const ky of range(g.kh)) {
        for (const kx of range(g.kw)) L.push(`  var ${acc(k, kk, ky, kx)} = 0.0;`);
      }
    }
  }
  const end = `n0 + ${rowsPer}u`;
  L.push(
    `  let n0 = chunk * ${rowsPer}u;`,
    `  let n1 = ${totalRows % rowsPer === 0 ? end : `min(${end}, ${totalRows}u)`};`,
  );
  L.push(`  for (var n = n0; n < n1; n++) {`);
  L.push(`    let b = n / ${g.dstH}u;`, `    let oy = i32(n % ${g.dstH}u);`);
  // With vector rows, offsets and row sizes count vectors.
  const u = rowLanes(px, g.srcW, g.dstW);
  for (const k of range(co)) {
    L.push(
      `    let db${k} = ((b * ${g.dstC}u + oc${k}) * ${g.dstH}u + u32(oy)) * ${g.dstW / u}u;`,
    );
  }
  for (const k of range(ci)) {
    L.push(`    let sb${k} = (b * ${g.srcC}u + cc${k}) * ${g.srcH * g.srcW / u}u;`);
  }
  const ry = positions(
    L,
    "r",
    `oy * ${g.s} - ${g.pt}`,
    range(g.kh),
    g.srcH,
    g.srcW / u,
    () => undefined,
    "    ",
  );
  const multi = X.tiles > 1;
  const I = multi ? "      " : "    ";
  if (multi) L.push(`    for (var ox0 = 0; ox0 < ${g.dstW}; ox0 += ${px}) {`);
  const colOk = (x: number): string | boolean =>
    !multi || g.dstW % px === 0 ? true : `ox0 + ${x} < ${g.dstW}`;
  const cx = columns(L, "q", multi ? `ox0 * ${g.s}` : "0", g.pl, X.reads, g.srcW, X.ok, u, I);
  // dst columns x of the step: vectors x / u (whole ones: the row and ox0 are)
  const dcols = range(cdiv(X.outs.length, u)).map((e) => u * e);
  for (const k of range(co)) {
    for (const x of dcols) {
      const col = !multi ? `${x / u}u` : u > 1 ? `u32(ox0) / ${u}u + ${x / u}u` : `u32(ox0 + ${x})`;
      const at = `db${k} + ${col}`;
      L.push(
        `${I}let d${k}_${x / u} = ${guarded(`${dst}[${at}]`, colOk(x), u)};`,
      );
    }
  }
  const d = (k: number, x: number) =>
    u > 1 ? `d${k}_${Math.floor(x / u)}.${LANE[x % u]}` : `d${k}_${x}`;
  for (const kk of range(ci)) {
    for (const ky of range(g.kh)) {
      for (const { id, ix, ok } of cx.loads) {
        const v = guarded(
          `${src}[${sum(`sb${kk}`, ry.off(ky), ix)}]`,
          both(ry.ok(ky), ok),
          u,
        );
        L.push(`${I}let v${kk}_${ky}_${id} = ${v};`);
      }
      for (const [x, kx, q] of X.pairs) {
        for (const k of range(co)) {
          L.push(`${I}${acc(k, kk, ky, kx)} += ${d(k, x)} * ${cx.at(`v${kk}_${ky}`, q)};`);
        }
      }
    }
  }
  if (multi) L.push(`    }`);
  L.push(`  }`);
  for (const k of range(co)) {
    for (const kk of range(ci)) {
      const conds: string[] = [];
      if (g.dstC % co !== 0) conds.push(`og * ${co}u + ${k}u < ${g.dstC}u`);
      if (g.srcC % ci !== 0) conds.push(`cg * ${ci}u + ${kk}u < ${g.srcC}u`);
      const st = range(KK).map((t) => {
        const wi = `(oc${k} * ${g.srcC}u + cc${kk}) * ${KK}u + ${t}u`;
        const a = acc(k, kk, Math.floor(t / g.kw), t % g.kw);
        return chunks > 1
          ? `${PART}[chunk * ${nw}u + ${wi}] = ${a};`
          : store(accumulate, `${dw}[${wi}]`, a);
      });
      L.push(guard(conds, st.join(" ")));
    }
  }
  const main = kernel(
    label,
    ncg * nog * per,
    [
      [src, withLanes({ role: roles.src }, u)],
      [dst, withLanes({ role: roles.dst }, u)],
      chunks > 1 ? [PART, { role: part, write: true }] : [dw, { role: roles.dw, write: true }],
    ],
    L.join("\n"),
    cdiv(chunks, per),
  );
  if (chunks === 1) return { dispatches: [main] };
  // The partial sums' kernel reads its sizes (chunks, weights) from c.dw_sum: one
  // pipeline for every layer (and the overwriting or accumulating one).
  const total: Dispatch = {
    label: `${label}.sum`,
    code: `${
      declareNamed([
        [PART, { role: part }],
        [dw, { role: roles.dw, write: true }],
        ["sizes", { role: "c.dw_sum" }],
      ])
    }
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * ${WG}u;
  let chunks = u32(sizes[0]);
  let nw = u32(sizes[1]);
  if (i >= nw) { return; }
  var acc = 0.0;
  for (var k = 0u; k < chunks; k++) {
    acc += ${PART}[k * nw + i];
  }
  ${store(accumulate, `${dw}[i]`, "acc")}
}
`,
    entry: "main",
    workgroups: grid(nw),
    bindings: [{ role: part }, { role: roles.dw, write: true }, { role: "c.dw_sum" }],
  };
  return {
    dispatches: [main, total],
    scratch: { dw_part: chunks * nw },
    consts: { dw_sum: [chunks, nw] },
  };
}

/** db[c] = sum over batch and pixels of an NCHW gradient: one thread per channel. */
export function biasGrad(
  label: string,
  shape: number[],
  roles: { grad: string; db: string },
  accumulate: boolean,
): Dispatch {
  const [b, c] = shape;
  const hw = numel(shape.slice(2));
  const [grad, db] = [roles.grad, roles.db].map(ident);
  const body = `  var acc = 0.0;
  for (var n = 0u; n < ${b}u; n++) {
    let base = (n * ${c}u + i) * ${hw}u;
    for (var j = 0u; j < ${hw}u; j++) {
      acc = acc + ${grad}[base + j];
    }
  }
  ${store(accumulate, `${db}[i]`, "acc")}`;
  return perElement(
    label,
    c,
    [{ role: roles.grad }, { role: roles.db, write: true }],
    body,
  );
}
