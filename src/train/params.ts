// Parameter initialisation as in DR-GAN: weights N(0, 0.02), batch norm ones/zeros.
import type { Program } from "../plan/program.ts";
import type { PlanProgram } from "../plan/plan.ts";
import { numel } from "../ops/wgsl.ts";
import { normal, rng } from "../util/rng.ts";

export const INIT_STD = 0.02;

/** Initial values of a program's parameters (a compiled Program's or a Plan's). */
export function initParams(
  program: Program | PlanProgram,
  seed: number,
): Map<string, Float32Array<ArrayBuffer>> {
  const next = rng(seed);
  const out = new Map<string, Float32Array<ArrayBuffer>>();
  const { tensors } = program;
  for (const name of program.params) {
    const t = tensors instanceof Map ? tensors.get(name)! : tensors[name];
    const data = new Float32Array(numel(t.shape));
    if (t.init === "normal") {
      for (let i = 0; i < data.length; i++) data[i] = INIT_STD * normal(next);
    } else if (t.init === "ones") data.fill(1);
    out.set(name, data);
  }
  return out;
}
