// `check --stage plan`: a Plan for a person to read: per program, the launches in
// order (workgroups, bound tensors and where they live), the slot table, and peak
// memory. It reads only the Plan, so it shows exactly what the engine runs.
import type { Plan, PlanProgram } from "./plan.ts";

const mib = (b: number) => `${(b / 2 ** 20).toFixed(2)} MiB`;

export function programReport(plan: Plan, program: PlanProgram, title: string): string {
  const where = (t: string) => {
    const s = program.tensors[t]?.slot;
    return s === undefined ? t : `${t}@slot${s}`;
  };
  const lines = [
    `plan ${title}: batch ${program.batch}, ${program.training ? "training" : "inference"}`,
  ];
  let n = 0;
  // launches the program takes from another's run (PlanProgram.reuse): marked, not counted
  const reused = new Set(program.reuse?.skip);
  for (const phase of ["forward", "backward", "optimizer"] as const) {
    const launches = program.phases[phase];
    if (!launches.length) continue;
    lines.push(`  ${phase}:`);
    for (const [i, l] of launches.entries()) {
      const binds = l.args.map((t, i) =>
        `${plan.kernels[l.kernel].writes[i] ? "w:" : ""}${where(t)}`
      );
      const skip = phase === "forward" && reused.has(i);
      lines.push(
        `    ${skip ? "   =" : String(++n).padStart(4)} ${l.label.padEnd(24)} [${
          l.workgroups.join("x")
        }] ${l.step} <- ${binds.join(", ")}`,
      );
    }
  }
  const m = program.memory;
  lines.push(`  buffers: ${m.slots.length} reusable slots, ${m.persistent} persistent tensors`);
  for (const s of m.slots) {
    lines.push(
      `    slot${s.slot} ${mib(s.bytes)}: ${s.tensors.length} tensors (${
        s.tensors.slice(0, 3).join(", ")
      }${s.tensors.length > 3 ? ", ..." : ""})`,
    );
  }
  if (program.reuse) {
    lines.push(
      `  = ${reused.size} forward launches that ${program.reuse.after}'s run computes just ` +
        `before from the same inputs and parameters: skipped when that ran`,
    );
  }
  lines.push(
    `  dispatches: ${n}`,
    `  peak memory: ${mib(m.peakBytes)} planned, ${mib(m.unplannedBytes)} unplanned ` +
      `(${(100 * m.peakBytes / m.unplannedBytes).toFixed(0)}%)`,
  );
  return lines.join("\n");
}

/**
 * The whole plan: its target, then each program under `titles[name]` (default the
 * program's name), then the kernel count. `check --stage plan` prints this.
 */
export function planReport(plan: Plan, titles: Record<string, string> = {}): string {
  const parts = plan.programs.map((p) => programReport(plan, p, titles[p.name] ?? p.name));
  const launches = plan.programs.reduce(
    (s, p) => s + p.phases.forward.length + p.phases.backward.length + p.phases.optimizer.length,
    0,
  );
  parts.push(
    `target: ${plan.target}; ${plan.kernels.length} distinct kernels for ${launches} launches`,
  );
  return parts.join("\n\n");
}
