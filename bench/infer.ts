// One inference pass of a variant: the encoder's identity features for a batch, with
// an inference plan (batch norm with running statistics, planned buffers), as
// src/infer/face_model.ts builds it.
import { buildProgram, type Program } from "../src/plan/program.ts";
import { planPrograms } from "../src/plan/plan.ts";
import { softwareTarget, type Target } from "../src/plan/target.ts";
import type { Model } from "../src/lang/ir.ts";
import { Executor } from "../src/engine/executor.ts";
import { initParams } from "../src/train/params.ts";
import { numel } from "../src/ops/wgsl.ts";
import { Rng } from "../src/util/rng.ts";
import {
  type BenchRecord,
  describeTiming,
  fmt,
  timeGpu,
  type TimingOptions,
  type Variant,
  variantModel,
} from "./record.ts";
import { type Context, programMacs, recorder } from "./train.ts";

/** The encoder's inference program at the variant's batch. */
export function encoderProgram(model: Model, batch: number, target: Target): Program {
  const encoder = model.networks.find((n) => n.name === "encoder");
  if (!encoder) throw new Error(`${model.file} has no encoder network`);
  return buildProgram(encoder, { batch, training: false, outputs: ["feature"], target });
}

/** An executor of the program with initialised parameters and a random input. */
export async function encoderExecutor(ctx: Context, program: Program): Promise<Executor> {
  const exec = await Executor.create(ctx.gpu, planPrograms([{ program }], { target: ctx.target }));
  for (const [name, data] of initParams(program, 1)) exec.write(name, data);
  const rng = new Rng(2);
  for (const name of program.inputs) {
    const n = numel(program.tensors.get(name)!.shape);
    exec.write(name, Float32Array.from({ length: n }, () => 2 * rng.next() - 1));
  }
  return exec;
}

export async function benchInfer(ctx: Context, v: Variant): Promise<BenchRecord[]> {
  const rec = recorder(ctx);
  const model = variantModel(v, ctx.sets);
  const program = encoderProgram(model, v.batch, ctx.target);
  const exec = await encoderExecutor(ctx, program);
  const opts: TimingOptions = ctx.quick
    ? { warmup: 1, samples: 1, sampleSeconds: 0 }
    : { warmup: 2, samples: 7, sampleSeconds: 1, slowSeconds: 20 };
  const label = `infer ${v.name} (batch ${v.batch}) encoder features`;
  ctx.log(`${label}...`);
  const t = await timeGpu(ctx.gpu, () => exec.run(), opts);
  ctx.log(`  ${fmt(t.ms)} ms (${describeTiming(t)})`);
  // The encoder is not in the step graph under its own node names: its own MACs.
  const macs = encoderMacs(model, v.batch);
  const d = exec.dispatchCount.forward;
  exec.destroy();
  return [
    rec(label, t.ms, "ms", `one forward pass, ${d} dispatches; ${describeTiming(t)}`),
    rec(`${label} images/s`, v.batch / (t.ms / 1000), "images/s"),
    rec(
      `${label} GFLOP/s`,
      2 * macs / (t.ms / 1000) / 1e9,
      "GFLOP/s",
      `2 x ${fmt(macs / 1e9)} GMAC`,
    ),
  ];
}

/** Forward MACs of the encoder network at a batch (layer MACs x batch). */
export function encoderMacs(model: Model, batch: number): number {
  const enc = model.networks.find((n) => n.name === "encoder")!;
  const standIn = { ...model, step: enc } as Model;
  // MACs do not depend on the target: any will do.
  return programMacs(standIn, encoderProgram(model, batch, softwareTarget())).forward;
}
