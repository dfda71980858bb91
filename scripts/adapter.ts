// Prints what Deno's WebGPU sees: the adapter (name, vendor, whether it is a software
// fallback), the limits the compiler plans with, and its features. One JSON object.
import { openGpu } from "../src/engine/device.ts";

const gpu = await openGpu();
const i = gpu.adapter.info;
const l = gpu.device.limits;
console.log(JSON.stringify(
  {
    description: gpu.description,
    vendor: i.vendor,
    architecture: i.architecture,
    device: i.device,
    software: gpu.software,
    limits: {
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
    },
    features: [...gpu.adapter.features].sort(),
  },
  null,
  1,
));
