// Memory planning: liveness over a program's schedule assigns short-lived tensors
// (activations, their gradients, scratch) to a few reusable buffers. Parameters,
// their state and gradients, inputs, outputs and upstream gradients persist.
import type { Program, Step, TensorInfo } from "./program.ts";
import { numel } from "../ops/wgsl.ts";
import { launchSteps, type MergeOptions } from "./merge.ts";

export interface Slot {
  id: number;
  /** bytes: the largest tensor assigned to it */
  bytes: number;
  tensors: string[];
}

export interface MemoryPlan {
  /** tensor -> slot id, for planned tensors */
  slotOf: Map<string, number>;
  slots: Slot[];
  /** tensors with a buffer of their own */
  persistent: string[];
  /** bytes of all planned slots plus persistent tensors */
  peakBytes: number;
  /** bytes if every tensor had its own buffer */
  unplannedBytes: number;
  /** the steps as run (merge.ts), over which liveness was computed */
  launches: { forward: Step[]; backward: Step[] };
}

/** Buffers hold whole vec4s (see createStorage). */
export function tensorBytes(t: TensorInfo): number {
  return Math.max(16, Math.ceil(numel(t.shape) / 4) * 16);
}

export function planMemory(
  program: Program,
  opts: { backward: boolean; merge: MergeOptions; keep?: Set<string> },
): MemoryPlan {
  const launches = launchSteps(program, opts.merge);
  const steps: Step[] = [...launches.forward, ...(opts.backward ? launches.backward : [])];
  const keep = persistentSet(program);
  for (const t of opts.keep ?? []) keep.add(t);
  const first = new Map<string, number>(), last = new Map<string, number>();
  steps.forEach((s, i) => {
    // Only what the kernels bind: a backward step's roles also name unused forward tensors.
    for (const t of boundTensors(s)) {
      if (!first.has(t)) first.set(t, i);
      last.set(t, i);
    }
  });
  const planned = [...first.keys()].filter((t) => !keep.has(t));
  planned.sort((a, b) => first.get(a)! - first.get(b)! || a.localeCompare(b));
  const slots: (Slot & { freeAfter: number })[] = [];
  const slotOf = new Map<string, number>();
  for (const t of planned) {
    const bytes = tensorBytes(program.tensors.get(t)!);
    const start = first.get(t)!;
    // Best fit among slots whose last tensor died strictly before this one is born
    // (a step may read one and write the other: they must not alias).
    let best: (typeof slots)[number] | undefined;
    for (const s of slots) {
      if (s.freeAfter >= start) continue;
      const waste = Math.abs(s.bytes - bytes);
      if (!best || waste < Math.abs(best.bytes - bytes)) best = s;
    }
    if (!best) {
      best = { id: slots.length, bytes: 0, tensors: [], freeAfter: -1 };
      slots.push(best);
    }
    best.bytes = Math.max(best.bytes, bytes);
    best.tensors.push(t);
    best.freeAfter = last.get(t)!;
    slotOf.set(t, best.id);
  }
  const persistent = [...program.tensors.keys()].filter((t) => !slotOf.has(t));
  const own = persistent.reduce((s, t) => s + tensorBytes(program.tensors.get(t)!), 0);
  const unplannedBytes = [...program.tensors.values()].reduce((s, t) => s + tensorBytes(t), 0);
  return {
    slotOf,
    slots: slots.map(({ id, bytes, tensors }) => ({ id, bytes, tensors })),
    persistent,
    peakBytes: own + slots.reduce((s, x) => s + x.bytes, 0),
    unplannedBytes,
    launches,
  };
}

/** What outlives a run: state, what the host writes once or reads after a run. */
function persistentSet(program: Program): Set<string> {
  const keep = new Set<string>([
    ...program.inputs,
    ...program.inputs.map((i) => `grad.${i}`),
    ...Object.values(program.outputs),
  ]);
  for (const t of program.tensors.values()) {
    if (t.kind === "param" || t.kind === "state") {
      keep.add(t.name);
      keep.add(`grad.${t.name}`); // read by the optimiser after the backward pass
    }
    if (t.kind === "const") keep.add(t.name); // written once, when the plan is loaded
  }
  // Upstream gradients are written by the host before the first run, never by a kernel.
  const written = new Set<string>();
  for (const s of program.backward) {
    for (const [role, t] of Object.entries(s.roles)) {
      if (role.startsWith("dx") || role.startsWith("dp.")) written.add(t);
    }
  }
  for (const s of program.backward) if (!written.has(s.roles.dy)) keep.add(s.roles.dy);
  return keep;
}

export function boundTensors(s: Step): string[] {
  return [...stepTensors(s).keys()];
}

/** The tensors a step's kernels bind, each with whether some dispatch of it writes it. */
export function stepTensors(s: Step): Map<string, boolean> {
  const out = new Map<string, boolean>();
  for (const d of s.dispatches) {
    for (const b of d.bindings) {
      const t = s.roles[b.role];
      out.set(t, (out.get(t) ?? false) || !!b.write);
    }
  }
  return out;
}

/**
 * One set of slot buffers for several plans that never run at the same time (a
 * trainer's D and G updates, submitted one after the other): the k-th largest
 * slot of every plan shares buffer k. `index[p][slot id]` is that buffer.
 */
export function poolSlots(plans: MemoryPlan[]): { bytes: number[]; index: number[][] } {
  const bytes: number[] = [];
  const index = plans.map((plan) => {
    const order = [...plan.slots].sort((a, b) => b.bytes - a.bytes || a.id - b.id);
    const at: number[] = [];
    order.forEach((s, k) => {
      at[s.id] = k;
      bytes[k] = Math.max(bytes[k] ?? 0, s.bytes);
    });
    return at;
  });
  return { bytes, index };
}
