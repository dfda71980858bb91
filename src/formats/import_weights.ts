// Weights trained elsewhere: a PyTorch state_dict saved as safetensors
// (`safetensors.torch.save_file(model.state_dict(), "sd.safetensors")`) renamed to this
// project's parameter names through a small YAML name map, every shape checked.
// PyTorch's layouts are the ones the graphs use (conv [out, in, kh, kw], transposed
// conv [in, out, kh, kw], linear [out, in]), so tensors are copied, never transposed.
//
// The map: one `from: to` per line, tried in order, the first match wins; `*` matches
// any run of characters (dots too) and each `*` or `{table}` of the target takes, in
// order, what the source's `*`s matched: `*` as it is, `{table}` looked up in a table
// of the map (how a Sequential index becomes a layer name); a null target skips the
// tensor. Quote patterns that start with `*` (YAML reads a bare `*x` as an alias):
//
//   "G.enc.*.0.weight": "encoder.*.conv.weight"
//   "*.num_batches_tracked": null
//
// With tables, the rules go under `rules:`:
//
//   tables: { enc: { 0: conv11.conv, 1: conv11.bn, 3: conv12.conv } }
//   rules: { "G_enc_convLayers.*.*": "encoder.{enc}.*" }
import { READ_LIMITS, ReadError, readTextGuarded } from "./read.ts";
import { UserError } from "../errors.ts";
import { join } from "node:path";
import type { Model } from "../lang/ir.ts";
import { paramShapes } from "../plan/program.ts";
import { formatLoc } from "../lang/diagnostics.ts";
import { locOf, parseYaml } from "../lang/source.ts";
import { closest } from "../lang/suggest.ts";
import { type Tensor, toFloat32, writeSafetensors } from "./safetensors.ts";
import { listProblems, WEIGHTS_FORMAT } from "../infer/weights.ts";
import { writeDirAtomic } from "./atomic.ts";
import { checkpointPath } from "../infer/run_folder.ts";

export class ImportError extends UserError {}

export interface Rule {
  from: string;
  to: string | null;
  re: RegExp;
  /** file:line:col of the rule */
  at: string;
  /** the map's tables, by name: a capture -> the text it stands for */
  tables: Record<string, Record<string, string>>;
}

/** What a target fills in order: `*` (a capture as it is) or `{name}` (through a table). */
const SLOT = /\*|\{([A-Za-z_]\w*)\}/g;

const slots = (to: string) => [...to.matchAll(SLOT)].map((m) => m[1]);

function patternRe(p: string): RegExp {
  const body = p.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join("(.+?)");
  return new RegExp(`^${body}$`);
}

const stars = (s: string) => s.split("*").length - 1;

const isMapping = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Parses a name map; every bad rule is reported, one line each. */
export function parseNameMap(text: string, file: string): Rule[] {
  const top = parseYaml(text, file);
  if (!isMapping(top)) {
    throw new ImportError(`${file}: a name map is a YAML mapping of "from: to" patterns`);
  }
  const problems: string[] = [];
  // `rules:` (and `tables:`) when the map has tables; otherwise the rules are the map.
  const structured = Object.hasOwn(top, "rules");
  const doc = structured ? top.rules : top;
  if (!isMapping(doc)) {
    throw new ImportError(`${formatLoc(locOf(top, "rules"))}: 'rules' is a mapping of patterns`);
  }
  const tables: Rule["tables"] = {};
  for (
    const [name, table] of Object.entries(structured && isMapping(top.tables) ? top.tables : {})
  ) {
    const at = formatLoc(locOf(top.tables, name, "key"));
    if (!isMapping(table) || !Object.values(table).every((v) => typeof v === "string")) {
      problems.push(`${at}: table "${name}" must map captures to names (7: conv21.conv)`);
    } else tables[name] = table as Record<string, string>;
  }
  if (structured) {
    for (const k of Object.keys(top).filter((k) => k !== "rules" && k !== "tables")) {
      problems.push(`${formatLoc(locOf(top, k, "key"))}: unknown key '${k}' (rules, tables)`);
    }
  }
  const rules: Rule[] = [];
  for (const [from, to] of Object.entries(doc)) {
    const at = formatLoc(locOf(doc, from, "key"));
    if (to !== null && typeof to !== "string") {
      problems.push(`${at}: the target of "${from}" must be a name pattern or null`);
      continue;
    }
    if (!from) {
      problems.push(`${at}: empty pattern`);
      continue;
    }
    if (to !== null && slots(to).length > stars(from)) {
      const n = slots(to).length, what = to.includes("{") ? "'*' and {table} slots" : "'*'";
      problems.push(
        `${at}: "${to}" has ${n} ${what} but "${from}" only ${stars(from)} to fill them`,
      );
      continue;
    }
    const unknown = to === null ? [] : slots(to).filter((s) => s && !tables[s]);
    if (unknown.length) {
      const known = Object.keys(tables);
      problems.push(
        `${at}: "${to}" uses table "${unknown[0]}", which the map does not define` +
          (known.length ? ` (tables: ${known.join(", ")})` : ""),
      );
      continue;
    }
    rules.push({ from, to, re: patternRe(from), at, tables });
  }
  if (!rules.length && !problems.length) problems.push(`${file}: the map has no rules`);
  if (problems.length) {
    throw new ImportError(listProblems(`${file} is not a usable name map`, problems, 10));
  }
  return rules;
}

export function readNameMap(path: string): Rule[] {
  let text: string;
  try {
    text = readTextGuarded(path, { max: READ_LIMITS.graph });
  } catch (e) {
    throw new ImportError(
      `${path}: cannot read the name map (${(e instanceof ReadError
        ? e.reason
        : (e as Error).message)})`,
    );
  }
  return parseNameMap(text, path);
}

/**
 * The rule for a source name and the name it maps to (null: skipped; `missing` when a
 * capture is not in the rule's table); undefined: no rule.
 */
export function mapName(
  rules: Rule[],
  name: string,
): { rule: Rule; to: string | null; missing?: string } | undefined {
  for (const rule of rules) {
    const m = rule.re.exec(name);
    if (!m) continue;
    if (rule.to === null) return { rule, to: null };
    let i = 1, missing: string | undefined;
    const to = rule.to.replace(SLOT, (_, table?: string) => {
      const got = m[i++];
      if (!table) return got;
      const hit = Object.hasOwn(rule.tables[table], got) ? rule.tables[table][got] : undefined;
      missing ??= hit === undefined ? `${got} is not in table "${table}"` : undefined;
      return hit ?? got;
    });
    return { rule, to, missing };
  }
  return undefined;
}

/** Every parameter (trainable and running statistics) of every network, with its shape. */
export function graphParams(model: Model): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const net of model.networks) {
    for (const [name, shape] of paramShapes(net)) out.set(name, shape);
  }
  return out;
}

export interface ImportResult {
  weights: Map<string, { shape: number[]; data: Float32Array }>;
  mapped: { from: string; to: string }[];
  skipped: string[];
  /** networks that received tensors (each one complete) */
  networks: string[];
  /** rules that matched no tensor (probably a typo; not an error) */
  unused: Rule[];
}

const FLOATS = ["F32", "F16", "BF16", "F64"];
const fmt = (s: number[]) => `[${s.join(", ")}]`;

/**
 * Renames and checks a state_dict against the graph: every source tensor mapped or
 * skipped, every target a parameter of the graph with the same shape, no target twice,
 * and every network that receives a tensor receives all its parameters (the encoder
 * at least). All problems are reported together, one line each.
 */
export function importWeights(
  model: Model,
  source: Map<string, Tensor>,
  rules: Rule[],
  sourceName = "state_dict",
): ImportResult {
  const want = graphParams(model);
  const problems: string[] = [];
  const weights = new Map<string, { shape: number[]; data: Float32Array }>();
  const from = new Map<string, string>();
  const used = new Set<Rule>();
  const mapped: { from: string; to: string }[] = [], skipped: string[] = [];
  for (const [name, t] of source) {
    const hit = mapName(rules, name);
    if (!hit) {
      problems.push(
        `"${name}" ${fmt(t.shape)} matches no rule (map it, or skip it with a null target)`,
      );
      continue;
    }
    used.add(hit.rule);
    if (hit.to === null) {
      skipped.push(name);
      continue;
    }
    if (hit.missing) {
      problems.push(`"${name}" (${hit.rule.at}): ${hit.missing}`);
      continue;
    }
    const to = hit.to, shape = want.get(to);
    const what = `"${name}" -> "${to}" (${hit.rule.at})`;
    if (!shape) {
      const near = closest(to, want.keys());
      problems.push(
        `${what}: not a parameter of ${model.file}${near ? `; did you mean "${near}"?` : ""}`,
      );
    } else if (from.has(to)) {
      problems.push(`${what}: "${from.get(to)}" maps there too`);
    } else if (t.shape.join(",") !== shape.join(",")) {
      problems.push(`${what}: shape ${fmt(t.shape)}, the graph needs ${fmt(shape)}`);
    } else if (!FLOATS.includes(t.dtype)) {
      problems.push(`${what}: dtype ${t.dtype}, expected floating point`);
    } else {
      const data = toFloat32(t);
      if (!data.every(Number.isFinite)) problems.push(`${what}: holds NaN or infinite values`);
      else {
        weights.set(to, { shape, data: data.slice() });
        mapped.push({ from: name, to });
      }
    }
    from.set(to, name);
  }
  const netOf = (p: string) => p.slice(0, p.indexOf("."));
  const touched = new Set([...from.keys()].filter((t) => want.has(t)).map(netOf));
  const networks = model.networks.map((n) => n.name).filter((n) => touched.has(n));
  if (!networks.includes("encoder") && model.networks.some((n) => n.name === "encoder")) {
    problems.push(`no tensor maps to the encoder (encoder.*): nothing to recognise faces with`);
  }
  for (const [name, shape] of want) {
    if (networks.includes(netOf(name)) && !from.has(name)) {
      problems.push(`"${name}" ${fmt(shape)} receives no tensor`);
    }
  }
  if (problems.length) {
    throw new ImportError(
      listProblems(`${sourceName} does not fit ${model.file}`, problems, 10),
    );
  }
  return { weights, mapped, skipped, networks, unused: rules.filter((r) => !used.has(r)) };
}

/**
 * Writes imported weights: a `.safetensors` file, or a model folder (config.json and
 * checkpoints/step-0000000.safetensors) that `FaceModel.load({ run })` and
 * `deno task infer --model` open. Nothing is written half.
 */
export function writeImported(
  out: string,
  result: ImportResult,
  info: { graph: string; overrides: string[]; source: string; map: string },
): string {
  const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const [name, w] of result.weights) tensors[name] = w;
  const meta = {
    format: WEIGHTS_FORMAT,
    graph: info.graph,
    overrides: JSON.stringify(info.overrides),
    step: "0",
    source: info.source,
    map: info.map,
  };
  if (out.endsWith(".safetensors")) {
    writeSafetensors(out, tensors, meta);
    return out;
  }
  try {
    Deno.statSync(out);
    throw new ImportError(`${out} exists already; choose a new folder (or a .safetensors file)`);
  } catch (e) {
    if (e instanceof ImportError) throw e;
  }
  writeDirAtomic(out, (tmp) => {
    Deno.mkdirSync(join(tmp, "checkpoints"), { recursive: true });
    writeSafetensors(checkpointPath(tmp, 0), tensors, meta);
    const config = {
      graph: info.graph,
      name: out.split("/").filter(Boolean).at(-1),
      overrides: info.overrides,
      imported: { source: info.source, map: info.map, at: new Date().toISOString() },
    };
    Deno.writeTextFileSync(join(tmp, "config.json"), JSON.stringify(config, null, 2) + "\n");
  });
  return checkpointPath(out, 0);
}
