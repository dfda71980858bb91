// Wall-clock timing of GPU work. Awaiting the queue (onSubmittedWorkDone or
// mapAsync) costs Deno's WebGPU a fixed ~11 ms on llvmpipe even when nothing is
// queued: longer than a small conv kernel, and paid once per wait, not per submit
// or dispatch. A training run waits once per log interval, so kernel timers
// measure an empty wait next to each sample and subtract it.

/** Milliseconds from submitting what `record` encodes in one pass until the queue is idle. */
export async function submitMs(
  device: GPUDevice,
  record: (pass: GPUComputePassEncoder) => void,
): Promise<number> {
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  record(pass);
  pass.end();
  const buf = enc.finish();
  const t0 = performance.now();
  device.queue.submit([buf]);
  await device.queue.onSubmittedWorkDone();
  return performance.now() - t0;
}

/** The wait alone: an empty pass, submitted and awaited. */
export function idleMs(device: GPUDevice): Promise<number> {
  return submitMs(device, () => {});
}

/**
 * Milliseconds per copy of `copies` copies that took `total`, less an empty wait's
 * `idle`; never below zero: on a loaded machine the empty wait can take longer than a
 * short kernel's copies.
 */
export function net(total: number, idle: number, copies: number): number {
  return Math.max(total - idle, 0) / copies;
}

/**
 * Milliseconds per copy of `record`'s work: `copies` copies in one pass, less an
 * empty wait measured just before.
 */
export async function netMs(
  device: GPUDevice,
  record: (pass: GPUComputePassEncoder) => void,
  copies: number,
): Promise<number> {
  const idle = await idleMs(device);
  const total = await submitMs(device, (pass) => {
    for (let i = 0; i < copies; i++) record(pass);
  });
  return net(total, idle, copies);
}
