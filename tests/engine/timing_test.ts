// Kernel timers take the queue wait's fixed latency off (src/engine/timing.ts).
import assert from "node:assert/strict";
import { openGpu } from "../../src/engine/device.ts";
import { idleMs, netMs, submitMs } from "../../src/engine/timing.ts";

Deno.test("netMs takes the wait off and keeps the work", async () => {
  const { device } = await openGpu();
  const module = device.createShaderModule({
    code: `@group(0) @binding(0) var<storage, read_write> v: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) {
  var a = v[g.x];
  for (var i = 0u; i < 2000u; i++) { a = fma(a, 0.999, 0.5); }
  v[g.x] = a;
}`,
  });
  const pipeline = device.createComputePipeline({
    layout: "auto",
    compute: { module, entryPoint: "main" },
  });
  const buf = device.createBuffer({ size: 64 * 64 * 4, usage: GPUBufferUsage.STORAGE });
  const group = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [{ binding: 0, resource: { buffer: buf } }],
  });
  const work = (pass: GPUComputePassEncoder) => {
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(64);
  };
  await submitMs(device, work); // compiles (llvmpipe compiles at the first dispatch)
  const idle = await idleMs(device);
  const empty = await netMs(device, () => {}, 1);
  assert.ok(empty <= Math.max(idle / 2, 1), `an empty pass nets ${empty} ms, the wait ${idle} ms`);
  const per = await netMs(device, work, 20);
  const raw = (await submitMs(device, (p) => {
    for (let i = 0; i < 20; i++) work(p);
  })) / 20;
  assert.ok(per > 0, "real work nets above zero");
  // where the wait is negligible (a hardware adapter), noise can order them either way
  if (idle >= 1) {
    assert.ok(per < raw, `net ${per} ms per copy under the raw ${raw} ms (the wait shared by 20)`);
  }
  buf.destroy();
});
