// Graph files on disk: `extends` chains merged, command-line overrides applied.
import { dirname, join } from "node:path";
import { collect, type Diagnostics, GraphError, type Loc } from "./diagnostics.ts";
import { didYouMean } from "./suggest.ts";
import { copyLoc, loadYaml, locOf, type ReadScope, setLoc, track } from "./source.ts";

export type Doc = Record<string, unknown>;

function isObj(v: unknown): v is Doc {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A path relative to the file that names it. */
export function relative(from: string, path: string): string {
  return path.startsWith("/") ? path : join(dirname(from), path);
}

/** Loads a file and everything it extends; undefined after reporting an error. */
export function resolveFile(
  path: string,
  from: Loc | undefined,
  diags: Diagnostics,
  scope: ReadScope,
  chain: string[] = [],
): Doc | undefined {
  const raw = collect(diags, () => loadYaml(path, from, scope));
  if (raw === undefined) return undefined;
  if (!isObj(raw)) {
    diags.error(from ?? { file: path, line: 1, col: 1 }, `${path}: a graph file must be a mapping`);
    return undefined;
  }
  const ext = raw.extends;
  if (typeof ext !== "string") return raw;
  const basePath = relative(path, ext);
  const at = locOf(raw, "extends");
  if ([...chain, path].includes(basePath)) {
    diags.error(at, `'extends' forms a cycle: ${[...chain, path, basePath].join(" -> ")}`);
    return undefined;
  }
  const base = resolveFile(basePath, at, diags, scope, [...chain, path]);
  if (!base) return undefined;
  const own = { ...raw };
  delete own.extends;
  track(own, locOf(raw));
  for (const k of Object.keys(own)) copyLoc(raw, k, own);
  return merge(base, own);
}

/** What a layer is: an op, a block, a graph file or a network call. */
const KINDS = ["op", "block", "graph", "network"];
/** What a layer keeps when an override makes it another kind: its wiring. */
const WIRING = ["in", "if", "output"];

/** Whether `over` makes the layer `base` into another op (or block, graph, network). */
function changesKind(base: Doc, over: Doc): boolean {
  const kb = KINDS.find((k) => base[k] !== undefined);
  const ko = KINDS.find((k) => over[k] !== undefined && over[k] !== null);
  return kb !== undefined && ko !== undefined && (kb !== ko || base[kb] !== over[ko]);
}

/** `doc` with only `keys`, locations kept. */
function pick(doc: Doc, keys: string[]): Doc {
  const out = track({} as Doc, locOf(doc));
  for (const k of keys) {
    if (!Object.hasOwn(doc, k)) continue;
    out[k] = doc[k];
    copyLoc(doc, k, out);
  }
  return out;
}

/**
 * Deep merge of mappings: the overriding side wins; `null` deletes what it overrides (how a
 * variant drops a layer or an attribute). A layer given another op (or block, graph,
 * network) keeps only its wiring from the base: the old op's attributes do not carry
 * over to the new one. Locations follow whichever side a value came from.
 */
export function merge(base: Doc, over: Doc): Doc {
  const out = track({} as Doc, locOf(over));
  for (const [k, v] of Object.entries(base)) {
    out[k] = v;
    copyLoc(base, k, out);
  }
  for (const [k, v] of Object.entries(over)) {
    if (v === null && Object.hasOwn(base, k)) {
      delete out[k];
      continue;
    }
    const b = base[k];
    if (isObj(v) && isObj(b)) {
      // Another kind of layer keeps only its wiring (and what `v` nulls, so that the null
      // still deletes it).
      const nulled = Object.keys(v).filter((x) => v[x] === null);
      out[k] = merge(changesKind(b, v) ? pick(b, [...WIRING, ...nulled]) : b, v);
    } else out[k] = v;
    copyLoc(over, k, out);
  }
  return out;
}

export interface Override {
  /** dotted path into the document, e.g. ["training", "batch"] or ["Nd"] */
  path: string[];
  value: unknown;
  loc: Loc;
}

const TOP = ["name", "description", "params", "inputs", "blocks", "layers", "outputs", "networks"];

/**
 * `--set` overrides: a path into the document (`training.batch=32`); a bare parameter
 * name means `params.NAME`; a network name first means that network's parameters.
 */
export function applyOverrides(doc: Doc, overrides: Override[], diags?: Diagnostics): void {
  for (const o of overrides) {
    let path = o.path;
    const nets = isObj(doc.networks) ? doc.networks : {};
    if (path.length === 1 && !TOP.includes(path[0]) && path[0] !== "training") {
      path = ["params", path[0]];
    } else if (path[0] in nets && path.length > 1) {
      path = ["networks", path[0], "params", ...path.slice(1)];
    }
    // A parameter the file does not declare would silently become a new one.
    const declared = isObj(doc.params) ? Object.keys(doc.params) : [];
    if (diags && path[0] === "params" && path.length === 2 && !declared.includes(path[1])) {
      diags.error(o.loc, `unknown parameter '${path[1]}'${didYouMean(path[1], declared)}`);
      continue;
    }
    let obj = doc;
    for (const key of path.slice(0, -1)) {
      if (!isObj(obj[key])) {
        obj[key] = track({}, o.loc);
        setLoc(obj, key, o.loc, o.loc);
      }
      obj = obj[key] as Doc;
    }
    const last = path[path.length - 1];
    obj[last] = o.value;
    setLoc(obj, last, o.loc, o.loc);
  }
}

/** Path segments that would reach an object's prototype instead of a member. */
const UNSAFE_KEYS = ["__proto__", "prototype", "constructor"];

/** Parses `a.b=value` as given to `--set`; the value is read as YAML would read a scalar. */
export function parseOverride(text: string): Override {
  const loc = { file: `--set ${text}`, line: 0, col: 0 };
  const eq = text.indexOf("=");
  if (eq <= 0) throw new GraphError([{ loc, message: `--set expects NAME=VALUE, got '${text}'` }]);
  const path = text.slice(0, eq).split(".");
  const bad = path.find((k) => UNSAFE_KEYS.includes(k));
  if (bad) throw new GraphError([{ loc, message: `'${bad}' cannot be used as a name` }]);
  const raw = text.slice(eq + 1).trim();
  let value: unknown = raw;
  if (/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(raw)) value = Number(raw);
  else if (raw === "true" || raw === "false") value = raw === "true";
  return { path, value, loc };
}
