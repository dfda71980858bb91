// Decodes an image file's bytes by their content (not their extension).
import { DataError } from "./errors.ts";
import { MAX_IMAGE_PIXELS, type RGBImage } from "./image.ts";
import { decodeJPEG, isJPEG } from "./jpeg.ts";
import { decodePNG, isPNG } from "./png.ts";

export function decodeImage(bytes: Uint8Array, maxPixels = MAX_IMAGE_PIXELS): RGBImage {
  if (bytes.length === 0) throw new DataError("empty file");
  if (isPNG(bytes)) return decodePNG(bytes, maxPixels);
  if (isJPEG(bytes)) return decodeJPEG(bytes, maxPixels);
  throw new DataError("not a PNG or JPEG image");
}
