// Measures, on the adapter at hand, whether merging different kernels into one
// dispatch (merge.ts) makes a training iteration faster than merging only copies
// of one kernel: on llvmpipe it made it slower, on GPUs fewer launches usually win.
import type { Model } from "../lang/ir.ts";
import type { Target } from "../plan/target.ts";
import type { Gpu } from "../engine/device.ts";
import { Trainer } from "../train/trainer.ts";
import { trainingPlan } from "../train/plan.ts";
import { trainingConfig } from "../train/config.ts";
import { openTrainData } from "../train/data.ts";
import type { MergeChoice } from "./cache.ts";

/** Mixed merging wins only when at least this much faster (noise guard). */
const MARGIN = 0.97;

export async function measureMerging(
  gpu: Gpu,
  model: Model,
  target: Target,
  batch?: number,
  rounds = 7,
): Promise<MergeChoice> {
  const cfg = trainingConfig(model);
  if (batch !== undefined) cfg.batch = batch;
  const data = await openTrainData(model, cfg, {});
  const input = await data.batch(0);
  const trainers: Trainer[] = [];
  // The same target but for its merge policy: two plans, compiled side by side.
  for (const mixed of [false, true]) {
    const plan = trainingPlan(model, cfg, { target: { ...target, mixed } });
    trainers.push(await Trainer.create(gpu, plan, model, cfg));
  }
  const { device } = gpu;
  const time = async (t: Trainer) => {
    const t0 = performance.now();
    t.iterate(input);
    t.iterate(input);
    await device.queue.onSubmittedWorkDone();
    return (performance.now() - t0) / 2;
  };
  for (const t of trainers) await time(t); // compiles every pipeline
  // Interleaved rounds, compared pairwise: the machine's speed drifts between rounds.
  const same: number[] = [], mixed: number[] = [], ratio: number[] = [];
  for (let r = 0; r < rounds; r++) {
    same.push(await time(trainers[0]));
    mixed.push(await time(trainers[1]));
    ratio.push(mixed[r] / same[r]);
  }
  const med = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];
  return { mixed: med(ratio) < MARGIN, mixedMs: med(mixed), sameMs: med(same) };
}
