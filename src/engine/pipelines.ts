// Compiled pipelines, shared by every plan on a device: identical WGSL compiles once.
import type { Binding, Dispatch } from "../ops/types.ts";

export interface Compiled {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
}

const caches = new WeakMap<GPUDevice, Map<string, Promise<Compiled>>>();

function layoutKey(bindings: Binding[]): string {
  return bindings.map((b) => (b.write ? "w" : "r")).join("");
}

export function compile(device: GPUDevice, d: Dispatch): Promise<Compiled> {
  let cache = caches.get(device);
  if (!cache) caches.set(device, cache = new Map());
  const key = `${d.entry}|${layoutKey(d.bindings)}|${d.code}`;
  let hit = cache.get(key);
  if (!hit) {
    hit = build(device, d);
    cache.set(key, hit);
  }
  return hit;
}

async function build(device: GPUDevice, d: Dispatch): Promise<Compiled> {
  const module = device.createShaderModule({ code: d.code, label: d.label });
  const info = await module.getCompilationInfo();
  const errors = info.messages.filter((m) => m.type === "error");
  if (errors.length) {
    const text = errors.map((m) => `${m.lineNum}:${m.linePos}: ${m.message}`).join("\n");
    throw new Error(`WGSL of kernel ${d.label} does not compile:\n${text}\n${numbered(d.code)}`);
  }
  // Explicit layouts: "auto" would drop bindings a kernel happens not to use.
  const layout = device.createBindGroupLayout({
    entries: d.bindings.map((b, i) => ({
      binding: i,
      visibility: GPUShaderStage.COMPUTE,
      buffer: { type: b.write ? "storage" : "read-only-storage" },
    })),
  });
  const pipeline = await device.createComputePipelineAsync({
    label: d.label,
    layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
    compute: { module, entryPoint: d.entry },
  });
  return { pipeline, layout };
}

function numbered(code: string): string {
  return code.split("\n").map((l, i) => `${String(i + 1).padStart(4)} ${l}`).join("\n");
}
