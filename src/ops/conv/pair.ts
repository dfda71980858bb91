// conv2d and conv_transpose2d as one adjoint pair. Each op only says how its
// attributes and input shape give the geometry of geometry.ts; everything else
// (parameters, references, kernels, gradients) follows from which side of that
// one convolution its input is on. conv2d maps src to dst (gather forward,
// scatter for the input gradient); the transposed conv maps dst to src (scatter
// forward, gather for the input gradient). Both take the weight gradient of the
// same convolution, with x and dy trading the src and dst roles.
import type { z } from "../../deps.ts";
import { defineOp, type Dim, type Dispatch, type OpDef } from "../types.ts";
import type { ConvGeom } from "./geometry.ts";
import {
  biasGrad,
  convConsts,
  convGather,
  convScatter,
  convWeightGrad,
  gatherWeights,
} from "./kernels.ts";
import { chooseBlock } from "./cost_model.ts";
import type { Block } from "./blocks.ts";
import type { TileBlock } from "./tiled.ts";
import {
  refAddBias,
  refBiasGrad,
  refConv,
  refConvAdjoint,
  refConvWeightGrad,
} from "./reference.ts";

/** One direction of the convolution: the tensor it writes, its reference and its kernel. */
interface Direction {
  /** [C, H, W] of the side written */
  out(g: ConvGeom): [number, number, number];
  ref(g: ConvGeom, from: Float64Array, w: Float64Array): Float64Array;
  kernel: typeof convGather;
  kind: "gather" | "scatter";
}

const GATHER: Direction = {
  out: (g) => [g.dstC, g.dstH, g.dstW],
  ref: refConv,
  kernel: convGather,
  kind: "gather",
};

const SCATTER: Direction = {
  out: (g) => [g.srcC, g.srcH, g.srcW],
  ref: refConvAdjoint,
  kernel: convScatter,
  kind: "scatter",
};

export interface ConvOpSpec<A> {
  name: string;
  summary: string;
  attrs: z.ZodType<A>;
  /** false: the input is src and the output dst (conv2d); true: the other way round */
  transposed: boolean;
  /** The geometry for an input shape; dim 0 may be symbolic and is replaced by `batch`. */
  geom(a: A, x: readonly Dim[], batch?: number): ConvGeom;
}

/** The channel counts (c.conv) where a kernel reads them (not the tiled kernels). */
function sizesOf(ds: Dispatch[], g: ConvGeom): Record<string, number[]> | undefined {
  return ds.some((d) => d.bindings.some((b) => b.role === "c.conv")) ? convConsts(g) : undefined;
}

/** The weight a direction's kernel reads: the parameter, packed first for some gathers. */
function weightOf(dir: Direction, g: ConvGeom, block: Block | TileBlock, label: string) {
  return dir.kind === "gather"
    ? gatherWeights(label, g, block, "p.weight")
    : { io: { weight: "p.weight" }, dispatches: [] as Dispatch[] };
}

/** The op of one direction of the pair; `bias` adds a learned bias per output channel. */
export function defineConvOp<A extends { bias: boolean }>(spec: ConvOpSpec<A>): OpDef<A> {
  const { name, geom, transposed } = spec;
  const [fwd, adj] = transposed ? [SCATTER, GATHER] : [GATHER, SCATTER];
  /** [src, dst] of the convolution from this op's input and its output's gradient */
  const srcDst = <T>(x: T, dy: T): [T, T] => transposed ? [dy, x] : [x, dy];
  const [srcRole, dstRole] = srcDst("x0", "dy");
  return defineOp<A>({
    name,
    fusesNorm: true,
    summary: spec.summary,
    attrs: spec.attrs,
    arity: [1, 1],
    shape: (a, [x]) => [x[0], ...fwd.out(geom(a, x))],
    params: (a, [x]) => {
      const g = geom(a, x);
      return {
        weight: { shape: [g.dstC, g.srcC, g.kh, g.kw], init: "normal", trainable: true },
        ...(a.bias ? { bias: { shape: [fwd.out(g)[0]], init: "zeros", trainable: true } } : {}),
      };
    },
    macs: (a, [x]) => {
      const g = geom(a, x, x[0]);
      return g.b * g.dstC * g.dstH * g.dstW * g.srcC * g.kh * g.kw;
    },
    forwardRef: (a, [x], p) => {
      const g = geom(a, x.shape, x.shape[0]);
      const y = { shape: [g.b, ...fwd.out(g)], data: fwd.ref(g, x.data, p.weight.data) };
      return { y: a.bias ? refAddBias(y, p.bias.data) : y };
    },
    backwardRef: (a, [x], p, _y, dy) => {
      const g = geom(a, x.shape, x.shape[0]);
      return {
        dx: [{ shape: x.shape, data: adj.ref(g, dy.data, p.weight.data) }],
        dp: {
          weight: { shape: p.weight.shape, data: refConvWeightGrad(g, ...srcDst(x.data, dy.data)) },
          ...(a.bias ? { bias: refBiasGrad(dy) } : {}),
        },
      };
    },
    forward: (a, ctx) => {
      const g = geom(a, ctx.inputs[0], ctx.inputs[0][0]);
      const block = chooseBlock(fwd.kind, g, ctx.target);
      const w = weightOf(fwd, g, block, name);
      const d = fwd.kernel(name, g, {
        from: "x0",
        to: "y",
        ...w.io,
        bias: a.bias ? "p.bias" : undefined,
        accumulate: false,
        norm: ctx.norm && { ...ctx.norm, expr: ctx.epilogue?.expr },
      }, block);
      const ds = [...w.dispatches, d];
      return { dispatches: ds, scratch: w.scratch, consts: sizesOf(ds, g) };
    },
    backward: (a, ctx) => {
      const g = geom(a, ctx.inputs[0], ctx.inputs[0][0]);
      const d: Dispatch[] = [];
      let scratch: Record<string, number> | undefined;
      if (ctx.needDx[0]) {
        const block = chooseBlock(adj.kind, g, ctx.target);
        const w = weightOf(adj, g, block, `${name}.dx`);
        d.push(
          ...w.dispatches,
          adj.kernel(`${name}.dx`, g, {
            from: "dy",
            to: "dx0",
            ...w.io,
            accumulate: ctx.accumulate.has("dx0"),
          }, block),
        );
        scratch = w.scratch;
      }
      let consts: Record<string, number[]> | undefined;
      if (ctx.needDp.has("weight")) {
        const k = convWeightGrad(
          `${name}.dw`,
          g,
          { src: srcRole, dst: dstRole, dw: "dp.weight" },
          ctx.accumulate.has("dp.weight"),
          chooseBlock("wgrad", g, ctx.target),
        );
        d.push(...k.dispatches);
        scratch = { ...scratch, ...k.scratch };
        consts = k.consts;
      }
      if (a.bias && ctx.needDp.has("bias")) {
        d.push(biasGrad(
          `${name}.db`,
          ctx.output,
          { grad: "dy", db: "dp.bias" },
          ctx.accumulate.has("dp.bias"),
        ));
      }
      return { dispatches: d, scratch, consts: { ...consts, ...sizesOf(d, g) } };
    },
  });
}
