// Mutations for the fuzz suite: fast-check arbitraries that damage a text or a byte
// string the way hostile or broken input does (lines lost, doubled or swapped, tokens
// replaced by hostile values, truncation, bit flips, inserted junk).
import { fc } from "../deps.ts";

/** Fuzz cases per property: a few hundred in CI; FUZZ_RUNS=N for more. */
export function runs(ci: number): number {
  const n = Number(Deno.env.get("FUZZ_RUNS"));
  return Number.isInteger(n) && n > 0 ? n : ci;
}

/** One seed for every property, so that a failure reproduces; FUZZ_SEED to vary it. */
export const SEED = Number(Deno.env.get("FUZZ_SEED") ?? 20261128);

/** Values that have broken parsers and lookups before, and plain wrong ones. */
const HOSTILE = [
  "-1",
  "0",
  "1e9",
  "1.5",
  "''",
  "B/0",
  "0*B",
  "$nope",
  "$Nd * $Nd * $Nd",
  "__proto__",
  "constructor",
  "toString",
  "[",
  "{",
  "}",
  "*a",
  "&a",
  "null",
  "~",
  "true",
  "[B, 3]",
  "{ op: relu }",
  "/dev/zero",
  "../../../etc/passwd",
  "\t",
  "'\\u0000'",
];

type Edit = (lines: string[]) => string[];

const lineEdit: fc.Arbitrary<Edit> = fc.oneof(
  fc.nat().map((i): Edit => (ls) => ls.filter((_, k) => k !== i % ls.length)),
  fc.nat().map((i): Edit => (ls) => ls.flatMap((l, k) => k === i % ls.length ? [l, l] : [l])),
  fc.tuple(fc.nat(), fc.nat()).map(([i, j]): Edit => (ls) => {
    const out = [...ls];
    const a = i % ls.length, b = j % ls.length;
    [out[a], out[b]] = [out[b], out[a]];
    return out;
  }),
  // Most mutations keep the YAML well formed and change a value: they reach the
  // later stages (composition, shapes, the plan) instead of stopping at the parser.
  {
    weight: 4,
    arbitrary: fc.tuple(fc.nat(), fc.nat(), fc.constantFrom(...HOSTILE)).map(
      ([i, j, v]): Edit => (ls) => {
        const k = i % ls.length;
        const tokens = ls[k].split(/(\s+|[,:{}[\]])/);
        const words = tokens.map((t, n) => [t, n] as const).filter(([t]) => /\w/.test(t));
        if (!words.length) return ls;
        tokens[words[j % words.length][1]] = v;
        return ls.map((l, n) => n === k ? tokens.join("") : l);
      },
    ),
  },
  fc.tuple(fc.nat(), fc.string({ maxLength: 8 })).map(([i, s]): Edit => (ls) =>
    ls.map((l, k) => k === i % ls.length ? l.slice(0, i % (l.length + 1)) + s : l)
  ),
);

/** A text with one to four line edits applied. */
export function mutatedText(text: string): fc.Arbitrary<string> {
  return fc.array(lineEdit, { minLength: 1, maxLength: 4 }).map((edits) => {
    let lines = text.split("\n");
    for (const e of edits) if (lines.length) lines = e(lines);
    return lines.join("\n");
  });
}

type ByteEdit = (b: Uint8Array) => Uint8Array;

const byteEdit: fc.Arbitrary<ByteEdit> = fc.oneof(
  fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })).map(([i, bit]): ByteEdit => (b) => {
    const out = b.slice();
    out[i % b.length] ^= 1 << bit;
    return out;
  }),
  fc.nat().map((i): ByteEdit => (b) => b.slice(0, i % b.length)),
  fc.tuple(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 16 })).map(
    ([i, junk]): ByteEdit => (b) => {
      const at = i % b.length;
      const out = new Uint8Array(b.length + junk.length);
      out.set(b.subarray(0, at));
      out.set(junk, at);
      out.set(b.subarray(at), at + junk.length);
      return out;
    },
  ),
  fc.tuple(fc.nat(), fc.constantFrom(0x00, 0xff, 0x7f, 0x80)).map(([i, v]): ByteEdit => (b) => {
    // four bytes at once: lengths and sizes are 32-bit fields in these formats
    const out = b.slice();
    for (let k = 0; k < 4; k++) out[(i + k) % b.length] = v;
    return out;
  }),
);

/** Bytes with one to three edits applied. */
export function mutatedBytes(bytes: Uint8Array): fc.Arbitrary<Uint8Array> {
  return fc.array(byteEdit, { minLength: 1, maxLength: 3 }).map((edits) => {
    let b = bytes;
    for (const e of edits) if (b.length) b = e(b);
    return b;
  });
}
