// Runs a Program on the GPU: buffers and pipelines made once, each run encoded
// into one command buffer and submitted once.
import type { Program, Step, TensorInfo } from "../compiler/program.ts";
import { numel } from "../ops/wgsl.ts";
import { createStorage, fill, readBack, STORAGE, upload } from "./buffers.ts";
import { planMemory } from "../compiler/memory.ts";
import type { Gpu } from "./device.ts";
import { encode, prepare, type Prepared } from "./launch.ts";

export class Executor {
  private owned = new Set<GPUBuffer>();

  private constructor(
    readonly gpu: Gpu,
    readonly program: Program,
    readonly buffers: Map<string, GPUBuffer>,
    private forwardSteps: Prepared[],
    private backwardSteps: Prepared[],
  ) {}

  /**
   * `shared` holds buffers that several programs use (parameters and their state,
   * and with `shareInputs` the inputs): taken from it when present, added otherwise.
   */
  static async create(
    gpu: Gpu,
    program: Program,
    shared?: Map<string, GPUBuffer>,
    opts: { shareInputs?: boolean; plan?: boolean } = {},
  ): Promise<Executor> {
    const kinds: TensorInfo["kind"][] = [
      "param",
      "state",
      ...(opts.shareInputs ? ["input" as const] : []),
    ];
    const { device } = gpu;
    const buffers = new Map<string, GPUBuffer>();
    const owned = new Set<GPUBuffer>();
    // Short-lived tensors share the planned slots (unless a test wants every tensor kept).
    const memory = opts.plan === false
      ? undefined
      : planMemory(program, { backward: program.backward.length > 0 });
    const slots = memory?.slots.map((s) => {
      const b = device.createBuffer({ size: s.bytes, usage: STORAGE, label: `slot ${s.id}` });
      owned.add(b);
      return b;
    });
    for (const t of program.tensors.values()) {
      const slot = memory?.slotOf.get(t.name);
      if (slot !== undefined) {
        buffers.set(t.name, slots![slot]);
        continue;
      }
      const share = shared && kinds.includes(t.kind);
      let b = share ? shared.get(t.name) : undefined;
      if (!b) {
        b = createStorage(device, numel(t.shape), t.name);
        if (share) shared.set(t.name, b);
        else owned.add(b);
      }
      buffers.set(t.name, b);
    }
    const lookup = (step: Step) => (role: string) => {
      const name = step.roles[role];
      const b = name === undefined ? undefined : buffers.get(name);
      if (!b) throw new Error(`${step.label}: kernel binds role ${role}, which has no tensor`);
      return b;
    };
    const prep = async (steps: Step[]) =>
      (await Promise.all(steps.map((s) => prepare(device, s.dispatches, lookup(s))))).flat();
    const [f, b] = await Promise.all([prep(program.forward), prep(program.backward)]);
    const exec = new Executor(gpu, program, buffers, f, b);
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
    upload(this.gpu.device, this.buffers.get(name)!, data);
  }

  /** Fills tensors with NaN so that an element no kernel writes shows up in a test. */
  poison(kinds: TensorInfo["kind"][]): void {
    for (const t of this.program.tensors.values()) {
      if (kinds.includes(t.kind)) {
        fill(this.gpu.device, this.buffers.get(t.name)!, numel(t.shape), NaN);
      }
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

  get dispatchCount(): { forward: number; backward: number } {
    return { forward: this.forwardSteps.length, backward: this.backwardSteps.length };
  }

  async read(names: string[]): Promise<Map<string, Float32Array>> {
    const got = await readBack(
      this.gpu.device,
      names.map((n) => ({ buffer: this.buffers.get(n)!, elements: numel(this.tensor(n).shape) })),
    );
    return new Map(names.map((n, i) => [n, got[i]]));
  }

  /** Frees the buffers this executor made (not the shared ones). */
  destroy(): void {
    for (const b of this.owned) b.destroy();
  }
}
