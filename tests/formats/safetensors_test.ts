// Safetensors: round trips, the exact bytes of tiny files, every validation error, and a fuzz
// test that corrupt files only ever raise SafetensorsError.
import assert from "node:assert/strict";
import {
  parseSafetensors,
  readSafetensors,
  SafetensorsError,
  serializeSafetensors,
  type Tensor,
  type TensorInput,
  toFloat32,
  writeSafetensors,
} from "../../src/formats/safetensors.ts";
import { rng } from "../../src/util/rng.ts";

const utf8 = new TextEncoder();

/** A file with this exact header text (unpadded, unvalidated) and data section. */
function file(header: string, data: Uint8Array | number = 0): Uint8Array {
  const head = utf8.encode(header);
  const body = typeof data === "number" ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + head.length + body.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  out.set(body, 8 + head.length);
  return out;
}

/** The header text of a serialized file. */
function headerOf(bytes: Uint8Array): string {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return new TextDecoder().decode(bytes.subarray(8, 8 + n));
}

function sample(): Record<string, TensorInput> {
  return {
    w: { shape: [2, 3], data: new Float32Array([1, -2, 3.5, 0, 1e-3, -7]) },
    scalar: { shape: [], data: new Float64Array([Math.PI]) },
    empty: { shape: [0, 5], data: new Float32Array(0) },
    half: { dtype: "F16", shape: [4], data: new Float32Array([1, -2.5, 2 ** -14, 65504]) },
    brain: { dtype: "BF16", shape: [2], data: new Float32Array([1.5, -3]) },
    labels: { shape: [3], data: new BigInt64Array([0n, -5n, 2n ** 62n]) },
    i32: { shape: [2], data: new Int32Array([-(2 ** 31), 2 ** 31 - 1]) },
    i16: { shape: [1, 2], data: new Int16Array([-300, 300]) },
    i8: { shape: [3], data: new Int8Array([-128, 0, 127]) },
    u8: { shape: [2], data: new Uint8Array([0, 255]) },
    mask: { dtype: "BOOL", shape: [3], data: new Uint8Array([1, 0, 1]) },
  };
}

Deno.test("round trip keeps dtype, shape and values of every dtype", () => {
  const input = sample();
  const { tensors, metadata } = parseSafetensors(
    serializeSafetensors(input, { format: "pt", note: "héllo" }),
  );
  assert.deepEqual(metadata, { format: "pt", note: "héllo" });
  assert.deepEqual([...tensors.keys()].sort(), Object.keys(input).sort());
  const dtypes: Record<string, string> = {};
  for (const [name, t] of tensors) {
    dtypes[name] = t.dtype;
    assert.deepEqual(t.shape, input[name].shape, name);
    // F16/BF16 come back widened to float32, with values that were exactly representable.
    assert.deepEqual([...t.data], [...input[name].data], name);
  }
  assert.deepEqual(dtypes, {
    w: "F32",
    scalar: "F64",
    empty: "F32",
    half: "F16",
    brain: "BF16",
    labels: "I64",
    i32: "I32",
    i16: "I16",
    i8: "I8",
    u8: "U8",
    mask: "BOOL",
  });
  assert.ok(tensors.get("w")!.data instanceof Float32Array);
  assert.ok(tensors.get("half")!.data instanceof Float32Array);
  assert.ok(tensors.get("labels")!.data instanceof BigInt64Array);
  assert.ok(tensors.get("i16")!.data instanceof Int16Array);
});

Deno.test("output is deterministic: sorted keys, 8-byte padded header, no metadata by default", () => {
  const a = sample();
  const b = new Map(Object.entries(a).reverse());
  const bytes = serializeSafetensors(a);
  assert.deepEqual(serializeSafetensors(b), bytes);
  const header = headerOf(bytes);
  assert.equal(header.length % 8, 0);
  assert.match(header, /^\{"brain":/);
  const keys = Object.keys(JSON.parse(header));
  assert.deepEqual(keys, [...keys].sort());
  assert.ok(!keys.includes("__metadata__"));
  // Metadata comes first and sorted, whatever order it was given in.
  const m = headerOf(serializeSafetensors(a, { z: "1", a: "2" }));
  assert.match(m, /^\{"__metadata__":\{"a":"2","z":"1"\},"brain":/);
});

Deno.test("serializes a tiny file to exactly the expected bytes", () => {
  const got = serializeSafetensors({ x: { shape: [2], data: new Float32Array([1, -2]) } });
  let header = '{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
  header += " ".repeat(8 - header.length % 8);
  const expected = [
    ...[header.length, 0, 0, 0, 0, 0, 0, 0],
    ...utf8.encode(header),
    ...[0x00, 0x00, 0x80, 0x3f], // 1.0f little-endian
    ...[0x00, 0x00, 0x00, 0xc0], // -2.0f
  ];
  assert.deepEqual([...got], expected);
});

Deno.test("decodes a hand-written file laid out like PyTorch's (data order != key order)", () => {
  const header = JSON.stringify({
    __metadata__: { format: "pt" },
    b: { dtype: "I64", shape: [2], data_offsets: [0, 16] },
    a: { dtype: "F32", shape: [1, 2], data_offsets: [16, 24] },
    h: { dtype: "F16", shape: [2], data_offsets: [24, 28] },
    z: { dtype: "BF16", shape: [], data_offsets: [28, 30] },
    m: { dtype: "BOOL", shape: [2], data_offsets: [30, 32] },
  }) + "    ";
  const data = new Uint8Array([
    ...[7, 0, 0, 0, 0, 0, 0, 0], // 7n
    ...[0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // -2n
    ...[0x00, 0x00, 0x00, 0x3f], // 0.5f
    ...[0x00, 0x00, 0x20, 0xc1], // -10f
    ...[0x00, 0x3c], // F16 1.0
    ...[0x00, 0xc0], // F16 -2.0
    ...[0x40, 0x40], // BF16 3.0
    ...[1, 0],
  ]);
  const { tensors, metadata } = parseSafetensors(file(header, data), "hand.safetensors");
  assert.deepEqual(metadata, { format: "pt" });
  const get = (k: string) => {
    const t = tensors.get(k)!;
    return { dtype: t.dtype, shape: t.shape, data: [...t.data] };
  };
  assert.deepEqual(get("b"), { dtype: "I64", shape: [2], data: [7n, -2n] });
  assert.deepEqual(get("a"), { dtype: "F32", shape: [1, 2], data: [0.5, -10] });
  assert.deepEqual(get("h"), { dtype: "F16", shape: [2], data: [1, -2] });
  assert.deepEqual(get("z"), { dtype: "BF16", shape: [], data: [3] });
  assert.deepEqual(get("m"), { dtype: "BOOL", shape: [2], data: [1, 0] });
});

Deno.test("unaligned tensors are copied, aligned ones are views", () => {
  // An F32 that starts at data offset 1 cannot be a Float32Array view.
  const header = '{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},' +
    '"b":{"dtype":"F32","shape":[1],"data_offsets":[1,5]}}';
  const data = new Uint8Array([9, 0x00, 0x00, 0x80, 0x3f]);
  const bytes = file(header + " ".repeat(8 - header.length % 8), data);
  const b = parseSafetensors(bytes).tensors.get("b")!.data;
  assert.deepEqual([...b], [1]);
  assert.notEqual(b.buffer, bytes.buffer);
  // A whole file at an odd offset of a bigger buffer.
  const shifted = new Uint8Array(bytes.length + 1).subarray(1);
  shifted.set(bytes);
  assert.deepEqual([...parseSafetensors(shifted).tensors.get("b")!.data], [1]);
  const aligned = serializeSafetensors({ x: { shape: [2], data: new Float32Array([1, 2]) } });
  assert.equal(parseSafetensors(aligned).tensors.get("x")!.data.buffer, aligned.buffer);
});

Deno.test("F16 and BF16 round to nearest even; integer dtypes are range-checked", () => {
  const x = new Float32Array([1 / 3, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 1e6, NaN]);
  const t = parseSafetensors(serializeSafetensors({
    h: { dtype: "F16", shape: [5], data: x },
    b: { dtype: "BF16", shape: [5], data: x },
    l: { dtype: "I64", shape: [2], data: new Float32Array([3, -4]) },
  })).tensors;
  assert.deepEqual([...t.get("h")!.data], [...x].map(Math.f16round));
  assert.deepEqual([...t.get("b")!.data], [0.333984375, 1, 1 + 2 ** -6, 999424, NaN]);
  assert.deepEqual([...t.get("l")!.data], [3n, -4n]);
  assert.throws(
    () =>
      serializeSafetensors({ c: { dtype: "I8", shape: [2], data: new Float32Array([1, 200]) } }),
    /^SafetensorsError: <memory>: tensor "c": value 200 at index 1 does not fit I8$/,
  );
  assert.throws(
    () => serializeSafetensors({ c: { dtype: "I32", shape: [1], data: new Float32Array([0.5]) } }),
    /value 0.5 at index 0 does not fit I32/,
  );
  assert.throws(
    () => serializeSafetensors({ c: { dtype: "BOOL", shape: [1], data: new Uint8Array([2]) } }),
    /value 2 at index 0 does not fit BOOL/,
  );
});

Deno.test("serialize rejects shape/data mismatches and a tensor named __metadata__", () => {
  assert.throws(
    () => serializeSafetensors({ x: { shape: [2, 2], data: new Float32Array(3) } }),
    /^SafetensorsError: <memory>: tensor "x": shape \[2, 2\] needs 4 values, got 3$/,
  );
  assert.throws(
    () => serializeSafetensors({ x: { shape: [-1], data: new Float32Array(3) } }),
    /tensor "x": shape \[-1\] is not an array of non-negative integers/,
  );
  assert.throws(
    () => serializeSafetensors({ __metadata__: { shape: [0], data: new Float32Array(0) } }),
    /"__metadata__" cannot name a tensor/,
  );
});

Deno.test("toFloat32 converts every numeric dtype", () => {
  const t = (dtype: Tensor["dtype"], data: Tensor["data"]): Tensor => ({
    dtype,
    shape: [data.length],
    data,
  });
  const f = new Float32Array([1.5]);
  assert.equal(toFloat32(t("F32", f)), f);
  assert.deepEqual(toFloat32(t("I64", new BigInt64Array([3n, -1n]))), new Float32Array([3, -1]));
  assert.deepEqual(toFloat32(t("I32", new Int32Array([7]))), new Float32Array([7]));
  assert.deepEqual(toFloat32(t("U8", new Uint8Array([255]))), new Float32Array([255]));
  assert.deepEqual(toFloat32(t("F64", new Float64Array([0.25]))), new Float32Array([0.25]));
});

const X = (dtype: string, shape: unknown, offs: unknown) =>
  JSON.stringify({ x: { dtype, shape, data_offsets: offs } });

/** [name, bytes, expected message]: one for every check the parser makes. */
const malformed: [string, Uint8Array, RegExp][] = [
  [
    "shorter than 8 bytes",
    new Uint8Array(5),
    /^in\.st: file is 5 bytes, too short for the 8-byte header length$/,
  ],
  [
    "absurd header length",
    (() => {
      const b = new Uint8Array(16);
      new DataView(b.buffer).setBigUint64(0, 2n ** 63n, true);
      return b;
    })(),
    /^in\.st: header length 9223372036854775808 is absurd \(limit 100000000 bytes\)$/,
  ],
  [
    "header longer than the file",
    file("{}").map((b, i) => (i === 0 ? 100 : b)),
    /^in\.st: header length 100 exceeds the file \(2 bytes after the length\)$/,
  ],
  [
    "invalid UTF-8",
    file('{"\xff":1}').map((b) => (b === 0xc3 ? 0xff : b)),
    /^in\.st: header is not valid UTF-8$/,
  ],
  ["invalid JSON", file('{"x":'), /^in\.st: header is not valid JSON \(.+\)$/],
  ["JSON array", file("[]"), /^in\.st: header is not a JSON object$/],
  ["JSON null", file("null"), /^in\.st: header is not a JSON object$/],
  [
    "metadata not an object",
    file('{"__metadata__":[]}'),
    /^in\.st: __metadata__ is not an object$/,
  ],
  [
    "metadata value not a string",
    file('{"__metadata__":{"epoch":3}}'),
    /^in\.st: __metadata__ "epoch" is not a string \(got 3\)$/,
  ],
  ["entry not an object", file('{"x":[1]}'), /^in\.st: tensor "x": entry is not an object$/],
  [
    "unknown dtype",
    file(X("F8", [1], [0, 1]), 1),
    /^in\.st: tensor "x": unknown dtype "F8" \(expected one of F64, F32, F16, BF16, I64, .*BOOL\)$/,
  ],
  ["lower-case dtype", file(X("f32", [1], [0, 4]), 4), /tensor "x": unknown dtype "f32"/],
  [
    "negative dimension",
    file(X("F32", [2, -1], [0, 0])),
    /^in\.st: tensor "x": shape \[2,-1\] is not an array of non-negative integers$/,
  ],
  ["fractional dimension", file(X("U8", [1.5], [0, 0])), /shape \[1\.5\] is not an array/],
  ["shape not an array", file(X("U8", "3", [0, 3]), 3), /tensor "x": shape "3" is not an array/],
  [
    "offsets reversed",
    file(X("U8", [0], [4, 0]), 4),
    /^in\.st: tensor "x": data_offsets \[4,0\] are not two integers \[begin, end\] with begin <= end$/,
  ],
  ["one offset", file(X("U8", [0], [0]), 0), /data_offsets \[0\] are not two integers/],
  ["offset a string", file(X("U8", [1], ["0", 1]), 1), /data_offsets \["0",1\] are not two/],
  ["offsets missing", file(X("U8", [1], undefined), 1), /data_offsets undefined are not two/],
  [
    "byte length != numel * size",
    file(X("F32", [2, 3], [0, 12]), 12),
    /^in\.st: tensor "x": data_offsets \[0, 12\] hold 12 bytes but F32 shape \[2, 3\] needs 24$/,
  ],
  [
    "offsets past the data section",
    file(X("F32", [25], [0, 100]), 64),
    /^in\.st: tensor "x": data_offsets \[0, 100\] exceed the data section \(64 bytes\)$/,
  ],
  [
    "huge claimed tensor",
    file(X("F64", [2 ** 40], [0, 2 ** 43]), 8),
    /data_offsets \[0, 8796093022208\] exceed the data section \(8 bytes\)/,
  ],
  [
    "overlapping tensors",
    file(
      JSON.stringify({
        a: { dtype: "U8", shape: [8], data_offsets: [0, 8] },
        b: { dtype: "U8", shape: [8], data_offsets: [4, 12] },
      }),
      12,
    ),
    /^in\.st: tensors "a" and "b" overlap \(data_offsets \[0, 8\] and \[4, 12\]\)$/,
  ],
  [
    "same bytes twice",
    file(
      JSON.stringify({
        a: { dtype: "U8", shape: [4], data_offsets: [0, 4] },
        b: { dtype: "I32", shape: [1], data_offsets: [0, 4] },
      }),
      4,
    ),
    /tensors "a" and "b" overlap/,
  ],
  [
    "hole between tensors",
    file(
      JSON.stringify({
        a: { dtype: "U8", shape: [4], data_offsets: [0, 4] },
        b: { dtype: "U8", shape: [4], data_offsets: [8, 12] },
      }),
      12,
    ),
    /^in\.st: bytes \[4, 8\) of the data section belong to no tensor$/,
  ],
  [
    "trailing bytes",
    file(X("U8", [4], [0, 4]), 7),
    /^in\.st: data section has 3 trailing bytes that belong to no tensor$/,
  ],
  ["data but no tensors", file("{}", 1), /data section has 1 trailing bytes/],
];

for (const [name, bytes, message] of malformed) {
  Deno.test(`malformed: ${name}`, () => {
    assert.throws(() => parseSafetensors(bytes, "in.st"), (e: unknown) => {
      assert.ok(e instanceof SafetensorsError, `not a SafetensorsError: ${e}`);
      assert.match(e.message, message);
      return true;
    });
  });
}

Deno.test("an empty file with no tensors and padding parses", () => {
  const r = parseSafetensors(file("{}      "));
  assert.equal(r.tensors.size, 0);
  assert.deepEqual(r.metadata, {});
});

Deno.test("corrupted files raise only SafetensorsError (300 random mutations)", () => {
  const good = serializeSafetensors(sample(), { format: "pt" });
  const headerEnd = 8 + headerOf(good).length;
  const next = rng(12345);
  const pick = (n: number) => Math.floor(next() * n);
  let parsed = 0;
  for (let trial = 0; trial < 300; trial++) {
    const b = good.slice();
    const kind = trial % 4;
    let bytes: Uint8Array = b;
    if (kind === 0) {
      // Random bytes anywhere, header length included.
      for (let k = 1 + pick(3); k > 0; k--) b[pick(b.length)] = pick(256);
    } else if (kind === 1) {
      bytes = b.subarray(0, pick(b.length));
    } else if (kind === 2) {
      // Change a digit of the header: shapes and offsets stay valid JSON but disagree.
      const digits = [];
      for (let i = 8; i < headerEnd; i++) if (b[i] >= 48 && b[i] <= 57) digits.push(i);
      b[digits[pick(digits.length)]] = 48 + pick(10);
    } else {
      b[pick(headerEnd)] ^= 1 << pick(8);
      bytes = b.subarray(0, b.length - pick(16));
    }
    try {
      const { tensors } = parseSafetensors(bytes, "fuzz");
      parsed++;
      for (const t of tensors.values()) {
        assert.equal(t.data.length, t.shape.reduce((x, y) => x * y, 1));
      }
    } catch (e) {
      if (!(e instanceof SafetensorsError)) throw e;
      assert.match(e.message, /^fuzz: /);
    }
  }
  assert.ok(parsed > 0 && parsed < 300, `parsed ${parsed} of 300`);
});

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

Deno.test("writeSafetensors is atomic and leaves no temporary files", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = `${dir}/out.safetensors`;
    writeSafetensors(path, { a: { shape: [1], data: new Float32Array([1]) } }, { step: "1" });
    writeSafetensors(path, { b: { shape: [2], data: new Float32Array([2, 3]) } });
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["out.safetensors"]);
    const { tensors, metadata } = readSafetensors(path);
    assert.deepEqual([...tensors.keys()], ["b"]);
    assert.deepEqual(metadata, {});
    // Bad tensors fail before anything touches the disk.
    assert.throws(
      () =>
        writeSafetensors(`${dir}/bad.safetensors`, { x: { shape: [2], data: new Int8Array(1) } }),
      new RegExp(`^SafetensorsError: ${escape(dir)}/bad\\.safetensors: tensor "x": shape \\[2\\]`),
    );
    // A failed rename (the target is a non-empty directory) removes the temporary file.
    Deno.mkdirSync(`${dir}/taken/inner`, { recursive: true });
    assert.throws(() => writeSafetensors(`${dir}/taken`, {}), /taken: cannot write the file/);
    Deno.removeSync(`${dir}/taken`, { recursive: true });
    assert.throws(
      () => writeSafetensors(`${dir}/no/such/dir.safetensors`, {}),
      /no\/such\/dir\.safetensors: cannot write the file/,
    );
    assert.throws(() => readSafetensors(`${dir}/missing.safetensors`), (e: unknown) => {
      assert.ok(e instanceof SafetensorsError);
      assert.match(e.message, /missing\.safetensors: cannot read the file/);
      return true;
    });
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["out.safetensors"]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("readSafetensors refuses a device, a folder and an absurd header before reading", () => {
  const big = Deno.makeTempFileSync({ suffix: ".safetensors" });
  try {
    // 1.5 GB sparse file whose header length says 268 MB: refused from its first 8 bytes
    const f = Deno.openSync(big, { write: true });
    f.truncate(1_500_000_000);
    f.writeSync(new Uint8Array([0xff, 0xff, 0xff, 0x0f, 0, 0, 0, 0]));
    f.close();
    const rss0 = Deno.memoryUsage().rss;
    assert.throws(() => readSafetensors(big), /header length 268435455 is absurd/);
    assert.ok(Deno.memoryUsage().rss - rss0 < 64 * 2 ** 20, "the file was read");
    assert.throws(() => readSafetensors("/dev/zero"), /\/dev\/zero: not a regular file/);
    assert.throws(() => readSafetensors(Deno.cwd()), /: not a regular file/);
  } finally {
    Deno.removeSync(big);
  }
});
