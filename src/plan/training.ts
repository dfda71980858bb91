// A training plan: one program per player (a GAN's D and G updates) over shared
// parameters. All weights live in one arena and their gradients in a second with
// the same layout, grouped by player, so that each player's optimiser phase is one
// dispatch over one range; running statistics get a third arena. The updates run
// one after the other, so their short-lived tensors share slot buffers.
import type { TypedNetwork } from "../lang/ir.ts";
import type { Dispatch } from "../ops/types.ts";
import { grid, WG } from "../ops/wgsl.ts";
import { buildProgram, gradName, type Program } from "./program.ts";
import {
  arenaLayout,
  KernelTable,
  type Plan,
  type PlanOptions,
  planPrograms,
  type PlanTensor,
  type PlanTensorKind,
} from "./plan.ts";
import { launchSteps, type MergeOptions, mergeOptions } from "./merge.ts";
import { reusableForward, type Reuse } from "./reuse.ts";

export interface PlayerSpec {
  name: string;
  /** parameters it trains: those of these networks */
  networks: string[];
  /** step outputs whose upstream gradient starts its backward pass */
  losses: string[];
  /** step outputs it computes */
  outputs: string[];
  optimizer: "adam" | "sgd";
}

// Both walk vec4s (each span is a multiple of 16 bytes: arenaLayout): on llvmpipe a
// thread's load costs far more than its width.
const ADAM = `
@group(0) @binding(0) var<storage, read_write> p: array<vec4f>;
@group(0) @binding(1) var<storage, read> g: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> m: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> v: array<vec4f>;
// [lr * sqrt(1 - beta2^t) / (1 - beta1^t), beta1, beta2, eps * sqrt(1 - beta2^t)]
@group(0) @binding(4) var<storage, read> h: array<f32>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = gid.x + gid.y * nw.x * ${WG}u;
  if (i >= arrayLength(&p)) { return; }
  let gi = g[i];
  let mi = h[1] * m[i] + (1.0 - h[1]) * gi;
  let vi = h[2] * v[i] + (1.0 - h[2]) * gi * gi;
  m[i] = mi;
  v[i] = vi;
  p[i] = p[i] - h[0] * mi / (sqrt(vi) + h[3]);
}`;

const SGD = `
@group(0) @binding(0) var<storage, read_write> p: array<vec4f>;
@group(0) @binding(1) var<storage, read> g: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> m: array<vec4f>;
@group(0) @binding(3) var<storage, read> h: array<f32>;  // [lr, momentum]
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = gid.x + gid.y * nw.x * ${WG}u;
  if (i >= arrayLength(&p)) { return; }
  let mi = h[1] * m[i] + g[i];
  m[i] = mi;
  p[i] = p[i] - h[0] * mi;
}`;

/**
 * A player's optimiser step over n parameters (a multiple of 4), bound as p, g, its
 * state (optimizerState order) and h, the scalars Optimizer.next() writes.
 */
export function optimizerDispatch(type: "adam" | "sgd", player: string, n: number): Dispatch {
  return {
    label: `${type} ${player}`,
    code: type === "adam" ? ADAM : SGD,
    entry: "main",
    workgroups: grid(n / 4, WG),
    bindings: [
      { role: "p", write: true, vec4: true },
      { role: "g", vec4: true },
      ...optimizerState(type, player).map((s) => ({ role: s, write: true, vec4: true })),
      { role: "h" },
    ],
  };
}

/** The optimiser's state tensors of a player: "adam.m.d", "adam.v.d" or "sgd.m.d". */
export function optimizerState(type: "adam" | "sgd", player: string): string[] {
  return (type === "adam" ? ["m", "v"] : ["m"]).map((s) => `${type}.${s}.${player}`);
}

/** The small tensor of step-dependent scalars the host writes before each update. */
export const hyperName = (player: string) => `hyper.${player}`;

/** Each player's program: its update's forward and backward pass, before planning. */
export function trainingPrograms(
  step: TypedNetwork,
  players: PlayerSpec[],
  opts: PlanOptions & { batch: number; fuse?: boolean },
): { spec: PlayerSpec; owns: (p: string) => boolean; program: Program }[] {
  return players
    .map((spec) => {
      const owns = (param: string) => spec.networks.some((n) => param.startsWith(`${n}.`));
      return {
        spec,
        owns,
        program: buildProgram(step, {
          batch: opts.batch,
          training: true,
          backwardFrom: spec.losses,
          trains: owns,
          outputs: spec.outputs,
          fuse: opts.fuse,
          target: opts.target,
        }),
      };
    });
}

/**
 * What the last update (a GAN's G) may take from the first (D), which runs just before
 * it in an iteration and changes only its own parameters (src/plan/reuse.ts).
 */
function reuseBetween(
  programs: ReturnType<typeof trainingPrograms>,
  merge: MergeOptions,
): Reuse | undefined {
  if (programs.length !== 2) return undefined;
  const [first, last] = programs;
  const runs = launchSteps(last.program, merge);
  const r = reusableForward(first.program.forward, last.program, runs, first.owns);
  return r.steps.size ? r : undefined;
}

export function compileTraining(
  step: TypedNetwork,
  players: PlayerSpec[],
  opts: PlanOptions & { batch: number; fuse?: boolean },
): Plan {
  const programs = trainingPrograms(step, players, opts);
  const all = programs[0].program;
  const trainable = [...all.tensors.values()].filter((t) => t.kind === "param");
  const ordered = [
    ...programs.flatMap(({ owns }) => trainable.filter((t) => owns(t.name))),
    ...trainable.filter((t) => !programs.some(({ owns }) => owns(t.name))),
  ];
  const align = opts.target.limits.align;
  const params = arenaLayout(ordered, align);
  // Running statistics apart: batch norm writes them while reading its weights, and
  // WebGPU forbids read-only and writable bindings of one buffer in a dispatch.
  const state = arenaLayout([...all.tensors.values()].filter((t) => t.kind === "state"), align);
  const arenas = new Map<string, { name: string; offset: number; size: number }>();
  for (const [n, o] of params.offsets) {
    arenas.set(n, { name: "parameters", ...o });
    arenas.set(gradName(n), { name: "gradients", ...o });
  }
  for (const [n, o] of state.offsets) arenas.set(n, { name: "running statistics", ...o });
  const reuse = reuseBetween(programs, mergeOptions(opts.target));
  const plan = planPrograms(
    programs.map(({ spec, program }, i) => ({
      name: spec.name,
      program,
      lower: {
        arenas,
        shared: ["param", "state", "input"] as PlanTensorKind[],
        sharedTensors: reuse?.shared,
        reuse: i === programs.length - 1 && reuse
          ? { after: programs[0].spec.name, steps: reuse.steps }
          : undefined,
      },
    })),
    { ...opts, poolSlots: true },
  );
  plan.arenas = [
    { name: "parameters", bytes: params.bytes },
    { name: "gradients", bytes: params.bytes },
    { name: "running statistics", bytes: state.bytes },
  ];
  const kernels = new KernelTable(plan.kernels);
  programs.forEach(({ spec, owns }, i) => {
    const mine = ordered.filter((t) => owns(t.name)).map((t) => params.offsets.get(t.name)!);
    if (!mine.length) return;
    const offset = Math.min(...mine.map((r) => r.offset));
    const size = Math.max(...mine.map((r) => r.offset + r.size)) - offset;
    const n = size / 4;
    const prog = plan.programs[i];
    const add = (t: PlanTensor) => (prog.tensors[t.name] = t).name;
    const p = add({
      name: `span.parameters.${spec.name}`,
      shape: [n],
      kind: "span",
      arena: { name: "parameters", offset, size },
    });
    const g = add({
      name: `span.gradients.${spec.name}`,
      shape: [n],
      kind: "span",
      arena: { name: "gradients", offset, size },
    });
    const st = optimizerState(spec.optimizer, spec.name).map((name) =>
      add({ name, shape: [n], kind: "optimizer" })
    );
    const h = add({ name: hyperName(spec.name), shape: [4], kind: "hyper" });
    // The range includes padding between tensors: its gradients stay zero, so it stays.
    const d = optimizerDispatch(spec.optimizer, spec.name, n);
    prog.phases.optimizer.push(kernels.launch(d, d.label, [p, g, ...st, h]));
  });
  return plan;
}
