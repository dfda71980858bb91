// The graph IR: what composition produces and every later stage consumes.
import type { Loc } from "./diagnostics.ts";
import type { Value } from "./expr.ts";
import type { ParamSpec, Shape } from "../ops/types.ts";

export interface IRNode {
  /** path inside its network, e.g. "conv21.bn"; also the name of its output tensor */
  name: string;
  op: string;
  /** tensor names: other nodes or the network's inputs */
  inputs: string[];
  /** attributes after parameter substitution (validated later by the op's schema) */
  attrs: Record<string, unknown>;
  loc: Loc;
  /** where each attribute was written, for located errors */
  attrLocs: Record<string, Loc>;
  inputLocs: Loc[];
  /** came from a `graph:` or `network:` layer: pruned silently when its output is unused */
  inlined: boolean;
  /** parameters are named `${paramScope}.${param}` (a network call shares its network's) */
  paramScope?: string;
}

export interface IRInput {
  name: string;
  shape: Shape;
  loc: Loc;
}

export interface IROutput {
  name: string;
  from: string;
  loc: Loc;
}

/** A tensor given to a `graph:` or `network:` layer must have the shape its file declares. */
export interface InputCheck {
  tensor: string;
  shape: Shape;
  loc: Loc;
  /** e.g. "fake: decoder.yaml input 'feature'" */
  what: string;
}

export interface Network {
  name: string;
  file: string;
  loc: Loc;
  params: Record<string, Value>;
  inputs: IRInput[];
  nodes: IRNode[];
  outputs: IROutput[];
  checks?: InputCheck[];
}

/** After shape inference: every node has a shape, parsed attributes and parameters. */
export interface TypedNode extends IRNode {
  shape: Shape;
  parsed: unknown;
  params: Record<string, ParamSpec>;
}

export interface TypedNetwork extends Omit<Network, "nodes"> {
  nodes: TypedNode[];
  /** shape of every tensor: inputs and nodes */
  shapes: Map<string, Shape>;
}

export interface Model {
  name: string;
  file: string;
  params: Record<string, Value>;
  networks: TypedNetwork[];
  /** the training step graph (`training.step`), calling the networks */
  step?: TypedNetwork;
  /** the resolved document (extends and overrides applied), for sections later stages read */
  doc: Record<string, unknown>;
}
