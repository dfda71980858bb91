// `deno task eval --model DIR`: the trained model on held-out synthetic identities
// (src/eval/run.ts). Writes eval.json (the `rank1` key as training writes it, plus the
// rest) and eval.html with the ROC curves into --out (default runs/eval-NAME), never
// into the model folder unless --out names it (then its report.html is refreshed and
// infer --verify takes its threshold from the new calibration).
import { basename, join, resolve } from "node:path";
import { evalSummary, evaluateRun } from "../eval/run.ts";
import { parseArgs, runMain, UsageError } from "./args.ts";
import { openGpu } from "../engine/device.ts";
import { targetFor } from "../tune/target.ts";

const USAGE = `usage: deno task eval --model DIR [--out OUT_DIR] [--identities N]
  [--checkpoint C.safetensors] [--graph G.yaml] [--set NAME=VALUE ...] [--folds K]
  [--max-images N] [--batch N] [--seed S] [--debug]
  writes OUT_DIR/eval.json and eval.html (default runs/eval-NAME, NAME the model folder's);
  --out DIR (the model folder itself) also recalibrates its verification threshold;
  --seed S draws the held-out faces under another seed than training's: other identities,
  a validation set for choosing settings without looking at the test identities`;

runMain(USAGE, main);

async function main(argv: string[]) {
  const args = parseArgs(argv, {
    strings: ["model", "graph", "checkpoint", "out"],
    numbers: ["identities", "folds", "max-images", "batch", "seed"],
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
  const out = args.strings.out ?? join("runs", `eval-${basename(resolve(run))}`);
  const gpu = await openGpu();
  const { result, seconds } = await evaluateRun({
    run,
    out: resolve(out) === resolve(run) ? run : out,
    gpu,
    target: targetFor(gpu),
    graph: args.strings.graph,
    checkpoint: args.strings.checkpoint,
    set: args.multi.set,
    identities: int("identities", 2, 100000),
    seed: int("seed", 0, 2 ** 31 - 1),
    folds: int("folds", 2, 100),
    maxImages: int("max-images", 0, 64),
    batch: int("batch", 1, 4096),
    log: (line) => console.error(line),
  });
  console.log(evalSummary(result, seconds));
  console.error(`wrote ${join(out, "eval.json")} and ${join(out, "eval.html")}`);
}
