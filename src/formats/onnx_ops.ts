// How each op of the graph language becomes ONNX nodes (opset 17), with our exact
// semantics: NCHW and PyTorch weight layouts are ONNX's own, so no tensor is
// transposed; what differs (TF-'same' padding, global pooling that also flattens,
// per-sample reshape) is spelled out as explicit attributes and constants.
import type { TypedNode } from "../lang/ir.ts";
import type { Shape } from "../ops/types.ts";
import { kernelHW } from "../ops/conv/mod.ts";
import type { Conv2dAttrs } from "../ops/conv2d.ts";
import type { ConvTranspose2dAttrs } from "../ops/conv_transpose2d.ts";

export type AttrValue = number | number[] | { float: number };

export interface OnnxNode {
  op: string;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, AttrValue>;
}

/** What a lowering gets: the node, its input tensor names and shapes, and helpers. */
export interface LowerCtx {
  node: TypedNode;
  x: string[];
  shapes: Shape[];
  y: string;
  /** the initializer holding parameter `p` of this node (e.g. "weight") */
  param(p: string): string;
  /** a constant initializer, named after the node */
  constInt64(what: string, values: number[]): string;
  constFloat(what: string, dims: number[], values: number[]): string;
  emit(op: string, inputs: string[], outputs: string[], attrs?: Record<string, AttrValue>): void;
}

type Lower = (c: LowerCtx) => void;

/** A concrete spatial size of a 4-D input (shape inference guarantees it for these ops). */
function hw(c: LowerCtx): [number, number] {
  const [, , h, w] = c.shapes[0];
  if (typeof h !== "number" || typeof w !== "number") {
    throw new Error(`${c.node.name}: symbolic spatial size [${c.shapes[0].join(", ")}]`);
  }
  return [h, w];
}

/** conv2d padding [before, after] of one axis; TF 'same' puts the odd row after. */
function convPads(a: Conv2dAttrs, size: number, k: number, side: 0 | 1): [number, number] {
  const p = a.padding;
  if (p === "valid") return [0, 0];
  if (typeof p === "number") return [p, p];
  if (Array.isArray(p)) return side === 0 ? [p[0], p[2]] : [p[1], p[3]]; // [top, left, bottom, right]
  const out = Math.ceil(size / a.stride);
  const total = Math.max((out - 1) * a.stride + k - size, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/** conv_transpose2d crop [before, after] and output_padding of one axis. */
function deconvPads(a: ConvTranspose2dAttrs, k: number): [number, number, number] {
  const s = a.stride;
  if (a.padding !== "same") return [a.padding, a.padding, a.output_padding];
  // TF: output exactly in * s, i.e. the full (in - 1) * s + k cropped by k - s (odd
  // row at the end); for k < s the missing s - k rows are zeros: output_padding.
  if (k < s) return [0, 0, s - k];
  const before = Math.floor((k - s) / 2);
  return [before, k - s - before, 0];
}

const unary = (op: string, attrs?: (a: never) => Record<string, AttrValue>): Lower => (c) =>
  c.emit(op, [c.x[0]], [c.y], attrs?.(c.node.parsed as never));

export const LOWER: Record<string, Lower> = {
  conv2d(c) {
    const a = c.node.parsed as Conv2dAttrs;
    const [kh, kw] = kernelHW(a.kernel);
    const [h, w] = hw(c);
    const [pt, pb] = convPads(a, h, kh, 0), [pl, pr] = convPads(a, w, kw, 1);
    c.emit("Conv", [c.x[0], c.param("weight"), ...(a.bias ? [c.param("bias")] : [])], [c.y], {
      kernel_shape: [kh, kw],
      strides: [a.stride, a.stride],
      pads: [pt, pl, pb, pr],
      dilations: [1, 1],
      group: 1,
    });
  },
  conv_transpose2d(c) {
    const a = c.node.parsed as ConvTranspose2dAttrs;
    const [kh, kw] = kernelHW(a.kernel);
    const [pt, pb, oph] = deconvPads(a, kh), [pl, pr, opw] = deconvPads(a, kw);
    // weight [in, out, kh, kw] is ONNX's ConvTranspose layout as it is
    const w = [c.param("weight"), ...(a.bias ? [c.param("bias")] : [])];
    c.emit("ConvTranspose", [c.x[0], ...w], [c.y], {
      kernel_shape: [kh, kw],
      strides: [a.stride, a.stride],
      pads: [pt, pl, pb, pr],
      output_padding: [oph, opw],
      dilations: [1, 1],
      group: 1,
    });
  },
  batch_norm(c) {
    // inference: the running statistics; momentum only matters in training
    const a = c.node.parsed as { eps: number; affine: boolean };
    const C = c.shapes[0][1] as number;
    const scale = a.affine ? c.param("weight") : c.constFloat("ones", [C], Array(C).fill(1));
    const bias = a.affine ? c.param("bias") : c.constFloat("zeros", [C], Array(C).fill(0));
    c.emit(
      "BatchNormalization",
      [c.x[0], scale, bias, c.param("running_mean"), c.param("running_var")],
      [c.y],
      { epsilon: { float: a.eps } },
    );
  },
  avg_pool(c) {
    const a = c.node.parsed as { kernel?: number; stride?: number; global: boolean };
    if (a.global) {
      // ours is already [B, C]; ONNX keeps [B, C, 1, 1]
      const pooled = `${c.y}/pooled`;
      c.emit("GlobalAveragePool", [c.x[0]], [pooled]);
      c.emit("Flatten", [pooled], [c.y], { axis: 1 });
      return;
    }
    const k = a.kernel!, s = a.stride ?? k;
    c.emit("AveragePool", [c.x[0]], [c.y], { kernel_shape: [k, k], strides: [s, s] });
  },
  flatten: unary("Flatten", () => ({ axis: 1 })),
  reshape(c) {
    // 0 keeps the (dynamic) batch dimension; the rest is per sample
    const a = c.node.parsed as { shape: number[] };
    c.emit("Reshape", [c.x[0], c.constInt64("shape", [0, ...a.shape])], [c.y]);
  },
  linear(c) {
    const a = c.node.parsed as { bias: boolean };
    const inputs = [c.x[0], c.param("weight"), ...(a.bias ? [c.param("bias")] : [])];
    c.emit("Gemm", inputs, [c.y], { transB: 1 }); // weight [out, in]: x W^T
  },
  slice(c) {
    const a = c.node.parsed as { axis: number; start: number; end?: number };
    const rank = c.shapes[0].length, ax = a.axis < 0 ? a.axis + rank : a.axis;
    const size = c.shapes[0][ax] as number; // concrete: the op refuses symbolic axes
    const start = a.start < 0 ? a.start + size : a.start;
    const end = a.end === undefined ? size : a.end < 0 ? a.end + size : a.end;
    c.emit("Slice", [
      c.x[0],
      c.constInt64("starts", [start]),
      c.constInt64("ends", [end]),
      c.constInt64("axes", [ax]),
    ], [c.y]);
  },
  concat: (c) => c.emit("Concat", c.x, [c.y], { axis: (c.node.parsed as { axis: number }).axis }),
  add: (c) => c.emit("Sum", c.x, [c.y]),
  mul: (c) => c.emit("Mul", c.x, [c.y]),
  scale(c) {
    const f = (c.node.parsed as { factor: number }).factor;
    c.emit("Mul", [c.x[0], c.constFloat("factor", [], [f])], [c.y]);
  },
  elu: unary("Elu", (a: { alpha: number }) => ({ alpha: { float: a.alpha } })),
  leaky_relu: unary("LeakyRelu", (a: { slope: number }) => ({ alpha: { float: a.slope } })),
  relu: unary("Relu"),
  sigmoid: unary("Sigmoid"),
  tanh: unary("Tanh"),
};
