// Reading a user's file without trusting it: only regular files (a device such as
// /dev/zero or a FIFO never ends), no more bytes than that kind of file can need
// (checked with stat before reading, and again while reading, since a file can
// grow), and, for a sandboxed deploy, only files whose real path stays inside the
// folder the user gave (a symlink must not reach out of it).
import { UserError } from "../errors.ts";
import { fsReason } from "../util/fs.ts";

/** Most bytes each kind of file may have: far above any real one, far below a machine's memory. */
export const READ_LIMITS = {
  graph: 4 * 2 ** 20,
  json: 64 * 2 ** 20,
  manifest: 64 * 2 ** 20,
  image: 64 * 2 ** 20,
};

export class ReadError extends UserError {
  constructor(readonly path: string, readonly reason: string) {
    super(`cannot read ${path} (${reason})`);
  }
}

const mib = (b: number) => `${(b / 2 ** 20).toFixed(b < 2 ** 20 ? 2 : 0)} MiB`;

export interface ReadOptions {
  /** bytes at most */
  max: number;
  /** a folder the file's real path must lie in (symlinks resolved) */
  inside?: string;
}

/** The whole file, or a ReadError saying why not. */
export function readFileGuarded(path: string, opts: ReadOptions): Uint8Array {
  let file: Deno.FsFile;
  try {
    if (opts.inside !== undefined) checkInside(path, opts.inside);
    checkSize(path, Deno.statSync(path), opts.max);
    file = Deno.openSync(path, { read: true });
  } catch (e) {
    throw asReadError(path, e);
  }
  try {
    return readAtMost((buf) => file.readSync(buf), path, opts.max);
  } finally {
    file.close();
  }
}

/** readFileGuarded without blocking the event loop (a folder of images, read one by one). */
export async function readFileGuardedAsync(path: string, opts: ReadOptions): Promise<Uint8Array> {
  let file: Deno.FsFile;
  try {
    if (opts.inside !== undefined) checkInside(path, opts.inside);
    checkSize(path, await Deno.stat(path), opts.max);
    file = await Deno.open(path, { read: true });
  } catch (e) {
    throw asReadError(path, e);
  }
  try {
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const buf = new Uint8Array(1 << 16);
      const n = await file.read(buf);
      if (n === null) break;
      total += n;
      if (total > opts.max) throw new ReadError(path, `more than the ${mib(opts.max)} allowed`);
      chunks.push(buf.subarray(0, n));
    }
    return concat(chunks, total);
  } finally {
    file.close();
  }
}

function checkSize(path: string, info: Deno.FileInfo, max: number): void {
  if (!info.isFile) throw new ReadError(path, "not a regular file");
  if (info.size > max) {
    throw new ReadError(path, `${mib(info.size)}, more than the ${mib(max)} allowed`);
  }
}

function asReadError(path: string, e: unknown): ReadError {
  return e instanceof ReadError ? e : new ReadError(path, fsReason(e));
}

/**
 * A JSON file of some kind (`what`: "plan file"): read through the guard and parsed,
 * every failure one message made into the caller's error by `fail`.
 */
export function readJsonGuarded(
  path: string,
  what: string,
  fail: (message: string) => Error,
  inside?: string,
): unknown {
  let text: string;
  try {
    text = readTextGuarded(path, { max: READ_LIMITS.json, inside });
  } catch (e) {
    const why = e instanceof ReadError ? e.reason : (e as Error).message;
    throw fail(`${path}: cannot read the ${what} (${why})`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw fail(`${path}: not a ${what} (not JSON)`);
  }
}

/** The file as UTF-8 text. */
export function readTextGuarded(path: string, opts: ReadOptions): string {
  return new TextDecoder().decode(readFileGuarded(path, opts));
}

function readAtMost(
  read: (buf: Uint8Array) => number | null,
  path: string,
  max: number,
): Uint8Array {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const buf = new Uint8Array(1 << 16);
    const n = read(buf);
    if (n === null) break;
    total += n;
    if (total > max) throw new ReadError(path, `more than the ${mib(max)} allowed`);
    chunks.push(buf.subarray(0, n));
  }
  return concat(chunks, total);
}

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** A ReadError unless `path`'s real path lies in `folder` (links resolved). */
export function checkInside(path: string, folder: string): void {
  const root = Deno.realPathSync(folder);
  const real = Deno.realPathSync(path);
  if (real !== root && !real.startsWith(root.endsWith("/") ? root : `${root}/`)) {
    throw new ReadError(path, `it leads outside ${folder}`);
  }
}
