// `deno task import GRAPH.yaml --weights sd.safetensors --map names.yaml --out DIR`:
// a PyTorch state_dict (saved with safetensors) renamed through a YAML name map and
// checked against the graph, written as a model folder (or one .safetensors file)
// that `deno task infer --model DIR` and `deno task eval --model DIR` open.
import { loadModel } from "../lang/model.ts";
import { parseOverride } from "../lang/files.ts";
import { readSafetensors } from "../formats/safetensors.ts";
import { importWeights, readNameMap, writeImported } from "../formats/import_weights.ts";
import { parseArgs, runMain, UsageError } from "./args.ts";

const USAGE = `usage: deno task import GRAPH.yaml --weights STATE_DICT.safetensors --map MAP.yaml
  --out (MODEL_DIR | WEIGHTS.safetensors) [--set NAME=VALUE ...] [--debug]`;

runMain(USAGE, main);

function main(argv: string[]) {
  const args = parseArgs(argv, {
    strings: ["weights", "map", "out"],
    bools: ["debug"],
    multi: ["set"],
  });
  const graph = args.positional[0];
  if (!graph || args.positional.length > 1) throw new UsageError("expected one graph file");
  const { weights, map, out } = args.strings;
  if (!weights) throw new UsageError("--weights names the state_dict (.safetensors)");
  if (!map) throw new UsageError("--map names the YAML name map");
  if (!out) throw new UsageError("--out names a model folder or a .safetensors file");
  const overrides = args.multi.set;
  const model = loadModel(graph, overrides.map(parseOverride));
  const rules = readNameMap(map);
  const { tensors } = readSafetensors(weights);
  const result = importWeights(model, tensors, rules, weights);
  for (const r of result.unused) console.error(`note: ${r.at}: "${r.from}" matched no tensor`);
  const written = writeImported(out, result, { graph, overrides, source: weights, map });
  console.error(
    `imported ${result.mapped.length} tensors into ${result.networks.join(", ")}` +
      `${result.skipped.length ? ` (skipped ${result.skipped.length})` : ""}; wrote ${written}` +
      (out.endsWith(".safetensors")
        ? ""
        : `\nopen it with: deno task infer --model ${out} ... or deno task eval --model ${out}`),
  );
}
