// `deno task check GRAPH.yaml`: validates a graph and prints each network's summary.
import { loadModel } from "../compiler/model.ts";
import { parseOverride } from "../compiler/files.ts";
import { summarise } from "../compiler/summary.ts";
import { parseArgs, runMain, UsageError } from "./args.ts";

const USAGE = `usage: deno task check GRAPH.yaml [--set NAME=VALUE ...] [--stage shapes] [--debug]`;

runMain(USAGE, (argv) => {
  const args = parseArgs(argv, { strings: ["stage"], multi: ["set"], bools: ["debug"] });
  if (args.positional.length !== 1) throw new UsageError("expected one graph file");
  const stage = args.strings.stage ?? "shapes";
  if (stage !== "shapes") throw new UsageError(`unknown stage '${stage}' (stages: shapes)`);
  const model = loadModel(args.positional[0], args.multi.set.map(parseOverride));
  console.log(summarise(model));
});
