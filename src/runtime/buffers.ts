// Small helpers for moving float32 data between the host and GPU buffers.

export const STORAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/** Buffers are sized in whole vec4s so vectorised kernels may read past the end safely. */
export function createStorage(device: GPUDevice, elements: number, label?: string): GPUBuffer {
  const size = Math.max(16, Math.ceil(elements / 4) * 16);
  return device.createBuffer({ size, usage: STORAGE, label });
}

export function upload(
  device: GPUDevice,
  buffer: GPUBuffer,
  data: Float32Array<ArrayBuffer>,
): void {
  device.queue.writeBuffer(buffer, 0, data);
}

export function fill(device: GPUDevice, buffer: GPUBuffer, elements: number, value: number): void {
  upload(device, buffer, new Float32Array(elements).fill(value));
}

/** Reads several buffers back with one submit and one wait. */
export async function readBack(
  device: GPUDevice,
  items: { buffer: GPUBuffer; elements: number }[],
): Promise<Float32Array[]> {
  const enc = device.createCommandEncoder();
  const staging = items.map(({ buffer, elements }) => {
    const size = Math.max(4, Math.ceil(elements * 4 / 4) * 4);
    const s = device.createBuffer({
      size,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    if (elements > 0) enc.copyBufferToBuffer(buffer, 0, s, 0, elements * 4);
    return s;
  });
  device.queue.submit([enc.finish()]);
  const out: Float32Array[] = [];
  for (let i = 0; i < staging.length; i++) {
    await staging[i].mapAsync(GPUMapMode.READ);
    out.push(new Float32Array(staging[i].getMappedRange().slice(0, items[i].elements * 4)));
    staging[i].destroy();
  }
  return out;
}
