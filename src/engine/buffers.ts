// Small helpers for moving float32 data between the host and GPU buffers.

export const STORAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/** A tensor's place: a whole buffer, or a range of an arena (offset 256-byte aligned). */
export interface Region {
  buffer: GPUBuffer;
  offset: number;
  size: number;
}

export function whole(buffer: GPUBuffer): Region {
  return { buffer, offset: 0, size: buffer.size };
}

/** Buffers are sized in whole vec4s so vectorised kernels may read past the end safely. */
export function createStorage(device: GPUDevice, elements: number, label?: string): GPUBuffer {
  const size = Math.max(16, Math.ceil(elements / 4) * 16);
  return device.createBuffer({ size, usage: STORAGE, label });
}

export function upload(
  device: GPUDevice,
  buffer: GPUBuffer,
  data: Float32Array<ArrayBuffer>,
  offset = 0,
): void {
  device.queue.writeBuffer(buffer, offset, data);
}

export function fill(
  device: GPUDevice,
  buffer: GPUBuffer,
  elements: number,
  value: number,
  offset = 0,
): void {
  upload(device, buffer, new Float32Array(elements).fill(value), offset);
}

/** Reads several buffers back with one submit and one wait. */
export async function readBack(
  device: GPUDevice,
  items: { buffer: GPUBuffer; elements: number; offset?: number }[],
): Promise<Float32Array[]> {
  const enc = device.createCommandEncoder();
  const staging = items.map(({ buffer, elements, offset }) => {
    const size = Math.max(4, Math.ceil(elements * 4 / 4) * 4);
    const s = device.createBuffer({
      size,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    if (elements > 0) enc.copyBufferToBuffer(buffer, offset ?? 0, s, 0, elements * 4);
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
