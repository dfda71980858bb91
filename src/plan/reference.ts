// The float64 CPU executor: runs a Program's steps (before planning) with each
// op's reference implementation. Tests compare the GPU's run of its Plan against it.
import { bindAttrs, type Program, type Step } from "./program.ts";
import type { TypedNetwork } from "../lang/ir.ts";
import { OPS } from "../ops/registry.ts";
import type { T64 } from "../ops/types.ts";

/** Runs forward (and backward for the tensors named `grad.*` given in `values`). */
export function runReference(
  net: TypedNetwork,
  program: Program,
  values: Map<string, Float64Array>,
  opts: { backward?: boolean } = {},
): Map<string, Float64Array> {
  const out = new Map(values);
  const t = (name: string): T64 => {
    const data = out.get(name);
    if (!data) throw new Error(`reference: tensor ${name} has no value`);
    return { shape: program.tensors.get(name)!.shape, data };
  };
  const nodes = new Map(bindAttrs(net, program.batch).nodes.map((n) => [n.name, n]));
  const params = (roles: Record<string, string>, prefix = "p.") =>
    Object.fromEntries(
      Object.entries(roles).filter(([r]) => r.startsWith(prefix)).map((
        [r, n],
      ) => [r.slice(prefix.length), t(n)]),
    );
  const inputs = (roles: Record<string, string>, n: number) =>
    Array.from({ length: n }, (_, i) => t(roles[`x${i}`]));
  const ctx = { training: program.training };
  const newState = new Map<string, Float64Array>();
  // A fused step runs its original nodes: the producer, the batch norm folded into it
  // (inference), then the pointwise op.
  const producer = (step: Step) => nodes.get(step.fused?.producer ?? step.node)!;
  const produce = (step: Step) => {
    const node = producer(step);
    return OPS[node.op].forwardRef(
      node.parsed,
      inputs(step.roles, node.inputs.length),
      params(step.roles),
      ctx,
    );
  };
  const pointwise = (step: Step) => nodes.get(step.fused!.pointwise!)!;
  for (const step of program.forward) {
    const r = produce(step);
    let y = r.y;
    if (step.fused?.norm) {
      const bn = nodes.get(step.fused.norm)!;
      y = OPS[bn.op].forwardRef(bn.parsed, [y], params(step.roles, "n."), ctx).y;
    }
    if (step.fused?.pointwise) {
      const u = pointwise(step);
      y = OPS[u.op].forwardRef(u.parsed, [y], {}, ctx).y;
    }
    out.set(step.roles.y, y.data);
    for (const [k, v] of Object.entries(r.state ?? {})) newState.set(step.roles[`p.${k}`], v.data);
  }
  if (opts.backward) {
    const written = new Set<string>();
    for (const step of program.backward) {
      const node = producer(step);
      const xs = inputs(step.roles, node.inputs.length);
      let y = t(step.roles.y), dy = t(step.roles.dy);
      if (step.fused?.pointwise) {
        const u = pointwise(step);
        const pre = produce(step).y;
        dy = OPS[u.op].backwardRef(u.parsed, [pre], {}, y, dy, ctx).dx[0]!;
        y = pre;
      }
      const r = OPS[node.op].backwardRef(node.parsed, xs, params(step.roles), y, dy, ctx);
      const give = (role: string, g: T64 | undefined) => {
        const name = step.roles[role];
        if (!name || !g) return;
        const prev = out.get(name);
        // Gradients meeting at one tensor add up, also onto an upstream gradient given by the caller.
        if (written.has(name) || values.has(name)) {
          out.set(name, prev!.map((v, i) => v + g.data[i]));
        } else out.set(name, g.data);
        written.add(name);
      };
      r.dx.forEach((g, i) => give(`dx${i}`, g));
      for (const [k, g] of Object.entries(r.dp)) give(`dp.${k}`, g);
    }
  }
  for (const [k, v] of newState) out.set(k, v);
  return out;
}
