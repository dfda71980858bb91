import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { deflateSync } from "node:zlib";
import { DataError } from "../../src/data/errors.ts";
import { decodePNG, encodePNG } from "../../src/data/png.ts";

function noise(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    // smooth-ish ramps plus noise exercise every filter type
    out[i] = ((i * 7) % 256 + (s >>> 28)) & 0xff;
  }
  return out;
}

const CRC = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** A PNG from raw (already filtered) scanlines: for colour types our encoder does not write. */
function rawPNG(
  w: number,
  h: number,
  depth: number,
  color: number,
  raw: number[] | Uint8Array,
  extra: [string, number[]][] = [],
  interlace = 0,
): Uint8Array {
  const chunk = (type: string, data: Uint8Array) => {
    const out = new Uint8Array(12 + data.length);
    const dv = new DataView(out.buffer);
    dv.setUint32(0, data.length);
    for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
    out.set(data, 8);
    let c = 0xffffffff;
    for (let i = 4; i < 8 + data.length; i++) c = CRC[(c ^ out[i]) & 0xff] ^ (c >>> 8);
    dv.setUint32(8 + data.length, (c ^ 0xffffffff) >>> 0);
    return out;
  };
  const ihdr = new Uint8Array(13);
  new DataView(ihdr.buffer).setUint32(0, w);
  new DataView(ihdr.buffer).setUint32(4, h);
  ihdr.set([depth, color, 0, 0, interlace], 8);
  const parts = [
    new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk("IHDR", ihdr),
    ...extra.map(([t, d]) => chunk(t, new Uint8Array(d))),
    chunk("IDAT", new Uint8Array(deflateSync(new Uint8Array(raw)))),
    chunk("IEND", new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

Deno.test("PNG round trip: RGB", () => {
  const px = noise(37 * 23 * 3, 1);
  const img = decodePNG(encodePNG(px, 37, 23));
  equal(img.width, 37);
  equal(img.height, 23);
  deepEqual(img.data, px);
});

Deno.test("PNG round trip: RGBA is composited over black", () => {
  const px = new Uint8Array([200, 100, 50, 255, 200, 100, 50, 0, 200, 100, 50, 128]);
  const img = decodePNG(encodePNG(px, 3, 1, 4));
  deepEqual([...img.data], [200, 100, 50, 0, 0, 0, 100, 50, 25]);
});

Deno.test("PNG decodes grey 1-bit, palette with transparency and 16-bit RGB", () => {
  // 1-bit grey, 10 pixels wide: 0b10110000 0b01000000
  const grey = decodePNG(rawPNG(10, 1, 1, 0, [0, 0b10110000, 0b01000000]));
  deepEqual([...grey.data].filter((_, i) => i % 3 === 0), [255, 0, 255, 255, 0, 0, 0, 0, 0, 255]);
  const pal = decodePNG(
    rawPNG(2, 1, 8, 3, [0, 1, 0], [["PLTE", [10, 20, 30, 200, 150, 100]], ["tRNS", [0]]]),
  );
  deepEqual([...pal.data], [200, 150, 100, 0, 0, 0]);
  const rgb16 = decodePNG(rawPNG(1, 1, 16, 2, [0, 0x12, 0x34, 0xab, 0xcd, 0xff, 0xff]));
  deepEqual([...rgb16.data], [0x12, 0xab, 0xff]);
});

Deno.test("PNG decodes Adam7-interlaced images", () => {
  // 3x3 grey 8-bit: passes 1 (0,0), 4 (2,0), 5 (0,2)(2,2), 6 (1,0)(1,2), 7 row 1
  const v = (x: number, y: number) => 10 * (y * 3 + x);
  const raw = [
    0,
    v(0, 0),
    0,
    v(2, 0),
    0,
    v(0, 2),
    v(2, 2),
    0,
    v(1, 0),
    0,
    v(1, 2),
    0,
    v(0, 1),
    v(1, 1),
    v(2, 1),
  ];
  const img = decodePNG(rawPNG(3, 3, 8, 0, raw, [], 1));
  deepEqual([...img.data].filter((_, i) => i % 3 === 0), [0, 10, 20, 30, 40, 50, 60, 70, 80]);
});

Deno.test("damaged PNGs fail with a reason", () => {
  const good = encodePNG(noise(8 * 8 * 3, 2), 8, 8);
  const flipped = good.slice();
  flipped[45] ^= 0xff; // inside IDAT
  throws(() => decodePNG(flipped), (e) => e instanceof DataError && /checksum/.test(e.message));
  throws(
    () => decodePNG(good.slice(0, good.length - 20)),
    (e) => e instanceof DataError && /truncated/.test(e.message),
  );
  throws(() => decodePNG(new Uint8Array([1, 2, 3])), /not a PNG/);
  ok(decodePNG(good));
});

Deno.test("PNG bombs: a huge size is refused from the header, before inflating", () => {
  const png = rawPNG(16384, 16384, 8, 0, [0]);
  throws(
    () => decodePNG(png),
    (e: Error) =>
      e instanceof DataError &&
      /16384x16384 is more than the 16777216 pixels allowed/.test(e.message),
  );
  // A caller may allow more: then the size passes and the missing rows are the error.
  throws(
    () => decodePNG(png, 16384 * 16384),
    (e: Error) => e instanceof DataError && !/pixels allowed/.test(e.message),
  );
});

Deno.test("PNG bombs: image data inflating past what the header allows is refused", () => {
  const png = rawPNG(8, 8, 8, 0, new Uint8Array(50_000_000));
  ok(png.length < 100_000, `${png.length} bytes`);
  throws(
    () => decodePNG(png),
    (e: Error) => e instanceof DataError && /more image data than its size/.test(e.message),
  );
});

Deno.test("PNG bombs: a tall interlaced image one pixel wide still decodes", () => {
  const h = 9;
  const rows: number[] = [];
  // Adam7 passes of a 1x9 grey image: pass 1 rows 0, 8; pass 3... only passes whose
  // columns start at 0 hold pixels: 1 (rows 0,8), 3 (row 4), 5 (rows 2,6), 7 (odd rows).
  for (const pass of [[0, 8], [], [4], [], [2, 6], [], [1, 3, 5, 7]]) {
    for (const y of pass) rows.push(0, y * 10);
  }
  const img = decodePNG(rawPNG(1, h, 8, 0, rows, [], 1));
  deepEqual([...img.data].filter((_, i) => i % 3 === 0), [0, 10, 20, 30, 40, 50, 60, 70, 80]);
});
