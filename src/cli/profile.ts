// `deno task profile GRAPH.yaml`: where one training iteration's GPU time goes,
// per kernel kind and per dispatch, from timestamp queries.
import { loadModel } from "../lang/model.ts";
import { parseOverride } from "../lang/files.ts";
import { openGpu } from "../engine/device.ts";
import { targetFor } from "../tune/target.ts";
import { trainingPlan } from "../train/plan.ts";
import { Trainer } from "../train/trainer.ts";
import { trainingConfig } from "../train/config.ts";
import { openTrainData } from "../train/data.ts";
import { byKind, timeDispatches } from "../engine/profile.ts";
import type { Prepared } from "../engine/launch.ts";
import { parseArgs, runMain, UsageError } from "./args.ts";

const USAGE =
  `usage: deno task profile GRAPH.yaml [--unfused] [--repeats N] [--top N] [--set NAME=VALUE ...]
  times every dispatch of one training iteration (D update + G update) on the GPU`;

const ms = (ns: number) => (ns / 1e6).toFixed(2);

runMain(USAGE, async (argv) => {
  const args = parseArgs(argv, {
    numbers: ["repeats", "top"],
    multi: ["set"],
    bools: ["unfused", "debug"],
  });
  if (args.positional.length !== 1) throw new UsageError("expected one graph file");
  const repeats = args.numbers.repeats ?? 3, top = args.numbers.top ?? 12;
  for (const [k, v] of [["repeats", repeats], ["top", top]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new UsageError(`--${k} must be a positive integer`);
  }
  const model = loadModel(args.positional[0], args.multi.set.map(parseOverride));
  const cfg = trainingConfig(model);
  const gpu = await openGpu();
  const plan = trainingPlan(model, cfg, { target: targetFor(gpu), fuse: !args.bools.unfused });
  const trainer = await Trainer.create(gpu, plan, model, cfg);
  const data = await openTrainData(model, cfg, {});
  const batch = await data.batch(0);
  // Warm-up (first dispatches compile), then wall time of normal iterations.
  trainer.iterate(batch);
  await gpu.device.queue.onSubmittedWorkDone();
  const wall: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    trainer.iterate(batch);
    await gpu.device.queue.onSubmittedWorkDone();
    wall.push(performance.now() - t0);
  }
  wall.sort((a, b) => a - b);
  console.log(
    `profile of one training iteration of ${model.name} (batch ${cfg.batch}), ` +
      `${args.bools.unfused ? "unfused" : "fused"} plan, on ${gpu.description}`,
  );
  const all: Prepared[] = [];
  for (const p of trainer.players) {
    // As a normal iteration runs it: G's update after D's skips what D's computed.
    const reused = p.program.reuse?.skip.length ?? 0;
    const { forward, backward, optimizer } = p.exec.launches(reused > 0);
    const list = [...forward, ...backward, ...optimizer];
    const ns = await timeDispatches(gpu.device, list, repeats);
    const sum = (from: number, to: number) => ns.slice(from, to).reduce((s, x) => s + x, 0);
    const f = forward.length, b = f + backward.length;
    console.log(
      `  ${p.name} update: ${list.length} dispatches, ${ms(sum(0, list.length))} ms ` +
        `(forward ${ms(sum(0, f))}, backward ${ms(sum(f, b))}, optimiser ${
          ms(sum(b, list.length))
        })` +
        (reused ? `; ${reused} forward dispatches taken from ${p.program.reuse!.after}'s` : ""),
    );
    list.forEach((s, i) => all.push({ ...s, ns: ns[i] } as Prepared & { ns: number }));
  }
  const times = all.map((s) => (s as Prepared & { ns: number }).ns);
  const total = times.reduce((a, b) => a + b, 0);
  console.log(
    `  GPU time, dispatches one per pass: ${ms(total)} ms; wall time of a normal iteration: ` +
      `${wall[1].toFixed(2)} ms (median of 3)`,
  );
  console.log(`\n  by kernel kind${" ".repeat(38)}count       ms      %`);
  for (const k of byKind(all, times).slice(0, top)) {
    console.log(
      `    ${k.kind.slice(0, 48).padEnd(48)} ${String(k.count).padStart(6)} ${
        ms(k.ns).padStart(8)
      } ${(100 * k.ns / total).toFixed(1).padStart(6)}`,
    );
  }
  console.log(`\n  slowest dispatches${" ".repeat(34)}ms  step`);
  const order = times.map((_, i) => i).sort((a, b) => times[b] - times[a]).slice(0, top);
  for (const i of order) {
    console.log(
      `    ${all[i].label.slice(0, 44).padEnd(44)} ${ms(times[i]).padStart(8)}  ${
        (all[i].step ?? "").slice(0, 70)
      }`,
    );
  }
});
