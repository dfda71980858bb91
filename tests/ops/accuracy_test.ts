import assert from "node:assert/strict";
import { accuracy } from "../../src/ops/accuracy.ts";
import { createStorage, fill, readBack, upload } from "../../src/engine/buffers.ts";
import { prepare, submit } from "../../src/engine/launch.ts";
import { testGpu } from "../gpu.ts";

async function run(
  attrs: Record<string, unknown>,
  x: number[],
  shape: number[],
  labels?: number[],
) {
  const a = accuracy.attrs.parse(attrs);
  const { device, pipelines } = await testGpu();
  const bufs: Record<string, GPUBuffer> = {};
  bufs.x0 = createStorage(device, x.length);
  upload(device, bufs.x0, Float32Array.from(x));
  if (labels) {
    bufs.x1 = createStorage(device, labels.length);
    upload(device, bufs.x1, Float32Array.from(labels));
  }
  bufs.y = createStorage(device, 1);
  fill(device, bufs.y, 1, NaN);
  const k = accuracy.forward(a, {
    inputs: labels ? [shape, [shape[0]]] : [shape],
    output: [],
    params: {},
    training: false,
  });
  for (const [n, size] of Object.entries(k.scratch ?? {})) {
    bufs[`t.${n}`] = createStorage(device, size);
  }
  submit(device, await prepare(device, k.dispatches, (r) => bufs[r], pipelines));
  const [y] = await readBack(device, [{ buffer: bufs.y, elements: 1 }]);
  const xs = [{ shape, data: Float64Array.from(x) }];
  if (labels) xs.push({ shape: [shape[0]], data: Float64Array.from(labels) });
  const ref = accuracy.forwardRef(a, xs, {}, { training: false }).y.data[0];
  return [y[0], ref];
}

Deno.test("accuracy: argmax against labels, GPU and reference agree", async () => {
  // rows: argmax 2 (label 2: right), argmax 0 (label 1: wrong), argmax 1 (label 1: right)
  const [gpu, ref] = await run({}, [0, 1, 3, 5, 2, 1, 0, 9, 1], [3, 3], [2, 1, 1]);
  assert.equal(ref, 2 / 3);
  assert.ok(Math.abs(gpu - ref) < 1e-6);
});

Deno.test("accuracy: one logit with a constant target", async () => {
  const [gpu, ref] = await run({ target: 1 }, [0.5, -2, 3, 0.1], [4, 1]);
  assert.equal(ref, 0.75);
  assert.ok(Math.abs(gpu - ref) < 1e-6);
  const [g0, r0] = await run({ target: 0 }, [0.5, -2, 3, 0.1], [4, 1]);
  assert.equal(r0, 0.25);
  assert.ok(Math.abs(g0 - r0) < 1e-6);
});

Deno.test("accuracy: shape errors", () => {
  assert.throws(() => accuracy.shape(accuracy.attrs.parse({}), [["B", 3]]), /labels input/);
  assert.throws(() => accuracy.shape(accuracy.attrs.parse({}), [["B", 3], ["B", 2]]), /labels/);
});
