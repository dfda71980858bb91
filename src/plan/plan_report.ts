// `check --stage plan`: what the compiler decided, for a person to read: the
// dispatches in order (workgroups, bindings), the buffer table, and peak memory.
import { planMemory } from "./memory.ts";
import type { Program } from "./program.ts";

const mib = (b: number) => `${(b / 2 ** 20).toFixed(2)} MiB`;

export function planReport(title: string, program: Program): string {
  const memory = planMemory(program, { backward: program.backward.length > 0 });
  const where = (t: string) => {
    const s = memory.slotOf.get(t);
    return s === undefined ? t : `${t}@slot${s}`;
  };
  const lines = [
    `plan ${title}: batch ${program.batch}, ${program.training ? "training" : "inference"}`,
  ];
  let n = 0;
  // What the runtime runs: independent dispatches merged (with the limits most adapters allow).
  const run = memory.launches;
  for (const [phase, steps] of [["forward", run.forward], ["backward", run.backward]] as const) {
    if (!steps.length) continue;
    lines.push(`  ${phase}:`);
    for (const s of steps) {
      for (const d of s.dispatches) {
        const binds = d.bindings.map((b) => `${b.write ? "w:" : ""}${where(s.roles[b.role])}`).join(
          ", ",
        );
        lines.push(
          `    ${String(++n).padStart(4)} ${d.label.padEnd(24)} [${
            d.workgroups.join("x")
          }] ${s.label} <- ${binds}`,
        );
      }
    }
  }
  lines.push(
    `  buffers: ${memory.slots.length} reusable slots, ${memory.persistent.length} persistent tensors`,
  );
  for (const s of memory.slots) {
    lines.push(
      `    slot${s.id} ${mib(s.bytes)}: ${s.tensors.length} tensors (${
        s.tensors.slice(0, 3).join(", ")
      }${s.tensors.length > 3 ? ", ..." : ""})`,
    );
  }
  lines.push(
    `  dispatches: ${n}`,
    `  peak memory: ${mib(memory.peakBytes)} planned, ${mib(memory.unplannedBytes)} unplanned ` +
      `(${(100 * memory.peakBytes / memory.unplannedBytes).toFixed(0)}%)`,
  );
  return lines.join("\n");
}
