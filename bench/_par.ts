import { convGather, type ConvGeom } from "../src/ops/conv_common.ts";
import { getGpu } from "../src/runtime/device.ts";
import { createStorage } from "../src/runtime/buffers.ts";
import { encode, prepare } from "../src/runtime/launch.ts";
const { device } = await getGpu();
const bufs = new Map<string, GPUBuffer>();
const buf = (role: string) => { let b = bufs.get(role); if (!b) { b = createStorage(device, 1 << 22, role); bufs.set(role, b); } return b; };
for (let round = 0; round < 2; round++) for (const b of [1, 2, 3, 4, 8, 16, 32]) {
  // 8 channels 8x8 -> 64 channels; block ch 8, full image 8x8? use ch 4 py 8 px 8 => per batch item 16 threads
  const g: ConvGeom = { b, srcC: 64, srcH: 8, srcW: 8, dstC: 64, dstH: 8, dstW: 8, kh: 3, kw: 3, s: 1, pt: 1, pl: 1 };
  const ds = [convGather("t", g, { from: "x0", to: "y", weight: "w", accumulate: false }, { ch: 2, py: 4, px: 8 })];
  const steps = await prepare(device, ds, buf);
  const run = async (k: number) => {
    const enc = device.createCommandEncoder(); const p = enc.beginComputePass();
    for (let i = 0; i < k; i++) encode(p, steps);
    p.end(); const t0 = performance.now(); device.queue.submit([enc.finish()]);
    await device.queue.onSubmittedWorkDone(); return (performance.now() - t0) / k;
  };
  await run(1);
  const t = []; for (let s = 0; s < 5; s++) t.push(await run(20));
  t.sort((a, b) => a - b);
  console.log(`b=${b} threads=${b * 64} ms=${t[0].toFixed(3)} per item ${(t[0] / b).toFixed(3)}`);
}
