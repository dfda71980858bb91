// The contract every op file implements: one definition holds the attribute
// schema, shape rule, parameters, float64 reference and WGSL kernels.
import type { z } from "../deps.ts";
import type { ConvChoices } from "./conv/cost_model.ts";

/** A dimension: a number, or a symbol (the batch size "B") bound at compile time. */
export type Dim = number | string;
export type Shape = Dim[];

/** Dense float64 tensor used by the CPU reference. Row-major, PyTorch layout. */
export interface T64 {
  shape: number[];
  data: Float64Array;
}

export interface ParamSpec {
  shape: number[];
  init: "normal" | "ones" | "zeros";
  /** false for state such as batch norm's running statistics */
  trainable: boolean;
}

/** Thrown by shape rules; `attr` names the attribute to blame, if any. */
export class ShapeError extends Error {
  constructor(message: string, public attr?: string) {
    super(message);
  }
}

export interface RefCtx {
  training: boolean;
}

export interface RefForward {
  y: T64;
  /** new values of non-trainable params (running statistics) */
  state?: Record<string, T64>;
}

export interface RefBackward {
  /** gradient per input; undefined where the input is not differentiable (labels) */
  dx: (T64 | undefined)[];
  dp: Record<string, T64>;
}

/**
 * A tensor role inside one op's kernels:
 * "x0".."xN" inputs, "y" output, "p.NAME" parameters/state, "t.NAME" scratch
 * private to one node (kept from forward to backward), "c.NAME" constants (sizes), "dy" upstream gradient,
 * "dx0".. input gradients, "dp.NAME" parameter gradients.
 */
export type Role = string;

export interface Binding {
  role: Role;
  write?: boolean;
  /** declared array<vec4f>: index k holds elements 4k..4k+3 (the tensor's size divides by 4) */
  vec4?: boolean;
  /** declared array<vec2f>: index k holds elements 2k, 2k + 1 */
  vec2?: boolean;
}

/** One compute dispatch: a complete WGSL module whose bindings are @group(0) in order. */
export interface Dispatch {
  label: string;
  code: string;
  entry: string;
  workgroups: [number, number, number];
  bindings: Binding[];
}

export interface KernelCtx {
  /** concrete shapes: batch already bound */
  inputs: number[][];
  output: number[];
  params: Record<string, number[]>;
  training: boolean;
  /**
   * Fusion (only for ops with `fusesEpilogue`): a pointwise op folded into this
   * one. Forward stores `expr` of the value `x` it would have stored; backward
   * reads its incoming gradient as dy * `grad`, where `grad` is written in terms of
   * `y`, the stored (post-epilogue) output, bound as role "ey".
   */
  epilogue?: Pointwise;
  /**
   * Fusion in inference (only for ops with `fusesNorm`): the batch norm reading this
   * op's output, with running statistics, folded into its store (and `epilogue`, the
   * activation folded into that batch norm). Its parameters are roles n.running_mean,
   * n.running_var and, when affine, n.weight and n.bias.
   */
  norm?: { eps: number; affine: boolean };
  /**
   * false in the unfused reference plan: each loop nest of the op (a reduction, then
   * an elementwise pass) is its own kernel. Otherwise an op may merge them.
   */
  fuse?: boolean;
  /**
   * what the plan's Target says about the adapter that kernels choose by (conv
   * blocks); without one, the software adapter's cost model
   */
  target?: ConvChoices;
}

/** An elementwise function as WGSL: the value of `x`, and dy/dx in terms of the output `y`. */
export interface Pointwise {
  expr: string;
  grad: string;
}

export interface BackwardCtx extends KernelCtx {
  /** which inputs need a gradient */
  needDx: boolean[];
  /** which trainable parameters need a gradient (frozen ones, e.g. D's during G's update, do not) */
  needDp: Set<string>;
  /** roles ("dx0", "dp.weight") whose kernel must add into the buffer instead of overwriting it */
  accumulate: Set<Role>;
}

export interface Kernels {
  dispatches: Dispatch[];
  /** element counts of "t.NAME" scratch buffers this node needs */
  scratch?: Record<string, number>;
  /**
   * values of "c.NAME" constant tensors the kernels read, written once when the plan is
   * loaded: a kernel reading its sizes from one (not from its code) is one pipeline for
   * every layer it runs, and each pipeline costs a compile
   */
  consts?: Record<string, number[]>;
}

// deno-lint-ignore no-explicit-any
export interface OpDef<A = any> {
  name: string;
  /** one line for the generated reference in docs/graph-language.md */
  summary: string;
  /** strict zod object; every field carries .describe() text and defaults */
  attrs: z.ZodType<A>;
  /** allowed number of inputs */
  arity: [min: number, max: number];
  /** which inputs carry gradients (default: all) */
  differentiable?: (i: number) => boolean;
  shape(a: A, inputs: Shape[]): Shape;
  /** attributes with symbolic sizes ("B"), bound when a program is built for a batch */
  bind?(a: A, batch: number): A;
  params?(a: A, inputs: Shape[]): Record<string, ParamSpec>;
  /** multiply-accumulates for concrete shapes (0 if omitted) */
  macs?(a: A, inputs: number[][], output: number[]): number;
  forwardRef(a: A, xs: T64[], p: Record<string, T64>, ctx: RefCtx): RefForward;
  backwardRef(a: A, xs: T64[], p: Record<string, T64>, y: T64, dy: T64, ctx: RefCtx): RefBackward;
  forward(a: A, ctx: KernelCtx): Kernels;
  backward(a: A, ctx: BackwardCtx): Kernels;
  /** for elementwise ops of one input: the op as an expression another op can fold in */
  pointwise?(a: A): Pointwise;
  /** honours KernelCtx.epilogue; its backward must not bind its own output y */
  fusesEpilogue?: boolean;
  /** honours KernelCtx.norm (and then KernelCtx.epilogue) in its forward kernel */
  fusesNorm?: boolean;
}

export function defineOp<A>(def: OpDef<A>): OpDef<A> {
  return def;
}
