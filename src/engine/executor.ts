// src/engine, the end of YAML -> IR (src/lang) -> Plan (src/plan) -> engine: it
// opens the device (device.ts) and walks Plans; train, infer and eval drive it.
// This file runs one program of a Plan on the GPU: buffers, pipelines and bind
// groups made once from the plan, each run encoded into one command buffer and
// submitted once. It decides nothing: where tensors live and what launches come
// from the plan, and it imports no compiler code (types only).
import { UserError } from "../errors.ts";
import type { Plan, PlanLaunch, PlanProgram, PlanTensor } from "../plan/plan.ts";
import { numel } from "../ops/wgsl.ts";
import { createStorage, fill, readBack, type Region, STORAGE, upload, whole } from "./buffers.ts";
import type { Gpu } from "./device.ts";
import { encode, type Prepared } from "./launch.ts";
import { compile } from "./pipelines.ts";

/** A plan this adapter cannot run, said before anything is submitted. */
export class PlanLimitError extends UserError {}

/**
 * A tensor bigger than one binding may be would void every submit that binds it
 * (WebGPU reports it asynchronously and the step computes nothing): refuse up front.
 */
function checkLimits(program: PlanProgram, limits: GPUSupportedLimits): void {
  const max = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  const big = Object.values(program.tensors).filter((t) => numel(t.shape) * 4 > max);
  if (!big.length) return;
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
  const t = big.sort((a, b) => numel(b.shape) - numel(a.shape))[0];
  throw new PlanLimitError(
    `${program.network} at batch ${program.batch}: tensor ${t.name} [${t.shape.join(", ")}] ` +
      `needs ${mib(numel(t.shape) * 4)}, more than this adapter binds at once (${mib(max)})` +
      `${big.length > 1 ? `; ${big.length - 1} more tensors too` : ""}. Use a smaller batch ` +
      `(e.g. --set training.batch=${
        Math.max(1, Math.floor(program.batch * max / (numel(t.shape) * 4)))
      }).`,
  );
}

/** The plan's slot and arena buffers, made once for every program of it. */
export interface PlanBuffers {
  slots: GPUBuffer[];
  arenas: Map<string, GPUBuffer>;
}

export function allocate(device: GPUDevice, plan: Plan): PlanBuffers {
  const align = device.limits.minStorageBufferOffsetAlignment;
  // A plan merges kernels up to its target's limits: a device offering less fails it.
  const d = device.limits, want = plan.limits;
  if (
    d.maxStorageBuffersPerShaderStage < want.maxBindings ||
    d.maxComputeWorkgroupStorageSize < want.maxWorkgroupBytes
  ) {
    throw new PlanLimitError(
      `the plan was compiled for ${plan.target}, which allows ${want.maxBindings} storage ` +
        `buffers and ${want.maxWorkgroupBytes} bytes of workgroup memory per kernel; this ` +
        `adapter allows ${d.maxStorageBuffersPerShaderStage} and ` +
        `${d.maxComputeWorkgroupStorageSize}: compile it for this adapter's target`,
    );
  }
  const slots = plan.slots.map((size, k) =>
    device.createBuffer({ size, usage: STORAGE, label: `slot ${k}` })
  );
  const arenas = new Map(
    plan.arenas.map((a) => [
      a.name,
      device.createBuffer({ size: a.bytes, usage: STORAGE, label: a.name }),
    ]),
  );
  for (const p of plan.programs) {
    for (const t of Object.values(p.tensors)) {
      if (t.arena && t.arena.offset % align) {
        throw new PlanLimitError(
          `the plan places ${t.name} at byte ${t.arena.offset}, not a multiple of this ` +
            `adapter's alignment (${align}): compile it for this adapter's target`,
        );
      }
    }
  }
  return { slots, arenas };
}

export function destroyBuffers(b: PlanBuffers): void {
  for (const s of b.slots) s.destroy();
  for (const a of b.arenas.values()) a.destroy();
}

type Phases = Record<
  PlanProgram["phases"] extends Record<infer K, unknown> ? K : never,
  Prepared[]
>;

export class Executor {
  private owned = new Set<GPUBuffer>();
  /** the forward launches less those program.reuse skips */
  private reused?: Prepared[];
  private ownBuffers?: PlanBuffers;
  private tensorsByName: Map<string, PlanTensor>;

  private constructor(
    readonly gpu: Gpu,
    readonly plan: Plan,
    readonly program: PlanProgram,
    /** where each tensor lives */
    readonly regions: Map<string, Region>,
    private phases: Phases,
  ) {
    this.tensorsByName = new Map(Object.entries(program.tensors));
  }

  /**
   * Runs `opts.program` of `plan` (default its first). `shared` holds tensors the
   * plan shares by name (parameters; a trainer's inputs) and arena ranges: taken
   * from it when present, added to it otherwise, so that several executors (or
   * plans) use one buffer. `buffers`: the plan's slots and arenas, made by the
   * caller for all its programs; otherwise the executor makes and owns them.
   */
  static async create(
    gpu: Gpu,
    plan: Plan,
    opts: { program?: string; shared?: Map<string, Region>; buffers?: PlanBuffers } = {},
  ): Promise<Executor> {
    const { device } = gpu;
    const program = opts.program === undefined
      ? plan.programs[0]
      : plan.programs.find((p) => p.name === opts.program);
    if (!program) throw new Error(`the plan has no program ${opts.program}`);
    checkLimits(program, device.limits);
    const shared = opts.shared ?? new Map<string, Region>();
    const buffers = opts.buffers ?? allocate(device, plan);
    const regions = new Map<string, Region>();
    const owned = new Set<GPUBuffer>();
    for (const t of Object.values(program.tensors)) {
      let r: Region | undefined;
      if (t.slot !== undefined) r = whole(buffers.slots[t.slot]);
      else if (t.arena) {
        r = {
          buffer: buffers.arenas.get(t.arena.name)!,
          offset: t.arena.offset,
          size: t.arena.size,
        };
        if (t.kind !== "span") shared.set(t.name, r);
      } else if (t.shared) {
        r = shared.get(t.name);
        if (!r) {
          const b = createStorage(device, numel(t.shape), t.name);
          if (!opts.shared) owned.add(b);
          shared.set(t.name, r = whole(b));
        }
      } else {
        const b = createStorage(device, numel(t.shape), t.name);
        owned.add(b);
        r = whole(b);
      }
      regions.set(t.name, r);
      if (t.values) upload(device, r.buffer, Float32Array.from(t.values), r.offset);
    }
    const prep = async (launches: PlanLaunch[]): Promise<Prepared[]> => {
      const compiled = await Promise.all(
        launches.map((l) => compile(device, plan.kernels[l.kernel], gpu.pipelines)),
      );
      return launches.map((l, k) => ({
        pipeline: compiled[k].pipeline,
        bindGroup: device.createBindGroup({
          layout: compiled[k].layout,
          entries: l.args.map((t, i) => ({ binding: i, resource: regions.get(t)! })),
        }),
        workgroups: l.workgroups,
        label: l.label,
        step: l.step,
      }));
    };
    const [forward, backward, optimizer] = await Promise.all([
      prep(program.phases.forward),
      prep(program.phases.backward),
      prep(program.phases.optimizer),
    ]);
    const exec = new Executor(gpu, plan, program, regions, { forward, backward, optimizer });
    exec.owned = owned;
    if (program.reuse) {
      const skip = new Set(program.reuse.skip);
      exec.reused = forward.filter((_, i) => !skip.has(i));
    }
    if (!opts.buffers) exec.ownBuffers = buffers;
    return exec;
  }

  tensor(name: string): PlanTensor {
    const t = this.tensorsByName.get(name);
    if (!t) throw new Error(`no tensor ${name} in ${this.program.name}`);
    return t;
  }

  has(name: string): boolean {
    return this.tensorsByName.has(name);
  }

  write(name: string, data: Float32Array<ArrayBuffer>): void {
    const t = this.tensor(name);
    if (data.length !== numel(t.shape)) {
      throw new Error(`${name}: expected ${numel(t.shape)} values, got ${data.length}`);
    }
    const r = this.regions.get(name)!;
    upload(this.gpu.device, r.buffer, data, r.offset);
  }

  /** Fills tensors with NaN so that an element no kernel writes shows up in a test. */
  poison(kinds: PlanTensor["kind"][]): void {
    for (const t of this.tensorsByName.values()) {
      if (!kinds.includes(t.kind)) continue;
      const r = this.regions.get(t.name)!;
      fill(this.gpu.device, r.buffer, numel(t.shape), NaN, r.offset);
    }
  }

  /**
   * Forward (unless `forward: false`), then backward and the optimiser phase when
   * asked, in one command buffer. Data-parallel training runs the optimiser phase
   * alone, after the gradients are summed across ranks. `reuse`: the program the plan
   * names in `reuse.after` has just run on the same inputs, so the forward launches
   * it computed for this one are skipped.
   */
  run(
    opts: { forward?: boolean; backward?: boolean; optimizer?: boolean; reuse?: boolean } = {},
  ): void {
    const { device } = this.gpu;
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    const phases = this.launches(opts.reuse);
    if (opts.forward ?? true) encode(pass, phases.forward);
    if (opts.backward) encode(pass, phases.backward);
    if (opts.optimizer) encode(pass, phases.optimizer);
    pass.end();
    device.queue.submit([enc.finish()]);
  }

  /**
   * The prepared dispatches, in order (for the profiler); with `reuse`, the forward
   * phase as run with it (see run).
   */
  launches(reuse = false): Phases {
    return reuse && this.reused ? { ...this.phases, forward: this.reused } : this.phases;
  }

  get dispatchCount(): { forward: number; backward: number } {
    return { forward: this.phases.forward.length, backward: this.phases.backward.length };
  }

  async read(names: string[]): Promise<Map<string, Float32Array>> {
    const got = await readBack(
      this.gpu.device,
      names.map((n) => {
        const r = this.regions.get(n);
        if (!r) throw new Error(`no tensor ${n} in ${this.program.name}`);
        return { buffer: r.buffer, offset: r.offset, elements: numel(this.tensor(n).shape) };
      }),
    );
    return new Map(names.map((n, i) => [n, got[i]]));
  }

  /** Frees the buffers this executor made (not the shared ones, nor buffers given to it). */
  destroy(): void {
    for (const b of this.owned) b.destroy();
    if (this.ownBuffers) destroyBuffers(this.ownBuffers);
  }
}
