// Static checks over a network: op and attribute validity, cycles, dead layers,
// and the shape of every tensor.
import { type Diagnostics, excerpt, type Loc } from "./diagnostics.ts";
import type { Network, TypedNetwork, TypedNode } from "./ir.ts";
import { didYouMean } from "./suggest.ts";
import { OPS } from "../ops/registry.ts";
import { type Dim, type Shape, ShapeError } from "../ops/types.ts";
import { perSample } from "../ops/dim.ts";
import type { z } from "../deps.ts";

export function formatShape(s: Shape): string {
  return `[${s.join(", ")}]`;
}

/** Elements of one tensor per sample, at most: 2^30 (4 GiB of float32). */
const MAX_ELEMENTS = 2 ** 30;

export function inferShapes(net: Network, diags: Diagnostics): TypedNetwork {
  const nodes = prune(net, diags);
  const order = topoOrder(nodes, net, diags);
  const shapes = new Map<string, Shape>(net.inputs.map((i) => [i.name, i.shape]));
  const typed: TypedNode[] = [];
  for (const node of order) {
    const op = OPS[node.op];
    const where = `${node.name}: `;
    if (!op) {
      diags.error(
        node.attrLocs.op ?? node.loc,
        `${where}unknown op '${excerpt(node.op)}'${didYouMean(node.op, Object.keys(OPS))}`,
      );
      continue;
    }
    const parsed = parseAttrs(op.attrs, node.attrs, node.attrLocs, node.loc, where, diags);
    const [min, max] = op.arity;
    if (node.inputs.length < min || node.inputs.length > max) {
      const want = min === max
        ? `${min}`
        : max === Infinity
        ? `at least ${min}`
        : `${min} to ${max}`;
      diags.error(
        node.loc,
        `${where}${node.op} takes ${want} input(s), given ${node.inputs.length}`,
      );
      continue;
    }
    const ins = node.inputs.map((t) => shapes.get(t));
    if (parsed === undefined || ins.some((s) => s === undefined)) continue; // reported already
    try {
      const shape = op.shape(parsed, ins as Shape[]);
      const params = op.params?.(parsed, ins as Shape[]) ?? {};
      // A size no adapter can hold would only fail later, slowly (planning loops over
      // kernel taps and rows): say so here, at the layer.
      const sized: [string, Shape][] = [
        ["output", shape],
        ...Object.entries(params).map(([k, p]) => [k, p.shape] as [string, Shape]),
      ];
      for (const [what, s] of sized) {
        const n = s.reduce((a: number, d) => a * perSample(d), 1);
        if (!(n <= MAX_ELEMENTS) || s.some((d) => !Number.isFinite(perSample(d)))) {
          throw new ShapeError(
            `${what} ${formatShape(s)} has ${n.toExponential(1)} elements per sample, more than ` +
              `any adapter holds (${MAX_ELEMENTS.toExponential(1)})`,
          );
        }
      }
      shapes.set(node.name, shape);
      typed.push({ ...node, shape, parsed, params });
    } catch (e) {
      if (!(e instanceof ShapeError)) throw e;
      const loc = (e.attr && node.attrLocs[e.attr]) || node.loc;
      const given = (ins as Shape[]).map(formatShape).join(" and ");
      diags.error(loc, `${where}${e.message}${e.message.includes("[") ? "" : ` (input ${given})`}`);
    }
  }
  for (const c of net.checks ?? []) {
    const given = shapes.get(c.tensor);
    // A symbolic dimension of the callee (its batch "B") takes whatever batch it is given,
    // e.g. "B/4" for groups of four images; fixed sizes must match exactly.
    const fits = (d: Dim, want: Dim) =>
      d === want || (typeof want === "string" && typeof d === "string");
    if (given && (given.length !== c.shape.length || given.some((d, i) => !fits(d, c.shape[i])))) {
      diags.error(c.loc, `${c.what} must be ${formatShape(c.shape)}, given ${formatShape(given)}`);
    }
  }
  return { ...net, nodes: typed, shapes };
}

function parseAttrs(
  schema: z.ZodType,
  attrs: Record<string, unknown>,
  locs: Record<string, Loc>,
  at: Loc,
  where: string,
  diags: Diagnostics,
): unknown {
  const r = schema.safeParse(attrs);
  if (r.success) return r.data;
  const known = Object.keys((schema as unknown as { shape?: object }).shape ?? {});
  for (const issue of r.error.issues) {
    if (issue.code === "unrecognized_keys") {
      for (const k of issue.keys) {
        const hint = didYouMean(k, known) ||
          (known.length ? ` (attributes: ${known.join(", ")})` : " (it takes no attributes)");
        diags.error(locs[k] ?? at, `${where}unknown attribute '${k}'${hint}`);
      }
      continue;
    }
    const key = String(issue.path[0] ?? "");
    const msg = issue.message.charAt(0).toLowerCase() + issue.message.slice(1);
    diags.error(locs[key] ?? at, `${where}${key ? `'${key}': ` : ""}${msg}`);
  }
  return undefined;
}

/** Drops dead subgraph layers silently; a dead layer the user wrote is an error. */
function prune(net: Network, diags: Diagnostics) {
  let nodes = net.nodes;
  const outputs = new Set(net.outputs.map((o) => o.from));
  for (;;) {
    const used = new Set(nodes.flatMap((n) => n.inputs));
    const dead = nodes.filter((n) => n.inlined && !used.has(n.name) && !outputs.has(n.name));
    if (!dead.length) break;
    nodes = nodes.filter((n) => !dead.includes(n));
  }
  const used = new Set(nodes.flatMap((n) => n.inputs));
  for (const n of nodes) {
    if (!used.has(n.name) && !outputs.has(n.name)) {
      diags.error(
        n.loc,
        `layer '${n.name}' is never used: no layer takes it as input and no output names it`,
      );
    }
  }
  for (const i of net.inputs) {
    if (!used.has(i.name) && !outputs.has(i.name)) {
      diags.error(i.loc, `input '${i.name}' is never used`);
    }
  }
  return nodes;
}

/** Kahn's algorithm; a cycle is reported once, with its path. */
function topoOrder(nodes: Network["nodes"], net: Network, diags: Diagnostics) {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const inputs = new Set(net.inputs.map((i) => i.name));
  for (const n of nodes) {
    n.inputs.forEach((t, i) => {
      if (!byName.has(t) && !inputs.has(t)) {
        diags.error(n.inputLocs[i] ?? n.loc, `${n.name}: unknown input '${t}'`);
      }
    });
  }
  const indeg = new Map(nodes.map((n) => [n.name, n.inputs.filter((t) => byName.has(t)).length]));
  const users = new Map<string, string[]>();
  for (const n of nodes) for (const t of n.inputs) users.set(t, [...(users.get(t) ?? []), n.name]);
  const ready = nodes.filter((n) => indeg.get(n.name) === 0);
  const order = [];
  while (ready.length) {
    const n = ready.shift()!;
    order.push(n);
    for (const u of users.get(n.name) ?? []) {
      indeg.set(u, indeg.get(u)! - 1);
      if (indeg.get(u) === 0) ready.push(byName.get(u)!);
    }
  }
  if (order.length < nodes.length) {
    const left = nodes.filter((n) => indeg.get(n.name)! > 0);
    const start = left[0];
    const path = [start.name];
    let cur = start;
    const seen = new Set<string>();
    while (!seen.has(cur.name)) {
      seen.add(cur.name);
      const next = cur.inputs.map((t) => byName.get(t)).find((m) => m && indeg.get(m.name)! > 0);
      if (!next) break;
      path.push(next.name);
      cur = next;
    }
    diags.error(start.loc, `cycle: ${path.reverse().join(" -> ")}`);
  }
  return order;
}
