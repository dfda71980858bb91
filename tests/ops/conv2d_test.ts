import assert from "node:assert/strict";
import { conv2d } from "../../src/ops/conv2d.ts";
import { VARIANTS, withBlocks } from "./conv_variants.ts";
import { ShapeError } from "../../src/ops/types.ts";
import { checkOp, t64 } from "./harness.ts";
import {
  chooseBlock,
  convConsts,
  convGather,
  convPackWeights,
  convScatter,
  convWeightGrad,
  DEFAULT_TARGET,
  planGather,
  planWeightGrad,
  type WeightBlock,
} from "../../src/ops/conv/mod.ts";

const shape = (attrs: Record<string, unknown>, x: (number | string)[]) =>
  conv2d.shape(conv2d.attrs.parse(attrs), [x]);

Deno.test("conv2d matches float64 reference and finite differences", async () => {
  // same, stride 1, odd size, batch 1; 4 output channels use the 4-channel block
  await checkOp(conv2d, { attrs: { out: 4 }, inputs: [[1, 3, 7, 7]] });
  // even size, stride 2: asymmetric "same" padding (extra zero row/column bottom/right)
  await checkOp(conv2d, { attrs: { out: 2, stride: 2 }, inputs: [[2, 3, 8, 8]] });
  // odd size, stride 2, 3 output channels (no channel block), bias
  await checkOp(conv2d, { attrs: { out: 3, stride: 2, bias: true }, inputs: [[2, 2, 9, 9]] });
  // valid, kh != kw, non-square input
  await checkOp(conv2d, {
    attrs: { out: 2, kernel: [2, 3], padding: "valid" },
    inputs: [[1, 2, 6, 5]],
  });
  // explicit padding, per side and uniform
  await checkOp(conv2d, {
    attrs: { out: 4, kernel: [3, 2], stride: 2, padding: [1, 0, 2, 1], bias: true },
    inputs: [[2, 3, 5, 6]],
  });
  await checkOp(conv2d, { attrs: { out: 2, kernel: 5, padding: 2 }, inputs: [[1, 1, 4, 5]] });
});

Deno.test("conv2d same padding puts the extra zero row/column at the bottom/right", () => {
  const a = conv2d.attrs.parse({ out: 1, stride: 2 });
  const x = t64([1, 1, 4, 4], Float64Array.from({ length: 16 }, (_, i) => i));
  const w = t64([1, 1, 3, 3], new Float64Array(9).fill(1));
  const y = conv2d.forwardRef(a, [x], { weight: w }, { training: false }).y;
  const win = (r0: number, c0: number) => {
    let s = 0;
    for (let r = r0; r < Math.min(r0 + 3, 4); r++) {
      for (let c = c0; c < Math.min(c0 + 3, 4); c++) s += x.data[r * 4 + c];
    }
    return s;
  };
  assert.deepEqual(Array.from(y.data), [win(0, 0), win(0, 2), win(2, 0), win(2, 2)]);
});

Deno.test("conv2d shape rule", () => {
  assert.deepEqual(shape({ out: 8 }, ["B", 3, 7, 7]), ["B", 8, 7, 7]);
  assert.deepEqual(shape({ out: 8, stride: 2 }, ["B", 3, 8, 8]), ["B", 8, 4, 4]);
  assert.deepEqual(shape({ out: 8, stride: 2 }, [2, 3, 9, 9]), [2, 8, 5, 5]);
  assert.deepEqual(shape({ out: 8, padding: "valid", kernel: [3, 1] }, [2, 3, 9, 9]), [2, 8, 7, 9]);
  assert.deepEqual(shape({ out: 1, padding: [1, 0, 0, 2], stride: 2 }, [1, 1, 6, 7]), [1, 1, 3, 4]);
  assert.deepEqual(conv2d.params!(conv2d.attrs.parse({ out: 8, bias: true }), [["B", 3, 7, 7]]), {
    weight: { shape: [8, 3, 3, 3], init: "normal", trainable: true },
    bias: { shape: [8], init: "zeros", trainable: true },
  });
  const a = conv2d.attrs.parse({ out: 8, stride: 2 });
  assert.equal(conv2d.macs!(a, [[2, 3, 8, 8]], [2, 8, 4, 4]), 2 * 8 * 16 * 3 * 9);

  assert.throws(
    () => shape({ out: 8 }, ["B", 32]),
    (e) =>
      e instanceof ShapeError && /expects 4-D input \[B, C, H, W\], got \[B, 32\]/.test(e.message),
  );
  assert.throws(
    () => shape({ out: 8, in_channels: 4 }, ["B", 3, 7, 7]),
    (e) =>
      e instanceof ShapeError && e.attr === "in_channels" &&
      /expects 4 input channels, got 3/.test(e.message),
  );
  assert.throws(
    () => shape({ out: 8, kernel: 5, padding: "valid" }, ["B", 3, 4, 4]),
    (e) => e instanceof ShapeError && e.attr === "kernel",
  );
  assert.throws(() => conv2d.attrs.parse({ out: 8, padding: "full" }));
  assert.throws(() => conv2d.attrs.parse({ out: 8, dilation: 2 }));
  assert.throws(() => conv2d.attrs.parse({ kernel: 3 }));
});

Deno.test("conv2d kernels are exact for every register block and tile", async () => {
  for (const v of VARIANTS) {
    await withBlocks(v, async (target) => {
      // odd sizes, channel counts not divisible by the blocks, batch 2
      await checkOp(conv2d, { attrs: { out: 5 }, inputs: [[2, 3, 7, 9]], target });
      // stride 2 "same" (extra zero bottom/right), bias
      await checkOp(conv2d, {
        attrs: { out: 6, stride: 2, bias: true },
        inputs: [[2, 5, 9, 8]],
        target,
      });
      // asymmetric explicit padding, kh != kw, batch 1
      await checkOp(conv2d, {
        attrs: { out: 7, kernel: [3, 2], stride: 2, padding: [2, 0, 1, 3] },
        inputs: [[1, 4, 6, 7]],
        target,
      });
      // rows of whole vec4s (vec4 loads): several column tiles, a tail tile, stride 1 and 2
      await checkOp(conv2d, { attrs: { out: 3 }, inputs: [[1, 3, 5, 20]], target });
      await checkOp(conv2d, { attrs: { out: 3, stride: 2 }, inputs: [[2, 2, 5, 24]], target });
      // rows of whole vec2s (vec2 loads and stores): 6 wide; stride 2 from 12 (vec4) to 6
      await checkOp(conv2d, { attrs: { out: 3 }, inputs: [[2, 2, 5, 6]], target });
      await checkOp(conv2d, { attrs: { out: 3, stride: 2 }, inputs: [[1, 3, 4, 12]], target });
    });
  }
});

Deno.test("conv2d input gradient with vec4 weights: a block of 8 of 12 channels (a tail)", async () => {
  const blocks = {
    gather: { ch: 4, nb: 1, py: 2, px: 4 },
    scatter: { ch: 8, nb: 1, py: 2, px: 4 },
    wgrad: { co: 4, ci: 4, px: 4, rows: 2 },
  };
  await withBlocks(blocks, async (target) => {
    await checkOp(conv2d, { attrs: { out: 4 }, inputs: [[1, 12, 4, 8]], target });
    await checkOp(conv2d, { attrs: { out: 4, stride: 2 }, inputs: [[2, 12, 5, 8]], target });
  });
});

Deno.test("conv2d default blocks: large reductions, wide images, few weights", async () => {
  // many input channels: long sums in forward and input gradient
  await checkOp(conv2d, { attrs: { out: 8 }, inputs: [[2, 64, 4, 4]] });
  // wide image, few weights: the weight gradient is split over rows (partial sums in scratch)
  const a = conv2d.attrs.parse({ out: 4 });
  const x = [3, 3, 20, 37];
  const bwd = conv2d.backward(a, {
    inputs: [x],
    output: conv2d.shape(a, [x]) as number[],
    params: { weight: [4, 3, 3, 3] },
    training: true,
    needDx: [true],
    needDp: new Set(["weight"]),
    accumulate: new Set(),
  });
  assert.deepEqual(bwd.dispatches.map((d) => d.label), ["conv2d.dx", "conv2d.dw", "conv2d.dw.sum"]);
  assert.ok(bwd.scratch?.dw_part);
  await checkOp(conv2d, { attrs: { out: 4 }, inputs: [x] });
  await checkOp(conv2d, { attrs: { out: 12, stride: 2 }, inputs: [[1, 10, 17, 16]] });
});

/** A small 3x3 layer at batch b, for the batch-independence tests. */
const smallGeom = (b: number) => ({
  b,
  srcC: 3,
  srcH: 8,
  srcW: 8,
  dstC: 4,
  dstH: 8,
  dstW: 8,
  kh: 3,
  kw: 3,
  s: 1,
  pt: 1,
  pl: 1,
});

Deno.test("conv2d gather and scatter code does not depend on the batch (one pipeline for B and 2B)", () => {
  const io = { from: "x", to: "y", weight: "w", accumulate: false };
  const block = { ch: 2, nb: 2, py: 4, px: 4 };
  for (const make of [convGather, convScatter]) {
    const [a, b] = [make("k", smallGeom(4), io, block), make("k", smallGeom(8), io, block)];
    assert.equal(a.code, b.code);
    assert.deepEqual([a.workgroups[2], b.workgroups[2]], [2, 4]);
    // A batch the block does not divide is guarded, so its code differs.
    assert.notEqual(make("k", smallGeom(5), io, block).code, a.code);
  }
  // And the model picks one block for both batches (at 2B alone it picks a wider one).
  const layer = (b: number) => ({
    ...smallGeom(b),
    srcC: 16,
    srcH: 16,
    srcW: 16,
    dstC: 16,
    dstH: 16,
    dstW: 16,
  });
  for (const kind of ["gather", "scatter", "wgrad"] as const) {
    assert.deepEqual(chooseBlock(kind, layer(16)), chooseBlock(kind, layer(32)));
  }
  assert.notDeepEqual(planGather(layer(16), DEFAULT_TARGET), planGather(layer(32), DEFAULT_TARGET));
  const [w16, w32] = [
    planWeightGrad(layer(16), DEFAULT_TARGET),
    planWeightGrad(layer(32), DEFAULT_TARGET),
  ];
  assert.notDeepEqual(w16, w32);
  // Far past PLAN_BATCH the chunks planned for 16 items would be too many: planned as is.
  const huge = { ...layer(8192), dstH: 64, dstW: 64, srcH: 64, srcW: 64 };
  const wb = chooseBlock("wgrad", huge) as WeightBlock;
  assert.deepEqual(wb, planWeightGrad(huge, DEFAULT_TARGET));
  assert.ok(8192 * 64 / wb.rows <= 1024);
});

Deno.test("conv2d gather and scatter code does not depend on the channel counts", () => {
  const io = { from: "x", to: "y", weight: "w", accumulate: false };
  const block = { ch: 2, nb: 1, py: 4, px: 4 };
  const geom = (srcC: number, dstC: number) => ({ ...smallGeom(4), srcC, dstC });
  for (const make of [convGather, convScatter]) {
    assert.equal(make("k", geom(4, 4), io, block).code, make("k", geom(6, 8), io, block).code);
    // A channel count the block does not divide is guarded, so its code differs.
    const written = make === convGather ? geom(4, 5) : geom(5, 4);
    assert.notEqual(make("k", written, io, block).code, make("k", geom(4, 4), io, block).code);
  }
  assert.deepEqual(convConsts(geom(6, 8)), { conv: [6, 8] });
  // Layers of one image size that differ in channels get one block where it costs
  // little by the model (PLAN_CHANNELS), as in the small encoder's 8x8 layers.
  const layer = (srcC: number, dstC: number) => ({
    ...smallGeom(16),
    srcC,
    dstC,
    srcH: 8,
    srcW: 8,
    dstH: 8,
    dstW: 8,
  });
  for (const kind of ["gather", "scatter"] as const) {
    assert.deepEqual(chooseBlock(kind, layer(32, 32)), chooseBlock(kind, layer(32, 64)));
  }
  assert.notDeepEqual(
    planGather(layer(32, 32), DEFAULT_TARGET),
    planGather(layer(32, 64), DEFAULT_TARGET),
  );
});

Deno.test("conv2d weight-gradient code does not depend on the batch where its chunk divides the rows", () => {
  const roles = { src: "x", dst: "dy", dw: "dw" };
  const kernels = (b: number, rows: number) =>
    convWeightGrad("k", smallGeom(b), roles, false, { co: 2, ci: 3, px: 4, rows });
  const make = (b: number, rows: number) => kernels(b, rows).dispatches;
  // 32 and 64 chunks of one row, 2 threads each: 32 chunks fill a workgroup
  const [a, b] = [make(4, 1), make(8, 1)];
  assert.equal(a[0].code, b[0].code);
  // groups of chunks are the dispatch's z; the small kernel adding the partial sums
  // reads its sizes (chunks, weights) from a constant tensor
  assert.deepEqual([a[0].workgroups[2], b[0].workgroups[2]], [1, 2]);
  assert.equal(a[1].code, b[1].code);
  assert.deepEqual([kernels(4, 1).consts, kernels(8, 1).consts], [
    { dw_sum: [32, 108] },
    { dw_sum: [64, 108] },
  ]);
  // A chunk that does not divide the rows is clamped, so its code differs.
  assert.notEqual(make(4, 12)[0].code, make(8, 12)[0].code);
});

Deno.test("conv2d kernels read rows as vec4s, else vec2s, else floats", () => {
  const io = { from: "x", to: "y", weight: "w", accumulate: false };
  const block = { ch: 2, nb: 1, py: 2, px: 4 };
  const wblock = { co: 2, ci: 2, px: 4, rows: 2 };
  const types = (w: number) => {
    const g = { ...smallGeom(2), srcW: w, dstW: w };
    return [
      convGather("k", g, io, block).code,
      convScatter("k", g, io, block).code,
      convWeightGrad("k", g, { src: "x", dst: "y", dw: "w" }, false, wblock).dispatches[0].code,
    ].map((c) => c.match(/array<(vec4f|vec2f)>/)?.[1] ?? "f32");
  };
  assert.deepEqual(types(8), ["vec4f", "vec4f", "vec4f"]);
  assert.deepEqual(types(6), ["vec2f", "vec2f", "vec2f"]);
  assert.deepEqual(types(7), ["f32", "f32", "f32"]);
});

Deno.test("conv2d gather blocks of 4k channels read packed weights, made by one more dispatch", () => {
  const op = (ch: number) => {
    const attrs = conv2d.attrs.parse({ out: 6 });
    const input = [2, 8, 5, 8];
    const params = { weight: [6, 8, 3, 3] };
    const blocks = { gather: { ch, nb: 1, py: 2, px: 4 } };
    const target = { blocks } as never;
    return conv2d.forward(attrs, {
      inputs: [input],
      output: [2, 6, 5, 8],
      params,
      training: true,
      target,
    });
  };
  const packed = op(4), plain = op(2);
  assert.deepEqual(packed.dispatches.map((d) => d.label), ["conv2d.wpack", "conv2d"]);
  assert.deepEqual(plain.dispatches.map((d) => d.label), ["conv2d"]);
  // 8 src channels x 9 taps x 2 vec4s of the 6 output channels (the last two lanes zero)
  assert.deepEqual(packed.scratch, { wpack: 8 * 9 * 8 });
  const gather = packed.dispatches[1];
  assert.match(gather.code, /var<storage, read> wgt: array<vec4f>/);
  assert.deepEqual(gather.bindings.find((b) => /wpack|weight/.test(b.role))?.role, "t.wpack");
  assert.match(plain.dispatches[0].code, /var<storage, read> wgt: array<f32>/);
  // the packing reads its channel counts at run time: one pipeline for every layer
  const geom = (srcC: number, dstC: number) => ({ ...smallGeom(4), srcC, dstC });
  assert.equal(
    convPackWeights("p", geom(4, 4), "w", "t").code,
    convPackWeights("p", geom(6, 10), "w", "t").code,
  );
});
