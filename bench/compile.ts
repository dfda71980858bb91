// Pipeline compile time of each plan (training: both players and the optimisers;
// inference: the encoder), cold and warm.
//
// What "cache" means here. Deno's WebGPU has no persistent pipeline cache, so a fresh
// process compiles every pipeline again. What exists:
//   1. our in-process cache (src/engine/pipelines.ts): identical WGSL compiles once
//      per device; a second Executor/Trainer.create in the same process hits it.
//   2. Mesa's on-disk shader cache (~/.cache/mesa_shader_cache, or
//      MESA_SHADER_CACHE_DIR) below WebGPU: the driver's own, outside our control;
//      llvmpipe/lavapipe use it, a real GPU's driver has its own.
// So each plan is measured in two fresh processes sharing an empty Mesa cache
// folder: the first is fully cold, the second is a fresh process with the driver's
// disk cache warm; within each, a second create measures our in-process cache.
// Pipelines on Mesa's software adapter also finish compiling lazily at their first
// dispatch, so each figure is create time + first-run time beyond a steady run.
//
// Child mode (one plan, JSON on the last line):
//   deno run -A bench/compile.ts --child --variant small --plan train [--set K=V ...]
import { parseArgs } from "node:util";
import { openGpu } from "../src/engine/device.ts";
import { Executor } from "../src/engine/executor.ts";
import { Trainer } from "../src/train/trainer.ts";
import { type Aside, compileAside } from "../src/engine/compile_aside.ts";
import { trainingConfig } from "../src/train/config.ts";
import { trainingPlan } from "../src/train/plan.ts";
import { openTrainData } from "../src/train/data.ts";
import { loadPlan, type Plan as CompiledPlan, planPrograms, savePlan } from "../src/plan/plan.ts";
import { targetFor } from "../src/tune/target.ts";
import { initParams } from "../src/train/params.ts";
import { type BenchRecord, fmt, type Variant, variantModel, VARIANTS } from "./record.ts";
import { type Context, recorder } from "./train.ts";
import { encoderProgram } from "./infer.ts";

export type Plan = "train" | "infer";

export interface ChildResult {
  /**
   * ms of Trainer.create with compiling its Plan / planning the encoder's program and
   * Executor.create, in a fresh process (what these figures measured before Plans)
   */
  createMs: number;
  /** ms of compiling the whole Plan from the graph (lowering, merging, memory planning) */
  compileMs: number;
  /** ms of reading the same Plan from a plan.json instead (what a deployed model does) */
  loadMs: number;
  /** ms of the first run (submit + wait), and of a steady run after it */
  firstMs: number;
  steadyMs: number;
  /** the same create and first run again in the same process */
  warmCreateMs: number;
  warmFirstMs: number;
  /** distinct pipelines of the plan's programs (the optimisers add theirs) */
  pipelines: number;
  dispatches: number;
  adapter: string;
}

/** Kernels and launches of the forward and backward phases (the plan's kernels appear once). */
function distinct(plan: CompiledPlan): { pipelines: number; dispatches: number } {
  const ls = plan.programs.flatMap((p) => [...p.phases.forward, ...p.phases.backward]);
  return { pipelines: new Set(ls.map((l) => l.kernel)).size, dispatches: ls.length };
}

/** ms to write the plan and read it back as a deployed model would (the read only). */
async function loadTime(plan: CompiledPlan): Promise<number> {
  const dir = await Deno.makeTempDir({ prefix: "bench-plan-" });
  try {
    savePlan(`${dir}/plan.json`, plan);
    const t0 = performance.now();
    loadPlan(`${dir}/plan.json`);
    return performance.now() - t0;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function child(variant: Variant, plan: Plan, sets: string[]): Promise<ChildResult> {
  const gpu = await openGpu();
  const target = targetFor(gpu);
  const model = variantModel(variant, sets);
  const wait = () => gpu.device.queue.onSubmittedWorkDone();
  const timed = async (f: () => Promise<unknown> | unknown) => {
    const t0 = performance.now();
    await f();
    return performance.now() - t0;
  };
  if (plan === "train") {
    const cfg = trainingConfig(model);
    const batch = await (await openTrainData(model, cfg, {})).batch(0);
    let trainer!: Trainer;
    let compiled!: CompiledPlan;
    let aside: Aside | undefined;
    const create = async () => {
      compiled = trainingPlan(model, cfg, { target });
      // as `deno task train` does: a worker compiles from the other end (software adapters)
      aside ??= compileAside(gpu, compiled.kernels);
      trainer = await Trainer.create(gpu, compiled, model, cfg);
    };
    const compileMs = await timed(() => trainingPlan(model, cfg, { target }));
    const createMs = await timed(create);
    const run = () => timed(() => (trainer.iterate(batch), wait()));
    const firstMs = await run();
    const steadyMs = await run();
    const warmCreateMs = await timed(create);
    const warmFirstMs = await run();
    await aside?.stop();
    return {
      createMs,
      compileMs,
      loadMs: await loadTime(compiled),
      firstMs,
      steadyMs,
      warmCreateMs,
      warmFirstMs,
      ...distinct(compiled),
      adapter: gpu.description,
    };
  }
  let exec!: Executor;
  let compiled!: CompiledPlan;
  const compile = () => {
    const program = encoderProgram(model, variant.batch, target);
    return { program, plan: planPrograms([{ program }], { target }) };
  };
  const compileMs = await timed(compile);
  // As before Plans: the lowered program is made once, outside the figure; create is
  // planning (merging, memory) and the executor.
  const program = encoderProgram(model, variant.batch, target);
  const create = async () => {
    compiled = planPrograms([{ program }], { target });
    exec = await Executor.create(gpu, compiled);
    for (const [name, data] of initParams(program, 1)) exec.write(name, data);
    for (const name of program.inputs) {
      exec.write(name, new Float32Array(exec.tensor(name).shape.reduce((a, b) => a * b, 1)));
    }
  };
  const createMs = await timed(create);
  const run = () => timed(() => (exec.run(), wait()));
  const firstMs = await run();
  const steadyMs = await run();
  const warmCreateMs = await timed(create);
  const warmFirstMs = await run();
  return {
    createMs,
    compileMs,
    loadMs: await loadTime(compiled),
    firstMs,
    steadyMs,
    warmCreateMs,
    warmFirstMs,
    ...distinct(compiled),
    adapter: gpu.description,
  };
}

/** Runs one child process; its JSON result, or throws with its stderr. */
async function spawn(
  variant: Variant,
  plan: Plan,
  sets: string[],
  mesaCache: string,
): Promise<ChildResult> {
  const args = [
    "run",
    "--allow-read",
    "--allow-write",
    "--allow-env",
    new URL(import.meta.url).pathname,
    "--child",
    "--variant",
    variant.name,
    "--plan",
    plan,
    ...sets.flatMap((s) => ["--set", s]),
  ];
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    env: { MESA_SHADER_CACHE_DIR: mesaCache },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim().split("\n").pop() ?? "";
  if (!out.success) {
    throw new Error(`bench/compile.ts child failed:\n${new TextDecoder().decode(out.stderr)}`);
  }
  return JSON.parse(text);
}

export async function benchCompile(ctx: Context, v: Variant, plan: Plan): Promise<BenchRecord[]> {
  const label = `compile ${v.name} (batch ${v.batch}) ${
    plan === "train" ? "training" : "inference"
  } plan`;
  ctx.log(`${label}: two fresh processes...`);
  const mesa = await Deno.makeTempDir({ prefix: "bench-mesa-cache-" });
  try {
    const cold = await spawn(v, plan, ctx.sets, mesa);
    const disk = await spawn(v, plan, ctx.sets, mesa);
    const rec = recorder(ctx, cold.adapter);
    // compile = create + what the first run takes beyond a steady one (lazy compilation);
    // for the training plan, with a worker compiling from the other end as `deno task train` does
    const total = (create: number, first: number, steady: number) =>
      create + Math.max(0, first - steady);
    const lazy = (r: ChildResult, warm: boolean) =>
      warm
        ? `create ${fmt(r.warmCreateMs)} ms + first run ${fmt(r.warmFirstMs)} ms - steady run ${
          fmt(r.steadyMs)
        } ms`
        : `create ${fmt(r.createMs)} ms + first run ${fmt(r.firstMs)} ms - steady run ${
          fmt(r.steadyMs)
        } ms`;
    const plans = `${cold.pipelines} distinct pipelines, ${cold.dispatches} dispatches` +
      (plan === "train" ? " (+ the optimisers')" : "");
    const c = total(cold.createMs, cold.firstMs, cold.steadyMs);
    const d = total(disk.createMs, disk.firstMs, disk.steadyMs);
    const w = total(cold.warmCreateMs, cold.warmFirstMs, cold.steadyMs);
    ctx.log(`  cold ${fmt(c)} ms, fresh process + Mesa disk cache ${fmt(d)} ms, warm ${fmt(w)} ms`);
    return [
      rec(
        `${label}, cold`,
        c / 1000,
        "s",
        `fresh process, empty Mesa shader cache; ${lazy(cold, false)}; ${plans}`,
      ),
      rec(
        `${label}, fresh process, Mesa disk cache warm`,
        d / 1000,
        "s",
        `second fresh process on the same MESA_SHADER_CACHE_DIR; ${lazy(disk, false)}`,
      ),
      rec(
        `${label}, compiling the Plan`,
        cold.compileMs / 1000,
        "s",
        `graph to kernels, merging and memory planning, in the cold process; reading the ` +
          `same Plan from a plan.json instead takes ${fmt(cold.loadMs)} ms`,
      ),
      rec(
        `${label}, warm (in-process pipeline cache)`,
        w / 1000,
        "s",
        `second create in the cold process: every pipeline a hit in src/engine/pipelines.ts; ` +
          `what remains is planning, WGSL generation, buffers and bind groups; ${lazy(cold, true)}`,
      ),
    ];
  } finally {
    await Deno.remove(mesa, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      child: { type: "boolean", default: false },
      variant: { type: "string", default: "small" },
      plan: { type: "string", default: "train" },
      set: { type: "string", multiple: true, default: [] },
    },
  });
  const v = VARIANTS.find((x) => x.name === values.variant);
  if (!values.child || !v || !["train", "infer"].includes(values.plan!)) {
    console.error("usage: bench/compile.ts --child --variant small|paper --plan train|infer");
    Deno.exit(1);
  }
  console.log(JSON.stringify(await child(v, values.plan as Plan, values.set!)));
  Deno.exit(0);
}
