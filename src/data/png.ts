// PNG encoder (8-bit RGB/RGBA, adaptive filters) and decoder (every colour type, bit
// depth and Adam7 interlacing), with zlib from node:zlib. Decoding checks chunk CRCs
// and sizes so a damaged file fails with a reason instead of yielding garbage.
import { deflateSync, inflateSync } from "node:zlib";
import { DataError } from "./errors.ts";
import { MAX_IMAGE_PIXELS, type RGBImage } from "./image.ts";

const SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(bytes: Uint8Array, start: number, end: number): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export function isPNG(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && SIGNATURE.every((b, i) => bytes[i] === b);
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Encodes 8-bit pixels, `channels` (3 or 4) per pixel, rows top to bottom. */
export function encodePNG(
  pixels: Uint8Array,
  width: number,
  height: number,
  channels: 3 | 4 = 3,
): Uint8Array {
  const stride = width * channels;
  if (pixels.length !== stride * height) {
    throw new RangeError(`PNG: ${pixels.length} bytes for ${width}x${height}x${channels}`);
  }
  const raw = new Uint8Array((stride + 1) * height);
  const trial = new Uint8Array(stride);
  for (let y = 0; y < height; y++) {
    const row = y * stride;
    let bestSum = Infinity;
    // Try each filter on the row and keep the one with the smallest absolute sum.
    for (let f = 0; f < 5; f++) {
      let sum = 0;
      for (let i = 0; i < stride; i++) {
        const x = pixels[row + i];
        const a = i >= channels ? pixels[row + i - channels] : 0;
        const b = y > 0 ? pixels[row - stride + i] : 0;
        const c = i >= channels && y > 0 ? pixels[row - stride + i - channels] : 0;
        const pred = f === 0
          ? 0
          : f === 1
          ? a
          : f === 2
          ? b
          : f === 3
          ? (a + b) >> 1
          : paeth(a, b, c);
        const v = (x - pred) & 0xff;
        trial[i] = v;
        sum += v < 128 ? v : 256 - v;
      }
      if (sum < bestSum) {
        bestSum = sum;
        raw[y * (stride + 1)] = f;
        raw.set(trial, y * (stride + 1) + 1);
      }
    }
  }
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, width);
  dv.setUint32(4, height);
  ihdr.set([8, channels === 3 ? 2 : 6, 0, 0, 0], 8);
  const chunks = [
    chunk("IHDR", ihdr),
    chunk("IDAT", new Uint8Array(deflateSync(raw))),
    chunk("IEND", new Uint8Array(0)),
  ];
  const out = new Uint8Array(8 + chunks.reduce((s, c) => s + c.length, 0));
  out.set(SIGNATURE);
  let o = 8;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  dv.setUint32(8 + data.length, crc32(out, 4, 8 + data.length));
  return out;
}

interface Header {
  width: number;
  height: number;
  depth: number;
  color: number;
  interlace: number;
}

const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const DEPTHS: Record<number, number[]> = {
  0: [1, 2, 4, 8, 16],
  2: [8, 16],
  3: [1, 2, 4, 8],
  4: [8, 16],
  6: [8, 16],
};

/** Decodes any standard PNG to 8-bit RGB; alpha is composited over black. */
export function decodePNG(bytes: Uint8Array, maxPixels = MAX_IMAGE_PIXELS): RGBImage {
  if (!isPNG(bytes)) throw new DataError("not a PNG file (bad signature)");
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let hdr: Header | undefined;
  let palette: Uint8Array | undefined;
  let trns: Uint8Array | undefined;
  const idat: Uint8Array[] = [];
  let ended = false;
  for (let o = 8; o < bytes.length;) {
    if (o + 12 > bytes.length) throw new DataError("PNG: truncated chunk header");
    const len = dv.getUint32(o);
    const type = String.fromCharCode(...bytes.subarray(o + 4, o + 8));
    if (o + 12 + len > bytes.length) throw new DataError(`PNG: truncated ${type} chunk`);
    if (crc32(bytes, o + 4, o + 8 + len) !== dv.getUint32(o + 8 + len)) {
      throw new DataError(`PNG: bad checksum in ${type} chunk`);
    }
    const data = bytes.subarray(o + 8, o + 8 + len);
    o += 12 + len;
    if (type === "IHDR") {
      if (len !== 13) throw new DataError("PNG: bad IHDR");
      const h = new DataView(data.buffer, data.byteOffset, 13);
      hdr = {
        width: h.getUint32(0),
        height: h.getUint32(4),
        depth: data[8],
        color: data[9],
        interlace: data[12],
      };
      if (!DEPTHS[hdr.color]?.includes(hdr.depth) || hdr.interlace > 1) {
        throw new DataError(`PNG: unsupported colour type ${hdr.color} / depth ${hdr.depth}`);
      }
      if (hdr.width === 0 || hdr.height === 0) {
        throw new DataError(`PNG: bad size ${hdr.width}x${hdr.height}`);
      }
      if (hdr.width * hdr.height > maxPixels) {
        throw new DataError(
          `PNG: ${hdr.width}x${hdr.height} is more than the ${maxPixels} pixels allowed`,
        );
      }
    } else if (type === "PLTE") palette = data;
    else if (type === "tRNS") trns = data;
    else if (type === "IDAT") idat.push(data);
    else if (type === "IEND") {
      ended = true;
      break;
    }
  }
  if (!hdr) throw new DataError("PNG: no IHDR chunk");
  if (idat.length === 0) throw new DataError("PNG: no image data");
  if (!ended) throw new DataError("PNG: truncated (no IEND chunk)");
  if (hdr.color === 3 && !palette) throw new DataError("PNG: palette image without PLTE");
  const joined = new Uint8Array(idat.reduce((s, c) => s + c.length, 0));
  let o = 0;
  for (const c of idat) {
    joined.set(c, o);
    o += c.length;
  }
  let raw: Uint8Array;
  try {
    // Bounded by what the header allows (filter bytes and interlace passes included),
    // so that a small file cannot inflate to gigabytes.
    const rowBytes = Math.ceil((hdr.width * CHANNELS[hdr.color] * hdr.depth) / 8);
    const most = 2 * (rowBytes + 1) * hdr.height + 1024;
    raw = new Uint8Array(inflateSync(joined, { maxOutputLength: most }));
  } catch (e) {
    if ((e as { code?: string }).code === "ERR_BUFFER_TOO_LARGE") {
      throw new DataError("PNG: more image data than its size in the header allows");
    }
    throw new DataError(`PNG: corrupt image data (${(e as Error).message})`);
  }
  return toRGB(hdr, unfilterAll(hdr, raw), palette, trns);
}

/** Undoes filtering (and Adam7 interlacing) to rows of samples at the file's bit depth. */
function unfilterAll(h: Header, raw: Uint8Array): Uint8Array {
  const bpp = Math.max(1, (CHANNELS[h.color] * h.depth) >> 3);
  const rowBytes = (w: number) => Math.ceil((w * CHANNELS[h.color] * h.depth) / 8);
  const full = new Uint8Array(rowBytes(h.width) * h.height);
  const passes = h.interlace
    ? [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [
      0,
      1,
      1,
      2,
    ]]
    : [[0, 0, 1, 1]];
  let pos = 0;
  for (const [x0, y0, dx, dy] of passes) {
    const pw = Math.ceil((h.width - x0) / dx);
    const ph = Math.ceil((h.height - y0) / dy);
    if (pw <= 0 || ph <= 0) continue;
    const rb = rowBytes(pw);
    if (pos + (rb + 1) * ph > raw.length) throw new DataError("PNG: image data too short");
    const pass = new Uint8Array(rb * ph);
    for (let y = 0; y < ph; y++) {
      const f = raw[pos++];
      const row = y * rb;
      for (let i = 0; i < rb; i++) {
        const a = i >= bpp ? pass[row + i - bpp] : 0;
        const b = y > 0 ? pass[row - rb + i] : 0;
        const c = i >= bpp && y > 0 ? pass[row - rb + i - bpp] : 0;
        const x = raw[pos++];
        let v: number;
        if (f === 0) v = x;
        else if (f === 1) v = x + a;
        else if (f === 2) v = x + b;
        else if (f === 3) v = x + ((a + b) >> 1);
        else if (f === 4) v = x + paeth(a, b, c);
        else throw new DataError(`PNG: bad filter type ${f}`);
        pass[row + i] = v & 0xff;
      }
    }
    if (!h.interlace) return pass;
    scatterPass(h, pass, rb, pw, ph, x0, y0, dx, dy, full, rowBytes(h.width));
  }
  return full;
}

/** Copies an Adam7 pass's pixels (any bit depth) to their places in the full image. */
function scatterPass(
  h: Header,
  pass: Uint8Array,
  rb: number,
  pw: number,
  ph: number,
  x0: number,
  y0: number,
  dx: number,
  dy: number,
  full: Uint8Array,
  fullRb: number,
): void {
  const bits = CHANNELS[h.color] * h.depth;
  for (let y = 0; y < ph; y++) {
    for (let x = 0; x < pw; x++) {
      const src = y * rb * 8 + x * bits;
      const dst = (y0 + y * dy) * fullRb * 8 + (x0 + x * dx) * bits;
      if (bits >= 8) {
        const n = bits >> 3;
        for (let i = 0; i < n; i++) full[(dst >> 3) + i] = pass[(src >> 3) + i];
      } else {
        const v = (pass[src >> 3] >> (8 - bits - (src & 7))) & ((1 << bits) - 1);
        full[dst >> 3] |= v << (8 - bits - (dst & 7));
      }
    }
  }
}

function toRGB(h: Header, rows: Uint8Array, palette?: Uint8Array, trns?: Uint8Array): RGBImage {
  const { width, height, depth, color } = h;
  const ch = CHANNELS[color];
  const rb = Math.ceil((width * ch * depth) / 8);
  const out = new Uint8Array(width * height * 3);
  const max = (1 << depth) - 1;
  const sample = (row: number, idx: number): number => {
    if (depth === 8) return rows[row + idx];
    if (depth === 16) return rows[row + 2 * idx]; // high byte
    const bit = idx * depth;
    return (rows[row + (bit >> 3)] >> (8 - depth - (bit & 7))) & max;
  };
  const trnsKey = (i: number) =>
    trns && trns.length >= 2 * (i + 1) ? (trns[2 * i] << 8) | trns[2 * i + 1] : -1;
  const raw16 = (row: number, idx: number) =>
    depth === 16 ? (rows[row + 2 * idx] << 8) | rows[row + 2 * idx + 1] : sample(row, idx);
  for (let y = 0; y < height; y++) {
    const row = y * rb;
    for (let x = 0; x < width; x++) {
      let r: number, g: number, b: number, a = 255;
      if (color === 3) {
        const i = sample(row, x);
        if (3 * i + 2 >= palette!.length) throw new DataError(`PNG: palette index ${i} too big`);
        r = palette![3 * i];
        g = palette![3 * i + 1];
        b = palette![3 * i + 2];
        if (trns && i < trns.length) a = trns[i];
      } else if (color === 0 || color === 4) {
        const v = sample(row, x * ch);
        r = g = b = depth < 8 ? Math.round((v * 255) / max) : v;
        if (color === 4) a = sample(row, x * ch + 1);
        else if (raw16(row, x) === trnsKey(0)) a = 0;
      } else {
        r = sample(row, x * ch);
        g = sample(row, x * ch + 1);
        b = sample(row, x * ch + 2);
        if (color === 6) a = sample(row, x * ch + 3);
        else if (
          trns && raw16(row, x * 3) === trnsKey(0) && raw16(row, x * 3 + 1) === trnsKey(1) &&
          raw16(row, x * 3 + 2) === trnsKey(2)
        ) a = 0;
      }
      const o = 3 * (y * width + x);
      out[o] = (r * a + 127) / 255;
      out[o + 1] = (g * a + 127) / 255;
      out[o + 2] = (b * a + 127) / 255;
    }
  }
  return { width, height, data: out };
}
