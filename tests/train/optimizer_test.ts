// The optimiser kernels (one dispatch over a player's range of the parameter arena)
// against PyTorch's update rules in float64, over a few steps of the host's scalars.
import assert from "node:assert/strict";
import { optimizerDispatch, optimizerState } from "../../src/plan/training.ts";
import { Optimizer, type OptimizerConfig } from "../../src/train/optimizers.ts";
import { createStorage, readBack, upload } from "../../src/engine/buffers.ts";
import { prepare, submit } from "../../src/engine/launch.ts";
import { normal, rng } from "../../src/util/rng.ts";
import { testGpu } from "../gpu.ts";

/** PyTorch's Adam (bias-corrected moments) and SGD with momentum, in float64. */
function reference(c: OptimizerConfig, p: number[], grads: number[][]): number[] {
  const m = p.map(() => 0), v = p.map(() => 0);
  grads.forEach((g, s) => {
    const t = s + 1;
    for (let i = 0; i < p.length; i++) {
      if (c.type === "adam") {
        m[i] = c.beta1 * m[i] + (1 - c.beta1) * g[i];
        v[i] = c.beta2 * v[i] + (1 - c.beta2) * g[i] * g[i];
        const mHat = m[i] / (1 - c.beta1 ** t), vHat = v[i] / (1 - c.beta2 ** t);
        p[i] -= c.lr * mHat / (Math.sqrt(vHat) + c.eps);
      } else {
        m[i] = c.momentum * m[i] + g[i];
        p[i] -= c.lr * m[i];
      }
    }
  });
  return p;
}

const CONFIGS: OptimizerConfig[] = [
  { type: "adam", lr: 2e-4, beta1: 0.5, beta2: 0.999, eps: 1e-8 },
  { type: "adam", lr: 1e-2, beta1: 0.9, beta2: 0.99, eps: 1e-3 },
  { type: "sgd", lr: 0.05, momentum: 0.9 },
];

for (const config of CONFIGS) {
  Deno.test(`optimiser kernel: ${JSON.stringify(config)} matches the float64 rule`, async () => {
    const { device, pipelines } = await testGpu();
    const n = 4 * 321, steps = 3, next = rng(17);
    const p0 = Array.from({ length: n }, () => normal(next));
    const grads = Array.from({ length: steps }, () => p0.map(() => normal(next) * 0.1));
    const d = optimizerDispatch(config.type, "g", n);
    const bufs = new Map<string, GPUBuffer>();
    for (const role of d.bindings.map((b) => b.role)) {
      bufs.set(role, createStorage(device, role === "h" ? 4 : n, role));
    }
    upload(device, bufs.get("p")!, Float32Array.from(p0));
    const prepared = await prepare(device, [d], (role) => bufs.get(role)!, pipelines);
    const host = new Optimizer(config);
    for (const g of grads) {
      upload(device, bufs.get("g")!, Float32Array.from(g));
      upload(device, bufs.get("h")!, host.next());
      submit(device, prepared);
    }
    const [got] = await readBack(device, [{ buffer: bufs.get("p")!, elements: n }]);
    const want = reference(config, [...p0], grads);
    const moved = want.map((w, i) => Math.abs(w - p0[i]));
    for (let i = 0; i < n; i++) {
      // float32 parameters: the error is relative to the parameter, not to its change
      const tol = 2e-6 * Math.max(1, Math.abs(want[i])) + 1e-3 * moved[i];
      assert.ok(Math.abs(got[i] - want[i]) <= tol, `p[${i}]: ${got[i]} vs ${want[i]}`);
    }
    assert.ok(Math.max(...moved) > 1e-4, "the parameters moved");
    assert.deepEqual(
      d.bindings.map((b) => b.role),
      ["p", "g", ...optimizerState(config.type, "g"), "h"],
    );
    for (const b of bufs.values()) b.destroy();
  });
}
