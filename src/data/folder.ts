// A user's real dataset: a manifest of image files with identity and pose labels,
// decoded (PNG or JPEG), centre-cropped to a square and resized to the graph's input.
// Any bad line or image is one clear error naming the manifest line, or with skipBad
// is skipped and counted in the summary.
import { ImageSet } from "./dataset.ts";
import { decodeImage } from "./decode.ts";
import { DataError } from "./errors.ts";
import { squareResize } from "./image.ts";
import { type BadLine, readManifest } from "./manifest.ts";
import { READ_LIMITS, ReadError, readFileGuardedAsync } from "../formats/read.ts";
import { NUM_POSES, yawOfPose } from "./pose.ts";

export interface FolderOptions {
  /** pixels per side of the stored images (the graph's input size) */
  imageSize: number;
  /** skip and count bad lines and images instead of failing on the first */
  skipBad?: boolean;
  /**
   * read image paths that lead outside the manifest's folder (absolute, `..`, or a
   * symlink out of it): off by default, so a manifest cannot make the tools read
   * arbitrary files
   */
  allowOutside?: boolean;
  /** decode images of at most this many pixels (default MAX_IMAGE_PIXELS) */
  maxPixels?: number;
  /**
   * reads many images at once (a pool of workers, src/train/data_pool.ts), each as
   * readImage does, a failure as its message; default: one after the other here
   */
  readMany?: (files: string[], opts: ReadImageOptions) => Promise<(Uint8Array | string)[]>;
}

export interface ReadImageOptions {
  size: number;
  /** the manifest's folder, which paths must stay inside unless allowOutside */
  dir: string;
  allowOutside?: boolean;
  maxPixels?: number;
}

/** One image file, decoded, centre-cropped and resized: RGB bytes; a bad one is a DataError. */
export async function readImage(file: string, opts: ReadImageOptions): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    const inside = opts.allowOutside ? undefined : opts.dir;
    bytes = await readFileGuardedAsync(file, { max: READ_LIMITS.image, inside });
  } catch (e) {
    if (!(e instanceof ReadError)) throw e;
    if (e.reason === "not found") throw new DataError("file not found");
    if (e.reason.startsWith("it leads outside")) {
      throw new DataError(
        "the path leads outside the manifest's folder (--allow-outside-paths reads it)",
      );
    }
    throw new DataError(`cannot read (${e.reason})`);
  }
  let img;
  try {
    img = decodeImage(bytes, opts.maxPixels);
  } catch (e) {
    throw new DataError(`cannot decode image: ${(e as Error).message}`);
  }
  return squareResize(img, opts.size).data;
}

export interface FolderSummary {
  manifest: string;
  /** data lines in the manifest (not counting header, blanks, comments) */
  lines: number;
  loaded: number;
  skipped: BadLine[];
  identities: number;
  /** images per pose class */
  poseCounts: number[];
  lights: number;
}

export interface Folder {
  set: ImageSet;
  /** identity label i is identityNames[i] in the manifest */
  identityNames: string[];
  summary: FolderSummary;
}

function dirOf(path: string): string {
  const k = path.lastIndexOf("/");
  return k < 0 ? "." : path.slice(0, k) || "/";
}

/** Sorts labels numerically when they are all numbers, else as text. */
function sortLabels(names: string[]): string[] {
  const numeric = names.every((n) => /^-?\d+(\.\d+)?$/.test(n));
  return numeric ? names.sort((a, b) => Number(a) - Number(b)) : names.sort();
}

export async function loadFolder(manifestPath: string, options: FolderOptions): Promise<Folder> {
  const size = options.imageSize;
  const skipBad = options.skipBad ?? false;
  // Label errors are collected first, then raised in line order with the file errors,
  // so the message is always about the first bad line.
  const { rows, bad } = readManifest(manifestPath, true);
  const skipped = [...bad];
  const firstBad = bad[0]?.line ?? Infinity;
  const dir = dirOf(manifestPath);
  const kept: { identity: string; pose: number; light: number; pixels: Uint8Array }[] = [];
  const fileOf = (path: string) => path.startsWith("/") ? path : `${dir}/${path}`;
  const reading = { size, dir, allowOutside: options.allowOutside, maxPixels: options.maxPixels };
  const wanted = rows.filter((row) => skipBad || row.line <= firstBad);
  // All at once in a pool, in line order here: the same images kept, the same first error.
  const many = options.readMany &&
    await options.readMany(wanted.map((row) => fileOf(row.path)), reading);
  for (const [k, row] of wanted.entries()) {
    const where = `${manifestPath}:${row.line}: ${row.path}`;
    try {
      const got = many ? many[k] : await readImage(fileOf(row.path), reading);
      if (typeof got === "string") throw new DataError(got);
      kept.push({ identity: row.identity, pose: row.pose, light: row.light ?? 0, pixels: got });
    } catch (e) {
      if (!(e instanceof DataError)) throw e;
      const message = `${where}: ${e.message}`;
      if (!skipBad) throw new DataError(message);
      skipped.push({ file: manifestPath, line: row.line, message });
    }
  }
  if (!skipBad && bad.length > 0) throw new DataError(bad[0].message);
  if (kept.length === 0) {
    throw new DataError(
      `${manifestPath}: no usable images (${skipped.length} bad line${
        skipped.length === 1 ? "" : "s"
      }${skipped.length ? `, first: ${skipped[0].message}` : ""})`,
    );
  }
  const names = sortLabels([...new Set(kept.map((k) => k.identity))]);
  const index = new Map(names.map((n, i) => [n, i]));
  const n = kept.length, px = size * size * 3;
  const pixels = new Uint8Array(n * px);
  const identity = new Int32Array(n), pose = new Int32Array(n), light = new Int32Array(n);
  const poseCounts = new Array(NUM_POSES).fill(0);
  let lights = 1;
  kept.forEach((k, i) => {
    pixels.set(k.pixels, i * px);
    identity[i] = index.get(k.identity)!;
    pose[i] = k.pose;
    light[i] = k.light;
    poseCounts[k.pose]++;
    lights = Math.max(lights, k.light + 1);
  });
  skipped.sort((a, b) => a.line - b.line);
  return {
    set: new ImageSet(size, pixels, identity, pose, light, names.length, lights),
    identityNames: names,
    summary: {
      manifest: manifestPath,
      lines: rows.length + bad.length,
      loaded: n,
      skipped,
      identities: names.length,
      poseCounts,
      lights,
    },
  };
}

/** The summary as a few lines for a person (check command, training log). */
export function formatSummary(s: FolderSummary, maxListed = 10): string {
  const out = [
    `${s.manifest}: ${s.loaded} image${s.loaded === 1 ? "" : "s"} of ${s.identities} ` +
    `identit${s.identities === 1 ? "y" : "ies"}, ${s.lights} illumination${
      s.lights === 1 ? "" : "s"
    }; ${s.skipped.length} skipped of ${s.lines} line${s.lines === 1 ? "" : "s"}`,
    "images per pose: " +
    s.poseCounts.map((c, k) => `${yawOfPose(k)}°:${c}`).join(" "),
  ];
  for (const b of s.skipped.slice(0, maxListed)) out.push(`skipped ${b.message}`);
  if (s.skipped.length > maxListed) {
    out.push(`... and ${s.skipped.length - maxListed} more skipped`);
  }
  return out.join("\n");
}
