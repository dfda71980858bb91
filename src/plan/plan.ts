// src/plan, the middle of YAML -> IR (src/lang) -> Plan -> engine (src/engine): it
// lowers a typed network to kernel steps (program.ts: autodiff, fusion), merges
// independent dispatches (merge.ts), plans memory (memory.ts) and picks kernels for
// a Target (target.ts), and hands the engine a Plan (this file; training.ts for a
// trainer's players, plan_report.ts to read one).
//
// The Plan: everything the engine runs, as plain JSON data. Kernels (WGSL, entry
// point, which bindings write) appear once however often they launch; each program
// (a network's inference, or a player's training update) has a tensor table saying
// where every tensor lives (a slot buffer, a range of an arena, a buffer shared by
// name between programs, or a buffer of its own) and, per phase, launches naming
// a kernel, its workgroups and the tensors bound in order. The engine makes
// buffers, pipelines and bind groups from it once and decides nothing.
import { readJsonGuarded } from "../formats/read.ts";
import { UserError } from "../errors.ts";
import { writeFileAtomic } from "../formats/atomic.ts";
import type { TypedNetwork } from "../lang/ir.ts";
import type { Dispatch } from "../ops/types.ts";
import { buildProgram, type Program, type ProgramOptions, type TensorInfo } from "./program.ts";
import { type MemoryPlan, planMemory, poolSlots } from "./memory.ts";
import { launchSteps, mergeOptions } from "./merge.ts";
import type { Target } from "./target.ts";
import { pipelineKey } from "../engine/pipelines.ts";

export const PLAN_VERSION = 1;

export interface PlanKernel {
  label: string;
  code: string;
  entry: string;
  /** per binding, in order: whether the kernel writes it */
  writes: boolean[];
}

export interface PlanLaunch {
  /** index into Plan.kernels */
  kernel: number;
  label: string;
  /** the layer(s) it computes, for reports and profiles */
  step: string;
  workgroups: [number, number, number];
  /** the tensor bound at each binding of the kernel */
  args: string[];
}

/** Optimiser state and the like: tensors a plan adds beside the network's. */
export type PlanTensorKind = TensorInfo["kind"] | "optimizer" | "hyper" | "span";

export interface PlanTensor {
  name: string;
  shape: number[];
  kind: PlanTensorKind;
  init?: TensorInfo["init"];
  /** index into Plan.slots: a buffer short-lived tensors take turns in */
  slot?: number;
  /** a range of one of Plan.arenas */
  arena?: { name: string; offset: number; size: number };
  /** one buffer for every program naming it (parameters, a trainer's inputs) */
  shared?: boolean;
  /** a "const" tensor's values (sizes a kernel reads), written when the plan is loaded */
  values?: number[];
}

export type Phase = "forward" | "backward" | "optimizer";

export interface PlanProgram {
  name: string;
  network: string;
  batch: number;
  training: boolean;
  fused: boolean;
  inputs: string[];
  /** network output name -> tensor */
  outputs: Record<string, string>;
  /** parameter tensors (trainable and state), in a stable order */
  params: string[];
  tensors: Record<string, PlanTensor>;
  phases: Record<Phase, PlanLaunch[]>;
  /**
   * forward launches (indices into phases.forward) that program `after` runs alike,
   * from the same values, into the same buffers: skipped when it ran just before
   * (a trainer's G update after its D update; src/plan/reuse.ts)
   */
  reuse?: { after: string; skip: number[] };
  /** memory planning, for reports: this program's slots and what it saves */
  memory: {
    slots: { slot: number; bytes: number; tensors: string[] }[];
    persistent: number;
    peakBytes: number;
    unplannedBytes: number;
  };
}

export interface Plan {
  version: number;
  /** the Target it was compiled for (its adapter line) */
  target: string;
  /** the limits it was compiled within: a device must offer at least these */
  limits: Target["limits"];
  kernels: PlanKernel[];
  /** bytes of each slot buffer */
  slots: number[];
  arenas: { name: string; bytes: number }[];
  programs: PlanProgram[];
}

/** Builds the kernel table, each distinct kernel once. */
export class KernelTable {
  private index = new Map<string, number>();

  /** `kernels`: a plan's table to extend (kept in place) */
  constructor(readonly kernels: PlanKernel[] = []) {
    kernels.forEach((k, i) => this.index.set(pipelineKey(k), i));
  }

  add(d: { label: string; code: string; entry: string; writes: boolean[] }): number {
    const key = pipelineKey(d);
    let k = this.index.get(key);
    if (k === undefined) {
      k = this.kernels.length;
      this.kernels.push({ label: d.label, code: d.code, entry: d.entry, writes: d.writes });
      this.index.set(key, k);
    }
    return k;
  }

  launch(d: Dispatch, step: string, args: string[]): PlanLaunch {
    const kernel = this.add({ ...d, writes: d.bindings.map((b) => !!b.write) });
    return { kernel, label: d.label, step, workgroups: d.workgroups, args };
  }
}

export interface LowerOptions {
  /** the program's name in the plan (default: its network's) */
  name?: string;
  /** plan memory: short-lived tensors share slots (default true; tests keep every tensor) */
  memory?: boolean;
  /** tensors of these kinds get one buffer shared by name across programs (default param, state) */
  shared?: PlanTensorKind[];
  /** where tensors of an arena live: name -> range */
  arenas?: Map<string, { name: string; offset: number; size: number }>;
  /** more tensors with one buffer shared by name across programs (kept out of slots) */
  sharedTensors?: Set<string>;
  /** forward steps (merged, as run) that program `after` computes: PlanProgram.reuse */
  reuse?: { after: string; steps: Set<number> };
}

/**
 * One program of a plan: its launches (merged for `target`) and tensor table. `slotBase`
 * and `slotIndex` map its memory plan's slots onto the plan's slot buffers.
 */
export function lowerProgram(
  program: Program,
  target: Target,
  kernels: KernelTable,
  opts: LowerOptions & { memoryPlan?: MemoryPlan; slotOf?: (id: number) => number } = {},
): PlanProgram {
  const merge = mergeOptions(target);
  const memory = opts.memoryPlan;
  const runs = memory?.launches ?? launchSteps(program, merge);
  const slotOf = opts.slotOf ?? ((id: number) => id);
  const shared = new Set(opts.shared ?? ["param", "state"]);
  const tensors: Record<string, PlanTensor> = {};
  for (const t of program.tensors.values()) {
    const p: PlanTensor = { name: t.name, shape: t.shape, kind: t.kind };
    if (t.init) p.init = t.init;
    if (t.values) p.values = t.values;
    const slot = memory?.slotOf.get(t.name);
    const arena = opts.arenas?.get(t.name);
    if (slot !== undefined) p.slot = slotOf(slot);
    else if (arena) p.arena = arena;
    else if (shared.has(t.kind) || opts.sharedTensors?.has(t.name)) p.shared = true;
    tensors[t.name] = p;
  }
  const lower = (steps: typeof runs.forward) =>
    steps.flatMap((s) =>
      s.dispatches.map((d) =>
        kernels.launch(
          d,
          s.label,
          d.bindings.map((b) => {
            const t = s.roles[b.role];
            if (t === undefined) {
              throw new Error(`${s.label}: kernel binds role ${b.role}, which has no tensor`);
            }
            return t;
          }),
        )
      )
    );
  const forward = lower(runs.forward);
  let reuse: PlanProgram["reuse"];
  if (opts.reuse?.steps.size) {
    // a step may be several dispatches: its launches are consecutive
    const skip: number[] = [];
    let at = 0;
    runs.forward.forEach((s, i) => {
      for (const _ of s.dispatches) {
        if (opts.reuse!.steps.has(i)) skip.push(at);
        at++;
      }
    });
    reuse = { after: opts.reuse.after, skip };
  }
  return {
    name: opts.name ?? program.network,
    network: program.network,
    batch: program.batch,
    training: program.training,
    fused: program.fused,
    inputs: program.inputs,
    outputs: program.outputs,
    params: program.params,
    tensors,
    phases: { forward, backward: lower(runs.backward), optimizer: [] },
    ...(reuse ? { reuse } : {}),
    memory: {
      slots: (memory?.slots ?? []).map((s) => ({
        slot: slotOf(s.id),
        bytes: s.bytes,
        tensors: s.tensors,
      })),
      persistent: memory ? memory.persistent.length : program.tensors.size,
      peakBytes: memory?.peakBytes ?? unplanned(program),
      unplannedBytes: memory?.unplannedBytes ?? unplanned(program),
    },
  };
}

function unplanned(program: Program): number {
  let n = 0;
  for (const t of program.tensors.values()) n += Math.max(16, Math.ceil(numel(t.shape) / 4) * 16);
  return n;
}

const numel = (s: number[]) => s.reduce((a, b) => a * b, 1);

/**
 * An arena's layout: the byte offset of every tensor, in order, each aligned to
 * `align` (the device's binding alignment) and sized in whole vec4s.
 */
export function arenaLayout(
  tensors: { name: string; shape: number[] }[],
  align: number,
): { offsets: Map<string, { offset: number; size: number }>; bytes: number } {
  const offsets = new Map<string, { offset: number; size: number }>();
  let at = 0;
  for (const t of tensors) {
    at = Math.ceil(at / align) * align;
    const size = Math.max(16, Math.ceil(numel(t.shape) / 4) * 16);
    offsets.set(t.name, { offset: at, size });
    at += size;
  }
  return { offsets, bytes: Math.max(16, Math.ceil(at / align) * align) };
}

export interface PlanOptions {
  target: Target;
  /** plan memory (default true) */
  memory?: boolean;
  /**
   * programs that never run at the same time share slot buffers (a trainer's two
   * updates); otherwise each program has slots of its own
   */
  poolSlots?: boolean;
}

/** A plan of already built programs, each with its own or (poolSlots) pooled slot buffers. */
export function planPrograms(
  programs: { name?: string; program: Program; lower?: LowerOptions }[],
  opts: PlanOptions,
): Plan {
  const kernels = new KernelTable();
  const merge = mergeOptions(opts.target);
  const memories = programs.map(({ program, lower }) =>
    opts.memory === false ? undefined : planMemory(program, {
      backward: program.backward.length > 0,
      merge,
      keep: lower?.sharedTensors,
    })
  );
  const slots: number[] = [];
  let maps: ((id: number) => number)[];
  if (opts.poolSlots && memories.every((m) => m)) {
    const pool = poolSlots(memories as MemoryPlan[]);
    slots.push(...pool.bytes);
    maps = pool.index.map((at) => (id: number) => at[id]);
  } else {
    maps = memories.map((m) => {
      const base = slots.length;
      for (const s of m?.slots ?? []) slots.push(s.bytes);
      return (id: number) => base + id;
    });
  }
  const lowered = programs.map(({ name, program, lower }, i) =>
    lowerProgram(program, opts.target, kernels, {
      ...lower,
      name: name ?? lower?.name,
      memoryPlan: memories[i],
      slotOf: maps[i],
    })
  );
  return {
    version: PLAN_VERSION,
    target: opts.target.adapter,
    limits: { ...opts.target.limits },
    kernels: kernels.kernels,
    slots,
    arenas: [],
    programs: lowered,
  };
}

/** compile(network, { batch, training, target }): one network's plan. */
export function compile(
  net: TypedNetwork,
  opts: ProgramOptions & PlanOptions & { name?: string },
): Plan {
  const program = buildProgram(net, { ...opts, target: opts.target });
  return planPrograms([{ name: opts.name, program }], opts);
}

/** The program of a plan by name (default: the first). */
export function planProgram(plan: Plan, name?: string): PlanProgram {
  const p = name === undefined ? plan.programs[0] : plan.programs.find((x) => x.name === name);
  if (!p) throw new Error(`plan has no program ${name}`);
  return p;
}

/** A plan file that cannot be run. */
export class PlanFileError extends UserError {}

export function savePlan(path: string, plan: Plan): void {
  writeFileAtomic(path, JSON.stringify(plan) + "\n");
}

/** A Plan file; with `inside`, its real path must lie in that folder (a shipped model). */
export function loadPlan(path: string, inside?: string): Plan {
  const data = readJsonGuarded(path, "plan file", (m) => new PlanFileError(m), inside);
  return parsePlan(data, path);
}

/** Checks the structure the engine relies on, so a corrupt file fails here, by name. */
export function parsePlan(data: unknown, source: string): Plan {
  const p = data as Partial<Plan> | null;
  const bad = (why: string) => new PlanFileError(`${source}: not a usable plan (${why})`);
  if (!p || typeof p !== "object") throw bad("not a JSON object");
  if (p.version !== PLAN_VERSION) {
    throw bad(`version ${p.version ?? "missing"}, this program reads version ${PLAN_VERSION}`);
  }
  if (!Array.isArray(p.kernels) || !Array.isArray(p.slots) || !Array.isArray(p.programs)) {
    throw bad("kernels, slots or programs missing");
  }
  if (!Array.isArray(p.arenas)) throw bad("arenas missing");
  const l = p.limits as unknown as Record<string, unknown> | undefined;
  for (const k of ["maxBindings", "maxWorkgroupBytes", "align"]) {
    if (typeof l?.[k] !== "number") throw bad(`limits.${k} missing`);
  }
  for (const k of p.kernels) {
    if (typeof k?.code !== "string" || typeof k.entry !== "string" || !Array.isArray(k.writes)) {
      throw bad("a kernel without code, entry or bindings");
    }
  }
  for (const g of p.programs) {
    if (!g || typeof g.tensors !== "object" || !g.phases) throw bad("a program without tensors");
    for (const t of Object.values(g.tensors)) {
      const v = t?.values;
      if (
        t?.kind === "const" &&
        !(Array.isArray(v) && v.length === numel(t.shape ?? []) && v.every(Number.isFinite))
      ) throw bad(`${g.name}: constant tensor ${t.name} without its values`);
    }
    for (const ph of ["forward", "backward", "optimizer"] as const) {
      for (const l of g.phases[ph] ?? []) {
        const k = p.kernels[l.kernel];
        if (!k || !Array.isArray(l.args) || l.args.length !== k.writes.length) {
          throw bad(`${g.name}: launch ${l.label} does not match its kernel`);
        }
        for (const a of l.args) {
          const t = g.tensors[a];
          if (!t) throw bad(`${g.name}: launch ${l.label} binds unknown tensor ${a}`);
          if (t.slot !== undefined && !(t.slot < p.slots.length)) {
            throw bad(`${g.name}: tensor ${a} in a missing slot`);
          }
        }
      }
    }
    const r = g.reuse;
    if (r === undefined) continue;
    const n = g.phases.forward?.length ?? 0;
    if (
      !p.programs.some((o) => o !== g && o?.name === r?.after) || !Array.isArray(r?.skip) ||
      !r.skip.every((i) => Number.isInteger(i) && i >= 0 && i < n)
    ) throw bad(`${g.name}: reuse names no other program or launches it does not have`);
  }
  return p as Plan;
}
