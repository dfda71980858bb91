// Hostile graph files (issue 15): each ends in one located GraphError, quickly and
// without touching Object.prototype: alias bombs, self-referencing aliases, deep
// nesting, prototype names, huge key counts, and files that are not graphs at all.
import assert from "node:assert/strict";
import { loadModel } from "../../src/lang/model.ts";
import { parseOverride } from "../../src/lang/files.ts";
import { GraphError } from "../../src/lang/diagnostics.ts";

const NET = "inputs: { x: [B, 3] }\nlayers:\n";

/** The diagnostics of loading `text` as main.yaml, as "line:col message". */
async function errorsOf(text: string, set: string[] = []): Promise<string[]> {
  const dir = await Deno.makeTempDir({ prefix: "graph-hostile-" });
  try {
    await Deno.writeTextFile(`${dir}/main.yaml`, text);
    try {
      loadModel(`${dir}/main.yaml`, set.map(parseOverride));
    } catch (e) {
      assert.ok(e instanceof GraphError, `expected a GraphError, got ${(e as Error)?.stack}`);
      return e.diagnostics.map((d) => `${d.loc.line}:${d.loc.col} ${d.message}`);
    }
    assert.fail("the graph loaded");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function assertPrototypeClean(): void {
  const names = ["stride", "x", "op"];
  for (const n of names) assert.ok(!(n in Object.prototype), `Object.prototype.${n} was set`);
}

const cases: Record<string, [string, RegExp] | [string, RegExp, string[]]> = {
  "alias bomb: nine levels of ten aliases": [
    "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" +
    Array.from(
      { length: 9 },
      (_, i) => `a${i + 1}: &a${i + 1} [${Array(10).fill(`*a${i}`).join(", ")}]\n`,
    ).join(""),
    /^\d+:\d+ more than 100000 values once aliases are expanded$/,
  ],
  "anchor that contains its own alias": [
    "a: &r [1, *r]\n",
    /^1:11 alias \*r refers to a value that contains it$/,
  ],
  "merge key naming its own mapping": [
    "a: &r\n  b: 1\n  <<: *r\n",
    /^3:7 alias \*r refers to a value that contains it$/,
  ],
  "1000 nested flow sequences": [
    "a: " + "[".repeat(1000) + "]".repeat(1000) + "\n",
    /^1:1 nested more than 64 levels deep$/,
  ],
  "100 nested block mappings": [
    Array.from({ length: 100 }, (_, i) => `${" ".repeat(i)}k:`).join("\n") + " 1\n",
    /^\d+:\d+ nested more than 64 levels deep$/,
  ],
  "a duplicate among 40,000 keys": [
    NET + "  a: { op: relu }\n" +
    Array.from({ length: 40000 }, (_, i) => `  l${i}: { op: relu }\n`).join("") +
    "  l7: { op: tanh }\n",
    /^40004:3 Map keys must be unique$/,
  ],
  "a layer named __proto__": [
    NET + "  __proto__: { op: relu }\n",
    /^3:3 '__proto__' cannot be used as a name$/,
  ],
  "--set through __proto__": [
    NET + "  a: { op: relu }\n",
    /^0:0 '__proto__' cannot be used as a name$/,
    ["layers.__proto__.stride=2"],
  ],
  "--set through constructor.prototype": [
    NET + "  a: { op: relu }\n",
    /^0:0 'constructor' cannot be used as a name$/,
    ["constructor.prototype.x=1"],
  ],
  "op: constructor": [NET + "  a: { op: constructor }\n", /^3:12 a: unknown op 'constructor'$/],
  "op: toString": [NET + "  a: { op: toString }\n", /^3:12 a: unknown op 'toString'$/],
  "block: toString": [NET + "  a: { block: toString }\n", /^3:15 unknown block 'toString'$/],
  "a parameter named constructor": [
    "params: { p: 1 }\n" + NET + '  a: { op: scale, factor: "$constructor" }\n',
    /^4:27 unknown parameter \$constructor$/,
  ],
  "a function named toString": [
    "params: { p: 1 }\n" + NET + '  a: { op: scale, factor: "toString($p)" }\n',
    /^4:27 unknown function 'toString'/,
  ],
  "2000 nested parentheses in an expression": [
    "params: { p: 1 }\n" + NET +
    `  a: { op: scale, factor: "${"(".repeat(2000)}$p${")".repeat(2000)}" }\n`,
    /^4:27 expression nested more than 100 levels deep$/,
  ],
  "a transposed conv with a kernel of 1e9 (its weight would not fit any adapter)": [
    "inputs: { x: [B, 3, 4, 4] }\nlayers:\n  up: { op: conv_transpose2d, out: 2, kernel: 1e9 }\n",
    /^3:3 up: weight \[3, 2, 1000000000, 1000000000\] has 6\.0e\+18 elements per sample, more than any adapter holds/,
  ],
  "an empty input dimension": [
    "inputs: { x: ['', 3] }\nlayers:\n  a: { op: relu }\n",
    /^1:15 input 'x': dimension 0 \(''\) must be a positive integer, an expression, or a multiple/,
  ],
  "a file that is not a graph": [
    "root: x:0:0:root:/root:/bin/bash with a long tail that must not be echoed\nuser: 1\n",
    /^1:1 not a graph file \(a graph has some of: name, .*\)$/,
  ],
};

for (const [name, [text, want, set]] of Object.entries(cases)) {
  Deno.test(`hostile graph: ${name}`, async () => {
    const errors = await errorsOf(text, set);
    assert.equal(errors.length, 1, errors.join("\n"));
    assert.match(errors[0], want);
    assertPrototypeClean();
  });
}

Deno.test("hostile graph: a long unknown key is quoted as a short excerpt", async () => {
  const key = "k".repeat(500);
  const errors = await errorsOf(NET + "  a: { op: relu }\n" + `${key}: 1\n`);
  assert.equal(errors.length, 1, errors.join("\n"));
  assert.match(errors[0], /^4:1 unknown key 'k{39}…'$/);
});

Deno.test("hostile graph: devices, folders and oversized files are refused before reading", async () => {
  const dir = await Deno.makeTempDir({ prefix: "graph-hostile-" });
  try {
    const big = `${dir}/big.yaml`;
    const f = await Deno.open(big, { write: true, create: true });
    await f.truncate(5 * 2 ** 20); // sparse: no disk used, but 5 MiB to read
    f.close();
    const refs: [string, RegExp][] = [
      ["/dev/zero", /cannot read \/dev\/zero: not a regular file$/],
      [dir, /: not a regular file$/],
      [big, /: 5 MiB, more than the 4 MiB allowed$/],
    ];
    for (const [path, want] of refs) {
      const errors = await errorsOf(NET + `  a: { graph: ${path} }\n`);
      assert.equal(errors.length, 1, errors.join("\n"));
      assert.match(errors[0], /^3:15 /);
      assert.match(errors[0], want);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
