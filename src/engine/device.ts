// Adapter and device acquisition. A command opens its device once and passes it
// on; the device carries its pipeline cache. What the compiler may assume about the
// adapter is a Target (src/plan/target.ts), made by whoever opened it.
import { UserError } from "../errors.ts";
import type { PipelineCache } from "./pipelines.ts";

export class NoAdapterError extends UserError {}

export interface Gpu {
  adapter: GPUAdapter;
  device: GPUDevice;
  /** e.g. "llvmpipe (LLVM 15.0.6, 256 bits) [fallback]" — quoted next to every figure */
  description: string;
  /** a CPU implementation (llvmpipe, SwiftShader): its cost model differs */
  software: boolean;
  /** pipelines compiled on this device, shared by every plan run on it */
  pipelines: PipelineCache;
}

export async function openGpu(): Promise<Gpu> {
  quietGlProbe();
  // Typed without the window's Navigator: a data worker checks this module too.
  const gpu = (navigator as unknown as { gpu?: GPU }).gpu;
  const adapter = gpu ? await gpu.requestAdapter({ powerPreference: "high-performance" }) : null;
  if (!adapter) {
    throw new NoAdapterError(
      "no WebGPU adapter found. Install a GPU driver with Vulkan support, or on a machine " +
        "without a GPU the software adapter: apt-get install -y mesa-vulkan-drivers",
    );
  }
  // The defaults (8 storage buffers per stage, 128 MiB bindings) are below what
  // fused kernels need; ask for what the adapter has.
  const l = adapter.limits;
  const device = await adapter.requestDevice({
    // Timestamps for `deno task profile`; nothing else depends on them.
    requiredFeatures: adapter.features.has("timestamp-query") ? ["timestamp-query"] : [],
    requiredLimits: {
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
      maxComputeWorkgroupSizeY: l.maxComputeWorkgroupSizeY,
      maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
    },
  });
  // A validation error voids a whole submit: the step silently computes nothing. Say so.
  let reported = 0;
  device.addEventListener("uncapturederror", (e: Event) => {
    if (reported++ < 3) {
      console.error(`WebGPU error: ${(e as GPUUncapturedErrorEvent).error.message}`);
    }
  });
  device.lost.then((info: GPUDeviceLostInfo) => {
    if (info.reason !== "destroyed") console.error(`GPU device lost: ${info.message}`);
  });
  return {
    adapter,
    device,
    description: describeAdapter(adapter),
    software: isSoftware(adapter),
    pipelines: new Map(),
  };
}

/** A CPU implementation of WebGPU (llvmpipe, SwiftShader): the adapter says it is a fallback. */
function isSoftware(adapter: GPUAdapter): boolean {
  return (adapter.info as { isFallbackAdapter?: boolean }).isFallbackAdapter ?? false;
}

export function describeAdapter(adapter: GPUAdapter): string {
  const i = adapter.info;
  const name = i.description || [i.vendor, i.architecture, i.device].filter(Boolean).join(" ");
  return `${name || "unknown adapter"}${isSoftware(adapter) ? " [software]" : ""}`;
}

/**
 * wgpu's GL probe prints "XDG_RUNTIME_DIR is invalid" on headless Linux; a private
 * runtime dir silences it. Best effort: without permission the warning just stays.
 */
function quietGlProbe(): void {
  try {
    if (Deno.build.os !== "linux" || Deno.env.get("XDG_RUNTIME_DIR")) return;
    Deno.env.set("XDG_RUNTIME_DIR", Deno.makeTempDirSync({ prefix: "xdg-" }));
  } catch {
    // no env or write permission: harmless
  }
}
