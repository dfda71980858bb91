// Images in and out of a model: PNG or JPEG files as CHW inputs in [-1, 1], and rows
// of outputs as one PNG strip.
import { decodeImage } from "../data/decode.ts";
import { squareResize, toCHW } from "../data/image.ts";
import { encodePNG } from "../data/png.ts";
import { fsReason } from "../util/fs.ts";
import { READ_LIMITS, ReadError, readFileGuarded } from "../formats/read.ts";
import { InferError } from "./errors.ts";

/**
 * A PNG or JPEG file as a model input: CHW floats in [-1, 1], size x size (the largest
 * centred square, resized). With `exact`, an image of another size is an error.
 */
export function loadImage(
  path: string,
  size: number,
  opts: { exact?: boolean; maxPixels?: number } = {},
): Float32Array {
  let bytes: Uint8Array;
  try {
    bytes = readFileGuarded(path, { max: READ_LIMITS.image });
  } catch (e) {
    const why = e instanceof ReadError ? e.reason : fsReason(e);
    throw new InferError(`${path}: cannot read the image (${why})`);
  }
  let rgb;
  try {
    rgb = decodeImage(bytes, opts.maxPixels);
  } catch (e) {
    throw new InferError(`${path}: not a readable PNG or JPEG image (${(e as Error).message})`);
  }
  if (opts.exact && (rgb.width !== size || rgb.height !== size)) {
    throw new InferError(
      `${path} is ${rgb.width}x${rgb.height}; this model takes ${size}x${size} images`,
    );
  }
  const sq = rgb.width === size && rgb.height === size ? rgb : squareResize(rgb, size);
  const out = new Float32Array(3 * size * size);
  toCHW(sq.data, size, out, 0);
  return out;
}

/** Rows of CHW images in [-1, 1] as one PNG, 2-pixel white gaps. */
export function imagesToPNG(rows: Float32Array[][], size: number): Uint8Array {
  const gap = 2, cols = Math.max(1, ...rows.map((r) => r.length));
  const width = cols * size + (cols + 1) * gap,
    height = rows.length * size + (rows.length + 1) * gap;
  const rgb = new Uint8Array(width * height * 3).fill(255);
  const plane = size * size;
  rows.forEach((row, r) =>
    row.forEach((im, c) => {
      const x0 = gap + c * (size + gap), y0 = gap + r * (size + gap);
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          const o = ((y0 + y) * width + x0 + x) * 3;
          for (let ch = 0; ch < 3; ch++) {
            const v = Math.round((im[ch * plane + y * size + x] + 1) * 127.5);
            rgb[o + ch] = v < 0 ? 0 : v > 255 ? 255 : v;
          }
        }
      }
    })
  );
  return encodePNG(rgb, width, height, 3);
}
