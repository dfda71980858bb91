// temporary microbenchmark of llvmpipe load paths (not committed)
import { getGpu } from "../src/runtime/device.ts";
const { device, description } = await getGpu();
console.log(description);
const N = 1 << 20;
const buf = device.createBuffer({ size: N * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
device.queue.writeBuffer(buf, 0, new Float32Array(N).fill(1));
const out = device.createBuffer({ size: N * 4, usage: GPUBufferUsage.STORAGE });
async function bench(name: string, code: string, groups: number, loadsPerThread: number) {
  const module = device.createShaderModule({ code });
  const info = await module.getCompilationInfo();
  for (const m of info.messages) console.log(m.message);
  const pipeline = await device.createComputePipelineAsync({ layout: "auto", compute: { module, entryPoint: "main" } });
  const bg = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: buf } }, { binding: 1, resource: { buffer: out } }] });
  const runN = async (n: number) => {
    const enc = device.createCommandEncoder();
    const p = enc.beginComputePass();
    p.setPipeline(pipeline); p.setBindGroup(0, bg);
    for (let i = 0; i < n; i++) p.dispatchWorkgroups(groups);
    p.end();
    const t0 = performance.now();
    device.queue.submit([enc.finish()]);
    await device.queue.onSubmittedWorkDone();
    return (performance.now() - t0) / n;
  };
  await runN(1);
  const ts = [];
  for (let s = 0; s < 5; s++) ts.push(await runN(5));
  ts.sort((a, b) => a - b);
  const ms = ts[2];
  const loads = groups * 64 * loadsPerThread;
  console.log(`${name.padEnd(40)} ${ms.toFixed(2)} ms  ${(loads / ms / 1e6).toFixed(3)} Gloads/s`);
}
const head = `@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read_write> o: array<f32>;
`;
const head4 = `@group(0) @binding(0) var<storage, read> a: array<vec4f>;
@group(0) @binding(1) var<storage, read_write> o: array<f32>;
`;
const K = 256, G = 256;
await bench("divergent scalar", head + `@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) {
  var acc = 0.0;
  for (var k = 0u; k < ${K}u; k++) { acc += a[(g.x * 7u + k * 13u) & 0xfffffu]; }
  o[g.x] = acc; }`, G, K);
await bench("uniform (workgroup_id) scalar", head + `@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u, @builtin(workgroup_id) w: vec3u) {
  var acc = 0.0;
  for (var k = 0u; k < ${K}u; k++) { acc += a[(w.x * 7u + k * 13u) & 0xfffffu]; }
  o[g.x] = acc; }`, G, K);
await bench("uniform (loop only) scalar", head + `@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) {
  var acc = 0.0;
  for (var k = 0u; k < ${K}u; k++) { acc += a[(k * 13u) & 0xfffffu]; }
  o[g.x] = acc; }`, G, K);
const unrolled = Array.from({ length: K }, (_, k) => `acc += a[${k * 13}u];`).join("\n");
await bench("constant index unrolled", head + `@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) {
  var acc = 0.0;
  ${unrolled}
  o[g.x] = acc; }`, G, K);
const unrolledDiv = Array.from({ length: K }, (_, k) => `acc += a[base + ${k * 13}u];`).join("\n");
await bench("divergent base + const unrolled", head + `@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) {
  var acc = 0.0; let base = g.x * 7u;
  ${unrolledDiv}
  o[g.x] = acc; }`, G, K);
await bench("divergent vec4 (x4 floats)", head4 + `@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) {
  var acc = vec4f();
  for (var k = 0u; k < ${K / 4}u; k++) { acc += a[(g.x * 7u + k * 13u) & 0x3ffffu]; }
  o[g.x] = acc.x + acc.y + acc.z + acc.w; }`, G, K);
await bench("uniform wg vec4 (x4 floats)", head4 + `@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u, @builtin(workgroup_id) w: vec3u) {
  var acc = vec4f();
  for (var k = 0u; k < ${K / 4}u; k++) { acc += a[(w.x * 7u + k * 13u) & 0x3ffffu]; }
  o[g.x] = acc.x + acc.y + acc.z + acc.w; }`, G, K);
await bench("fma only (no loads)", head + `@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) {
  var acc = f32(g.x); var b = 1.0001;
  for (var k = 0u; k < ${K}u; k++) { acc = acc * b + 0.5; }
  o[g.x] = acc; }`, G, K);
