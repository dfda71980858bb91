// Forward steps one update can take from the update that ran just before it. A GAN
// iteration runs D's update, then G's; both start with G's forward pass (D needs the
// generated faces), and G's parameters do not change in between, so G's update can
// skip what D's update just computed from the same inputs, as PyTorch code computes
// the fakes once per iteration. Its tensors that the rest of G's update reads then
// live in buffers both updates share, instead of in slots either may reuse.
import type { Program, Step, TensorInfo } from "./program.ts";
import { stepTensors } from "./memory.ts";

export interface Reuse {
  /** indices into the later program's (merged) forward steps that it may skip */
  steps: Set<number>;
  /** tensors those steps write that the later program reads elsewhere: kept, shared */
  shared: Set<string>;
}

/** What makes two steps compute the same thing: kernels, grid and bound tensors. */
function stepKey(s: Step): string {
  return JSON.stringify([
    s.label,
    s.roles,
    s.dispatches.map((d) => [d.code, d.entry, d.workgroups, d.bindings]),
  ]);
}

/**
 * The forward launches of `later` that `earlier` runs alike: a step of `later` (before
 * merging) computes what it did in `earlier` when `earlier` has the same step (same
 * kernels on the same tensors) and everything it reads is the same in both runs: the
 * program inputs, constants, parameters and running statistics that `changes` says
 * the earlier update leaves alone, and what other such steps wrote. (Training steps
 * only update running statistics, never compute from them: a skipped batch norm
 * updates them once an iteration instead of twice.) A merged launch (launchSteps, as
 * run) is skipped when every step in it is such a step.
 */
export function reusableForward(
  earlier: Step[],
  later: Program,
  launches: { forward: Step[]; backward: Step[] },
  changes: (param: string) => boolean,
): Reuse {
  const none = { steps: new Set<number>(), shared: new Set<string>() };
  const labels = later.forward.map((s) => s.label);
  // merged launches name their steps by label: they must be unambiguous
  if (new Set(labels).size !== labels.length || labels.some((l) => l.includes(" | "))) {
    return none;
  }
  const keys = new Set(earlier.map(stepKey));
  const kind = (t: string): TensorInfo["kind"] | undefined => later.tensors.get(t)?.kind;
  const param = (t: string) => kind(t) === "param" || kind(t) === "state";
  const stable = (t: string) =>
    param(t) ? !changes(t) : kind(t) === "const" || later.inputs.includes(t);
  const same = new Set<string>(), made = new Set<string>();
  for (const s of later.forward) {
    if (!keys.has(stepKey(s))) continue;
    const ts = stepTensors(s);
    const ok = [...ts].every(([t, w]) => param(t) ? stable(t) : w || stable(t) || made.has(t));
    if (!ok) continue;
    same.add(s.label);
    for (const [t, w] of ts) if (w && !param(t)) made.add(t);
  }
  const steps = new Set<number>();
  launches.forward.forEach((s, i) => {
    if (s.label.split(" | ").every((l) => same.has(l))) steps.add(i);
  });
  // What skipped launches wrote and the launches that still run read: from `earlier`.
  const written = new Set<string>();
  launches.forward.forEach((s, i) => {
    if (steps.has(i)) { for (const [t, w] of stepTensors(s)) if (w && !param(t)) written.add(t); }
  });
  const shared = new Set<string>();
  const running = [...launches.forward.filter((_, i) => !steps.has(i)), ...launches.backward];
  for (const s of running) for (const t of stepTensors(s).keys()) if (written.has(t)) shared.add(t);
  for (const t of Object.values(later.outputs)) if (written.has(t)) shared.add(t);
  return { steps, shared };
}
