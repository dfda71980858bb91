// One DR-GAN training iteration (a D update and a G update, as Trainer.iterate does
// them) of a variant: time, estimated GFLOP/s, dispatches and planned memory, for
// fused and unfused plans.
import type { Model } from "../src/lang/ir.ts";
import { bindShape, type Program } from "../src/plan/program.ts";
import type { Plan, PlanProgram } from "../src/plan/plan.ts";
import type { Target } from "../src/plan/target.ts";
import { trainingPrograms } from "../src/plan/training.ts";
import { OPS } from "../src/ops/registry.ts";
import { numel } from "../src/ops/wgsl.ts";
import type { Gpu } from "../src/engine/device.ts";
import { Trainer } from "../src/train/trainer.ts";
import { playerSpecs, trainingPlan } from "../src/train/plan.ts";
import { trainingConfig } from "../src/train/config.ts";
import { openTrainData } from "../src/train/data.ts";
import {
  type BenchRecord,
  describeTiming,
  fmt,
  mib,
  timeGpuInterleaved,
  type Timing,
  type TimingOptions,
  type Variant,
  variantModel,
} from "./record.ts";

export interface Context {
  gpu: Gpu;
  /** what plans are compiled for: the adapter's target with its tune cache */
  target: Target;
  date: string;
  command: string;
  quick: boolean;
  /** extra --set overrides (quick tests shrink the graphs) */
  sets: string[];
  log: (line: string) => void;
}

/** Record factory bound to the run's adapter, date and command. */
export function recorder(ctx: Context, adapter = ctx.gpu.description, withSets = true) {
  // figures of overridden graphs say so in their names
  const where = withSets && ctx.sets.length ? ` [--set ${ctx.sets.join(" ")}]` : "";
  return (name: string, value: number, unit: string, notes?: string): BenchRecord => ({
    name: name + where,
    value,
    unit,
    adapter,
    date: ctx.date,
    command: ctx.command,
    ...(notes ? { notes } : {}),
  });
}

export function trainTiming(ctx: Context, variant: Variant["name"]): TimingOptions {
  if (ctx.quick) return { warmup: 1, samples: 1, sampleSeconds: 0 };
  // paper iterations take tens of seconds on a software adapter: fewer samples there
  return variant === "paper"
    ? { warmup: 1, samples: 5, sampleSeconds: 0, slowSeconds: 30 }
    : { warmup: 2, samples: 5, sampleSeconds: 3, slowSeconds: 20 };
}

/** The MACs of one node of the step graph, with the batch bound. */
function nodeMacs(model: Model, name: string, batch: number): number {
  const net = model.step!;
  const node = net.nodes.find((n) => n.name === name);
  if (!node) throw new Error(`no node ${name} in the step graph`);
  const ins = node.inputs.map((t) => bindShape(net.shapes.get(t)!, batch));
  return OPS[node.op].macs?.(node.parsed, ins, bindShape(node.shape, batch)) ?? 0;
}

/** The step-graph nodes a step computes: a fused step is a producer and its pointwise op. */
const stepNodes = (s: Program["forward"][number]) =>
  s.fused
    ? [s.fused.producer, s.fused.norm, s.fused.pointwise].filter((n): n is string => !!n)
    : [s.node];

/**
 * MACs of a program: `forward` over its forward steps, and `trained`, the forward
 * MACs of the nodes that have a backward step (whose gradients cost about twice
 * their forward: the input gradient and the weight gradient).
 */
export function programMacs(
  model: Model,
  p: Program,
  reused?: PlanProgram,
): { forward: number; trained: number } {
  const sum = (steps: Program["forward"]) =>
    steps.flatMap(stepNodes).reduce((s, n) => s + nodeMacs(model, n, p.batch), 0);
  // `reused`: the program as planned; forward steps it takes from another (its reuse) are
  // not computed again
  const skip = new Set(reused?.reuse?.skip);
  const taken = new Set(
    reused?.phases.forward.filter((_, i) => skip.has(i)).flatMap((l) => l.step.split(" | ")),
  );
  return { forward: sum(p.forward.filter((s) => !taken.has(s.label))), trained: sum(p.backward) };
}

/**
 * GPU memory of the trainer's plans: parameters, their state and gradients, and the
 * inputs are shared by both players (counted once), and so are the slot buffers (the
 * updates run one after the other); each player has its own persistent tensors.
 * `unplanned`: every tensor its own buffer.
 */
export function trainingMemory(plan: Plan): { planned: number; unplanned: number } {
  const bytes = (shape: number[]) => Math.max(16, Math.ceil(numel(shape) / 4) * 16);
  const shared = new Map<string, number>();
  // The players run one after the other and share slot buffers (Trainer.create).
  let planned = plan.slots.reduce((s, b) => s + b, 0), unplanned = 0;
  for (const p of plan.programs) {
    for (const t of Object.values(p.tensors)) {
      // Optimiser state is counted apart (adamBytes); spans alias the arenas.
      if (t.kind === "optimizer" || t.kind === "hyper" || t.kind === "span") continue;
      if (t.arena || t.shared) shared.set(t.name, bytes(t.shape));
      else {
        unplanned += bytes(t.shape);
        if (t.slot === undefined) planned += bytes(t.shape);
      }
    }
  }
  const common = [...shared.values()].reduce((s, b) => s + b, 0);
  return { planned: planned + common, unplanned: unplanned + common };
}

interface PlanFigures {
  macs: { forward: number; trained: number };
  timing: Timing;
  dispatches: number;
  memory: { planned: number; unplanned: number };
  adamBytes: number;
  losses: Record<string, number>;
}

/** The trainers (fused, unfused, other merge policy) built first, then timed interleaved. */
async function measureBoth(ctx: Context, model: Model, v: Variant): Promise<PlanFigures[]> {
  const cfg = trainingConfig(model);
  const data = await openTrainData(model, cfg, {});
  // A fixed batch: data generation is measured on its own (--only data).
  const batch = await data.batch(0);
  // Fused as the runtime plans it on this adapter, unfused, and fused with the other
  // merge policy (merge.ts; whether merging different kernels pays is per adapter).
  const { target } = ctx;
  const plans = [
    trainingPlan(model, cfg, { target, fuse: true }),
    trainingPlan(model, cfg, { target, fuse: false }),
    trainingPlan(model, cfg, { target: { ...target, mixed: !target.mixed }, fuse: true }),
  ];
  const trainers: Trainer[] = [];
  for (const plan of plans) trainers.push(await Trainer.create(ctx.gpu, plan, model, cfg));
  const timings = await timeGpuInterleaved(
    ctx.gpu,
    trainers.map((t) => () => t.iterate(batch)),
    trainTiming(ctx, v.name),
  );
  const out: PlanFigures[] = [];
  for (const [i, trainer] of trainers.entries()) {
    const losses = await trainer.metrics();
    // as a normal iteration runs them: G's update after D's (its reuse)
    const dispatches = trainer.players.reduce((s, p) => {
      const l = p.exec.launches(true);
      return s + l.forward.length + l.backward.length + l.optimizer.length;
    }, 0);
    // MACs from the programs the plan was compiled from (the same for any target).
    const programs = trainingPrograms(model.step!, playerSpecs(model, cfg), {
      target,
      batch: cfg.batch,
      fuse: i !== 1,
    }).map((p) => p.program);
    const macs = programs.map((p, k) => programMacs(model, p, plans[i].programs[k])).reduce((
      a,
      b,
    ) => ({
      forward: a.forward + b.forward,
      trained: a.trained + b.trained,
    }));
    const adamBytes = trainer.plan.programs.reduce(
      (s, p) =>
        s + Object.values(p.tensors).filter((t) => t.kind === "optimizer")
          .reduce((t, x) => t + Math.max(16, Math.ceil(numel(x.shape) / 4) * 16), 0),
      0,
    );
    trainer.destroy();
    const memory = trainingMemory(plans[i]);
    out.push({ timing: timings[i], dispatches, memory, adamBytes, losses, macs });
  }
  return out;
}

export async function benchTrain(ctx: Context, v: Variant): Promise<BenchRecord[]> {
  const rec = recorder(ctx);
  const model = variantModel(v, ctx.sets);
  const B = model.step!.inputs.find((i) => i.name === "image")!;
  const label = `train ${v.name} (batch ${v.batch})`;
  const out: BenchRecord[] = [];
  ctx.log(`${label}: fused and unfused plans, samples interleaved...`);
  const [f, u, m] = await measureBoth(ctx, model, v);
  const mixedNow = ctx.target.mixed;
  const other = mixedNow ? "only copies of one kernel merged" : "different kernels merged too";
  ctx.log(`  fused ${fmt(f.timing.ms)} ms per iteration (${describeTiming(f.timing)})`);
  ctx.log(`  unfused ${fmt(u.timing.ms)} ms per iteration (${describeTiming(u.timing)})`);
  const finite = (l: Record<string, number>) =>
    Object.values(l).every(Number.isFinite) ? "" : " WARNING: non-finite losses";
  const what = `D update + G update as Trainer.iterate (one command buffer each, Adam), ` +
    `one fixed ${B.shape.slice(1).join("x")} batch of ${v.batch}`;
  out.push(
    rec(
      `${label} iteration`,
      f.timing.ms,
      "ms",
      `fused plans; ${what}; ${describeTiming(f.timing)}, interleaved with the unfused samples` +
        `; d_loss ${fmt(f.losses.d_loss)}, g_loss ${fmt(f.losses.g_loss)}${finite(f.losses)}`,
    ),
    rec(
      `${label} iteration, unfused`,
      u.timing.ms,
      "ms",
      `unfused plans (trainingPlan fuse: false); ` +
        `${describeTiming(u.timing)}${finite(u.losses)}`,
    ),
    rec(
      `${label} iteration, fused, ${other}`,
      m.timing.ms,
      "ms",
      `the other merge policy than the runtime's on this adapter (${
        mixedNow ? "different kernels merged, from deno task tune" : "copies of one kernel merged"
      }); ${describeTiming(m.timing)}${finite(m.losses)}`,
    ),
    rec(`${label} fusion speed-up`, u.timing.ms / f.timing.ms, "x", "unfused ms / fused ms"),
    rec(`${label} images/s`, v.batch / (f.timing.ms / 1000), "images/s", "fused"),
  );
  const flops = 2 * 3 * f.macs.forward;
  const tight = 2 * (f.macs.forward + 2 * f.macs.trained);
  out.push(
    rec(
      `${label} effective GFLOP/s (estimate)`,
      flops / (f.timing.ms / 1e3) / 1e9,
      "GFLOP/s",
      `ESTIMATE: 2 x 3 x the MACs of both players' forward steps (ops' macs) = ` +
        `${fmt(flops / 1e9)} GFLOP per iteration; counting backward only where the plans have ` +
        `backward steps (D's stops at the generated image) gives ${fmt(tight / 1e9)} GFLOP, ` +
        `${fmt(tight / (f.timing.ms / 1e3) / 1e9)} GFLOP/s`,
    ),
    rec(
      `${label} dispatches per iteration`,
      f.dispatches,
      "dispatches",
      "fused; forward + backward of both players + optimiser steps",
    ),
    rec(`${label} dispatches per iteration, unfused`, u.dispatches, "dispatches"),
    rec(`${label} dispatches per iteration, fused, ${other}`, m.dispatches, "dispatches"),
  );
  const adam = `; Adam moments add ${fmt(mib(f.adamBytes))} MiB to every figure`;
  out.push(
    rec(
      `${label} GPU memory, planned`,
      mib(f.memory.planned),
      "MiB",
      `fused; slots shared by both players + their persistent tensors, shared parameters, ` +
        `gradients and inputs once${adam}`,
    ),
    rec(
      `${label} GPU memory, unplanned`,
      mib(f.memory.unplanned),
      "MiB",
      "fused plans, every tensor its own buffer",
    ),
    rec(`${label} GPU memory, planned, unfused`, mib(u.memory.planned), "MiB"),
    rec(`${label} GPU memory, planned, fused, ${other}`, mib(m.memory.planned), "MiB"),
    rec(`${label} GPU memory, unplanned, unfused`, mib(u.memory.unplanned), "MiB"),
  );
  return out;
}
