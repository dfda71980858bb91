// Encodes a list of dispatches against buffers named by role.
import type { Dispatch } from "../ops/types.ts";
import { compile, type PipelineCache } from "./pipelines.ts";
import type { Region } from "./buffers.ts";

export interface Prepared {
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  workgroups: [number, number, number];
  label: string;
  /** the step (layer) it belongs to, for reports */
  step?: string;
}

/**
 * Compiles (through `cache`: the device's, `gpu.pipelines`, so that identical WGSL
 * compiles once) and binds each dispatch once; the result is replayed every step.
 * For kernels outside a plan (op tests, benchmarks, the tuner).
 */
export async function prepare(
  device: GPUDevice,
  dispatches: Dispatch[],
  region: (role: string) => Region | GPUBuffer,
  cache: PipelineCache,
): Promise<Prepared[]> {
  const compiled = await Promise.all(
    dispatches.map((d) =>
      compile(device, { ...d, writes: d.bindings.map((b) => !!b.write) }, cache)
    ),
  );
  return dispatches.map((d, k) => ({
    pipeline: compiled[k].pipeline,
    bindGroup: device.createBindGroup({
      layout: compiled[k].layout,
      entries: d.bindings.map((b, i) => {
        const r = region(b.role);
        return { binding: i, resource: r instanceof GPUBuffer ? { buffer: r } : r };
      }),
    }),
    workgroups: d.workgroups,
    label: d.label,
  }));
}

export function encode(pass: GPUComputePassEncoder, steps: Prepared[]): void {
  for (const s of steps) {
    pass.setPipeline(s.pipeline);
    pass.setBindGroup(0, s.bindGroup);
    pass.dispatchWorkgroups(...s.workgroups);
  }
}

/** One command buffer, one submit. */
export function submit(device: GPUDevice, steps: Prepared[]): void {
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  encode(pass, steps);
  pass.end();
  device.queue.submit([enc.finish()]);
}
