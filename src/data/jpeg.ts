// JPEG decoding with jpeg-js (pure JS, no native code), strict so that a truncated or
// damaged file is reported rather than half-decoded.
import { jpeg } from "../deps.ts";
import { DataError } from "./errors.ts";
import { MAX_IMAGE_PIXELS, type RGBImage } from "./image.ts";

export function isJPEG(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
}

export function decodeJPEG(bytes: Uint8Array, maxPixels = MAX_IMAGE_PIXELS): RGBImage {
  if (!isJPEG(bytes)) throw new DataError("not a JPEG file (bad signature)");
  let img: { width: number; height: number; data: Uint8Array };
  try {
    img = jpeg.decode(bytes, {
      useTArray: true,
      formatAsRGBA: false,
      tolerantDecoding: false,
      // jpeg-js refuses bigger frames when it reads their header, before decoding
      maxResolutionInMP: maxPixels / 1e6,
      maxMemoryUsageInMB: Math.max(64, Math.ceil((maxPixels * 12) / 2 ** 20)),
    });
  } catch (e) {
    const m = String((e as Error)?.message ?? e);
    if (/maxResolutionInMP|maxMemoryUsageInMB/.test(m)) {
      throw new DataError(`JPEG: more than the ${maxPixels} pixels allowed`);
    }
    throw new DataError(`JPEG: ${m}`);
  }
  if (!img.width || !img.height || img.data.length < img.width * img.height * 3) {
    throw new DataError("JPEG: no image data");
  }
  return { width: img.width, height: img.height, data: img.data };
}
