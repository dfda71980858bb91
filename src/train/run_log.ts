// Repairs a run folder before training continues in it: what a killed process left
// behind (temporary files of a write that never finished, metrics logged after the
// checkpoint it resumes from) would otherwise linger or repeat steps.
import { join } from "node:path";
import { isTempName, writeFileAtomic } from "../formats/atomic.ts";

/** Removes half-written temporary files from the run folder and its sub-folders; returns them. */
export function removeStaleTemps(runDir: string): string[] {
  const removed: string[] = [];
  for (const sub of ["", "checkpoints", "samples"]) {
    const dir = join(runDir, sub);
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(dir)];
    } catch {
      continue;
    }
    for (const e of entries) {
      if (!e.isFile || !isTempName(e.name)) continue;
      Deno.removeSync(join(dir, e.name));
      removed.push(join(dir, e.name));
    }
  }
  return removed;
}

/**
 * Keeps the lines of metrics.jsonl up to `step` (the checkpoint training resumes from):
 * later ones, and a line cut short by a kill, would be logged again. Returns how many
 * lines were dropped.
 */
export function truncateMetrics(runDir: string, step: number): number {
  const path = join(runDir, "metrics.jsonl");
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch {
    return 0;
  }
  const lines = text.split("\n").filter((l) => l.trim());
  const kept = lines.filter((l) => {
    try {
      const s = JSON.parse(l).step;
      return typeof s === "number" && s <= step;
    } catch {
      return false;
    }
  });
  if (kept.length < lines.length) {
    writeFileAtomic(path, kept.map((l) => l + "\n").join(""));
  }
  return lines.length - kept.length;
}
