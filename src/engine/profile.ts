// Per-dispatch GPU time from timestamp queries: each dispatch in a compute pass of
// its own, with the pass's begin and end timestamps. Passes add a little overhead
// of their own, so the sum is an upper bound on a normal run's GPU time.
import { UserError } from "../errors.ts";
import type { Prepared } from "./launch.ts";

export class NoTimestampsError extends UserError {}

/** Nanoseconds per dispatch, median over `repeats` runs of the whole list. */
export async function timeDispatches(
  device: GPUDevice,
  list: Prepared[],
  repeats = 3,
): Promise<number[]> {
  if (!device.features.has("timestamp-query")) {
    throw new NoTimestampsError(
      "this adapter has no timestamp queries: per-kernel times need them",
    );
  }
  const chunk = 2048; // dispatches per query set (2 timestamps each, under the 4096 limit)
  const samples: number[][] = list.map(() => []);
  for (let r = 0; r < repeats; r++) {
    for (let start = 0; start < list.length; start += chunk) {
      const part = list.slice(start, start + chunk);
      const count = 2 * part.length;
      const qs = device.createQuerySet({ type: "timestamp", count });
      const resolve = device.createBuffer({
        size: 8 * count,
        usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
      });
      const read = device.createBuffer({
        size: 8 * count,
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      });
      const enc = device.createCommandEncoder();
      part.forEach((s, i) => {
        const pass = enc.beginComputePass({
          timestampWrites: {
            querySet: qs,
            beginningOfPassWriteIndex: 2 * i,
            endOfPassWriteIndex: 2 * i + 1,
          },
        });
        pass.setPipeline(s.pipeline);
        pass.setBindGroup(0, s.bindGroup);
        pass.dispatchWorkgroups(...s.workgroups);
        pass.end();
      });
      enc.resolveQuerySet(qs, 0, count, resolve, 0);
      enc.copyBufferToBuffer(resolve, 0, read, 0, 8 * count);
      device.queue.submit([enc.finish()]);
      await read.mapAsync(GPUMapMode.READ);
      const t = new BigUint64Array(read.getMappedRange().slice(0));
      read.unmap();
      part.forEach((_, i) => samples[start + i].push(Number(t[2 * i + 1] - t[2 * i])));
      for (const b of [qs, resolve, read]) b.destroy();
    }
  }
  return samples.map((s) => s.sort((a, b) => a - b)[s.length >> 1]);
}

export interface KindTime {
  kind: string;
  count: number;
  ns: number;
}

/**
 * Time by kernel kind: the label without the layer, e.g. "conv2d.dx|conv2d.dw"
 * (a merged dispatch is its own kind, since its time cannot be split).
 */
export function byKind(list: Prepared[], ns: number[]): KindTime[] {
  const m = new Map<string, KindTime>();
  list.forEach((s, i) => {
    const k = m.get(s.label) ?? { kind: s.label, count: 0, ns: 0 };
    k.count++;
    k.ns += ns[i];
    m.set(s.label, k);
  });
  return [...m.values()].sort((a, b) => b.ns - a.ns);
}
