import assert from "node:assert/strict";
import { conv2d } from "../../src/ops/conv2d.ts";
import { convTranspose2d } from "../../src/ops/conv_transpose2d.ts";
import { ShapeError } from "../../src/ops/types.ts";
import { checkOp, t64 } from "./harness.ts";
import { VARIANTS, withBlocks } from "./conv_variants.ts";

const shape = (attrs: Record<string, unknown>, x: (number | string)[]) =>
  convTranspose2d.shape(convTranspose2d.attrs.parse(attrs), [x]);

Deno.test("conv_transpose2d matches float64 reference and finite differences", async () => {
  // same, stride 2: exactly 2x; even kernel; 4 output channels use the channel block
  await checkOp(convTranspose2d, { attrs: { out: 4, stride: 2 }, inputs: [[2, 3, 4, 3]] });
  await checkOp(convTranspose2d, {
    attrs: { out: 2, kernel: 4, stride: 2, bias: true },
    inputs: [[1, 2, 3, 3]],
  });
  // same, stride 1, odd size, batch 1, 3 channels (no block)
  await checkOp(convTranspose2d, { attrs: { out: 3 }, inputs: [[1, 4, 5, 5]] });
  // kernel smaller than stride: "same" zero-extends the bottom/right
  await checkOp(convTranspose2d, {
    attrs: { out: 2, kernel: [1, 2], stride: 3 },
    inputs: [[1, 2, 3, 2]],
  });
  // numeric padding with output_padding, kh != kw, bias
  await checkOp(convTranspose2d, {
    attrs: { out: 2, kernel: [3, 2], stride: 2, padding: 1, output_padding: 1, bias: true },
    inputs: [[2, 3, 4, 5]],
  });
  await checkOp(convTranspose2d, {
    attrs: { out: 1, kernel: 5, padding: 0 },
    inputs: [[1, 2, 3, 4]],
  });
});

Deno.test("conv_transpose2d same, k3 s2 crops only the last row and column", () => {
  const a = convTranspose2d.attrs.parse({ out: 1, stride: 2 });
  const x = t64([1, 1, 2, 2], new Float64Array(4).fill(1));
  const w = t64([1, 1, 3, 3], new Float64Array(9).fill(1));
  const y = convTranspose2d.forwardRef(a, [x], { weight: w }, { training: false }).y;
  // the uncropped 5x5 output is the outer product of [1, 1, 2, 1, 1] with itself
  const v = [1, 1, 2, 1];
  assert.deepEqual(Array.from(y.data), v.flatMap((r) => v.map((c) => r * c)));
  // stride 1 crops one row/column on each side, like a "same" conv
  const a1 = convTranspose2d.attrs.parse({ out: 1 });
  const y1 = convTranspose2d.forwardRef(a1, [x], { weight: w }, { training: false }).y;
  assert.deepEqual(Array.from(y1.data), [4, 4, 4, 4]);
});

Deno.test("conv_transpose2d shape rule", () => {
  assert.deepEqual(shape({ out: 8, stride: 2 }, ["B", 3, 7, 6]), ["B", 8, 14, 12]);
  assert.deepEqual(shape({ out: 8, kernel: 4, stride: 2 }, [2, 3, 5, 5]), [2, 8, 10, 10]);
  assert.deepEqual(shape({ out: 8 }, [2, 3, 5, 5]), [2, 8, 5, 5]);
  assert.deepEqual(
    shape({ out: 8, kernel: 4, stride: 2, padding: 1 }, ["B", 3, 5, 5]),
    ["B", 8, 10, 10],
  );
  assert.deepEqual(
    shape({ out: 8, stride: 2, padding: 1, output_padding: 1 }, ["B", 3, 5, 5]),
    ["B", 8, 10, 10],
  );
  assert.deepEqual(
    convTranspose2d.params!(convTranspose2d.attrs.parse({ out: 8, bias: true }), [["B", 3, 7, 7]]),
    {
      weight: { shape: [3, 8, 3, 3], init: "normal", trainable: true },
      bias: { shape: [8], init: "zeros", trainable: true },
    },
  );
  const a = convTranspose2d.attrs.parse({ out: 8, stride: 2 });
  assert.equal(convTranspose2d.macs!(a, [[2, 3, 4, 4]], [2, 8, 8, 8]), 2 * 3 * 16 * 8 * 9);

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
    () => shape({ out: 8, stride: 2, output_padding: 1 }, ["B", 3, 4, 4]),
    (e) => e instanceof ShapeError && e.attr === "output_padding",
  );
  assert.throws(
    () => shape({ out: 8, stride: 2, padding: 1, output_padding: 2 }, ["B", 3, 4, 4]),
    (e) => e instanceof ShapeError && e.attr === "output_padding",
  );
  assert.throws(
    () => shape({ out: 8, kernel: 1, padding: 1 }, ["B", 3, 1, 1]),
    (e) => e instanceof ShapeError && e.attr === "padding",
  );
  assert.throws(() => convTranspose2d.attrs.parse({ out: 8, padding: "valid" }));
});

/** <conv(x), y> == <x, convT(y)> with the same weight tensor. */
function adjoint(
  convAttrs: Record<string, unknown>,
  tAttrs: Record<string, unknown>,
  xShape: number[],
) {
  const ca = conv2d.attrs.parse(convAttrs);
  const ta = convTranspose2d.attrs.parse(tAttrs);
  const yShape = conv2d.shape(ca, [xShape]) as number[];
  assert.deepEqual(convTranspose2d.shape(ta, [yShape]), xShape, "transposed shape");
  let seed = 7;
  const rand = (s: number[]) => {
    const t = t64(s);
    for (let i = 0; i < t.data.length; i++) {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      t.data[i] = seed / 1073741824 - 1;
    }
    return t;
  };
  const x = rand(xShape), y = rand(yShape);
  const w = rand(conv2d.params!(ca, [xShape]).weight.shape);
  assert.deepEqual(convTranspose2d.params!(ta, [yShape]).weight.shape, w.shape);
  const cx = conv2d.forwardRef(ca, [x], { weight: w }, { training: false }).y;
  const ty = convTranspose2d.forwardRef(ta, [y], { weight: w }, { training: false }).y;
  const dot = (a: Float64Array, b: Float64Array) => a.reduce((s, v, i) => s + v * b[i], 0);
  const lhs = dot(cx.data, y.data), rhs = dot(x.data, ty.data);
  assert.ok(Math.abs(lhs - rhs) < 1e-9 * Math.max(1, Math.abs(lhs)), `${lhs} vs ${rhs}`);
}

Deno.test("conv_transpose2d is the adjoint of conv2d (reference)", () => {
  adjoint({ out: 3, stride: 2 }, { out: 2, stride: 2 }, [2, 2, 8, 6]);
  adjoint({ out: 3 }, { out: 2 }, [1, 2, 5, 7]);
  adjoint({ out: 2, kernel: 4, stride: 2 }, { out: 3, kernel: 4, stride: 2 }, [1, 3, 6, 6]);
  adjoint({ out: 2, kernel: [1, 3], stride: 3 }, { out: 1, kernel: [1, 3], stride: 3 }, [
    1,
    1,
    6,
    9,
  ]);
  adjoint(
    { out: 3, stride: 2, padding: 1 },
    { out: 2, stride: 2, padding: 1, output_padding: 1 },
    [1, 2, 8, 8],
  );
  adjoint({ out: 3, kernel: [3, 5], padding: "valid" }, {
    out: 2,
    kernel: [3, 5],
    padding: 0,
  }, [1, 2, 6, 7]);
});

Deno.test("conv_transpose2d kernels are exact for every register block and tile", async () => {
  for (const v of VARIANTS) {
    await withBlocks(v, async (target) => {
      // rows of whole vec4s (vec4 loads), stride 2
      await checkOp(convTranspose2d, {
        attrs: { out: 3, stride: 2 },
        inputs: [[1, 2, 3, 8]],
        target,
      });
      // rows of whole vec2s (6 wide) into rows of 12, stride 2
      await checkOp(convTranspose2d, {
        attrs: { out: 3, stride: 2 },
        inputs: [[1, 2, 3, 6]],
        target,
      });
      // stride 2 "same": crop before; odd sizes, channels not divisible by the blocks
      await checkOp(convTranspose2d, {
        attrs: { out: 5, stride: 2 },
        inputs: [[2, 3, 5, 4]],
        target,
      });
      // stride 1, bias, batch 1
      await checkOp(convTranspose2d, {
        attrs: { out: 6, bias: true },
        inputs: [[1, 7, 6, 7]],
        target,
      });
      // stride 3 with a kernel smaller in one axis than the stride (phases without taps)
      await checkOp(convTranspose2d, {
        attrs: { out: 3, kernel: [4, 2], stride: 3, padding: 1, output_padding: 2 },
        inputs: [[2, 4, 3, 4]],
        target,
      });
    });
  }
});

Deno.test("conv_transpose2d default blocks: large reductions and wide images", async () => {
  await checkOp(convTranspose2d, { attrs: { out: 8 }, inputs: [[2, 64, 4, 4]] });
  await checkOp(convTranspose2d, { attrs: { out: 3, stride: 2 }, inputs: [[2, 8, 9, 19]] });
  await checkOp(convTranspose2d, {
    attrs: { out: 16, kernel: 4, stride: 2 },
    inputs: [[1, 5, 6, 6]],
  });
});
