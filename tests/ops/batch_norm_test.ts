import assert from "node:assert/strict";
import { batchNorm } from "../../src/ops/batch_norm.ts";
import { ShapeError } from "../../src/ops/types.ts";
import { checkOp } from "./harness.ts";
import { GPU_TARGET } from "../../src/ops/conv/cost_model.ts";

Deno.test("batch_norm training matches float64 reference and finite differences", async () => {
  // fused: one workgroup per channel (channels longer and shorter than the workgroup);
  // unfused: a statistics kernel, then the elementwise pass.
  for (const fuse of [true, false]) {
    await checkOp(batchNorm, { inputs: [[4, 3, 5, 5]], training: true, fuse });
    await checkOp(batchNorm, { inputs: [[1, 2, 3, 3]], training: true, fuse });
    await checkOp(batchNorm, { inputs: [[6, 5]], training: true, attrs: { momentum: 0.3 }, fuse });
    await checkOp(batchNorm, {
      inputs: [[2, 3, 3, 2]],
      training: true,
      attrs: { affine: false },
      fuse,
    });
  }
  await checkOp(batchNorm, { inputs: [[3, 2, 11, 9]], training: true, seed: 7 });
  // fewer elements a channel than threads a workgroup (one SIMD group: 8 here)
  await checkOp(batchNorm, { inputs: [[1, 3, 2, 3]], training: true, seed: 8 });
  // a GPU target's workgroup of 32 threads
  const gpu = { conv: GPU_TARGET, blocks: {} };
  await checkOp(batchNorm, { inputs: [[3, 2, 11, 9]], training: true, seed: 9, target: gpu });
  await checkOp(batchNorm, { inputs: [[2, 3, 8, 8]], training: true, seed: 10, target: gpu });
  // a channel shorter than the workgroup but longer than its row: threads wrap rows
  await checkOp(batchNorm, { inputs: [[5, 2, 3, 2]], training: true, seed: 3 });
  // rows of 64 elements and more: sizes read at run time
  await checkOp(batchNorm, { inputs: [[2, 3, 8, 8]], training: true, seed: 5 });
  // rows of a multiple of 4 walk vec4s: one, three and sixteen per row
  await checkOp(batchNorm, { inputs: [[3, 2, 2, 2]], training: true, seed: 11 });
  await checkOp(batchNorm, { inputs: [[5, 2, 4, 3]], training: true, seed: 12 });
  await checkOp(batchNorm, {
    inputs: [[2, 5, 8, 8]],
    training: true,
    seed: 13,
    attrs: { affine: false },
  });
  // Offset by ~1000 standard deviations: sums of squares taken about zero would lose
  // the variance to cancellation (the statistics take one pass, about a sample).
  for (const inputs of [[[4, 3, 8, 8]], [[3, 2, 5, 5]]]) {
    await checkOp(batchNorm, {
      inputs,
      training: true,
      seed: 17,
      make: (_i, s, next) =>
        Float64Array.from({ length: s.reduce((a, b) => a * b) }, () => Math.fround(300 + next())),
    });
  }
});

Deno.test("batch_norm training kernels read their sizes: one pipeline for many layers", () => {
  const a = batchNorm.attrs.parse({});
  const kernels = (shape: number[]) => {
    const ctx = {
      inputs: [shape],
      output: shape,
      params: { weight: [shape[1]], bias: [shape[1]] },
      training: true,
    };
    const f = batchNorm.forward(a, ctx);
    const b = batchNorm.backward(a, {
      ...ctx,
      needDx: [true],
      needDp: new Set(["weight", "bias"]),
      accumulate: new Set(),
    });
    return { code: [...f.dispatches, ...b.dispatches].map((d) => d.code), consts: f.consts };
  };
  // short rows: one pipeline per row length
  const [small, big] = [kernels([2, 3, 8, 4]), kernels([16, 64, 4, 8])];
  assert.deepEqual(small.code, big.code);
  assert.deepEqual(big.consts, { dims: [16, 64, 32] });
  assert.notDeepEqual(kernels([2, 3, 4, 4]).code, small.code);
  // rows of 64 and more: one pipeline for all whose rows divide by 4 (read as vec4s)
  assert.deepEqual(kernels([2, 3, 8, 8]).code, kernels([16, 64, 32, 32]).code);
  assert.match(kernels([2, 3, 8, 8]).code[0], /x0: array<vec4f>/);
  // one SIMD group of the target per channel
  assert.match(kernels([2, 3, 8, 8]).code[0], /@workgroup_size\(8\)/);
  const onGpu = batchNorm.forward(a, {
    inputs: [[2, 3, 8, 8]],
    output: [2, 3, 8, 8],
    params: { weight: [3], bias: [3] },
    training: true,
    target: { conv: GPU_TARGET, blocks: {} },
  });
  assert.match(onGpu.dispatches[0].code, /@workgroup_size\(32\)/);
  assert.doesNotMatch(kernels([2, 3, 11, 9]).code[0], /vec4f/);
});

Deno.test("batch_norm inference matches float64 reference and finite differences", async () => {
  await checkOp(batchNorm, { inputs: [[4, 3, 5, 5]] });
  await checkOp(batchNorm, { inputs: [[1, 2, 3, 3]], attrs: { eps: 1e-3 } });
  await checkOp(batchNorm, { inputs: [[6, 5]] });
  await checkOp(batchNorm, { inputs: [[2, 3, 3, 2]], attrs: { affine: false } });
});

Deno.test("batch_norm running statistics follow PyTorch's update", () => {
  const a = batchNorm.attrs.parse({ momentum: 0.5 });
  const x = { shape: [4, 1], data: Float64Array.from([1, 2, 3, 6]) };
  const p = {
    weight: { shape: [1], data: Float64Array.from([1]) },
    bias: { shape: [1], data: Float64Array.from([0]) },
    running_mean: { shape: [1], data: Float64Array.from([0]) },
    running_var: { shape: [1], data: Float64Array.from([1]) },
  };
  const { state } = batchNorm.forwardRef(a, [x], p, { training: true });
  // mean 3, unbiased variance (4 + 1 + 0 + 9) / 3
  assert.equal(state!.running_mean.data[0], 1.5);
  assert.ok(Math.abs(state!.running_var.data[0] - (0.5 + 0.5 * 14 / 3)) < 1e-12);
  assert.equal(p.running_mean.data[0], 0, "reference must not mutate its params");
});

Deno.test("batch_norm shape rule", () => {
  const a = batchNorm.attrs.parse({});
  assert.deepEqual(batchNorm.shape(a, [["B", 8, 4, 4]]), ["B", 8, 4, 4]);
  assert.deepEqual(
    Object.keys(batchNorm.params!(batchNorm.attrs.parse({ affine: false }), [[
      "B",
      8,
    ]])),
    ["running_mean", "running_var"],
  );
  assert.throws(() => batchNorm.shape(a, [["B", 8, 4]]), ShapeError);
  assert.throws(() => batchNorm.shape(a, [["B", "C", 4, 4]]), /concrete channel count/);
  assert.throws(() => batchNorm.attrs.parse({ momentum: 2 }));
});
