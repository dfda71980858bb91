// Composition: parameters evaluated, blocks and `graph:` layers expanded, names
// resolved. The result is one flat list of IR nodes per network.
import { basename } from "node:path";
import { type Diagnostics, excerpt, type Loc } from "./diagnostics.ts";
import { evaluate, ExprError, isExpr, type Value } from "./expr.ts";
import { type Doc, relative, resolveFile } from "./files.ts";
import type { InputCheck, IRNode, Network } from "./ir.ts";
import {
  blockSchema,
  type BlockSpec,
  fileSchema,
  type FileSpec,
  LAYER_KEYS,
  type LayerSpec,
} from "./schema.ts";
import { locOf, type ReadScope } from "./source.ts";
import { didYouMean } from "./suggest.ts";
import { validate } from "./validate.ts";
import type { Dim } from "../ops/types.ts";
import { parseDim } from "../ops/dim.ts";

type Vars = (name: string) => Value;
type Supplied = Map<string, { value: Value; loc: Loc }>;

const MAX_DEPTH = 24;

export function knownKeys(path: PropertyKey[]): string[] {
  if (path.length === 0) return Object.keys(fileSchema.shape);
  if (path[0] === "blocks" && path.length === 2) return Object.keys(blockSchema.shape);
  if (path[0] === "networks" && path.length === 2) return ["file", "params"];
  return [];
}

/** Reads and validates one file (with its `extends`). */
export function readSpec(
  path: string,
  from: Loc | undefined,
  diags: Diagnostics,
  scope: ReadScope,
): { doc: Doc; spec: FileSpec } | undefined {
  const doc = resolveFile(path, from, diags, scope);
  if (!doc) return undefined;
  const spec = validate(fileSchema, doc, diags, knownKeys);
  return spec ? { doc, spec } : undefined;
}

function scopeOf(values: Record<string, Value>, what: string): Vars {
  return (name) => {
    if (Object.hasOwn(values, name)) return values[name];
    throw new ExprError(`unknown ${what} $${name}${didYouMean(name, Object.keys(values))}`);
  };
}

/** Substitutes parameters in strings that mention them, in arrays and mappings too. */
export function evalDeep(v: unknown, vars: Vars): unknown {
  if (isExpr(v)) return evaluate(v, vars);
  if (Array.isArray(v)) return v.map((x) => evalDeep(x, vars));
  if (typeof v === "object" && v !== null) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, evalDeep(x, vars)]));
  }
  return v;
}

/** evalDeep with an ExprError reported at `loc`. */
function evalAt(v: unknown, vars: Vars, loc: Loc, diags: Diagnostics): unknown {
  try {
    return evalDeep(v, vars);
  } catch (e) {
    if (e instanceof ExprError) {
      diags.error(loc, e.message);
      return undefined;
    }
    throw e;
  }
}

/**
 * A file's parameters in order: each default may use the ones before it; `supplied`
 * values (already evaluated by whoever includes the file) replace defaults.
 */
export function evalParams(
  doc: Doc,
  spec: FileSpec,
  supplied: Supplied,
  diags: Diagnostics,
  file: string,
): Record<string, Value> {
  const declared = spec.params ?? {};
  const values: Record<string, Value> = {};
  const pdoc = doc.params as object | undefined;
  for (const [name, def] of Object.entries(declared)) {
    const given = supplied.get(name);
    if (given) {
      values[name] = given.value;
      continue;
    }
    if (def === null) {
      diags.error(locOf(pdoc, name, "key"), `parameter '${name}' is required: give it a value`);
      continue;
    }
    const v = evalAt(def, scopeOf(values, "parameter"), locOf(pdoc, name), diags);
    if (v !== undefined) values[name] = v as Value;
  }
  for (const [name, { loc }] of supplied) {
    if (!(name in declared)) {
      diags.error(
        loc,
        `${file} has no parameter '${name}'${didYouMean(name, Object.keys(declared))}`,
      );
    }
  }
  return values;
}

/** Evaluates the `params:` a caller passes to a network or a `graph:` layer. */
export function supply(
  given: Record<string, unknown> | undefined,
  owner: object | undefined,
  vars: Vars,
  diags: Diagnostics,
): Supplied {
  const out: Supplied = new Map();
  for (const [k, v] of Object.entries(given ?? {})) {
    const loc = locOf(owner, k);
    const value = evalAt(v, vars, loc, diags);
    if (value !== undefined) out.set(k, { value: value as Value, loc: locOf(owner, k, "key") });
  }
  return out;
}

/** A network of the composition that step graphs may call. */
export interface NetworkDef {
  file: string;
  doc: Doc;
  spec: FileSpec;
  params: Record<string, Value>;
}

interface Ctx {
  diags: Diagnostics;
  /** where `graph:` files may be read from */
  reads: ReadScope;
  networks: Map<string, NetworkDef>;
  file: string;
  blocks: Record<string, BlockSpec>;
  blocksDoc: unknown;
  nodes: IRNode[];
  checks: InputCheck[];
  /** layer names that stand for another tensor (a block's or a subgraph's output) */
  alias: Map<string, string>;
  /** subgraph layers with several outputs and no `output:`: an error where used whole */
  ambiguous: Map<string, string>;
  inlined: boolean;
  depth: number;
  chain: string[];
}

/** Builds the IR of a network file whose parameters are known. */
export function buildNetwork(
  name: string,
  file: string,
  doc: Doc,
  spec: FileSpec,
  params: Record<string, Value>,
  diags: Diagnostics,
  networks: Map<string, NetworkDef> = new Map(),
  reads: ReadScope = {},
): Network {
  const loc = { file, line: 1, col: 1 };
  if (spec.networks) {
    diags.error(
      locOf(doc, "networks", "key"),
      `${file} composes networks; a network needs 'layers'`,
    );
  }
  if (!spec.layers) diags.error(loc, `${file}: a network needs 'layers'`);
  if (!spec.inputs) diags.error(loc, `${file}: a network needs 'inputs'`);
  const ctx: Ctx = {
    diags,
    reads,
    networks,
    file,
    blocks: spec.blocks ?? {},
    blocksDoc: doc.blocks,
    nodes: [],
    checks: [],
    alias: new Map(),
    ambiguous: new Map(),
    inlined: false,
    depth: 0,
    chain: [file],
  };
  const vars = scopeOf(params, "parameter");
  const inputs = inputsOf(doc, spec, vars, diags);
  const scope = new Map(inputs.map((i) => [i.name, i.name]));
  const outputs = expandBody(
    doc,
    spec,
    scope,
    inputs.length ? [inputs[0].name] : [],
    "",
    vars,
    ctx,
  );
  canonicalise(ctx);
  for (const o of outputs) {
    const why = ctx.ambiguous.get(follow(ctx.alias, o.from));
    if (why) diags.error(o.loc, why);
  }
  return {
    name,
    file,
    loc,
    params,
    inputs,
    nodes: ctx.nodes,
    checks: ctx.checks.map((c) => ({ ...c, tensor: follow(ctx.alias, c.tensor) })),
    outputs: outputs.map((o) => ({ ...o, from: follow(ctx.alias, o.from) })),
  };
}

function inputsOf(doc: Doc, spec: FileSpec, vars: Vars, diags: Diagnostics) {
  const idoc = doc.inputs as object;
  return Object.entries(spec.inputs ?? {}).map(([name, dims]) => {
    const shape = dims.map((d, i) => {
      const at = locOf((idoc as Doc)?.[name], i);
      if (typeof d === "string" && !isExpr(d) && !parseDim(d)) {
        diags.error(
          at,
          `input '${name}': dimension ${i} ('${excerpt(d)}') must be a positive integer, ` +
            `an expression, or a multiple of the batch such as B, 2*B or B/4`,
        );
        return 1;
      }
      if (!isExpr(d)) return d as Dim;
      const v = evalAt(d, vars, at, diags);
      if (typeof v !== "number" || !Number.isInteger(v) || v <= 0) {
        if (v !== undefined) {
          diags.error(
            at,
            `input '${name}': dimension ${i} ('${d}') must be a positive integer, got ${v}`,
          );
        }
        return 1;
      }
      return v;
    });
    return { name, shape, loc: locOf(idoc, name, "key") };
  });
}

/** Expands a file's layers and resolves its outputs (in the file's own scope). */
function expandBody(
  doc: Doc,
  spec: FileSpec,
  scope: Map<string, string>,
  first: string[],
  prefix: string,
  vars: Vars,
  ctx: Ctx,
): { name: string; from: string; loc: Loc }[] {
  const ldoc = doc.layers as Doc | undefined;
  const start = ctx.nodes.length;
  const { disabled } = expandLayers(spec.layers ?? {}, ldoc, scope, first, prefix, vars, ctx);
  const odoc = doc.outputs as object | undefined;
  if (!spec.outputs) {
    // Default outputs: every layer that no other layer uses.
    const mine = ctx.nodes.slice(start);
    const sinks = Object.keys(spec.layers ?? {}).filter((key) => {
      const full = prefix + key;
      const inside = (n: string) => n === full || n.startsWith(full + ".");
      return !disabled.has(key) &&
        !mine.some((n) => !inside(n.name) && n.inputs.some((t) => inside(follow(ctx.alias, t))));
    });
    return sinks.map((key) => ({ name: key, from: prefix + key, loc: locOf(ldoc, key, "key") }));
  }
  const outs = [];
  for (const [name, ref] of Object.entries(spec.outputs)) {
    if (disabled.has(ref)) continue; // an output of a layer switched off by `if`
    const from = resolveRef(ref, scope, disabled, locOf(odoc, name), ctx);
    if (from) outs.push({ name, from, loc: locOf(odoc, name, "key") });
  }
  return outs;
}

function resolveRef(
  ref: string,
  scope: Map<string, string>,
  disabled: Set<string>,
  loc: Loc,
  ctx: Ctx,
): string | undefined {
  const hit = scope.get(ref);
  if (hit) return hit;
  ctx.diags.error(
    loc,
    disabled.has(ref)
      ? `'${ref}' is switched off by its 'if' and cannot be used here`
      : `unknown layer or input '${ref}'${didYouMean(ref, scope.keys())}`,
  );
  return undefined;
}

function expandLayers(
  layers: Record<string, LayerSpec>,
  ldoc: Doc | undefined,
  scope: Map<string, string>,
  first: string[],
  prefix: string,
  vars: Vars,
  ctx: Ctx,
): { last?: string; disabled: Set<string> } {
  const { diags } = ctx;
  const disabled = new Set<string>();
  const enabled: [string, LayerSpec][] = [];
  // First pass: names, so that a layer may name one declared after it.
  for (const [key, layer] of Object.entries(layers)) {
    const at = locOf(ldoc, key, "key");
    if (key.includes(".")) diags.error(at, `layer name '${key}' may not contain '.'`);
    if (scope.has(key)) {
      diags.error(at, `'${key}' is already the name of an input`);
    }
    if (layer.if !== undefined) {
      const on = evalAt(layer.if, vars, locOf(layer, "if"), diags);
      if (typeof on !== "boolean") {
        if (on !== undefined) {
          diags.error(locOf(layer, "if"), `'if' must be true or false, got ${on}`);
        }
      } else if (!on) {
        disabled.add(key);
        continue;
      }
    }
    scope.set(key, prefix + key);
    enabled.push([key, layer]);
  }
  let prev = first;
  for (const [key, layer] of enabled) {
    const loc = locOf(ldoc, key, "key");
    const kinds = ["op", "block", "graph", "network"].filter((k) =>
      layer[k as keyof LayerSpec] !== undefined
    );
    if (kinds.length !== 1) {
      diags.error(
        loc,
        `layer '${key}' needs exactly one of 'op', 'block', 'graph' or 'network'` +
          (kinds.length ? `, got ${kinds.join(" and ")}` : ""),
      );
      continue;
    }
    const refs = layer.in === undefined ? undefined : [layer.in].flat();
    const inputLocs = refs
      ? refs.map((_, i) => Array.isArray(layer.in) ? locOf(layer.in, i) : locOf(layer, "in"))
      : prev.map(() => loc);
    let inputs: string[];
    if (refs) {
      inputs = refs.map((r, i) => resolveRef(r, scope, disabled, inputLocs[i], ctx) ?? r);
    } else if (prev.length) inputs = prev;
    else {
      diags.error(
        loc,
        `layer '${key}' has no input: give it 'in:' or declare the network's inputs`,
      );
      inputs = [];
    }
    const full = prefix + key;
    if (layer.op !== undefined) {
      const attrs: Record<string, unknown> = {};
      const attrLocs: Record<string, Loc> = { op: locOf(layer, "op") }; // for "unknown op"
      for (const [k, v] of Object.entries(layer)) {
        if (LAYER_KEYS.includes(k)) continue;
        attrLocs[k] = locOf(layer, k);
        attrs[k] = evalAt(v, vars, attrLocs[k], diags);
      }
      for (const k of ["params", "output"]) {
        if (k in layer) diags.error(locOf(layer, k, "key"), `'${k}' belongs to a 'graph:' layer`);
      }
      ctx.nodes.push({
        name: full,
        op: layer.op,
        inputs,
        attrs,
        loc,
        attrLocs,
        inputLocs,
        inlined: ctx.inlined,
      });
    } else if (layer.block !== undefined) {
      expandBlock(key, layer, inputs, prefix, vars, ctx);
    } else {
      expandGraph(key, layer, inputs, inputLocs, prefix, scope, vars, ctx);
    }
    prev = [full];
  }
  const lastKey = enabled.at(-1)?.[0];
  return { last: lastKey === undefined ? undefined : prefix + lastKey, disabled };
}

function expandBlock(
  key: string,
  layer: LayerSpec,
  inputs: string[],
  prefix: string,
  vars: Vars,
  ctx: Ctx,
) {
  const { diags } = ctx;
  const name = layer.block!;
  const block = Object.hasOwn(ctx.blocks, name) ? ctx.blocks[name] : undefined;
  if (!block) {
    diags.error(
      locOf(layer, "block"),
      `unknown block '${excerpt(name)}'${didYouMean(name, Object.keys(ctx.blocks))}`,
    );
    return;
  }
  if (ctx.depth >= MAX_DEPTH) {
    diags.error(locOf(layer, "block"), `block '${name}' nests too deeply (does it use itself?)`);
    return;
  }
  const declared = block.args ?? {};
  const args: Record<string, Value> = {};
  for (const [k, v] of Object.entries(layer)) {
    if (LAYER_KEYS.includes(k)) continue;
    if (!(k in declared)) {
      diags.error(
        locOf(layer, k, "key"),
        `block '${name}' has no argument '${k}'${didYouMean(k, Object.keys(declared))}`,
      );
      continue;
    }
    const value = evalAt(v, vars, locOf(layer, k), diags);
    if (value !== undefined) args[k] = value as Value;
  }
  let missing = false;
  for (const [k, def] of Object.entries(declared)) {
    if (k in args) continue;
    if (def === null) {
      diags.error(locOf(layer, "block"), `block '${name}' needs argument '${k}'`);
      missing = true;
      continue;
    }
    const v = evalAt(def, vars, locOf((ctx.blocksDoc as Doc)?.[name], "args"), diags);
    if (v !== undefined) args[k] = v as Value;
  }
  if (missing) return; // its layers would only repeat the error as unknown parameters
  // Inside a block: its arguments, then the file's parameters.
  const inner: Vars = (n) => (n in args ? args[n] : vars(n));
  const bdoc = (ctx.blocksDoc as Doc)?.[name] as Doc | undefined;
  const scope = new Map<string, string>();
  inputs.forEach((t, i) => scope.set(i === 0 ? "input" : `input${i}`, t));
  const full = prefix + key;
  const { last, disabled } = expandLayers(
    block.layers,
    bdoc?.layers as Doc | undefined,
    scope,
    inputs,
    full + ".",
    inner,
    { ...ctx, depth: ctx.depth + 1 },
  );
  const out = block.output === undefined
    ? last
    : resolveRef(block.output, scope, disabled, locOf(bdoc, "output"), ctx);
  if (out) ctx.alias.set(full, out);
}

/**
 * A `graph:` layer inlines another file; a `network:` layer inlines a network of the
 * composition and shares its parameters with every other call of it. Either way the
 * layer's outputs are reachable as `layer.output`.
 */
function expandGraph(
  key: string,
  layer: LayerSpec,
  inputs: string[],
  inputLocs: Loc[],
  prefix: string,
  outer: Map<string, string>,
  vars: Vars,
  ctx: Ctx,
) {
  const { diags } = ctx;
  const kind = layer.network !== undefined ? "network" : "graph";
  const at = locOf(layer, kind);
  for (const k of Object.keys(layer)) {
    if (!LAYER_KEYS.includes(k) || (kind === "network" && k === "params")) {
      diags.error(
        locOf(layer, k, "key"),
        `a '${kind}:' layer takes ${
          kind === "graph" ? "'params', " : ""
        }'in' and 'output', not '${k}'`,
      );
    }
  }
  let file: string, doc: Doc, spec: FileSpec, params: Record<string, Value>;
  if (kind === "network") {
    const def = ctx.networks.get(layer.network!);
    if (!def) {
      const known = [...ctx.networks.keys()];
      diags.error(
        at,
        known.length
          ? `unknown network '${layer.network}'${didYouMean(layer.network!, known)}`
          : `'network:' layers call the networks of a composition; this file has none`,
      );
      return;
    }
    ({ file, doc, spec, params } = def);
  } else {
    file = relative(at.file, layer.graph!); // the file that names it may be one ctx.file extends
    if (ctx.chain.includes(file)) {
      diags.error(at, `'graph' forms a cycle: ${[...ctx.chain, file].join(" -> ")}`);
      return;
    }
    const read = readSpec(file, at, diags, ctx.reads);
    if (!read) return;
    ({ doc, spec } = read);
    params = evalParams(doc, spec, supply(layer.params, layer.params, vars, diags), diags, file);
  }
  const firstNode = ctx.nodes.length;
  const full = prefix + key;
  const declared = Object.keys(spec.inputs ?? {});
  if (declared.length !== inputs.length) {
    diags.error(
      at,
      `${file} takes ${declared.length} input(s) (${declared.join(", ")}), given ${inputs.length}`,
    );
    return;
  }
  const scope = new Map<string, string>();
  declared.forEach((n, i) => {
    scope.set(n, `${full}.${n}`);
    ctx.alias.set(`${full}.${n}`, inputs[i]);
  });
  // The file's inputs are its contract: checked against what it is given after shape inference.
  inputsOf(doc, spec, scopeOf(params, "parameter"), diags).forEach((d, i) =>
    ctx.checks.push({
      tensor: inputs[i],
      shape: d.shape,
      loc: inputLocs[i] ?? at,
      what: `${full}: ${file} input '${d.name}'`,
    })
  );
  const sub: Ctx = {
    ...ctx,
    file,
    blocks: spec.blocks ?? {},
    blocksDoc: doc.blocks,
    inlined: true,
    chain: [...ctx.chain, file],
  };
  // As when the file is loaded alone, its first layer without `in:` takes its first input.
  const first = inputs.slice(0, 1);
  const outs = expandBody(doc, spec, scope, first, full + ".", scopeOf(params, "parameter"), sub);
  if (kind === "network") {
    for (const n of ctx.nodes.slice(firstNode)) {
      n.paramScope = `${layer.network}.${n.name.slice(full.length + 1)}`;
    }
  }
  for (const o of outs) {
    outer.set(`${key}.${o.name}`, o.from);
  }
  const wanted = layer.output;
  const pick = wanted === undefined
    ? (outs.length === 1 ? outs[0] : undefined)
    : outs.find((o) => o.name === wanted);
  if (!pick) {
    const names = outs.map((o) => o.name);
    if (wanted === undefined) {
      // Fine as long as users name one output (`layer.output`); checked in canonicalise.
      ctx.ambiguous.set(
        full,
        `'${key}' has ${names.length} outputs (${names.join(", ")}): use one as ` +
          `'${key}.${names[0]}', or choose one with 'output:'`,
      );
      return;
    }
    diags.error(
      locOf(layer, "output"),
      `${file} has no output '${wanted}'${didYouMean(wanted, names)}`,
    );
    return;
  }
  ctx.alias.set(full, pick.from);
}

function follow(alias: Map<string, string>, name: string): string {
  for (let i = 0; i < 1000 && alias.has(name); i++) name = alias.get(name)!;
  return name;
}

/** Replaces block and subgraph names by the tensors they stand for. */
function canonicalise(ctx: Ctx) {
  for (const n of ctx.nodes) {
    n.inputs = n.inputs.map((t, i) => {
      const hit = follow(ctx.alias, t);
      const why = ctx.ambiguous.get(hit);
      if (why) ctx.diags.error(n.inputLocs[i] ?? n.loc, why);
      return hit;
    });
  }
}

/** Default network name: the file's `name:` or its stem. */
export function networkName(file: string, spec: FileSpec): string {
  return spec.name ?? basename(file).replace(/\.ya?ml$/, "");
}
