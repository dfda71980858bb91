// The matmul section of `deno task bench`: records of the matmul sweep
// (bench/matmul.ts) and the conv / matmul ratios the targets are stated in.
import type { BenchRecord } from "./record.ts";
import { describe, type Family } from "./matmul_kernels.ts";
import { type Row, shapeText, type SweepResult } from "./matmul.ts";

type Rec = (name: string, value: number, unit: string, notes?: string) => BenchRecord;

/** One timed conv kernel of the ops section (bench/ops.ts). */
export interface ConvFigure {
  /** e.g. "paper conv 64x48x48->128 k3 s1 dw" */
  name: string;
  gflops: number;
  /** seconds per run */
  seconds: number;
}

const FAMILY: Record<Family, string> = {
  storage: "storage buffers, register-blocked, no barriers",
  texture: "rgba32float textures (textureLoad), register-blocked",
  tiled: "workgroup-memory tiles + barriers",
};

const where = (r: Row) => `${describe(r.variant)}, ${shapeText(r.shape)}`;

export const CEILING = "matmul best (ceiling)";

export function matmulRecords(res: SweepResult, rec: Rec, convs: ConvFigure[]): BenchRecord[] {
  const out: BenchRecord[] = [];
  const ran = `${res.rows.length} variant runs (${
    res.rows.filter((r) => r.error).length
  } failing the float64 check), ${Math.round(res.seconds)} s`;
  for (const [f, r] of res.best) {
    out.push(rec(`matmul best, ${FAMILY[f]}`, r.gflops!, "GFLOP/s", where(r)));
  }
  const shapes = [...new Set(res.rows.map((r) => shapeText(r.shape)))];
  for (const s of shapes) {
    const rs = res.rows.filter((r) => shapeText(r.shape) === s && r.gflops !== undefined);
    const b = rs.sort((x, y) => y.gflops! - x.gflops!)[0];
    if (b) out.push(rec(`matmul best at ${s}`, b.gflops!, "GFLOP/s", describe(b.variant)));
  }
  const best = res.overall;
  if (!best) return out;
  out.push(rec(CEILING, best.gflops!, "GFLOP/s", `${where(best)}; ${ran}`));
  const ceiling = best.gflops!;
  for (const v of ["paper", "small"]) {
    const cs = convs.filter((c) => c.name.startsWith(`${v} `));
    if (!cs.length) continue;
    const top = cs.reduce((a, b) => (b.gflops > a.gflops ? b : a));
    out.push(
      rec(
        `matmul ratio: best ${v} conv kernel / best matmul`,
        top.gflops / ceiling,
        "x",
        `${top.name}: ${top.gflops.toFixed(2)} of ${ceiling.toFixed(2)} GFLOP/s`,
      ),
    );
    out.push(overall(rec, `${v} conv kernels`, cs, ceiling));
  }
  if (
    convs.some((c) => c.name.startsWith("paper ")) && convs.some((c) => c.name.startsWith("small "))
  ) {
    out.push(overall(rec, "all conv kernels", convs, ceiling));
  }
  return out;
}

/** (total FLOPs / total time) of the kernels, over the ceiling. */
function overall(rec: Rec, what: string, cs: ConvFigure[], ceiling: number): BenchRecord {
  const secs = cs.reduce((s, c) => s + c.seconds, 0);
  const flops = cs.reduce((s, c) => s + c.gflops * 1e9 * c.seconds, 0);
  const g = flops / secs / 1e9;
  return rec(
    `matmul ratio: ${what} overall / best matmul`,
    g / ceiling,
    "x",
    `${cs.length} kernels (fwd, dx, dw): ${g.toFixed(2)} GFLOP/s (total FLOPs / total time) of ${
      ceiling.toFixed(2)
    }`,
  );
}

/** The targets of the ratio records (undefined: not a matmul ratio). */
export function matmulTarget(r: BenchRecord): string | undefined {
  const met = (x: number) => `≥ ${x} (${r.value >= x ? "met" : "not met"})`;
  if (/^matmul ratio: best paper conv kernel/.test(r.name)) return met(0.6);
  if (/^matmul ratio: .* overall/.test(r.name)) return met(0.5);
  if (r.name.startsWith("matmul ratio: ")) return "(target stated for the paper layers)";
  return undefined;
}
