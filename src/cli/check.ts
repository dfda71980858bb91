// `deno task check GRAPH.yaml`: validates a graph and prints what the compiler
// decided at a stage: shapes (a Keras-style summary) or plan (dispatches, buffers).
import { loadModel } from "../lang/model.ts";
import { parseOverride } from "../lang/files.ts";
import { summarise } from "../lang/summary.ts";
import { buildProgram } from "../plan/program.ts";
import { planReport } from "../plan/plan_report.ts";
import { trainingConfig } from "../train/config.ts";
import { playerOutputs } from "../train/trainer.ts";
import { parseArgs, runMain, UsageError } from "./args.ts";
import { batchUnit } from "../ops/dim.ts";

const USAGE =
  `usage: deno task check GRAPH.yaml [--stage shapes|plan] [--batch N] [--train] [--unfused]
  [--set NAME=VALUE ...] [--debug]
  --stage plan prints the inference plan of each network (batch --batch, default 1, or the
  smallest batch its grouping ops divide), or
  with --train the training step of each player (batch from the graph's training section)`;

const STAGES = ["shapes", "plan"];

runMain(USAGE, (argv) => {
  const args = parseArgs(argv, {
    strings: ["stage"],
    numbers: ["batch"],
    multi: ["set"],
    bools: ["debug", "train", "unfused"],
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
  if (args.bools.train) {
    const cfg = trainingConfig(model);
    for (const [name, p] of Object.entries(cfg.players)) {
      const program = buildProgram(model.step!, {
        batch: args.numbers.batch ?? cfg.batch,
        training: true,
        backwardFrom: Object.keys(p.losses),
        trains: (param) => p.networks.some((n) => param.startsWith(`${n}.`)),
        outputs: playerOutputs(model.step!.outputs.map((o) => o.name), cfg, name as "d" | "g"),
        fuse: !args.bools.unfused,
      });
      console.log(planReport(`${name} update of ${model.name}`, program) + "\n");
    }
    return;
  }
  for (const net of model.networks) {
    // Grouping ops ("B/4") need a batch they divide: by default the smallest one.
    const unit = batchUnit([...net.shapes.values()].flat());
    const b = args.numbers.batch ?? unit;
    if (b % unit !== 0) {
      throw new UsageError(`--batch ${b}: ${net.name} groups rows by ${unit}; give a multiple`);
    }
    const program = buildProgram(net, { batch: b, training: false, fuse: !args.bools.unfused });
    console.log(planReport(net.name, program) + "\n");
  }
});
