// Keras-style summary of each network: layer, op, output shape, parameters, MACs.
import type { Model, TypedNetwork } from "./ir.ts";
import { formatShape } from "./shapes.ts";
import { OPS } from "../ops/registry.ts";
import type { Shape } from "../ops/types.ts";
import { perSample } from "../ops/dim.ts";

/** Shapes with the batch bound to 1: figures are per sample. */
function concrete(s: Shape): number[] {
  // "B" -> 1 sample; "B/n" (after grouping n images) -> 1/n of a row per sample.
  return s.map(perSample);
}

export interface LayerStats {
  name: string;
  op: string;
  shape: Shape;
  params: number;
  macs: number;
}

export function layerStats(net: TypedNetwork): LayerStats[] {
  return net.nodes.map((n) => {
    const op = OPS[n.op];
    const params = Object.values(n.params)
      .filter((p) => p.trainable)
      .reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);
    const ins = n.inputs.map((t) => concrete(net.shapes.get(t)!));
    return {
      name: n.name,
      op: n.op,
      shape: n.shape,
      params,
      macs: op.macs?.(n.parsed, ins, concrete(n.shape)) ?? 0,
    };
  });
}

export function networkTotals(net: TypedNetwork): { params: number; macs: number } {
  return layerStats(net).reduce(
    (t, l) => ({ params: t.params + l.params, macs: t.macs + l.macs }),
    { params: 0, macs: 0 },
  );
}

const fmt = (n: number) => n.toLocaleString("en-US");

export function summarise(model: Model): string {
  const out: string[] = [];
  const grand = { params: 0, macs: 0 };
  for (const net of model.networks) {
    const rows = layerStats(net).map((l) => [
      l.name,
      l.op,
      formatShape(l.shape),
      l.params ? fmt(l.params) : "",
      l.macs ? fmt(l.macs) : "",
    ]);
    const head = ["layer", "op", "output shape", "params", "MACs/sample"];
    const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (r: string[]) =>
      r.map((c, i) => (i >= 3 ? c.padStart(w[i]) : c.padEnd(w[i]))).join("  ").trimEnd();
    const rule = "-".repeat(line(head).length);
    const ins = net.inputs.map((i) => `${i.name} ${formatShape(i.shape)}`).join(", ");
    const outs = net.outputs.map((o) => `${o.name} ${formatShape(net.shapes.get(o.from)!)}`);
    const t = networkTotals(net);
    grand.params += t.params;
    grand.macs += t.macs;
    out.push(
      `network ${net.name} (${net.file})`,
      `inputs: ${ins}`,
      rule,
      line(head),
      rule,
      ...rows.map(line),
      rule,
      `outputs: ${outs.join(", ")}`,
      `parameters: ${fmt(t.params)}   MACs per sample: ${fmt(t.macs)}`,
      "",
    );
  }
  if (model.networks.length > 1) {
    // Each player's networks together (DR-GAN's generator is encoder + decoder).
    for (const [name, nets] of players(model)) {
      const p = nets.reduce((s, n) => s + networkTotals(n).params, 0);
      out.push(`player ${name} (${nets.map((n) => n.name).join(" + ")}): ${fmt(p)} parameters`);
    }
    out.push(`total: ${fmt(grand.params)} parameters, ${fmt(grand.macs)} MACs per sample`);
  }
  return out.join("\n");
}

/** The training section's players and the networks each updates, as far as they are well formed. */
function players(model: Model): [string, TypedNetwork[]][] {
  const training = model.doc.training as { players?: unknown } | undefined;
  const ps = training?.players;
  if (typeof ps !== "object" || ps === null) return [];
  return Object.entries(ps as Record<string, { networks?: unknown }>).flatMap(([name, p]) => {
    const names = Array.isArray(p?.networks) ? p.networks : [];
    const nets = model.networks.filter((n) => names.includes(n.name));
    return nets.length ? [[name, nets] as [string, TypedNetwork[]]] : [];
  });
}
