// ONNX export of an inference network (the encoder, or any network of supported
// ops) with its weights: a ModelProto, opset 17, batch norm with its running
// statistics, the batch dimension left symbolic ("B") so one file takes any batch.
// The op mappings are in onnx_ops.ts; the protobuf encoding in protobuf.ts.
import type { TypedNetwork } from "../lang/ir.ts";
import { paramTensors } from "../plan/program.ts";
import type { Shape } from "../ops/types.ts";
import { float32LE, int64LE, ProtoWriter } from "./protobuf.ts";
import { type AttrValue, LOWER, type OnnxNode } from "./onnx_ops.ts";
import { InferError } from "../infer/errors.ts";
import { type LoadOptions, resolveModel } from "../infer/resolve.ts";
import { writeFileAtomic } from "./atomic.ts";

export const ONNX_OPSET = 17;
/** IR version 8 is the one that goes with opset 17 (ONNX 1.12). */
const IR_VERSION = 8;
const FLOAT = 1, INT64 = 7; // TensorProto.DataType
const ATTR_FLOAT = 1, ATTR_INT = 2, ATTR_INTS = 7; // AttributeProto.AttributeType

export interface OnnxExportOptions {
  /** network outputs to export (default: all); only the layers they need are kept */
  outputs?: string[];
  /** ModelProto doc_string */
  doc?: string;
  /** ModelProto metadata_props */
  metadata?: Record<string, string>;
}

type Weights = Map<string, { shape: number[]; data: Float32Array }>;

interface Initializer {
  name: string;
  dims: number[];
  type: typeof FLOAT | typeof INT64;
  bytes: Uint8Array;
}

/** Ops the exporter knows, for messages. */
export const ONNX_OPS = Object.keys(LOWER).sort();

/** `net` with `weights` (parameter name -> tensor, as in a checkpoint) as ONNX bytes. */
export function exportOnnx(
  net: TypedNetwork,
  weights: Weights,
  opts: OnnxExportOptions = {},
): Uint8Array {
  const outputs = net.outputs.filter((o) => !opts.outputs || opts.outputs.includes(o.name));
  const unknownOut = (opts.outputs ?? []).filter((o) => !net.outputs.some((x) => x.name === o));
  if (unknownOut.length) {
    const have = net.outputs.map((o) => o.name).join(", ");
    throw new InferError(`${net.name} has no output ${unknownOut.join(", ")} (it has ${have})`);
  }
  // Only what the outputs depend on, checked before anything else is built.
  const need = new Set(outputs.map((o) => o.from));
  for (const n of [...net.nodes].reverse()) {
    if (need.has(n.name)) n.inputs.forEach((t) => need.add(t));
  }
  const nodes = net.nodes.filter((n) => need.has(n.name));
  const bad = nodes.filter((n) => !LOWER[n.op]);
  if (bad.length) {
    const list = bad.map((n) => `'${n.name}' (op ${n.op}, ${n.loc.file}:${n.loc.line})`);
    throw new InferError(
      `cannot export ${net.name} to ONNX: no ONNX mapping for ${list.join(", ")}; ` +
        `supported ops: ${ONNX_OPS.join(", ")}`,
    );
  }
  // Parameter names exactly as the compiler gives them (network.node.param, or a scope).
  const params = paramTensors(net);

  const inits: Initializer[] = [];
  const onnxNodes: OnnxNode[] = [];
  const missing: string[] = [];
  const used = new Set<string>();
  // An output named like another tensor gets that name; the other tensor is renamed.
  const outNames = new Map(outputs.map((o) => [o.name, o.from]));
  const rename = (t: string) => outNames.has(t) && outNames.get(t) !== t ? `${t}/internal` : t;
  for (const node of nodes) {
    const ps = params.get(node.name)!;
    const prefix = `const/${node.name}`;
    LOWER[node.op]({
      node,
      x: node.inputs.map(rename),
      shapes: node.inputs.map((t) => net.shapes.get(t)!),
      y: rename(node.name),
      param(p) {
        const name = ps[p].name;
        if (used.has(name)) return name; // shared by two nodes: one initializer
        const w = weights.get(name);
        const shape = ps[p].shape;
        if (!w) missing.push(`missing tensor "${name}" [${shape.join(", ")}]`);
        else if (w.shape.join(",") !== shape.join(",")) {
          missing.push(
            `tensor "${name}" has shape [${w.shape.join(", ")}], the graph needs [${
              shape.join(", ")
            }]`,
          );
        } else inits.push({ name, dims: shape, type: FLOAT, bytes: float32LE(w.data) });
        used.add(name);
        return name;
      },
      constInt64(what, values) {
        const name = `${prefix}/${what}`;
        inits.push({ name, dims: [values.length], type: INT64, bytes: int64LE(values) });
        return name;
      },
      constFloat(what, dims, values) {
        const name = `${prefix}/${what}`;
        inits.push({ name, dims, type: FLOAT, bytes: float32LE(Float32Array.from(values)) });
        return name;
      },
      emit(op, inputs, outs, attrs = {}) {
        onnxNodes.push({ op, inputs, outputs: outs, attrs });
      },
    });
  }
  if (missing.length) {
    const more = missing.length > 5 ? `\n  - and ${missing.length - 5} more` : "";
    throw new InferError(
      `the weights do not fit ${net.name} (${missing.length} problems):\n  - ` +
        missing.slice(0, 5).join("\n  - ") + more,
    );
  }
  for (const o of outputs) {
    if (rename(o.from) !== o.name) {
      onnxNodes.push({ op: "Identity", inputs: [rename(o.from)], outputs: [o.name], attrs: {} });
    }
  }
  const inputs = net.inputs.filter((i) => need.has(i.name));
  const graph = (g: ProtoWriter) => {
    onnxNodes.forEach((n, k) => g.message(1, (w) => nodeProto(w, n, k)));
    g.string(2, net.name);
    for (const t of inits) g.message(5, (w) => tensorProto(w, t));
    for (const i of inputs) g.message(11, (w) => valueInfo(w, i.name, i.shape));
    for (const o of outputs) g.message(12, (w) => valueInfo(w, o.name, net.shapes.get(o.from)!));
  };
  const model = new ProtoWriter()
    .varint(1, IR_VERSION)
    .string(2, "drgan-webgpu")
    .string(3, "1")
    .message(7, graph)
    .message(8, (w) => w.string(1, "").varint(2, ONNX_OPSET));
  if (opts.doc) model.string(6, opts.doc);
  for (const [k, v] of Object.entries(opts.metadata ?? {})) {
    model.message(14, (w) => w.string(1, k).string(2, v));
  }
  return model.finish();
}

function nodeProto(w: ProtoWriter, n: OnnxNode, k: number): void {
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  w.string(3, `${n.op}_${k}`);
  w.string(4, n.op);
  for (const [name, v] of Object.entries(n.attrs)) w.message(5, (a) => attrProto(a, name, v));
}

function attrProto(w: ProtoWriter, name: string, v: AttrValue): void {
  w.string(1, name);
  if (Array.isArray(v)) w.packedVarints(8, v).varint(20, ATTR_INTS);
  else if (typeof v === "number") w.varint(3, v).varint(20, ATTR_INT);
  else w.float(2, v.float).varint(20, ATTR_FLOAT);
}

function tensorProto(w: ProtoWriter, t: Initializer): void {
  if (t.dims.length) w.packedVarints(1, t.dims);
  w.varint(2, t.type).string(8, t.name).bytes(9, t.bytes);
}

/** A float tensor's type; symbolic dimensions ("B") become dim_param. */
function valueInfo(w: ProtoWriter, name: string, shape: Shape): void {
  w.string(1, name);
  w.message(2, (type) =>
    type.message(1, (tensor) => {
      tensor.varint(1, FLOAT);
      tensor.message(2, (s) => {
        for (const d of shape) {
          s.message(1, (dim) => typeof d === "number" ? dim.varint(1, d) : dim.string(2, d));
        }
      });
    }));
}

/**
 * The model's encoder as an ONNX file: input `image` [B, 3, size, size], outputs
 * `feature` (and `confidence` in multi-image mode). Checked and computed before
 * anything is written; the file is written whole.
 */
export function exportEncoderOnnx(
  opts: LoadOptions,
  file: string,
): { bytes: number; outputs: string[] } {
  const r = resolveModel(opts);
  const outputs = r.multi ? ["feature", "confidence"] : ["feature"];
  const bytes = exportOnnx(r.encoder, r.weights, {
    outputs,
    doc: `DR-GAN encoder of ${r.graph}, exported by drgan-webgpu`,
    metadata: {
      graph: r.graph,
      overrides: JSON.stringify(r.overrides),
      checkpoint: r.checkpoint,
      step: String(r.step ?? ""),
      input: "image: [B, 3, size, size], CHW, values in [-1, 1]",
    },
  });
  writeFileAtomic(file, bytes);
  return { bytes: bytes.length, outputs };
}
