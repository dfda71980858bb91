// deno task diagnose [--steps N] [--every K] [--only noise,generator]
//
// Issue 13's diagnosis, in the project's own trainer: can the discriminator alone learn
// to tell real faces from fakes that are easy to spot: uniform noise images, or the
// outputs of a generator frozen at its random initialisation? Each kind of fake runs
// twice: D on one joint batch (real and generated concatenated, one set of batch-norm
// statistics, as graphs/drgan.yaml does now) and D on the two batches apart (as it did
// before). Prints D's real/fake loss d_real + d_fake (chance: 2 ln 2 = 1.386) over the
// steps. The graphs are bench/diagnose/*.yaml.
import { parseArgs } from "node:util";
import { loadModel } from "../src/lang/model.ts";
import { type Gpu, openGpu } from "../src/engine/device.ts";
import { trainingPlan } from "../src/train/plan.ts";
import type { Target } from "../src/plan/target.ts";
import { targetFor } from "../src/tune/target.ts";
import { Trainer } from "../src/train/trainer.ts";
import { trainingConfig } from "../src/train/config.ts";
import { openTrainData } from "../src/train/data.ts";

export const FAKES = ["noise", "generator"] as const;
export type Fakes = typeof FAKES[number];

export function diagnosisGraph(fakes: Fakes, joint: boolean): string {
  const dir = new URL("./diagnose/", import.meta.url).pathname;
  return `${dir}d-vs-${fakes}${joint ? "" : "-separate"}.yaml`;
}

export interface DiagnosisPoint {
  step: number;
  /** d_real + d_fake */
  loss: number;
  accReal: number;
  accFake: number;
}

/** Trains D alone for `steps` steps; D's real/fake figures after every `every` steps. */
export async function diagnose(
  gpu: Gpu,
  target: Target,
  fakes: Fakes,
  joint: boolean,
  steps: number,
  every: number,
): Promise<DiagnosisPoint[]> {
  const model = loadModel(diagnosisGraph(fakes, joint));
  const cfg = trainingConfig(model);
  const plan = trainingPlan(model, cfg, { target });
  const trainer = await Trainer.create(gpu, plan, model, cfg);
  const data = await openTrainData(model, cfg, {});
  const out: DiagnosisPoint[] = [];
  try {
    for (let s = 0; s < steps; s++) {
      trainer.iterate(await data.batch(s));
      if ((s + 1) % every === 0 || s === steps - 1) {
        const m = await trainer.metrics();
        out.push({
          step: s + 1,
          loss: m.d_real + m.d_fake,
          accReal: m.acc_real,
          accFake: m.acc_fake,
        });
      }
    }
  } finally {
    trainer.destroy();
  }
  return out;
}

/** The first step whose loss is below `level`, if any. */
export function stepsTo(points: DiagnosisPoint[], level: number): number | undefined {
  return points.find((p) => p.loss < level)?.step;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      steps: { type: "string", default: "300" },
      every: { type: "string", default: "25" },
      only: { type: "string", default: FAKES.join(",") },
    },
  });
  const steps = Number(values.steps), every = Number(values.every);
  const only = values.only.split(",") as Fakes[];
  const gpu = await openGpu();
  const target = targetFor(gpu);
  console.log(`D alone on ${gpu.description}, batch 16 real + 16 fake, Adam 2e-4`);
  console.log(`d_real + d_fake (chance 1.386) every ${every} steps:`);
  for (const fakes of only) {
    for (const joint of [false, true]) {
      const t0 = performance.now();
      const points = await diagnose(gpu, target, fakes, joint, steps, every);
      const s = ((performance.now() - t0) / 1000).toFixed(0);
      const curve = points.map((p) => p.loss.toFixed(3)).join(" ");
      const to = stepsTo(points, 0.1);
      const last = points[points.length - 1];
      console.log(
        `${fakes.padEnd(9)} ${joint ? "joint   " : "separate"}  ${curve}\n` +
          `${"".padEnd(19)}below 0.1 at step ${to ?? `> ${steps}`}; last: real judged real ` +
          `${last.accReal.toFixed(2)}, fake judged fake ${last.accFake.toFixed(2)} (${s} s)`,
      );
    }
  }
}
