// src/cli: the commands behind `deno task ...`, each a thin file that parses flags and
// calls the library. Nothing below src/cli imports it (tests/layout_test.ts checks).
// This file is command-line parsing and the one place that turns errors into
// messages and exit codes.
import { GraphError } from "../lang/diagnostics.ts";
import { didYouMean } from "../lang/suggest.ts";

import { UsageError, UserError } from "../errors.ts";

export { UsageError, UserError };

export interface ArgSpec {
  strings?: string[];
  numbers?: string[];
  bools?: string[];
  multi?: string[];
}

export interface Args {
  positional: string[];
  strings: Record<string, string | undefined>;
  numbers: Record<string, number | undefined>;
  bools: Record<string, boolean>;
  multi: Record<string, string[]>;
}

export function parseArgs(argv: string[], spec: ArgSpec): Args {
  const out: Args = { positional: [], strings: {}, numbers: {}, bools: {}, multi: {} };
  for (const m of spec.multi ?? []) out.multi[m] = [];
  for (const b of spec.bools ?? []) out.bools[b] = false;
  const all = [
    ...(spec.strings ?? []),
    ...(spec.numbers ?? []),
    ...(spec.bools ?? []),
    ...(spec.multi ?? []),
  ];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("--") || a === "--") {
      out.positional.push(a);
      continue;
    }
    const eq = a.indexOf("=");
    const name = a.slice(2, eq < 0 ? undefined : eq);
    const inline = eq < 0 ? undefined : a.slice(eq + 1);
    if (spec.bools?.includes(name)) {
      out.bools[name] = inline === undefined || inline === "true";
      continue;
    }
    if (!all.includes(name)) {
      throw new UsageError(`unknown flag --${name}${didYouMean(name, all).replace("'", "'--")}`);
    }
    const value = inline ?? argv[++i];
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    if (spec.numbers?.includes(name)) {
      const n = Number(value);
      if (!Number.isFinite(n)) throw new UsageError(`--${name} expects a number, got '${value}'`);
      out.numbers[name] = n;
    } else if (spec.multi?.includes(name)) out.multi[name].push(value);
    else out.strings[name] = value;
  }
  return out;
}

/** `--max-pixels N`: how large an image may be decoded (the default guards memory). */
export function maxPixelsFlag(n: number | undefined): number | undefined {
  if (n !== undefined && !(Number.isInteger(n) && n >= 1)) {
    throw new UsageError("--max-pixels expects a positive integer");
  }
  return n;
}

/**
 * Runs a command: known errors print one clear message and exit 1; anything else
 * is a bug and shows its stack only with --debug.
 */
export async function runMain(
  usage: string,
  fn: (argv: string[]) => unknown,
  /** how a failed command exits (an MPI rank aborts the whole job) */
  exit: (code: number) => void = Deno.exit,
): Promise<void> {
  const debug = Deno.args.includes("--debug");
  // --help (or -h) anywhere: the usage on stdout, success, nothing else run.
  if (Deno.args.some((a) => a === "--help" || a === "-h")) {
    console.log(usage);
    return;
  }
  try {
    await fn(Deno.args);
  } catch (e) {
    if (e instanceof GraphError) {
      console.error(e.message);
      const n = e.diagnostics.length;
      if (n > 1) console.error(`${n} errors`);
    } else if (e instanceof UsageError) {
      console.error(`error: ${e.message}\n${usage}`);
    } else if (e instanceof UserError) {
      console.error(`error: ${e.message}`);
    } else {
      console.error(`internal error: ${(e as Error)?.message ?? e}`);
      if (!debug) console.error("(run again with --debug for the stack trace)");
    }
    if (debug) console.error((e as Error)?.stack);
    exit(1);
  }
}
