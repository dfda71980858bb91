// Runs a Program on the GPU: buffers and pipelines made once, each run encoded
// into one command buffer and submitted once.
import { UserError } from "../errors.ts";
import type { Program, Step, TensorInfo } from "../plan/program.ts";
import { numel } from "../ops/wgsl.ts";
import { createStorage, fill, readBack, type Region, STORAGE, upload, whole } from "./buffers.ts";
import { type MemoryPlan, planMemory } from "../plan/memory.ts";
import { launchSteps, mergeLimits } from "../plan/merge.ts";
import type { Gpu } from "./device.ts";
import { encode, prepare, type Prepared } from "./launch.ts";

/** A plan this adapter cannot run, said before anything is submitted. */
export class PlanLimitError extends UserError {}

/**
 * A tensor bigger than one binding may be would void every submit that binds it
 * (WebGPU reports it asynchronously and the step computes nothing): refuse up front.
 */
function checkLimits(program: Program, limits: GPUSupportedLimits): void {
  const max = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  const big = [...program.tensors.values()].filter((t) => numel(t.shape) * 4 > max);
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

export class Executor {
  private owned = new Set<GPUBuffer>();

  private constructor(
    readonly gpu: Gpu,
    readonly program: Program,
    /** where each tensor lives */
    readonly regions: Map<string, Region>,
    private forwardSteps: Prepared[],
    private backwardSteps: Prepared[],
  ) {}

  /**
   * `shared` holds tensors that several programs use (parameters, their state and
   * gradients, and with `shareInputs` the inputs): taken from it when present,
   * added to it otherwise.
   */
  static async create(
    gpu: Gpu,
    program: Program,
    shared?: Map<string, Region>,
    opts: {
      shareInputs?: boolean;
      plan?: boolean;
      /** a plan made beforehand (with `slots`, buffers shared with other executors) */
      memory?: MemoryPlan;
      /** buffer of each slot id of `memory`, owned by the caller */
      slots?: GPUBuffer[];
    } = {},
  ): Promise<Executor> {
    const { device } = gpu;
    checkLimits(program, device.limits);
    const isShared = (t: TensorInfo) =>
      t.kind === "param" || t.kind === "state" || (opts.shareInputs && t.kind === "input") ||
      (t.kind === "grad" && shared?.has(t.name));
    const regions = new Map<string, Region>();
    const owned = new Set<GPUBuffer>();
    // Short-lived tensors share the planned slots (unless a test wants every tensor kept).
    const memory = opts.plan === false ? undefined : opts.memory ?? planMemory(program, {
      backward: program.backward.length > 0,
      merge: mergeLimits(device.limits),
    });
    const slots = opts.slots ?? memory?.slots.map((s) => {
      const b = device.createBuffer({ size: s.bytes, usage: STORAGE, label: `slot ${s.id}` });
      owned.add(b);
      return b;
    });
    for (const t of program.tensors.values()) {
      const slot = memory?.slotOf.get(t.name);
      if (slot !== undefined) {
        regions.set(t.name, whole(slots![slot]));
        continue;
      }
      const share = shared && isShared(t);
      let r = share ? shared.get(t.name) : undefined;
      if (!r) {
        const b = createStorage(device, numel(t.shape), t.name);
        r = whole(b);
        if (share) shared.set(t.name, r);
        else owned.add(b);
      }
      regions.set(t.name, r);
    }
    const lookup = (step: Step) => (role: string) => {
      const name = step.roles[role];
      const r = name === undefined ? undefined : regions.get(name);
      if (!r) throw new Error(`${step.label}: kernel binds role ${role}, which has no tensor`);
      return r;
    };
    const prep = async (steps: Step[]) =>
      (await Promise.all(
        steps.map(async (s) =>
          (await prepare(device, s.dispatches, lookup(s))).map((p) => ({ ...p, step: s.label }))
        ),
      )).flat();
    const run = memory?.launches ?? launchSteps(program, mergeLimits(device.limits));
    const [f, b] = await Promise.all([prep(run.forward), prep(run.backward)]);
    const exec = new Executor(gpu, program, regions, f, b);
    exec.owned = owned;
    return exec;
  }

  tensor(name: string): TensorInfo {
    const t = this.program.tensors.get(name);
    if (!t) throw new Error(`no tensor ${name} in ${this.program.network}`);
    return t;
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
  poison(kinds: TensorInfo["kind"][]): void {
    for (const t of this.program.tensors.values()) {
      if (!kinds.includes(t.kind)) continue;
      const r = this.regions.get(t.name)!;
      fill(this.gpu.device, r.buffer, numel(t.shape), NaN, r.offset);
    }
  }

  /** Forward, backward when asked, then `after` (an optimiser), in one command buffer. */
  run(opts: { backward?: boolean; after?: Prepared[] } = {}): void {
    const { device } = this.gpu;
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    encode(pass, this.forwardSteps);
    if (opts.backward) encode(pass, this.backwardSteps);
    if (opts.after) encode(pass, opts.after);
    pass.end();
    device.queue.submit([enc.finish()]);
  }

  /** The prepared dispatches, in order (for the profiler). */
  get launches(): { forward: Prepared[]; backward: Prepared[] } {
    return { forward: this.forwardSteps, backward: this.backwardSteps };
  }

  get dispatchCount(): { forward: number; backward: number } {
    return { forward: this.forwardSteps.length, backward: this.backwardSteps.length };
  }

  async read(names: string[]): Promise<Map<string, Float32Array>> {
    const got = await readBack(
      this.gpu.device,
      names.map((n) => {
        const r = this.regions.get(n)!;
        return { buffer: r.buffer, offset: r.offset, elements: numel(this.tensor(n).shape) };
      }),
    );
    return new Map(names.map((n, i) => [n, got[i]]));
  }

  /** Frees the buffers this executor made (not the shared ones). */
  destroy(): void {
    for (const b of this.owned) b.destroy();
  }
}
