// A minimal protocol buffers encoder: just the wire types ONNX's ModelProto needs
// (varints, 32-bit floats, length-delimited strings, bytes and messages, packed
// repeated scalars). Fields are written in the order they are called.

const WIRE_VARINT = 0, WIRE_LEN = 2, WIRE_I32 = 5;
const utf8 = new TextEncoder();

export class ProtoWriter {
  private buf = new Uint8Array(256);
  private len = 0;

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  private byte(b: number): void {
    this.reserve(1);
    this.buf[this.len++] = b;
  }

  /** A raw varint. int64 fields encode negative values as 10-byte two's complement. */
  private rawVarint(v: number | bigint): void {
    let x = BigInt.asUintN(64, BigInt(v));
    while (x >= 0x80n) {
      this.byte(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    this.byte(Number(x));
  }

  private tag(field: number, wire: number): void {
    this.rawVarint((field << 3) | wire);
  }

  private raw(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
  }

  /** int32, int64, enum or bool field (integers only). */
  varint(field: number, v: number | bigint): this {
    if (typeof v === "number" && !Number.isSafeInteger(v)) {
      throw new RangeError(`protobuf field ${field}: ${v} is not an integer`);
    }
    this.tag(field, WIRE_VARINT);
    this.rawVarint(v);
    return this;
  }

  float(field: number, v: number): this {
    this.tag(field, WIRE_I32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.raw(b);
    return this;
  }

  bytes(field: number, b: Uint8Array): this {
    this.tag(field, WIRE_LEN);
    this.rawVarint(b.length);
    this.raw(b);
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, utf8.encode(s));
  }

  /** A nested message, built by `fill` on a fresh writer. */
  message(field: number, fill: (w: ProtoWriter) => void): this {
    const w = new ProtoWriter();
    fill(w);
    return this.bytes(field, w.finish());
  }

  /** Packed repeated int64/int32 (proto3's default encoding for repeated scalars). */
  packedVarints(field: number, vs: readonly (number | bigint)[]): this {
    const w = new ProtoWriter();
    for (const v of vs) w.rawVarint(v);
    return this.bytes(field, w.finish());
  }

  packedFloats(field: number, vs: readonly number[]): this {
    const b = new Uint8Array(4 * vs.length);
    const dv = new DataView(b.buffer);
    vs.forEach((v, i) => dv.setFloat32(4 * i, v, true));
    return this.bytes(field, b);
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

/** float32 values as little-endian bytes (ONNX raw_data), whatever the host's byte order. */
export function float32LE(data: Float32Array): Uint8Array {
  const b = new Uint8Array(4 * data.length);
  const dv = new DataView(b.buffer);
  for (let i = 0; i < data.length; i++) dv.setFloat32(4 * i, data[i], true);
  return b;
}

/** int64 values as little-endian bytes. */
export function int64LE(data: readonly number[]): Uint8Array {
  const b = new Uint8Array(8 * data.length);
  const dv = new DataView(b.buffer);
  data.forEach((v, i) => dv.setBigInt64(8 * i, BigInt(v), true));
  return b;
}
