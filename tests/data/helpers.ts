// Small images for the data tests, made here rather than shipped.
import { jpeg } from "../../src/deps.ts";
import { encodePNG } from "../../src/data/png.ts";

/** A JPEG with a horizontal red ramp over constant green (120) and blue (60). */
export function makeJPEG(w: number, h: number): Uint8Array {
  const data = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      data.set([Math.round((255 * x) / (w - 1)), 120, 60, 255], (y * w + x) * 4);
    }
  }
  return new Uint8Array(jpeg.encode({ width: w, height: h, data }, 95).data);
}

/** A PNG of one flat colour. */
export function makePNG(w: number, h: number, rgb: [number, number, number]): Uint8Array {
  const px = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) px.set(rgb, 3 * i);
  return encodePNG(px, w, h);
}
