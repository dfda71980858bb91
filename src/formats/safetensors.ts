// src/formats, beside the pipeline: the files the project reads and writes for other
// tools and for itself. Safetensors (this file: weights, checkpoints, exec's tensors),
// ONNX export (onnx_export.ts, onnx_ops.ts, protobuf.ts), PyTorch state_dicts renamed
// into a graph (import_weights.ts), the one writer that never leaves half a file
// (atomic.ts) and the one reader that refuses devices and oversized files (read.ts).
//
// Safetensors reader and writer (https://github.com/huggingface/safetensors), compatible with
// PyTorch's `safetensors.torch`. Layout: u64 little-endian header length N, N bytes of UTF-8
// JSON header, then the data section that the tensors' data_offsets must cover exactly.
//
// Typed arrays use the host byte order; every platform Deno and WebGPU run on is little-endian,
// so the file's bytes are viewed or copied without swapping.
import { UserError } from "../errors.ts";
import { WriteError, writeFileAtomic } from "./atomic.ts";
import { fsReason } from "../util/fs.ts";
import { checkInside, ReadError } from "./read.ts";

export type DType = "F64" | "F32" | "F16" | "BF16" | "I64" | "I32" | "I16" | "I8" | "U8" | "BOOL";

/**
 * Decoded tensor data. F16 and BF16 are widened to Float32Array (WebGPU computes in f32 anyway).
 * I64 stays a BigInt64Array so that reading and writing back is lossless; `toFloat32` converts
 * it to numbers for use. BOOL is a Uint8Array of the file's bytes (PyTorch writes 0 or 1).
 */
export type TensorData =
  | Float64Array
  | Float32Array
  | BigInt64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint8Array;

export interface Tensor {
  dtype: DType;
  shape: number[];
  data: TensorData;
}

/** What `serializeSafetensors` accepts: dtype defaults from the typed array (F32 for floats). */
export interface TensorInput {
  dtype?: DType;
  shape: readonly number[];
  data: TensorData;
}

/** Bad input (a file or tensors to write); the message starts with the file it concerns. */
export class SafetensorsError extends UserError {
  constructor(source: string, message: string, options?: ErrorOptions) {
    super(`${source}: ${message}`, options);
  }
}

type Ctor = { new (buffer: ArrayBufferLike, offset: number, length: number): TensorData };

/** size: bytes per element; native: the typed array whose bytes are the file's bytes. */
const DTYPES: Record<DType, { size: number; native?: Ctor; min?: number; max?: number }> = {
  F64: { size: 8, native: Float64Array },
  F32: { size: 4, native: Float32Array },
  F16: { size: 2 },
  BF16: { size: 2 },
  I64: { size: 8, native: BigInt64Array },
  I32: { size: 4, native: Int32Array, min: -(2 ** 31), max: 2 ** 31 - 1 },
  I16: { size: 2, native: Int16Array, min: -(2 ** 15), max: 2 ** 15 - 1 },
  I8: { size: 1, native: Int8Array, min: -128, max: 127 },
  U8: { size: 1, native: Uint8Array, min: 0, max: 255 },
  BOOL: { size: 1, native: Uint8Array, min: 0, max: 1 },
};
const DTYPE_NAMES = Object.keys(DTYPES) as DType[];

/** Refuse headers above this before allocating anything for them (the Rust crate's limit). */
const MAX_HEADER = 100_000_000;

function isDType(s: unknown): s is DType {
  return typeof s === "string" && Object.hasOwn(DTYPES, s);
}

function isCount(x: unknown): x is number {
  return Number.isSafeInteger(x) && (x as number) >= 0;
}

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** A short rendering of a bad value for a message; never throws (bigint, deep nesting). */
function show(x: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(x) ?? String(x);
  } catch {
    s = typeof x === "bigint" ? String(x) : Array.isArray(x) ? "[...]" : typeof x;
  }
  return s.length > 60 ? s.slice(0, 57) + "..." : s;
}

/** Parse a whole safetensors file. Aligned tensors are views into `bytes`, not copies. */
export function parseSafetensors(
  bytes: Uint8Array,
  source = "<memory>",
): { tensors: Map<string, Tensor>; metadata: Record<string, string> } {
  const fail = (msg: string): never => {
    throw new SafetensorsError(source, msg);
  };
  if (bytes.length < 8) {
    fail(`file is ${bytes.length} bytes, too short for the 8-byte header length`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // Compare as bigint: a corrupt length may not fit a double exactly.
  const n64 = view.getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER)) fail(`header length ${n64} is absurd (limit ${MAX_HEADER} bytes)`);
  const n = Number(n64);
  if (8 + n > bytes.length) {
    fail(`header length ${n} exceeds the file (${bytes.length - 8} bytes after the length)`);
  }

  let text = "";
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    fail("header is not valid UTF-8");
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    fail(`header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    fail(`header is not a JSON object`);
  }

  const metadata: [string, string][] = [];
  const start = 8 + n, dataLen = bytes.length - start;
  const specs: { name: string; dtype: DType; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
        fail(`__metadata__ is not an object`);
      }
      for (const [k, v] of Object.entries(entry as object)) {
        if (typeof v !== "string") fail(`__metadata__ "${k}" is not a string (got ${show(v)})`);
        metadata.push([k, v]);
      }
      continue;
    }
    const at = `tensor "${name}"`;
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
      fail(`${at}: entry is not an object`);
    }
    const { dtype, shape, data_offsets: offs } = entry as Record<string, unknown>;
    if (!isDType(dtype)) {
      fail(`${at}: unknown dtype ${show(dtype)} (expected one of ${DTYPE_NAMES.join(", ")})`);
    }
    if (!Array.isArray(shape) || !shape.every(isCount)) {
      fail(`${at}: shape ${show(shape)} is not an array of non-negative integers`);
    }
    if (
      !Array.isArray(offs) || offs.length !== 2 || !isCount(offs[0]) || !isCount(offs[1]) ||
      offs[0] > offs[1]
    ) {
      fail(`${at}: data_offsets ${show(offs)} are not two integers [begin, end] with begin <= end`);
    }
    const [begin, end] = offs as [number, number];
    const need = numel(shape as number[]) * DTYPES[dtype as DType].size;
    if (end - begin !== need) {
      fail(
        `${at}: data_offsets [${begin}, ${end}] hold ${end - begin} bytes but ${dtype} ` +
          `shape [${(shape as number[]).join(", ")}] needs ${need}`,
      );
    }
    if (end > dataLen) {
      fail(`${at}: data_offsets [${begin}, ${end}] exceed the data section (${dataLen} bytes)`);
    }
    specs.push({ name, dtype: dtype as DType, shape: [...shape as number[]], begin, end });
  }

  // The spec requires the tensors to tile the data section: no overlaps, holes or trailing
  // bytes. Checked before decoding so that many tensors claiming the same bytes cost nothing.
  const spans = [...specs].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (let i = 0; i < spans.length; i++) {
    const s = spans[i];
    if (s.begin < cursor) {
      const p = spans[i - 1];
      fail(
        `tensors "${p.name}" and "${s.name}" overlap ` +
          `(data_offsets [${p.begin}, ${p.end}] and [${s.begin}, ${s.end}])`,
      );
    }
    if (s.begin > cursor) {
      fail(`bytes [${cursor}, ${s.begin}) of the data section belong to no tensor`);
    }
    cursor = s.end;
  }
  if (cursor < dataLen) {
    fail(`data section has ${dataLen - cursor} trailing bytes that belong to no tensor`);
  }

  const tensors = new Map<string, Tensor>();
  for (const { name, dtype, shape, begin } of specs) {
    tensors.set(name, { dtype, shape, data: decode(dtype, bytes, start + begin, numel(shape)) });
  }
  // fromEntries defines own properties, so a key named "__proto__" stays a key.
  return { tensors, metadata: Object.fromEntries(metadata) };
}

/** Read the `count` elements of a tensor that starts at `offset` of `bytes`. */
function decode(dtype: DType, bytes: Uint8Array, offset: number, count: number): TensorData {
  const { size, native } = DTYPES[dtype];
  const abs = bytes.byteOffset + offset;
  if (native) {
    // A typed array view must be aligned to its element size; copy otherwise.
    if (abs % size === 0) return new native(bytes.buffer, abs, count);
    return new native(bytes.slice(offset, offset + count * size).buffer, 0, count);
  }
  const view = new DataView(bytes.buffer, abs, count * size);
  const out = new Float32Array(count);
  if (dtype === "F16") {
    for (let i = 0; i < count; i++) out[i] = view.getFloat16(2 * i, true);
  } else {
    // BF16 is the top half of an f32.
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < count; i++) bits[i] = view.getUint16(2 * i, true) << 16;
  }
  return out;
}

/**
 * Serialize tensors, sorted by name so that equal inputs give equal bytes. The header is padded
 * with spaces so that the data section starts 8-byte aligned.
 */
export function serializeSafetensors(
  tensors: Record<string, TensorInput> | Map<string, TensorInput>,
  metadata?: Record<string, string>,
): Uint8Array<ArrayBuffer> {
  return encode(tensors, metadata, "<memory>");
}

function encode(
  tensors: Record<string, TensorInput> | Map<string, TensorInput>,
  metadata: Record<string, string> | undefined,
  source: string,
): Uint8Array<ArrayBuffer> {
  const fail = (msg: string): never => {
    throw new SafetensorsError(source, msg);
  };
  const list = (tensors instanceof Map ? [...tensors] : Object.entries(tensors))
    .sort(byKey);
  // Entries, not assignments, so that a name like "__proto__" is kept as a key.
  const header: [string, unknown][] = [];
  if (metadata && Object.keys(metadata).length) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string") fail(`__metadata__ "${k}" is not a string (got ${show(v)})`);
    }
    header.push(["__metadata__", Object.fromEntries(Object.entries(metadata).sort(byKey))]);
  }
  let offset = 0;
  const plan: { name: string; data: TensorData; dtype: DType; begin: number }[] = [];
  for (const [name, t] of list) {
    const at = `tensor "${name}"`;
    if (name === "__metadata__") fail(`"__metadata__" cannot name a tensor`);
    const dtype = t.dtype ?? defaultDType(t.data);
    if (!isDType(dtype)) fail(`${at}: unknown dtype ${show(dtype)}`);
    if (!Array.isArray(t.shape) || !t.shape.every(isCount)) {
      fail(`${at}: shape ${show(t.shape)} is not an array of non-negative integers`);
    }
    if (numel(t.shape) !== t.data.length) {
      fail(
        `${at}: shape [${t.shape.join(", ")}] needs ${numel(t.shape)} values, got ${t.data.length}`,
      );
    }
    const bytes = t.data.length * DTYPES[dtype].size;
    header.push([name, { dtype, shape: [...t.shape], data_offsets: [offset, offset + bytes] }]);
    plan.push({ name, data: t.data, dtype, begin: offset });
    offset += bytes;
  }
  let json = JSON.stringify(Object.fromEntries(header));
  // Pad with spaces to a multiple of 8 bytes (the JSON is ASCII-padded; names may be UTF-8).
  const enc = new TextEncoder();
  json += " ".repeat((8 - (enc.encode(json).length % 8)) % 8);
  const head = enc.encode(json);

  const out = new Uint8Array(8 + head.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  for (const { name, data, dtype, begin } of plan) {
    write(
      out,
      view,
      8 + head.length + begin,
      dtype,
      data,
      (i, v) => fail(`tensor "${name}": value ${v} at index ${i} does not fit ${dtype}`),
    );
  }
  return out;
}

function byKey([a]: [string, unknown], [b]: [string, unknown]): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function defaultDType(data: TensorData): DType {
  if (data instanceof Float64Array) return "F64";
  if (data instanceof BigInt64Array) return "I64";
  if (data instanceof Int32Array) return "I32";
  if (data instanceof Int16Array) return "I16";
  if (data instanceof Int8Array) return "I8";
  if (data instanceof Uint8Array) return "U8";
  return "F32";
}

const f32 = new Float32Array(1), u32 = new Uint32Array(f32.buffer);

/** Write `data` as `dtype` at byte `at`, converting and range-checking when the types differ. */
function write(
  out: Uint8Array,
  view: DataView,
  at: number,
  dtype: DType,
  data: TensorData,
  bad: (i: number, v: number | bigint) => never,
): void {
  const { size, native, min, max } = DTYPES[dtype];
  if (native && data instanceof native && dtype !== "BOOL") {
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
    return;
  }
  for (let i = 0, o = at; i < data.length; i++, o += size) {
    const v = data[i];
    switch (dtype) {
      case "F64":
        view.setFloat64(o, Number(v), true);
        break;
      case "F32":
        view.setFloat32(o, Number(v), true);
        break;
      case "F16":
        view.setFloat16(o, Number(v), true);
        break;
      case "BF16": {
        // Round the f32 to nearest even on its top 16 bits; keep NaN a (quiet) NaN.
        f32[0] = Number(v);
        const b = u32[0];
        const h = (b & 0x7fffffff) > 0x7f800000
          ? (b >>> 16) | 0x40
          : (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
        view.setUint16(o, h, true);
        break;
      }
      case "I64":
        if (typeof v === "bigint") view.setBigInt64(o, v, true);
        else if (Number.isSafeInteger(v)) view.setBigInt64(o, BigInt(v), true);
        else bad(i, v);
        break;
      default: {
        const x = Number(v);
        if (!Number.isInteger(x) || x < min! || x > max!) bad(i, v);
        if (size === 4) view.setInt32(o, x, true);
        else if (size === 2) view.setInt16(o, x, true);
        else out[o] = x;
      }
    }
  }
}

/** Any numeric tensor as float32 (labels may come as I64 or I32; I64 rounds like any float). */
export function toFloat32(t: Tensor): Float32Array {
  const d = t.data;
  if (d instanceof Float32Array) return d;
  const out = new Float32Array(d.length);
  if (d instanceof BigInt64Array) {
    for (let i = 0; i < d.length; i++) out[i] = Number(d[i]);
  } else {
    out.set(d); // typed-array set converts numbers between element types
  }
  return out;
}

/**
 * Read and validate a safetensors file; errors name the file. Only a regular file is
 * read, and only once its 8-byte header length fits the file: a corrupt length or a
 * device (/dev/zero) is refused before gigabytes are read.
 */
export function readSafetensors(
  path: string,
  opts: { inside?: string } = {},
): { tensors: Map<string, Tensor>; metadata: Record<string, string> } {
  let bytes: Uint8Array;
  try {
    // A shipped model's checkpoint must not be a link out of its folder.
    if (opts.inside !== undefined) checkInside(path, opts.inside);
    const info = Deno.statSync(path);
    if (!info.isFile) throw new SafetensorsError(path, "not a regular file");
    const head = new Uint8Array(8);
    const file = Deno.openSync(path, { read: true });
    let got: number | null;
    try {
      got = file.readSync(head);
    } finally {
      file.close();
    }
    if (got === 8) {
      const n = new DataView(head.buffer).getBigUint64(0, true);
      if (n > BigInt(MAX_HEADER)) {
        throw new SafetensorsError(
          path,
          `header length ${n} is absurd (limit ${MAX_HEADER} bytes)`,
        );
      }
      if (8n + n > BigInt(info.size)) {
        const after = info.size - 8;
        throw new SafetensorsError(
          path,
          `header length ${n} exceeds the file (${after} bytes after the length)`,
        );
      }
    }
    bytes = Deno.readFileSync(path);
  } catch (e) {
    if (e instanceof SafetensorsError) throw e;
    if (e instanceof ReadError) throw new SafetensorsError(path, e.reason);
    throw new SafetensorsError(path, `cannot read the file (${fsReason(e)})`, { cause: e });
  }
  return parseSafetensors(bytes, path);
}

/** Write atomically: a temporary file renamed over `path`, so readers never see half a file. */
export function writeSafetensors(
  path: string,
  tensors: Record<string, TensorInput> | Map<string, TensorInput>,
  metadata?: Record<string, string>,
): void {
  const bytes = encode(tensors, metadata, path);
  try {
    writeFileAtomic(path, bytes);
  } catch (e) {
    const why = e instanceof WriteError ? e.reason : (e as Error).message;
    throw new SafetensorsError(path, `cannot write the file (${why})`, { cause: e });
  }
}
