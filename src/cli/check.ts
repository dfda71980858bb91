// `deno task check GRAPH.yaml`: validates a graph and prints what the compiler
// decided at a stage: shapes (a Keras-style summary) or plan (dispatches, buffers).
import { loadModel } from "../lang/model.ts";
import { parseOverride } from "../lang/files.ts";
import { summarise } from "../lang/summary.ts";
import { compile, type Plan } from "../plan/plan.ts";
import { planReport } from "../plan/plan_report.ts";
import { loadTargetFile, softwareTarget } from "../plan/target.ts";
import { trainingConfig } from "../train/config.ts";
import { trainingPlan } from "../train/plan.ts";
import { parseArgs, runMain, UsageError } from "./args.ts";
import { batchUnit } from "../ops/dim.ts";

const USAGE =
  `usage: deno task check GRAPH.yaml [--stage shapes|plan] [--batch N] [--train] [--unfused]
  [--target FILE] [--json] [--set NAME=VALUE ...] [--debug]
  --stage plan prints the inference plan of each network (batch --batch, default 1, or the
  smallest batch its grouping ops divide), or
  with --train the training step of each player (batch from the graph's training section);
  compiled for --target FILE (written by deno task tune) or else the software default;
  --json prints the Plan itself, as the engine reads it`;

const STAGES = ["shapes", "plan"];

runMain(USAGE, (argv) => {
  const args = parseArgs(argv, {
    strings: ["stage", "target"],
    numbers: ["batch"],
    multi: ["set"],
    bools: ["debug", "train", "unfused", "json"],
  });
  if (args.positional.length !== 1) throw new UsageError("expected one graph file");
  const stage = args.strings.stage ?? "shapes";
  if (!STAGES.includes(stage)) {
    throw new UsageError(`unknown stage '${stage}' (stages: ${STAGES.join(", ")})`);
  }
  const batch = args.numbers.batch ?? 1;
  if (!Number.isInteger(batch) || batch < 1) {
    throw new UsageError("--batch must be a positive integer");
  }
  const model = loadModel(args.positional[0], args.multi.set.map(parseOverride));
  if (stage === "shapes") {
    console.log(summarise(model));
    return;
  }
  const target = args.strings.target ? loadTargetFile(args.strings.target) : softwareTarget();
  const fuse = !args.bools.unfused;
  const show = (plan: Plan, titles: Record<string, string>) =>
    console.log(args.bools.json ? JSON.stringify(plan) : planReport(plan, titles));
  if (args.bools.train) {
    const cfg = trainingConfig(model);
    const plan = trainingPlan(model, cfg, { target, fuse, batch: args.numbers.batch });
    show(plan, { d: `d update of ${model.name}`, g: `g update of ${model.name}` });
    return;
  }
  for (const net of model.networks) {
    // Grouping ops ("B/4") need a batch they divide: by default the smallest one.
    const unit = batchUnit([...net.shapes.values()].flat());
    const b = args.numbers.batch ?? unit;
    if (b % unit !== 0) {
      throw new UsageError(`--batch ${b}: ${net.name} groups rows by ${unit}; give a multiple`);
    }
    show(compile(net, { batch: b, training: false, fuse, target }), {});
    if (!args.bools.json) console.log();
  }
});
