// temporary: old vs new kernels, interleaved, min of rounds
import { loadModel } from "../src/compiler/model.ts";
import { parseOverride } from "../src/compiler/files.ts";
import { OPS } from "../src/ops/registry.ts";
import { conv2d as oldConv } from "/tmp/oldrepo/src/ops/conv2d.ts";
import { convTranspose2d as oldDeconv } from "/tmp/oldrepo/src/ops/conv_transpose2d.ts";
import type { Dispatch, OpDef } from "../src/ops/types.ts";
import { numel } from "../src/ops/wgsl.ts";
import { getGpu } from "../src/runtime/device.ts";
import { createStorage } from "../src/runtime/buffers.ts";
import { encode, type Prepared, prepare } from "../src/runtime/launch.ts";
const { device } = await getGpu();
const variant = Deno.args[0] ?? "small";
const file = variant === "small" ? "graphs/drgan-small.yaml" : "graphs/drgan.yaml";
const batch = variant === "small" ? 16 : 4;
const filter = Deno.args[1] ? new RegExp(Deno.args[1]) : undefined;
const rounds = Number(Deno.args[2] ?? 3);
const model = loadModel(file, [parseOverride(`training.batch=${batch}`)]);
const seen = new Set<string>();
const bufs = new Map<string, GPUBuffer>();
async function run(steps: Prepared[], k: number) {
  const enc = device.createCommandEncoder(); const p = enc.beginComputePass();
  for (let i = 0; i < k; i++) encode(p, steps);
  p.end(); const t0 = performance.now(); device.queue.submit([enc.finish()]);
  await device.queue.onSubmittedWorkDone(); return (performance.now() - t0) / k;
}
const rows: string[] = [];
let totOld = 0, totNew = 0;
for (const net of model.networks) for (const node of net.nodes) {
  if (node.op !== "conv2d" && node.op !== "conv_transpose2d") continue;
  const input = net.shapes.get(node.inputs[0])!.map((d) => typeof d === "number" ? d : batch);
  const output = node.shape.map((d) => typeof d === "number" ? d : batch);
  const key = `${node.op} ${input.slice(1).join("x")}->${output[1]} s${(node.parsed as any).stride}`;
  if (seen.has(key) || (filter && !filter.test(key))) continue;
  seen.add(key);
  const params = Object.fromEntries(Object.entries(node.params).map(([n, p]) => [n, p.shape]));
  const ctx = { inputs: [input], output, params, training: true };
  const bctx = { ...ctx, needDx: [true], needDp: new Set(["weight"]), accumulate: new Set<string>() };
  const ops: OpDef[] = [node.op === "conv2d" ? oldConv : oldDeconv, OPS[node.op]];
  const macs = OPS[node.op].macs!(node.parsed, [input], output);
  const sizes: Record<string, number> = { x0: numel(input), y: numel(output), dy: numel(output), dx0: numel(input), "p.weight": numel(params.weight), "dp.weight": numel(params.weight) };
  const line: string[] = [key.padEnd(34)];
  for (const pass of ["fwd", "dx", "dw"]) {
    const steps: Prepared[][] = [];
    for (const op of ops) {
      const f = op.forward(node.parsed, ctx); const b = op.backward(node.parsed, bctx);
      const ds: Dispatch[] = pass === "fwd" ? f.dispatches : b.dispatches.filter((d) => d.label.includes(`.${pass}`));
      const sz = { ...sizes }; for (const [k, n] of Object.entries(b.scratch ?? {})) sz[`t.${k}`] = n;
      steps.push(await prepare(device, ds, (role) => {
        const k = `${role}:${sz[role]}`; let bf = bufs.get(k);
        if (!bf) { bf = createStorage(device, sz[role], role); bufs.set(k, bf); } return bf;
      }));
    }
    const best = [Infinity, Infinity];
    for (let r = 0; r < rounds; r++) for (let i = 0; i < 2; i++) {
      const first = await run(steps[i], 1);
      const k = Math.max(1, Math.min(100, Math.round(60 / first)));
      best[i] = Math.min(best[i], first > 400 ? first : await run(steps[i], k));
    }
    totOld += best[0]; totNew += best[1];
    const gf = best.map((t) => 2 * macs / t / 1e6);
    line.push(`${gf[0].toFixed(2).padStart(6)} ${gf[1].toFixed(2).padStart(6)} x${(gf[1] / gf[0]).toFixed(1).padEnd(4)}`);
  }
  console.log(line.join(" | "));
}
console.log(`total ms: old ${totOld.toFixed(1)} new ${totNew.toFixed(1)} speedup ${(totOld / totNew).toFixed(2)}`);
