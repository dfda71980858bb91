// temporary: time candidate blocks against the cost model
import {
  type Block, convGather, type ConvGeom, convScatter, convWeightGrad, gatherCost, planGather,
  planScatter, planWeightGrad, scatterCost, weightGradCost, type WeightBlock,
} from "../src/ops/conv_common.ts";
import type { Dispatch } from "../src/ops/types.ts";
import { getGpu } from "../src/runtime/device.ts";
import { createStorage } from "../src/runtime/buffers.ts";
import { encode, prepare } from "../src/runtime/launch.ts";
const { device } = await getGpu();
function geo(b: number, c: number, h: number, o: number, s: number): ConvGeom {
  const oh = Math.ceil(h / s);
  const pad = Math.floor(Math.max((oh - 1) * s + 3 - h, 0) / 2);
  return { b, srcC: c, srcH: h, srcW: h, dstC: o, dstH: oh, dstW: oh, kh: 3, kw: 3, s, pt: pad, pl: pad };
}
const bufs = new Map<string, GPUBuffer>();
const buf = (n: number) => (role: string) => {
  let b = bufs.get(role + n);
  if (!b) { b = createStorage(device, n, role); bufs.set(role + n, b); }
  return b;
};
async function time(ds: Dispatch[], n: number): Promise<number> {
  const steps = await prepare(device, ds, buf(n));
  const run = async (k: number) => {
    const enc = device.createCommandEncoder(); const p = enc.beginComputePass();
    for (let i = 0; i < k; i++) encode(p, steps);
    p.end(); const t0 = performance.now(); device.queue.submit([enc.finish()]);
    await device.queue.onSubmittedWorkDone(); return (performance.now() - t0) / k;
  };
  const first = await run(1);
  const k = Math.max(1, Math.min(50, Math.round(100 / first)));
  const t = []; for (let s = 0; s < 5; s++) t.push(await run(k));
  t.sort((a, b) => a - b); return t[0];
}
const kind = Deno.args[0];
const [b, c, h, o, s] = Deno.args.slice(1, 6).map(Number);
const g = geo(b, c, h, o, s);
const maxN = 4 * Math.max(b * c * h * h, b * o * h * h, o * c * 9 * 1024);
const macs = g.b * g.dstC * g.dstH * g.dstW * g.srcC * 9;
const io = { from: "x0", to: "y", weight: "w", accumulate: false };
let cands: { blk: Block | WeightBlock; cost: number }[] = [];
const extra = Deno.args[6] ? JSON.parse(Deno.args[6]) : [];
if (kind === "gather" || kind === "scatter") {
  const plan = kind === "gather" ? planGather(g) : planScatter(g);
  const costf = kind === "gather" ? gatherCost : scatterCost;
  const all: Block[] = [plan, ...extra];
  for (const ch of [1, 2, 4, 8, 16]) for (const py of [1, 2, 4, 8]) for (const px of [1, 2, 4, 8, 16]) {
    if (ch * py * px * (kind === "scatter" ? s * s : 1) <= 128 && ch * py * px >= 16 / (kind === "scatter" ? s * s : 1) && (Deno.env.get("ALL") || ch * py * px >= 32)) all.push({ ch, py, px });
  }
  cands = all.map((blk) => ({ blk, cost: costf(g, blk as Block) }));
} else {
  const plan = planWeightGrad(g);
  const all: WeightBlock[] = [plan, ...extra];
  cands = all.map((blk) => ({ blk, cost: weightGradCost(g, blk) }));
}
console.log(kind, JSON.stringify(g));
const best = new Map<string, number>();
const comp = new Map<string, number>();
for (let round = 0; round < 3; round++) for (const { blk, cost } of cands) {
  const ds = kind === "gather" ? [convGather("t", g, io, blk as Block)]
    : kind === "scatter" ? [convScatter("t", g, io, blk as Block)]
    : convWeightGrad("t", g, { src: "x0", dst: "dy", dw: "dw" }, false, blk as WeightBlock).dispatches;
  const t0 = performance.now();
  await prepare(device, ds, buf(maxN));
  const compile = performance.now() - t0;
  const key = JSON.stringify(blk);
  const ms = Math.min(await time(ds, maxN), best.get(key) ?? Infinity);
  best.set(key, ms); comp.set(key, Math.max(compile, comp.get(key) ?? 0));
}
const cands0 = cands[0].blk;
cands.sort((a, b) => best.get(JSON.stringify(a.blk))! - best.get(JSON.stringify(b.blk))!);
for (const { blk, cost } of cands) {
  const ms = best.get(JSON.stringify(blk))!, compile = comp.get(JSON.stringify(blk))!;
  console.log(`${blk === cands0 ? "*" : " "}${JSON.stringify(blk).padEnd(40)} model ${(cost / 1e6).toFixed(3).padStart(8)}  ${ms.toFixed(3).padStart(8)} ms ${(2 * macs / ms / 1e6).toFixed(2).padStart(6)} GFLOP/s  compile ${compile.toFixed(0)} ms`);
}
