// src/lang, the front of YAML -> IR -> Plan (src/plan) -> engine (src/engine): graph
// files read with their positions (source.ts), checked against the schema (schema.ts,
// validate.ts), merged through `extends` and --set (files.ts), parameters evaluated
// (expr.ts), blocks, included graphs and compositions expanded (compose.ts) and every
// op's shapes inferred (shapes.ts); every mistake a located diagnostic
// (diagnostics.ts). This file is the entry point: a graph file to typed networks.
import { Diagnostics } from "./diagnostics.ts";
import {
  buildNetwork,
  evalParams,
  type NetworkDef,
  networkName,
  readSpec,
  supply,
} from "./compose.ts";
import { applyOverrides, type Override, relative } from "./files.ts";
import type { Model, Network } from "./ir.ts";
import { inferShapes } from "./shapes.ts";
import { locOf, type ReadScope } from "./source.ts";
import { validate } from "./validate.ts";
import { fileSchema, type FileSpec, stepSchema } from "./schema.ts";
import type { Doc } from "./files.ts";
import { didYouMean } from "./suggest.ts";
import { ExprError } from "./expr.ts";

/**
 * Loads, composes and type-checks a model; throws a GraphError listing every problem.
 * `scope.inside` confines every file it reads to a folder (a shipped model folder).
 */
export function loadModel(path: string, overrides: Override[] = [], scope: ReadScope = {}): Model {
  const diags = new Diagnostics();
  const read = readSpec(path, undefined, diags, scope);
  diags.check();
  const { doc } = read!;
  applyOverrides(doc, overrides, diags);
  const spec = overrides.length ? validate(fileSchema, doc, diags) : read!.spec;
  diags.check();
  const params = evalParams(doc, spec!, new Map(), diags, path);
  const networks: Network[] = [];
  const defs = new Map<string, NetworkDef>();
  let unread = false; // a network file could not be read: the step would only repeat it
  if (spec!.networks) {
    if (spec!.layers) {
      diags.error(
        locOf(doc, "layers", "key"),
        "a file has either 'networks' or 'layers', not both",
      );
    }
    const vars = (n: string) => {
      if (n in params) return params[n];
      throw new ExprError(`unknown parameter $${n}${didYouMean(n, Object.keys(params))}`);
    };
    const ndoc = doc.networks as Record<string, object>;
    for (const [name, ref] of Object.entries(spec!.networks)) {
      // relative to the file that names it, which may be one this file extends
      const file = relative(locOf(ndoc[name], "file").file, ref.file);
      const sub = readSpec(file, locOf(ndoc[name], "file"), diags, scope);
      if (!sub) {
        unread = true;
        continue;
      }
      const pdoc = (ndoc[name] as Record<string, unknown>).params as object | undefined;
      const given = supply(ref.params, pdoc, vars, diags);
      const p = evalParams(sub.doc, sub.spec, given, diags, file);
      defs.set(name, { file, doc: sub.doc, spec: sub.spec, params: p });
      networks.push(buildNetwork(name, file, sub.doc, sub.spec, p, diags, new Map(), scope));
    }
  } else {
    const name = networkName(path, spec!);
    networks.push(buildNetwork(name, path, doc, spec!, params, diags, new Map(), scope));
  }
  const step = unread ? undefined : stepNetwork(path, doc, params, defs, diags, scope);
  diags.check();
  const typed = networks.map((n) => inferShapes(n, diags));
  const typedStep = step && inferShapes(step, diags);
  diags.check();
  return {
    name: networkName(path, spec!),
    file: path,
    params,
    networks: typed,
    step: typedStep,
    doc,
  };
}

/** `training.step`: the graph of one training step, calling the networks. */
function stepNetwork(
  path: string,
  doc: Doc,
  params: Model["params"],
  defs: Map<string, NetworkDef>,
  diags: Diagnostics,
  scope: ReadScope,
): Network | undefined {
  const training = doc.training as Doc | undefined;
  if (!training || training.step === undefined) return undefined;
  const known = (p: PropertyKey[]) => p.length === 2 ? Object.keys(stepSchema.shape) : [];
  const spec = validate(stepSchema, training.step, diags, known, doc, ["training", "step"]);
  if (!spec) return undefined;
  const stepDoc = training.step as Doc;
  const own = evalParams(stepDoc, spec as FileSpec, new Map(), diags, path);
  const all = { ...params, ...own };
  return buildNetwork("step", path, stepDoc, spec as FileSpec, all, diags, defs, scope);
}
