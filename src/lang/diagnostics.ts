// Located errors: every mistake in a graph is reported as file:line:col.
import { UserError } from "../errors.ts";

export interface Loc {
  file: string;
  line: number;
  col: number;
}

export interface Diagnostic {
  loc: Loc;
  message: string;
}

export function formatLoc(loc: Loc): string {
  return loc.line > 0 ? `${loc.file}:${loc.line}:${loc.col}` : loc.file;
}

/**
 * A name or value from the user's file as a message quotes it: one line, at most
 * `max` characters, so that a file that is not a graph is not echoed back in full.
 */
export function excerpt(s: string, max = 40): string {
  const line = s.replace(/\s+/g, " ");
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** One or more located errors; the CLI prints each on its own line and exits 1. */
export class GraphError extends UserError {
  constructor(public diagnostics: Diagnostic[]) {
    super(diagnostics.map((d) => `${formatLoc(d.loc)}: ${d.message}`).join("\n"));
  }
}

/** Collects errors so a file reports all its mistakes at once. */
export class Diagnostics {
  list: Diagnostic[] = [];

  error(loc: Loc, message: string): void {
    if (!this.list.some((d) => d.message === message && sameLoc(d.loc, loc))) {
      this.list.push({ loc, message });
    }
  }

  get count(): number {
    return this.list.length;
  }

  /** Throws if anything was reported; call at the end of a phase. */
  check(): void {
    if (this.list.length) throw new GraphError(this.list);
  }
}

function sameLoc(a: Loc, b: Loc): boolean {
  return a.file === b.file && a.line === b.line && a.col === b.col;
}

/** Runs `fn`, turning a thrown GraphError into recorded diagnostics. */
export function collect<T>(diags: Diagnostics, fn: () => T): T | undefined {
  try {
    return fn();
  } catch (e) {
    if (e instanceof GraphError) {
      for (const d of e.diagnostics) diags.error(d.loc, d.message);
      return undefined;
    }
    throw e;
  }
}
