// Small file-system questions asked by several readers (run folders, images, exports),
// answered without throwing, and the one wording of why a file could not be used.

/** Whether `path` exists (false too when it may not be read with the permissions given). */
export function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

export function isDir(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

/** Why a file operation failed, in words for a user: "not found", "no permission: …". */
export function fsReason(e: unknown): string {
  if (e instanceof Deno.errors.NotFound) return "not found";
  if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
    return `no permission: ${(e as Error).message}`;
  }
  return (e as Error)?.message ?? String(e);
}
