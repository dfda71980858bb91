// On-disk cache of generated image sets: .cache/data/<key>.bin, written to a temporary
// file and renamed so a crash never leaves a half-written file under the real name.
// Layout: "DRGDATA1", u32 header length, JSON header, then identity, pose and light as
// little-endian int32 (count each), then the 8-bit HWC pixels.
import { ImageSet } from "./dataset.ts";
import { writeFileAtomic } from "../formats/atomic.ts";

export const DEFAULT_CACHE_DIR = ".cache/data";
const MAGIC = "DRGDATA1";

interface HeaderJSON {
  key: string;
  count: number;
  imageSize: number;
  numIdentities: number;
  numLights: number;
}

/** A short stable hex digest of a string (FNV-1a, two lanes): names cache files. */
export function digest(text: string): string {
  let a = 0x811c9dc5, b = 0x01000193 ^ text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 15);
  }
  return (a >>> 0).toString(16).padStart(8, "0") + (b >>> 0).toString(16).padStart(8, "0");
}

export function cachePath(dir: string, key: string): string {
  return `${dir.replace(/\/+$/, "")}/${key}.bin`;
}

/** The cached set under `key`, or undefined when absent, for another key, or damaged. */
export async function readCache(dir: string, key: string): Promise<ImageSet | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(cachePath(dir, key));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
  try {
    const magic = new TextDecoder().decode(bytes.subarray(0, 8));
    if (magic !== MAGIC) return undefined;
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const hlen = dv.getUint32(8, true);
    const h = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + hlen))) as HeaderJSON;
    if (h.key !== key) return undefined;
    let o = 12 + hlen;
    const ints = () => {
      const a = new Int32Array(h.count);
      for (let i = 0; i < h.count; i++, o += 4) a[i] = dv.getInt32(o, true);
      return a;
    };
    const identity = ints(), pose = ints(), light = ints();
    const n = h.count * h.imageSize * h.imageSize * 3;
    if (bytes.length !== o + n) return undefined;
    return new ImageSet(
      h.imageSize,
      bytes.slice(o, o + n),
      identity,
      pose,
      light,
      h.numIdentities,
      h.numLights,
    );
  } catch {
    return undefined; // a damaged cache is regenerated, never trusted
  }
}

export async function writeCache(dir: string, key: string, set: ImageSet): Promise<string> {
  await Deno.mkdir(dir, { recursive: true });
  const header: HeaderJSON = {
    key,
    count: set.size,
    imageSize: set.imageSize,
    numIdentities: set.numIdentities,
    numLights: set.numLights,
  };
  const hj = new TextEncoder().encode(JSON.stringify(header));
  const o = 12 + hj.length;
  const out = new Uint8Array(o + 12 * set.size + set.pixels.length);
  out.set(new TextEncoder().encode(MAGIC));
  const dv = new DataView(out.buffer);
  dv.setUint32(8, hj.length, true);
  out.set(hj, 12);
  [set.identity, set.pose, set.light].forEach((a, k) => {
    for (let i = 0; i < a.length; i++) dv.setInt32(o + 4 * (k * set.size + i), a[i], true);
  });
  out.set(set.pixels, o + 12 * set.size);
  const path = cachePath(dir, key);
  writeFileAtomic(path, out);
  return path;
}
