// The layout's two rules, checked on the source text: nothing below src/cli imports
// src/cli, and the compiler and engine (src/ops, src/plan, src/engine) keep no
// module-level mutable state, so a plan depends only on what it is given.
import assert from "node:assert/strict";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), "../src");

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory) out.push(...sources(p));
    else if (e.name.endsWith(".ts")) out.push(p);
  }
  return out;
}

/** Relative specifiers of static and dynamic imports and re-exports. */
function imports(text: string): string[] {
  const re = /(?:from|import)\s*\(?\s*["'](\.\.?\/[^"']+)["']/g;
  return [...text.matchAll(re)].map((m) => m[1]);
}

/**
 * Top-level declarations that hold state: `let`/`var`, or a `const` bound to a
 * fresh Map, Set or WeakMap (a cache or registry filled at run time).
 */
export function moduleState(text: string): string[] {
  const found: string[] = [];
  for (const line of text.split("\n")) {
    if (/^(export\s+)?(let|var)\s/.test(line)) found.push(line.trim());
    else if (/^(export\s+)?const\s+\w+\s*(:[^=]+)?=\s*new\s+(Weak)?(Map|Set)\b/.test(line)) {
      found.push(line.trim());
    }
  }
  return found;
}

Deno.test("layout: nothing outside src/cli imports src/cli", () => {
  const cli = join(SRC, "cli");
  const bad: string[] = [];
  for (const f of sources(SRC)) {
    if (f.startsWith(cli + "/")) continue;
    for (const spec of imports(Deno.readTextFileSync(f))) {
      const target = resolve(dirname(f), spec);
      if (target.startsWith(cli + "/")) bad.push(`${relative(SRC, f)} imports ${spec}`);
    }
  }
  assert.deepEqual(bad, []);
});

Deno.test("layout: no module-level mutable state in src/ops, src/plan, src/engine", () => {
  const bad: string[] = [];
  for (const dir of ["ops", "plan", "engine"]) {
    for (const f of sources(join(SRC, dir))) {
      for (const d of moduleState(Deno.readTextFileSync(f))) bad.push(`${relative(SRC, f)}: ${d}`);
    }
  }
  assert.deepEqual(bad, []);
});

Deno.test("layout: the state scanner sees let, var and fresh collections", () => {
  const text = [
    "let a = 1;",
    "export let b = 2;",
    "var c;",
    "const cache = new Map<string, number>();",
    "const seen: WeakMap<object, number> = new WeakMap();",
    "const LIMIT = 4;",
    "  let inner = 0;",
    "function f() {}",
  ].join("\n");
  assert.deepEqual(moduleState(text), [
    "let a = 1;",
    "export let b = 2;",
    "var c;",
    "const cache = new Map<string, number>();",
    "const seen: WeakMap<object, number> = new WeakMap();",
  ]);
});
