// `deno task import GRAPH.yaml --weights sd.safetensors --map names.yaml --out DIR`:
// a PyTorch state_dict (saved with safetensors) renamed through a YAML name map and
// checked against the graph, written as a model folder (or one .safetensors file)
// that `deno task infer --model DIR` and `deno task eval --model DIR` open.
import { loadModel } from "../lang/model.ts";
import { parseOverride } from "../lang/files.ts";
import { readSafetensors, type Tensor } from "../formats/safetensors.ts";
import {
  ImportError,
  importWeights,
  readNameMap,
  writeImported,
} from "../formats/import_weights.ts";
import { exists } from "../util/fs.ts";
import { parseArgs, runMain, UsageError } from "./args.ts";

const USAGE = `usage: deno task import GRAPH.yaml --weights STATE_DICT.safetensors [--weights ...]
  --map MAP.yaml --out (MODEL_DIR | WEIGHTS.safetensors) [--set NAME=VALUE ...] [--debug]
  several --weights files (a generator's and a discriminator's) are imported together`;

runMain(USAGE, main);

function main(argv: string[]) {
  const args = parseArgs(argv, {
    strings: ["map", "out"],
    bools: ["debug"],
    multi: ["set", "weights"],
  });
  const graph = args.positional[0];
  if (!graph || args.positional.length > 1) throw new UsageError("expected one graph file");
  const { map, out } = args.strings;
  const weights = args.multi.weights;
  if (!weights.length) throw new UsageError("--weights names the state_dict (.safetensors)");
  if (!map) throw new UsageError("--map names the YAML name map");
  if (!out) throw new UsageError("--out names a model folder or a .safetensors file");
  // Reading and writing one file would destroy the input on a failed write; say so first.
  const inputs = [...weights.map((w) => ["--weights", w]), ["--map", map], ["graph", graph]];
  for (const [flag, path] of inputs) {
    if (samePath(out, path)) throw new UsageError(`--out ${out} is the ${flag} file itself`);
  }
  const replaces = out.endsWith(".safetensors") && exists(out);
  const overrides = args.multi.set;
  const model = loadModel(graph, overrides.map(parseOverride));
  const rules = readNameMap(map);
  const tensors = readAll(weights);
  const source = weights.join(" + ");
  const result = importWeights(model, tensors, rules, source);
  for (const r of result.unused) console.error(`note: ${r.at}: "${r.from}" matched no tensor`);
  const written = writeImported(out, result, { graph, overrides, source, map });
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

/** The tensors of every file; a name in two files is an error (which one would win?). */
function readAll(paths: string[]): Map<string, Tensor> {
  const all = new Map<string, Tensor>();
  const owner = new Map<string, string>();
  for (const path of paths) {
    for (const [name, t] of readSafetensors(path).tensors) {
      if (owner.has(name)) {
        throw new ImportError(`"${name}" is in both ${owner.get(name)} and ${path}`);
      }
      owner.set(name, path);
      all.set(name, t);
    }
  }
  return all;
}
