// The worker of compile_aside.ts: opens a device of its own and dispatches one
// workgroup of each kernel it is sent, on small scratch buffers, which makes the
// driver compile it (and keep it in its disk cache); then says how many kernels it
// could not run (a validation error: the main device will compile those itself).
import { openGpu } from "./device.ts";
import { compile, type KernelSource } from "./pipelines.ts";

const scope = self as unknown as {
  onmessage: (e: MessageEvent<KernelSource[] | "stop">) => void;
  postMessage(message: unknown): void;
};

/** Serves the messages: a list of kernels, then perhaps "stop" (see Aside.stop). */
function serve() {
  // Set by "stop": end after the kernel being compiled.
  let stopping = false;
  scope.onmessage = async (e) => {
    if (e.data === "stop") {
      stopping = true;
      return;
    }
    const { device } = await openGpu();
    // One buffer per binding slot, so that no two bindings of a dispatch alias; every
    // binding is a runtime-sized array, and out-of-range accesses are clamped.
    const scratch: GPUBuffer[] = [];
    const slot = (i: number) =>
      scratch[i] ??= device.createBuffer({ size: 256, usage: GPUBufferUsage.STORAGE });
    let failed = 0;
    for (const k of e.data) {
      if (stopping) {
        failed++;
        break;
      }
      try {
        await runOnce(device, k, slot);
      } catch {
        failed++; // the main device compiles it itself, and reports any error
      }
    }
    device.destroy();
    scope.postMessage(failed);
  };
}
serve();

async function runOnce(device: GPUDevice, k: KernelSource, slot: (i: number) => GPUBuffer) {
  device.pushErrorScope("validation");
  let error: GPUError | null = null;
  try {
    const { pipeline, layout } = await compile(device, k);
    const bindGroup = device.createBindGroup({
      layout,
      entries: k.writes.map((_, i) => ({ binding: i, resource: { buffer: slot(i) } })),
    });
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(1);
    pass.end();
    device.queue.submit([enc.finish()]);
  } finally {
    error = await device.popErrorScope();
  }
  await device.queue.onSubmittedWorkDone();
  if (error) throw new Error(error.message);
}
