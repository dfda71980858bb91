// What keeps data-parallel replicas identical apart from the all-reduced gradients:
// one broadcast of rank 0's whole training state at the start (fresh or resumed),
// and the split of each global batch into the ranks' shards.
import { UsageError } from "../errors.ts";
import { numel } from "../ops/wgsl.ts";
import { readBack } from "../engine/buffers.ts";
import { COUNTERS, type Counters, type Trainer } from "../train/trainer.ts";
import type { Collective } from "./mpi.ts";

/** Rank `rank`'s rows of a global batch of `batch` samples, in groups of `group`. */
export function shardOf(
  batch: number,
  group: number,
  comm: { rank: number; size: number },
): { from: number; to: number } {
  const n = batch / comm.size;
  if (!Number.isInteger(n) || n % group) {
    throw new UsageError(
      `training.batch = ${batch} does not split into ${comm.size} ranks of whole groups of ` +
        `${group}: use a batch that is a multiple of ${comm.size * group}`,
    );
  }
  return { from: comm.rank * n, to: (comm.rank + 1) * n };
}

/**
 * Makes every rank's trainer a copy of rank 0's: parameters, running statistics,
 * optimiser state, step counts, schedule flag and random state, in one broadcast.
 */
export async function broadcastState(trainer: Trainer, comm: Collective): Promise<void> {
  const tensors = [...trainer.stateTensors().values()];
  const sizes = tensors.map((t) => numel(t.shape));
  const total = sizes.reduce((a, b) => a + b, 0);
  const all = new Float32Array(total + COUNTERS.length);
  // The counters travel as raw 32-bit words: a float could not hold the random state.
  const words = new Uint32Array(all.buffer, total * 4);
  if (comm.rank === 0) {
    const got = await readBack(
      trainer.gpu.device,
      tensors.map((t, i) => ({
        buffer: t.region.buffer,
        offset: t.region.offset,
        elements: sizes[i],
      })),
    );
    let at = 0;
    got.forEach((g) => (all.set(g, at), at += g.length));
    const c = trainer.counters();
    words.set(COUNTERS.map((k) => c[k]));
  }
  comm.broadcast(all);
  if (comm.rank === 0) return;
  let at = 0;
  tensors.forEach((t, i) => {
    const part = all.subarray(at, at += sizes[i]);
    trainer.gpu.device.queue.writeBuffer(t.region.buffer, t.region.offset, part);
  });
  trainer.setCounters(Object.fromEntries(COUNTERS.map((k, i) => [k, words[i]])) as Counters);
}
