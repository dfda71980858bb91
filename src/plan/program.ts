// A network with its batch bound, lowered to a flat list of kernel steps over
// named tensors: the forward pass, and (reverse-mode autodiff) the backward pass.
import type { TypedNetwork, TypedNode } from "../lang/ir.ts";
import { OPS } from "../ops/registry.ts";
import type { Dispatch, Kernels, ParamSpec, Shape } from "../ops/types.ts";
import { bindDim } from "../ops/dim.ts";
import type { Target } from "./target.ts";

export { bindDim };

export type TensorKind =
  | "input"
  | "activation"
  | "param"
  | "state"
  | "grad"
  | "scratch"
  | "const";

export interface TensorInfo {
  name: string;
  shape: number[];
  kind: TensorKind;
  init?: ParamSpec["init"];
  /** a "const" tensor's values (Kernels.consts) */
  values?: number[];
}

export interface Step {
  label: string;
  node: string;
  /**
   * a producer and what is folded into it (an inference batch norm, a pointwise op):
   * the original nodes, for references
   */
  fused?: { producer: string; norm?: string; pointwise?: string };
  phase: "forward" | "backward";
  dispatches: Dispatch[];
  /** op role (x0, y, p.weight, dx0, ...) -> tensor name */
  roles: Record<string, string>;
}

export interface Program {
  network: string;
  batch: number;
  training: boolean;
  tensors: Map<string, TensorInfo>;
  forward: Step[];
  backward: Step[];
  /** network output name -> tensor */
  outputs: Record<string, string>;
  inputs: string[];
  /** parameter tensor names (trainable and state) in a stable order */
  params: string[];
  /** built with fusion: the runtime also merges independent dispatches (merge.ts) */
  fused: boolean;
}

export interface ProgramOptions {
  batch: number;
  training: boolean;
  /** build the backward pass from upstream gradients of these outputs */
  backwardFrom?: string[];
  /** network inputs whose gradient is wanted too */
  inputGrads?: string[];
  /** parameters to differentiate (default: all trainable ones); others act as constants */
  trains?: (param: string) => boolean;
  /** compute only these outputs (default: all), and only the layers they need */
  outputs?: string[];
  /** fold pointwise ops into their producers (default true) */
  fuse?: boolean;
  /** the adapter the kernels are chosen for (default: the software target) */
  target?: Target;
}

/** A node to lower: possibly a producer carrying the pointwise op folded into it. */
interface LoweredNode extends TypedNode {
  epilogue?: TypedNode;
  producer?: string;
  /** inference: the batch norm folded into this convolution (see foldNorms) */
  norm?: LoweredNode;
}

/**
 * Folds each node that `folds` accepts into the producer of its first input, when
 * nothing else reads that producer's output and it is not a network output. The
 * merged node takes the consumer's name and shape, so its users read it unchanged,
 * and keeps the producer's parameters.
 */
function foldIntoProducers(
  net: TypedNetwork,
  nodes: LoweredNode[],
  folds: (consumer: LoweredNode, producer: LoweredNode) => boolean,
  merge: (consumer: LoweredNode) => Partial<LoweredNode>,
): LoweredNode[] {
  const users = new Map<string, number>();
  for (const n of nodes) for (const t of n.inputs) users.set(t, (users.get(t) ?? 0) + 1);
  const outputs = new Set(net.outputs.map((o) => o.from));
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const folded = new Map<string, LoweredNode>(); // producer -> consumer
  for (const u of nodes) {
    const p = byName.get(u.inputs[0]);
    if (
      !p || users.get(p.name) !== 1 || outputs.has(p.name) || folded.has(p.name) || !folds(u, p)
    ) continue;
    folded.set(p.name, u);
  }
  const gone = new Set([...folded.values()].map((u) => u.name));
  return nodes.filter((n) => !gone.has(n.name)).map((n) => {
    const u = folded.get(n.name);
    if (!u) return n;
    return {
      ...n,
      name: u.name,
      shape: u.shape,
      paramScope: n.paramScope ?? `${net.name}.${n.name}`,
      producer: n.name,
      ...merge(u),
    };
  });
}

/**
 * Folds each pointwise op (ELU after batch norm) into the op producing its input:
 * one kernel writes the activation, the intermediate tensor never exists, and the
 * backward pass takes the gradient through the activation inside the producer's
 * gradient kernels.
 */
function fuse(net: TypedNetwork): LoweredNode[] {
  return foldIntoProducers(
    net,
    net.nodes,
    (u, p) => !!OPS[u.op].pointwise && u.inputs.length === 1 && !!OPS[p.op].fusesEpilogue,
    (u) => ({ epilogue: u }),
  );
}

/**
 * Inference only: a batch norm with running statistics is a per-channel affine map,
 * so it (with the activation already folded into it) folds into the store of the
 * convolution feeding it. A conv + batch norm + ELU layer is then one kernel and one
 * pass over memory.
 */
function foldNorms(net: TypedNetwork, nodes: LoweredNode[]): LoweredNode[] {
  return foldIntoProducers(
    net,
    nodes,
    (u, p) => u.op === "batch_norm" && !!OPS[p.op].fusesNorm && !p.epilogue && !p.norm,
    (bn) => ({ norm: bn, epilogue: bn.epilogue }),
  );
}

/** The network restricted to what the chosen outputs depend on. */
function restrict(net: TypedNetwork, outputs: string[]): TypedNetwork {
  const unknown = outputs.filter((o) => !net.outputs.some((x) => x.name === o));
  if (unknown.length) throw new Error(`${net.name} has no output ${unknown.join(", ")}`);
  const kept = net.outputs.filter((o) => outputs.includes(o.name));
  const need = new Set(kept.map((o) => o.from));
  for (const n of [...net.nodes].reverse()) {
    if (need.has(n.name)) n.inputs.forEach((t) => need.add(t));
  }
  return {
    ...net,
    inputs: net.inputs.filter((i) => need.has(i.name)),
    nodes: net.nodes.filter((n) => need.has(n.name)),
    outputs: kept,
  };
}

export function bindShape(s: Shape, batch: number): number[] {
  return s.map((d) => bindDim(d, batch));
}

/** Parameter tensors are named network.node.param, as in a PyTorch state_dict. */
export function paramName(net: string, node: string, param: string): string {
  return `${net}.${node}.${param}`;
}

export const gradName = (t: string) => `grad.${t}`;

function nodeParam(net: TypedNetwork, node: TypedNode, p: string): string {
  return node.paramScope ? `${node.paramScope}.${p}` : paramName(net.name, node.name, p);
}

/**
 * Every node's parameter tensors (trainable and state) as a program names them, by
 * node and parameter, without lowering anything: what weight files are checked
 * against and exported by (import, ONNX, a model's checkpoint).
 */
export function paramTensors(net: TypedNetwork): Map<string, Record<string, TensorInfo>> {
  const out = new Map<string, Record<string, TensorInfo>>();
  for (const node of net.nodes) {
    const ps: Record<string, TensorInfo> = {};
    for (const [p, spec] of Object.entries(node.params)) {
      ps[p] = {
        name: nodeParam(net, node, p),
        shape: spec.shape,
        kind: spec.trainable ? "param" : "state",
        init: spec.init,
      };
    }
    out.set(node.name, ps);
  }
  return out;
}

/** Parameter name -> shape of every parameter of a network. */
export function paramShapes(net: TypedNetwork): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const ps of paramTensors(net).values()) {
    for (const t of Object.values(ps)) out.set(t.name, t.shape);
  }
  return out;
}

/** Attributes that name symbolic sizes (a slice's `start: B`), bound for the batch. */
export function bindAttrs(net: TypedNetwork, batch: number): TypedNetwork {
  const nodes = net.nodes.map((n) => {
    const bind = OPS[n.op].bind;
    return bind ? { ...n, parsed: bind(n.parsed, batch) } : n;
  });
  return { ...net, nodes };
}

export function buildProgram(full: TypedNetwork, opts: ProgramOptions): Program {
  const net = bindAttrs(opts.outputs ? restrict(full, opts.outputs) : full, opts.batch);
  const tensors = new Map<string, TensorInfo>();
  const add = (t: TensorInfo) => {
    const had = tensors.get(t.name);
    if (!had) tensors.set(t.name, t);
    else if (String(had.values) !== String(t.values)) {
      throw new Error(`${t.name}: one constant tensor given two different values`);
    }
    return t.name;
  };
  for (const i of net.inputs) {
    add({ name: i.name, shape: bindShape(i.shape, opts.batch), kind: "input" });
  }
  const shapeOf = (t: string) => tensors.get(t)!.shape;
  const forward: Step[] = [];
  const stepRoles = new Map<TypedNode, Record<string, string>>();
  const lowered = opts.fuse === false ? net.nodes as LoweredNode[] : fuse(net);
  const nodes = opts.fuse === false || opts.training || opts.backwardFrom
    ? lowered
    : foldNorms(net, lowered);
  for (const node of nodes) {
    const op = OPS[node.op];
    const output = bindShape(node.shape, opts.batch);
    add({ name: node.name, shape: output, kind: "activation" });
    const roles: Record<string, string> = { y: node.name };
    node.inputs.forEach((t, i) => (roles[`x${i}`] = t));
    for (const [p, spec] of Object.entries(node.params)) {
      roles[`p.${p}`] = add({
        name: nodeParam(net, node, p),
        shape: spec.shape,
        kind: spec.trainable ? "param" : "state",
        init: spec.init,
      });
    }
    for (const [p, spec] of Object.entries(node.norm?.params ?? {})) {
      roles[`n.${p}`] = add({
        name: nodeParam(net, node.norm!, p),
        shape: spec.shape,
        kind: spec.trainable ? "param" : "state",
        init: spec.init,
      });
    }
    const ctx = kernelCtx(node, roles, shapeOf, output, opts);
    const k = op.forward(node.parsed, ctx);
    addScratch(k, node, roles, add);
    stepRoles.set(node, roles);
    forward.push({
      label: stepLabel(node),
      node: node.name,
      fused: fusedOf(node),
      phase: "forward",
      dispatches: k.dispatches,
      roles,
    });
  }
  const backward = opts.backwardFrom
    ? differentiate(net, nodes, opts, stepRoles, add, shapeOf)
    : [];
  const outputs = Object.fromEntries(net.outputs.map((o) => [o.name, o.from]));
  const params = [...tensors.values()].filter((t) => t.kind === "param" || t.kind === "state")
    .map((t) => t.name);
  return {
    network: net.name,
    batch: opts.batch,
    training: opts.training,
    tensors,
    forward,
    backward,
    outputs,
    inputs: net.inputs.map((i) => i.name),
    params,
    fused: opts.fuse !== false,
  };
}

function stepLabel(node: LoweredNode): string {
  if (!node.producer) return node.name;
  return [node.producer, node.norm?.op, node.epilogue?.op].filter(Boolean).join("+");
}

function fusedOf(node: LoweredNode): Step["fused"] {
  if (!node.producer) return undefined;
  return {
    producer: node.producer,
    norm: node.norm && (node.norm.producer ?? node.norm.name),
    pointwise: node.epilogue?.name,
  };
}

function kernelCtx(
  node: LoweredNode,
  roles: Record<string, string>,
  shapeOf: (t: string) => number[],
  output: number[],
  opts: ProgramOptions,
) {
  return {
    inputs: node.inputs.map(shapeOf),
    output,
    params: Object.fromEntries(Object.keys(node.params).map((p) => [p, shapeOf(roles[`p.${p}`])])),
    training: opts.training,
    epilogue: node.epilogue && OPS[node.epilogue.op].pointwise!(node.epilogue.parsed),
    norm: node.norm && normAttrs(node.norm),
    fuse: opts.fuse !== false,
    target: opts.target,
  };
}

function normAttrs(bn: TypedNode): { eps: number; affine: boolean } {
  const a = bn.parsed as { eps: number; affine: boolean };
  return { eps: a.eps, affine: a.affine };
}

function addScratch(
  k: Kernels,
  node: TypedNode,
  roles: Record<string, string>,
  add: (t: TensorInfo) => string,
) {
  // One buffer per node and name, shared by forward and backward (batch norm's statistics).
  for (const [s, n] of Object.entries(k.scratch ?? {})) {
    roles[`t.${s}`] = add({ name: `scratch.${node.name}.${s}`, shape: [n], kind: "scratch" });
  }
  for (const [c, values] of Object.entries(k.consts ?? {})) {
    const name = `const.${node.name}.${c}`;
    roles[`c.${c}`] = add({ name, shape: [values.length], kind: "const", values });
  }
}

/**
 * Reverse mode: walks the nodes backwards from the outputs that receive an upstream
 * gradient. A tensor used several times gets the sum: the first contribution
 * overwrites its gradient buffer, later ones accumulate into it.
 */
function differentiate(
  net: TypedNetwork,
  nodes: LoweredNode[],
  opts: ProgramOptions,
  stepRoles: Map<TypedNode, Record<string, string>>,
  add: (t: TensorInfo) => string,
  shapeOf: (t: string) => number[],
): Step[] {
  const trains = (node: TypedNode, p: string, spec: ParamSpec) =>
    spec.trainable && (opts.trains?.(nodeParam(net, node, p)) ?? true);
  // Which tensors depend on something we want a gradient for.
  const wantsGrad = new Set(opts.inputGrads ?? []);
  for (const node of nodes) {
    const trainable = Object.entries(node.params).some(([p, spec]) => trains(node, p, spec));
    const op = OPS[node.op];
    const fromInput = node.inputs.some((t, i) =>
      (op.differentiable?.(i) ?? true) && wantsGrad.has(t)
    );
    if (trainable || fromInput) wantsGrad.add(node.name);
  }
  const written = new Set<string>();
  for (const o of opts.backwardFrom ?? []) {
    const t = net.outputs.find((x) => x.name === o)!.from;
    add({ name: gradName(t), shape: shapeOf(t), kind: "grad" });
    written.add(gradName(t));
  }
  const steps: Step[] = [];
  for (const node of [...nodes].reverse() as LoweredNode[]) {
    if (!written.has(gradName(node.name)) || !wantsGrad.has(node.name)) continue;
    const op = OPS[node.op];
    const roles: Record<string, string> = { ...stepRoles.get(node)!, dy: gradName(node.name) };
    if ((node as LoweredNode).epilogue) roles.ey = node.name;
    const needDx = node.inputs.map((t, i) => (op.differentiable?.(i) ?? true) && wantsGrad.has(t));
    const accumulate = new Set<string>();
    const needDp = new Set<string>();
    node.inputs.forEach((t, i) => {
      if (!needDx[i]) return;
      const g = add({ name: gradName(t), shape: shapeOf(t), kind: "grad" });
      roles[`dx${i}`] = g;
      if (written.has(g)) accumulate.add(`dx${i}`);
      written.add(g); // add(x, x): the second gradient adds to the first
    });
    for (const [p, spec] of Object.entries(node.params)) {
      if (!trains(node, p, spec)) continue;
      needDp.add(p);
      const t = roles[`p.${p}`];
      const g = add({ name: gradName(t), shape: spec.shape, kind: "grad" });
      roles[`dp.${p}`] = g;
      if (written.has(g)) accumulate.add(`dp.${p}`);
      written.add(g);
    }
    const out = shapeOf(node.name);
    const k = op.backward(node.parsed, {
      ...kernelCtx(node, roles, shapeOf, out, opts),
      needDx,
      needDp,
      accumulate,
    });
    addScratch(k, node, roles, add);
    steps.push({
      label: `${stepLabel(node)}.grad`,
      node: node.name,
      fused: fusedOf(node),
      phase: "backward",
      dispatches: k.dispatches,
      roles,
    });
  }
  return steps;
}
