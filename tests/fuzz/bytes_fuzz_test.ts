// Fuzzing the readers of user files: valid safetensors, PNG, JPEG and manifest bytes,
// mutated (bit flips, truncation, inserted junk, 32-bit fields overwritten), through
// the same functions the commands use. Each case must decode or end in the reader's
// own error (a UserError with a message), within a time and memory bound.
import assert from "node:assert/strict";
import { fc } from "../deps.ts";
import { UserError } from "../../src/errors.ts";
import { decodeImage } from "../../src/data/decode.ts";
import { encodePNG } from "../../src/data/png.ts";
import { parseManifest } from "../../src/data/manifest.ts";
import { parseSafetensors, serializeSafetensors } from "../../src/formats/safetensors.ts";
import { makeJPEG } from "../data/helpers.ts";
import { mutatedBytes, mutatedText, runs, SEED } from "./mutate.ts";

const CASE_SECONDS = 5;
/** Memory the process may grow by over a whole property. */
const GROWTH_BYTES = 256 * 2 ** 20;

function fuzz(name: string, valid: Uint8Array, read: (b: Uint8Array) => unknown, n = runs(150)) {
  Deno.test(`fuzz readers: ${name}`, () => {
    read(valid); // the unmutated input is accepted
    const rss0 = Deno.memoryUsage().rss;
    fc.assert(
      fc.property(mutatedBytes(valid), (bytes) => {
        const t0 = performance.now();
        try {
          read(bytes);
        } catch (e) {
          if (!(e instanceof UserError) || !e.message) {
            throw new Error(`${name}: not a reader's error: ${(e as Error)?.stack ?? e}`);
          }
        }
        const s = (performance.now() - t0) / 1000;
        assert.ok(s < CASE_SECONDS, `${s.toFixed(1)} s for one case`);
      }),
      { numRuns: n, seed: SEED, endOnFailure: true },
    );
    const grew = Deno.memoryUsage().rss - rss0;
    assert.ok(grew < GROWTH_BYTES, `grew by ${(grew / 2 ** 20).toFixed(0)} MiB`);
  });
}

const tensors = serializeSafetensors(
  {
    "encoder.conv1.weight": { dtype: "F32", shape: [4, 3, 3, 3], data: new Float32Array(108) },
    "encoder.conv1.bias": { dtype: "F32", shape: [4], data: new Float32Array(4) },
    "step": { dtype: "I64", shape: [1], data: new BigInt64Array(1) },
  },
  { format: "pt", step: "12" },
);
fuzz("safetensors", tensors, (b) => parseSafetensors(b, "fuzz.safetensors"));

const pixels = new Uint8Array(12 * 10 * 3).map((_, i) => (i * 37) & 0xff);
fuzz("PNG", encodePNG(pixels, 12, 10), (b) => decodeImage(b));
fuzz("JPEG", makeJPEG(16, 16), (b) => decodeImage(b));

const manifest = "path,identity,yaw,illumination\n" +
  'a.png,ann,-90,0\nsub/b.jpg,bob,45,1\n"c, d.png",cy,0,\n';
Deno.test("fuzz readers: manifest text", () => {
  fc.assert(
    fc.property(mutatedText(manifest), (text) => {
      try {
        parseManifest(text, "fuzz.csv");
      } catch (e) {
        if (!(e instanceof UserError)) throw new Error(`not a DataError: ${(e as Error)?.stack}`);
        assert.match(e.message, /^fuzz\.csv/);
      }
    }),
    { numRuns: runs(150), seed: SEED, endOnFailure: true },
  );
});

fuzz(
  "manifest bytes",
  new TextEncoder().encode(manifest),
  (b) => parseManifest(new TextDecoder().decode(b), "fuzz.csv"),
);

Deno.test("fuzz readers: the mutations reach the error paths", () => {
  const png = encodePNG(pixels, 12, 10);
  const samples = fc.sample(mutatedBytes(png), { numRuns: 50, seed: SEED });
  const refused = samples.filter((b) => {
    try {
      decodeImage(b);
      return false;
    } catch {
      return true;
    }
  });
  assert.ok(refused.length >= 25, `${refused.length} of 50 refused`);
});
