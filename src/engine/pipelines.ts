// Compiled pipelines. A cache belongs to one opened device (Gpu.pipelines) and is
// shared by every plan run on it: identical WGSL compiles once.

export interface Compiled {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
}

/** What a pipeline is made from: WGSL, its entry point and which bindings it writes. */
export interface KernelSource {
  label: string;
  code: string;
  entry: string;
  writes: boolean[];
}

export type PipelineCache = Map<string, Promise<Compiled>>;

/** The kernel's pipeline, from `cache` when it has one (then it is added). */
export function compile(
  device: GPUDevice,
  d: KernelSource,
  cache?: PipelineCache,
): Promise<Compiled> {
  if (!cache) return build(device, d);
  const key = pipelineKey(d);
  let hit = cache.get(key);
  if (!hit) {
    hit = build(device, d);
    cache.set(key, hit);
  }
  return hit;
}

/** A kernel's key in a PipelineCache: identical keys compile to one pipeline. */
export function pipelineKey(d: KernelSource): string {
  return `${d.entry}|${d.writes.map((w) => (w ? "w" : "r")).join("")}|${d.code}`;
}

async function build(device: GPUDevice, d: KernelSource): Promise<Compiled> {
  const module = device.createShaderModule({ code: d.code, label: d.label });
  const info = await module.getCompilationInfo();
  const errors = info.messages.filter((m) => m.type === "error");
  if (errors.length) {
    const text = errors.map((m) => `${m.lineNum}:${m.linePos}: ${m.message}`).join("\n");
    throw new Error(`WGSL of kernel ${d.label} does not compile:\n${text}\n${numbered(d.code)}`);
  }
  // Explicit layouts: "auto" would drop bindings a kernel happens not to use.
  const layout = device.createBindGroupLayout({
    entries: d.writes.map((w, i) => ({
      binding: i,
      visibility: GPUShaderStage.COMPUTE,
      buffer: { type: w ? "storage" : "read-only-storage" },
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
