// Loads YAML into plain values while remembering where every value came from.
import { yaml } from "../deps.ts";
import { Diagnostics, GraphError, type Loc } from "./diagnostics.ts";
import { READ_LIMITS, ReadError, readTextGuarded } from "../formats/read.ts";

const { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument } = yaml;
type Node = yaml.Node;

interface Where {
  self: Loc;
  /** location of each member's value */
  values: Map<string, Loc>;
  /** location of each mapping key */
  keys: Map<string, Loc>;
}

const where = new WeakMap<object, Where>();

/** Location of `obj[key]` (its value), of the key itself, or of the object. */
export function locOf(obj: unknown, key?: string | number, of: "value" | "key" = "value"): Loc {
  const w = typeof obj === "object" && obj !== null ? where.get(obj) : undefined;
  if (!w) return { file: "<unknown>", line: 0, col: 0 };
  if (key === undefined) return w.self;
  const k = String(key);
  return (of === "key" ? w.keys.get(k) : w.values.get(k)) ?? w.values.get(k) ?? w.self;
}

/** Records locations for an object built in code (merges, overrides). */
export function track<T extends object>(obj: T, self: Loc): T {
  if (!where.has(obj)) where.set(obj, { self, values: new Map(), keys: new Map() });
  return obj;
}

export function setLoc(obj: object, key: string | number, value: Loc, keyLoc?: Loc): void {
  const w = where.get(obj) ?? { self: value, values: new Map(), keys: new Map() };
  where.set(obj, w);
  w.values.set(String(key), value);
  if (keyLoc) w.keys.set(String(key), keyLoc);
}

/**
 * Gives `to`, a copy of `from` such as a zod parse result, the locations of `from`
 * (and so, member by member, for everything nested in both).
 */
export function carryLocs(from: unknown, to: unknown): void {
  if (typeof from !== "object" || from === null || typeof to !== "object" || to === null) return;
  if (from === to) return;
  const w = where.get(from);
  if (w && !where.has(to)) where.set(to, w);
  for (const k of Object.keys(to)) {
    carryLocs((from as Record<string, unknown>)[k], (to as Record<string, unknown>)[k]);
  }
}

export function copyLoc(from: object, fromKey: string, to: object, toKey = fromKey): void {
  setLoc(to, toKey, locOf(from, fromKey), locOf(from, fromKey, "key"));
}

/**
 * Bounds on what a graph file may make the parser build: graphs are small, so a
 * file past these is hostile or not a graph, and is refused before it can hang
 * the parser or exhaust memory (an alias "bomb" grows exponentially).
 */
export const YAML_LIMITS = {
  /** nested mappings and sequences, at most */
  depth: 64,
  /** values after expanding aliases, at most */
  values: 100_000,
};

/** `__proto__` as a key would replace an object's prototype instead of naming a member. */
const RESERVED_KEYS = new Set(["__proto__"]);

/** Parses YAML text; syntax errors (all of them) become a GraphError. */
export function parseYaml(text: string, file: string): unknown {
  const lc = new LineCounter();
  const at = (offset: number): Loc => {
    const p = lc.linePos(offset);
    return { file, line: p.line, col: p.col };
  };
  const fail = (loc: Loc, message: string): never => {
    throw new GraphError([{ loc, message }]);
  };
  const start = { file, line: 1, col: 1 };
  // Keys are checked for uniqueness below, in linear time (the parser's check is quadratic).
  let doc: ReturnType<typeof parseDocument>;
  try {
    doc = parseDocument(text, { lineCounter: lc, uniqueKeys: false, prettyErrors: false });
  } catch (e) {
    if (e instanceof RangeError) fail(start, `nested more than ${YAML_LIMITS.depth} levels deep`);
    throw e;
  }
  if (doc.errors.length) {
    const d = new Diagnostics();
    for (const e of doc.errors) d.error(at(e.pos[0]), yamlMessage(e.message));
    d.check();
  }
  const nodeLoc = (n: Node | null | undefined, fallback: Loc): Loc =>
    n?.range ? at(n.range[0]) : fallback;
  const dupes = new Diagnostics();
  /** alias targets being expanded: an alias inside its own target would never end */
  const expanding = new Set<unknown>();
  let values = 0;
  const convert = (n: unknown, loc: Loc, depth: number): unknown => {
    if (++values > YAML_LIMITS.values) {
      fail(loc, `more than ${YAML_LIMITS.values} values once aliases are expanded`);
    }
    if (isAlias(n)) {
      const target = n.resolve(doc);
      if (expanding.has(target)) fail(loc, `alias *${n.source} refers to a value that contains it`);
      expanding.add(target);
      const v = convert(target, loc, depth);
      expanding.delete(target);
      return v;
    }
    if (isScalar(n)) return n.value;
    if ((isMap(n) || isSeq(n)) && depth >= YAML_LIMITS.depth) {
      fail(loc, `nested more than ${YAML_LIMITS.depth} levels deep`);
    }
    if (isMap(n)) {
      const obj = track({} as Record<string, unknown>, loc);
      for (const pair of n.items) {
        const keyNode = pair.key as Node | null;
        const key = isScalar(keyNode) ? String(keyNode.value) : String(keyNode);
        const kLoc = nodeLoc(keyNode, loc);
        if (RESERVED_KEYS.has(key)) fail(kLoc, `'${key}' cannot be used as a name`);
        if (Object.hasOwn(obj, key)) {
          dupes.error(kLoc, `Map keys must be unique`);
          continue;
        }
        const vLoc = nodeLoc(pair.value as Node | null, kLoc);
        obj[key] = convert(pair.value, vLoc, depth + 1);
        setLoc(obj, key, vLoc, kLoc);
      }
      return obj;
    }
    if (isSeq(n)) {
      const arr = track([] as unknown[], loc);
      n.items.forEach((item, i) => {
        const iLoc = nodeLoc(item as Node, loc);
        arr.push(convert(item, iLoc, depth + 1));
        setLoc(arr, i, iLoc);
      });
      return arr;
    }
    return n ?? null;
  };
  const out = convert(doc.contents, start, 0);
  dupes.check();
  return out;
}

function yamlMessage(m: string): string {
  // The yaml package appends a source excerpt after a colon-newline; the location says enough.
  return m.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "");
}

/**
 * Where graph files may be read from: with `inside`, only files whose real path lies
 * in that folder (a model folder shipped to a sandboxed deploy: a symlink in it must
 * not reach other files).
 */
export interface ReadScope {
  inside?: string;
}

export function loadYaml(path: string, from?: Loc, scope: ReadScope = {}): unknown {
  let text: string;
  try {
    text = readTextGuarded(path, { max: READ_LIMITS.graph, inside: scope.inside });
  } catch (e) {
    if (!(e instanceof ReadError)) throw e;
    const why = e.reason === "not found" ? "file not found" : e.reason;
    throw new GraphError([{
      loc: from ?? { file: path, line: 0, col: 0 },
      message: `cannot read ${path}: ${why}`,
    }]);
  }
  return parseYaml(text, path);
}
