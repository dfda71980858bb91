// `deno task eval --model runs/NAME`: the trained model on held-out synthetic
// identities (src/eval/run.ts). Writes runs/NAME/eval.json (the `rank1` key as
// training writes it, plus the rest), eval.html with the ROC curves, and refreshes
// report.html.
import { join } from "node:path";
import { evalSummary, evaluateRun } from "../eval/run.ts";
import { parseArgs, runMain, UsageError } from "./args.ts";
import { openGpu } from "../engine/device.ts";
import { targetFor } from "../tune/target.ts";

const USAGE = `usage: deno task eval --model RUN_DIR [--identities N] [--checkpoint C.safetensors]
  [--graph G.yaml] [--set NAME=VALUE ...] [--folds K] [--max-images N] [--batch N] [--debug]`;

runMain(USAGE, main);

async function main(argv: string[]) {
  const args = parseArgs(argv, {
    strings: ["model", "graph", "checkpoint"],
    numbers: ["identities", "folds", "max-images", "batch"],
    bools: ["debug"],
    multi: ["set"],
  });
  const run = args.strings.model;
  if (!run) throw new UsageError("give the run folder: --model runs/NAME");
  if (args.positional.length) throw new UsageError(`unexpected argument '${args.positional[0]}'`);
  const int = (k: string, lo: number, hi: number) => {
    const v = args.numbers[k];
    if (v !== undefined && !(Number.isInteger(v) && v >= lo && v <= hi)) {
      throw new UsageError(`--${k} expects an integer from ${lo} to ${hi}`);
    }
    return v;
  };
  const gpu = await openGpu();
  const { result, seconds } = await evaluateRun({
    run,
    gpu,
    target: targetFor(gpu),
    graph: args.strings.graph,
    checkpoint: args.strings.checkpoint,
    set: args.multi.set,
    identities: int("identities", 2, 100000),
    folds: int("folds", 2, 100),
    maxImages: int("max-images", 0, 64),
    batch: int("batch", 1, 4096),
    log: (line) => console.error(line),
  });
  console.log(evalSummary(result, seconds));
  console.error(`wrote ${join(run, "eval.json")} and ${join(run, "eval.html")}`);
}
