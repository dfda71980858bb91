// Nothing is written half: every file and folder the project writes (checkpoints, run
// outputs, reports, caches, exported models) is made under a temporary name in the
// same folder and renamed into place, so a reader or a killed run never sees a part.
import { UserError } from "../errors.ts";
import { fsReason } from "../util/fs.ts";

/** A file or folder that could not be written; `reason` is the file system's answer. */
export class WriteError extends UserError {
  constructor(readonly path: string, readonly reason: string, options?: ErrorOptions) {
    super(`cannot write ${path} (${reason})`, options);
  }
}

function tempName(path: string): string {
  return `${path}.tmp-${crypto.randomUUID().slice(0, 8)}`;
}

/** Whether a file name is one of ours left by a writer that was killed mid-write. */
export function isTempName(name: string): boolean {
  return /\.tmp-[0-9a-f]{8}$/.test(name);
}

function bytesOf(data: Uint8Array | string): Uint8Array {
  return typeof data === "string" ? new TextEncoder().encode(data) : data;
}

function noWriteAccess(e: unknown): boolean {
  return e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied;
}

/**
 * Writes a file whole: a temporary file renamed over `path`. Where only `path` itself
 * may be written (a narrow --allow-write), it is written directly in one call.
 */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const bytes = bytesOf(data);
  const tmp = tempName(path);
  try {
    Deno.writeFileSync(tmp, bytes);
  } catch (e) {
    if (noWriteAccess(e)) {
      try {
        Deno.writeFileSync(path, bytes);
        return;
      } catch (e2) {
        throw new WriteError(path, fsReason(e2), { cause: e2 });
      }
    }
    throw new WriteError(path, fsReason(e), { cause: e });
  }
  try {
    Deno.renameSync(tmp, path);
  } catch (e) {
    try {
      Deno.removeSync(tmp);
    } catch {
      // already gone
    }
    throw new WriteError(path, fsReason(e), { cause: e });
  }
}

/**
 * Makes the folder `out` whole: `fill` writes into a temporary folder beside it, which is
 * then renamed to `out`; on any failure the temporary folder is removed. A `UserError`
 * from `fill` passes through; anything else becomes a `WriteError` for `out`.
 */
export function writeDirAtomic(out: string, fill: (dir: string) => void): void {
  const tmp = tempName(out);
  try {
    Deno.mkdirSync(tmp, { recursive: true });
    fill(tmp);
    Deno.renameSync(tmp, out);
  } catch (e) {
    try {
      Deno.removeSync(tmp, { recursive: true });
    } catch {
      // nothing made
    }
    if (e instanceof UserError) throw e;
    throw new WriteError(out, fsReason(e), { cause: e });
  }
}
