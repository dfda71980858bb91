// Image plumbing between decoders, the renderer and batches: 8-bit RGB images (HWC),
// float images in [-1, 1] in CHW order, resizing, and the paper's augmentation.

/** 8-bit RGB, rows top to bottom, 3 bytes per pixel. */
/**
 * Largest image decoded, in pixels (4096 x 4096): far above any face image, and a
 * bound on the memory a small compressed file can make the decoder allocate.
 */
export const MAX_IMAGE_PIXELS = 4096 * 4096;

export interface RGBImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** Per-axis resampling taps: box filter when shrinking, linear when enlarging. */
function taps(src: number, dst: number, offset: number, span: number) {
  const idx: number[][] = [];
  const w: number[][] = [];
  const scale = span / dst;
  for (let o = 0; o < dst; o++) {
    const ii: number[] = [];
    const ww: number[] = [];
    if (scale > 1) {
      const a = offset + o * scale, b = a + scale;
      for (let i = Math.floor(a); i < Math.ceil(b); i++) {
        const cover = Math.min(b, i + 1) - Math.max(a, i);
        if (cover > 0) {
          ii.push(Math.min(src - 1, Math.max(0, i)));
          ww.push(cover / scale);
        }
      }
    } else {
      const x = offset + (o + 0.5) * scale - 0.5;
      const i = Math.floor(x), f = x - i;
      ii.push(Math.min(src - 1, Math.max(0, i)), Math.min(src - 1, Math.max(0, i + 1)));
      ww.push(1 - f, f);
    }
    idx.push(ii);
    w.push(ww);
  }
  return { idx, w };
}

/**
 * The largest centred square of `img`, resized to size x size, as 8-bit RGB.
 * Faces in a dataset are expected to be roughly centred already (aligned crops).
 */
export function squareResize(img: RGBImage, size: number): RGBImage {
  const side = Math.min(img.width, img.height);
  const x0 = (img.width - side) / 2, y0 = (img.height - side) / 2;
  const tx = taps(img.width, size, x0, side);
  const ty = taps(img.height, size, y0, side);
  const tmp = new Float32Array(img.height * size * 3);
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < size; x++) {
      const ii = tx.idx[x], ww = tx.w[x];
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (let k = 0; k < ii.length; k++) s += img.data[(y * img.width + ii[k]) * 3 + c] * ww[k];
        tmp[(y * size + x) * 3 + c] = s;
      }
    }
  }
  const out = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    const ii = ty.idx[y], ww = ty.w[y];
    for (let x = 0; x < size; x++) {
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (let k = 0; k < ii.length; k++) s += tmp[(ii[k] * size + x) * 3 + c] * ww[k];
        out[(y * size + x) * 3 + c] = Math.min(255, Math.max(0, Math.round(s)));
      }
    }
  }
  return { width: size, height: size, data: out };
}

/** 8-bit HWC RGB to floats in [-1, 1], CHW, written into `out` at `offset`. */
export function toCHW(rgb: Uint8Array, size: number, out: Float32Array, offset = 0): void {
  const plane = size * size;
  for (let p = 0; p < plane; p++) {
    out[offset + p] = rgb[3 * p] / 127.5 - 1;
    out[offset + plane + p] = rgb[3 * p + 1] / 127.5 - 1;
    out[offset + 2 * plane + p] = rgb[3 * p + 2] / 127.5 - 1;
  }
}

/** CHW floats in [-1, 1] to 8-bit HWC RGB (for PNG previews and the cache). */
export function fromCHW(chw: Float32Array, size: number, offset = 0, out?: Uint8Array): Uint8Array {
  const plane = size * size;
  const rgb = out ?? new Uint8Array(plane * 3);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) {
      const v = Math.round((chw[offset + c * plane + p] + 1) * 127.5);
      rgb[3 * p + c] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return rgb;
}

/** Where an augmented copy comes from: crop offset inside the padded image, and mirroring. */
export interface Augment {
  /** top-left of the crop in the padded image, 0..2*pad */
  dx: number;
  dy: number;
  pad: number;
  mirror: boolean;
}

/** The paper's padding for an image size: 96 -> 110, so 7 pixels a side. */
export function paddingFor(size: number): number {
  return Math.round((size * 110) / 96 - size) >> 1;
}

/**
 * Copies CHW image `src` into `dst`, padded by `a.pad` on each side (edge pixels
 * repeated), cropped back to size at (a.dx, a.dy), and mirrored left-right if asked.
 * The identity augmentation is { dx: pad, dy: pad, mirror: false }.
 */
export function augmentCHW(
  src: Float32Array,
  srcOffset: number,
  size: number,
  a: Augment,
  dst: Float32Array,
  dstOffset: number,
): void {
  const plane = size * size;
  const last = size - 1;
  for (let c = 0; c < 3; c++) {
    const s0 = srcOffset + c * plane, d0 = dstOffset + c * plane;
    for (let y = 0; y < size; y++) {
      let sy = y + a.dy - a.pad;
      sy = sy < 0 ? 0 : sy > last ? last : sy;
      for (let x = 0; x < size; x++) {
        let sx = (a.mirror ? last - x : x) + a.dx - a.pad;
        sx = sx < 0 ? 0 : sx > last ? last : sx;
        dst[d0 + y * size + x] = src[s0 + sy * size + sx];
      }
    }
  }
}
