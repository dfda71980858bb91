import { equal, ok, throws } from "node:assert/strict";
import { decodeImage } from "../../src/data/decode.ts";
import { DataError } from "../../src/data/errors.ts";
import { decodeJPEG } from "../../src/data/jpeg.ts";
import { makeJPEG } from "./helpers.ts";

Deno.test("JPEG decodes to RGB close to what was encoded", () => {
  const img = decodeImage(makeJPEG(32, 16));
  equal(img.width, 32);
  equal(img.height, 16);
  equal(img.data.length, 32 * 16 * 3);
  const at = (x: number, c: number) => img.data[(8 * 32 + x) * 3 + c];
  ok(at(0, 0) < 20 && at(31, 0) > 235, `red ramp ${at(0, 0)}..${at(31, 0)}`);
  ok(Math.abs(at(16, 1) - 120) < 8 && Math.abs(at(16, 2) - 60) < 8);
});

Deno.test("truncated or foreign bytes fail with a reason", () => {
  const good = makeJPEG(16, 16);
  throws(
    () => decodeJPEG(good.slice(0, 120)),
    (e) => e instanceof DataError && /JPEG/.test(e.message),
  );
  throws(() => decodeImage(new TextEncoder().encode("hello")), /not a PNG or JPEG/);
  throws(() => decodeImage(new Uint8Array(0)), /empty file/);
});

Deno.test("a JPEG whose header claims 20000x20000 pixels is refused before decoding", () => {
  // SOI, a baseline frame header of 20000 x 20000 with three components, EOI
  const sof = [0xff, 0xc0, 0x00, 0x11, 0x08, 0x4e, 0x20, 0x4e, 0x20, 0x03];
  const bytes = new Uint8Array([
    0xff,
    0xd8,
    ...sof,
    1,
    0x11,
    0,
    2,
    0x11,
    0,
    3,
    0x11,
    0,
    0xff,
    0xd9,
  ]);
  throws(
    () => decodeImage(bytes),
    (e) => e instanceof DataError && /more than the 16777216 pixels allowed/.test(e.message),
  );
});
