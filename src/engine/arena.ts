// Arenas: many tensors in one buffer at aligned offsets, so that one dispatch can
// update every parameter of a network (the optimiser) while each kernel still
// binds just its own tensor's range.
import { numel } from "../ops/wgsl.ts";
import { type Region, STORAGE } from "./buffers.ts";

export interface Arena {
  buffer: GPUBuffer;
  regions: Map<string, Region>;
}

/** Byte offset of every tensor, in order, each aligned to the device's binding alignment. */
export function layout(
  tensors: { name: string; shape: number[] }[],
  align: number,
): { offsets: Map<string, { offset: number; size: number }>; bytes: number } {
  const offsets = new Map<string, { offset: number; size: number }>();
  let at = 0;
  for (const t of tensors) {
    at = Math.ceil(at / align) * align;
    const size = Math.max(16, Math.ceil(numel(t.shape) / 4) * 16);
    offsets.set(t.name, { offset: at, size });
    at += size;
  }
  return { offsets, bytes: Math.max(16, Math.ceil(at / align) * align) };
}

export function createArena(
  device: GPUDevice,
  tensors: { name: string; shape: number[] }[],
  label: string,
): Arena {
  const { offsets, bytes } = layout(tensors, device.limits.minStorageBufferOffsetAlignment);
  const buffer = device.createBuffer({ size: bytes, usage: STORAGE, label });
  const regions = new Map<string, Region>();
  for (const [name, o] of offsets) regions.set(name, { buffer, ...o });
  return { buffer, regions };
}

/** The smallest region of an arena covering the given tensors (laid out contiguously). */
export function span(arena: Arena, names: string[]): Region {
  const rs = names.map((n) => arena.regions.get(n)!);
  const start = Math.min(...rs.map((r) => r.offset));
  const end = Math.max(...rs.map((r) => r.offset + r.size));
  return { buffer: arena.buffer, offset: start, size: end - start };
}
