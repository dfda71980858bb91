// `deno task import GRAPH.yaml --weights sd.safetensors --map names.yaml --out DIR`:
// a PyTorch state_dict (saved with safetensors) renamed through a YAML name map and
// checked against the graph, written as a model folder (or one .safetensors file)
// that `deno task infer --model DIR` and `deno task eval --model DIR` open.
import { loadModel } from "../lang/model.ts";
import { parseOverride } from "../lang/files.ts";
import { readSafetensors } from "../formats/safetensors.ts";
import { importWeights, readNameMap, writeImported } from "../formats/import_weights.ts";
import { exists } from "../util/fs.ts";
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
  // Reading and writing one file would destroy the input on a failed write; say so first.
  for (const [flag, path] of [["--weights", weights], ["--map", map], ["graph", graph]]) {
    if (samePath(out, path)) throw new UsageError(`--out ${out} is the ${flag} file itself`);
  }
  const replaces = out.endsWith(".safetensors") && exists(out);
  const overrides = args.multi.set;
  const model = loadModel(graph, overrides.map(parseOverride));
  const rules = readNameMap(map);
  const { tensors } = readSafetensors(weights);
  const result = importWeights(model, tensors, rules, weights);
  for (const r of result.unused) console.error(`note: ${r.at}: "${r.from}" matched no tensor`);
  const written = writeImported(out, result, { graph, overrides, source: weights, map });
  if (replaces) console.error(`replaced ${out}`);
  console.error(
    `imported ${result.mapped.length} tensors into ${result.networks.join(", ")}` +
      `${result.skipped.length ? ` (skipped ${result.skipped.length})` : ""}; wrote ${written}` +
      (out.endsWith(".safetensors")
        ? ""
        : `\nopen it with: deno task infer --model ${out} ... or deno task eval --model ${out}`),
  );
}

/** Whether two paths name one file (resolving links), when both exist. */
function samePath(a: string, b: string): boolean {
  try {
    return Deno.realPathSync(a) === Deno.realPathSync(b);
  } catch {
    return false;
  }
}
