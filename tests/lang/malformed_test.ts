// Malformed graphs: each must fail with a GraphError whose diagnostics point at the
// exact line:col of the mistake, with a message that says what is wrong. Nothing may
// throw anything else (a plain Error would reach the user as an "internal error").
import assert from "node:assert/strict";
import { resolve } from "node:path";
import { loadModel } from "../../src/lang/model.ts";
import { parseOverride } from "../../src/lang/files.ts";
import { GraphError } from "../../src/lang/diagnostics.ts";

/** A file from its lines: line N of the file is argument N. */
const y = (...lines: string[]) => lines.join("\n") + "\n";

interface Case {
  /** files of the temporary directory; the graph loaded is main.yaml */
  files: Record<string, string>;
  /** --set overrides */
  set?: string[];
  /** every diagnostic, in order: "file:line:col" (file relative to the directory) and message */
  errors: [string, RegExp][];
}

/** Loads the case and returns its diagnostics as ["file:line:col", message]. */
async function diagnose(c: Case): Promise<[string, string][]> {
  const dir = await Deno.makeTempDir({ prefix: "graph-malformed-" });
  try {
    for (const [name, text] of Object.entries(c.files)) {
      await Deno.writeTextFile(`${dir}/${name}`, text);
    }
    let err: unknown;
    try {
      loadModel(`${dir}/main.yaml`, (c.set ?? []).map(parseOverride));
    } catch (e) {
      err = e;
    }
    assert.ok(err !== undefined, "expected a GraphError, but the graph loaded");
    assert.ok(err instanceof GraphError, `expected a GraphError, got ${(err as Error)?.stack}`);
    return err.diagnostics.map((d) => [
      `${d.loc.file.replace(`${dir}/`, "")}:${d.loc.line}:${d.loc.col}`,
      d.message.replaceAll(`${dir}/`, ""),
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function check(c: Case) {
  const got = await diagnose(c);
  const show = got.map(([at, m]) => `  ${at}: ${m}`).join("\n");
  assert.equal(got.length, c.errors.length, `expected ${c.errors.length} error(s), got:\n${show}`);
  c.errors.forEach(([at, re], i) => {
    assert.equal(got[i][0], at, `error ${i} location; got:\n${show}`);
    assert.match(got[i][1], re, `error ${i} message; got:\n${show}`);
  });
}

const NET = "inputs: { x: [B, 3, 8, 8] }";
const BLOCK = [
  "blocks:",
  "  cbr:",
  "    args: { out: null, stride: 1 }",
  "    layers:",
  "      conv: { op: conv2d, out: $out, stride: $stride }",
  "      act: { op: relu }",
];
/** The paper-scale composition, for variants that extend it. */
const DRGAN = resolve("graphs/drgan.yaml");

const cases: Record<string, Case> = {
  // --- YAML and file structure -------------------------------------------------------
  "YAML syntax error": {
    files: { "main.yaml": y(NET, "layers:", "  a: { op: relu", "  b: { op: relu }") },
    errors: [["main.yaml:4:3", /sufficiently indented and end with a \}/]],
  },
  "tab indentation": {
    files: { "main.yaml": y("inputs:", "\tx: [B, 3]") },
    errors: [["main.yaml:2:1", /Tabs are not allowed/]],
  },
  "duplicate layer key": {
    files: { "main.yaml": y(NET, "layers:", "  a: { op: relu }", "  a: { op: tanh }") },
    errors: [["main.yaml:4:3", /keys must be unique/]],
  },
  "unknown top-level key with a suggestion": {
    files: { "main.yaml": y(NET, "layres:", "  a: { op: relu }") },
    errors: [["main.yaml:2:1", /^unknown key 'layres' \(did you mean 'layers'\?\)$/]],
  },
  "unknown key in a block with a suggestion": {
    files: {
      "main.yaml": y(
        NET,
        "blocks:",
        "  b:",
        "    arg: { out: null }",
        "    layers: { r: { op: relu } }",
        "layers:",
        "  c: { block: b }",
      ),
    },
    errors: [["main.yaml:4:5", /^'blocks\.b': unknown key 'arg' \(did you mean 'args'\?\)$/]],
  },
  "inputs entry not a list": {
    files: { "main.yaml": y("inputs: { x: 3 }", "layers:", "  a: { op: relu }") },
    errors: [["main.yaml:1:14", /^'inputs\.x': .*expected array, received number/]],
  },
  "a file that is not a mapping": {
    files: { "main.yaml": y("- relu", "- tanh") },
    errors: [["main.yaml:1:1", /main\.yaml: a graph file must be a mapping/]],
  },
  "a network without layers": {
    files: { "main.yaml": y(NET) },
    errors: [["main.yaml:1:1", /a network needs 'layers'/]],
  },

  // --- ops and attributes ----------------------------------------------------------
  "attribute of the wrong type": {
    files: { "main.yaml": y(NET, "layers:", '  conv: { op: conv2d, out: "abc" }') },
    errors: [["main.yaml:3:28", /^conv: 'out': .*expected number, received string/]],
  },
  "unknown op with a suggestion": {
    files: { "main.yaml": y(NET, "layers:", "  conv: { op: conv2, out: 4 }") },
    errors: [["main.yaml:3:15", /^conv: unknown op 'conv2' \(did you mean 'conv2d'\?\)$/]],
  },
  "misspelt attribute with a suggestion": {
    files: { "main.yaml": y(NET, "layers:", "  conv: { op: conv2d, out: 4, strid: 2 }") },
    errors: [["main.yaml:3:38", /^conv: unknown attribute 'strid' \(did you mean 'stride'\?\)$/]],
  },
  "attribute out of range": {
    files: { "main.yaml": y(NET, "layers:", "  conv: { op: conv2d, out: 4, stride: 0 }") },
    errors: [["main.yaml:3:39", /^conv: 'stride': too small: expected number to be >0/]],
  },
  "expression giving a non-integer channel count": {
    files: {
      "main.yaml": y("params: { w: 0.25 }", NET, "layers:", "  conv: { op: conv2d, out: $w * 10 }"),
    },
    errors: [["main.yaml:4:28", /^conv: 'out': .*expected int/]],
  },
  "wrong number of inputs": {
    files: { "main.yaml": y(NET, "layers:", "  s: { op: add }") },
    errors: [["main.yaml:3:3", /^s: add takes at least 2 input\(s\), given 1$/]],
  },
  "layer with both op and block": {
    files: { "main.yaml": y(NET, ...BLOCK, "layers:", "  c: { op: relu, block: cbr, out: 4 }") },
    errors: [["main.yaml:9:3", /^layer 'c' needs exactly one of .*, got op and block$/]],
  },
  "params on an op layer": {
    files: { "main.yaml": y(NET, "layers:", "  c: { op: relu, params: { a: 1 } }") },
    errors: [["main.yaml:3:18", /^'params' belongs to a 'graph:' layer$/]],
  },

  // --- names and wiring ------------------------------------------------------------
  "dangling input with a suggestion": {
    files: {
      "main.yaml": y(
        NET,
        "layers:",
        "  conv1: { op: conv2d, out: 4 }",
        "  act: { op: relu, in: conv9 }",
      ),
    },
    errors: [["main.yaml:4:24", /^unknown layer or input 'conv9' \(did you mean 'conv1'\?\)$/]],
  },
  "dangling input in a list": {
    files: { "main.yaml": y(NET, "layers:", "  a: { op: relu, in: [x, y] }") },
    errors: [["main.yaml:3:26", /^unknown layer or input 'y'/]],
  },
  "cycle through in:": {
    files: {
      "main.yaml": y(
        NET,
        "layers:",
        "  a: { op: add, in: [x, b] }",
        "  b: { op: relu, in: a }",
        "  c: { op: tanh, in: b }",
      ),
    },
    errors: [["main.yaml:3:3", /^cycle: a -> b -> a$/]],
  },
  "layer named like an input": {
    files: { "main.yaml": y(NET, "layers:", "  x: { op: relu }") },
    errors: [["main.yaml:3:3", /^'x' is already the name of an input$/]],
  },
  "layer name containing a dot": {
    files: { "main.yaml": y(NET, "layers:", "  a.b: { op: relu }") },
    errors: [["main.yaml:3:3", /^layer name 'a\.b' may not contain '\.'$/]],
  },
  "layer never used": {
    files: {
      "main.yaml": y(
        NET,
        "layers:",
        "  a: { op: relu }",
        "  b: { op: tanh, in: x }",
        "outputs:",
        "  y: b",
      ),
    },
    errors: [["main.yaml:3:3", /^layer 'a' is never used/]],
  },
  "input never used": {
    files: {
      "main.yaml": y("inputs: { x: [B, 3, 8, 8], y: [B, 2] }", "layers:", "  a: { op: relu }"),
    },
    errors: [["main.yaml:1:28", /^input 'y' is never used$/]],
  },
  "output naming an unknown layer": {
    files: { "main.yaml": y(NET, "layers:", "  act: { op: relu }", "outputs:", "  y: acts") },
    errors: [["main.yaml:5:6", /^unknown layer or input 'acts' \(did you mean 'act'\?\)$/]],
  },
  "a layer switched off by if, used": {
    files: {
      "main.yaml": y(NET, "layers:", "  a: { op: relu, if: false }", "  b: { op: tanh, in: a }"),
    },
    errors: [["main.yaml:4:22", /^'a' is switched off by its 'if'/]],
  },
  "if that is not boolean": {
    files: {
      "main.yaml": y(
        "params: { n: 3 }",
        NET,
        "layers:",
        "  a: { op: relu }",
        "  b: { op: tanh, if: $n + 1 }",
      ),
    },
    errors: [["main.yaml:5:22", /^'if' must be true or false, got 4$/]],
  },

  // --- shapes ----------------------------------------------------------------------
  "add of different shapes": {
    files: {
      "main.yaml": y(
        "inputs: { x: [B, 3, 8, 8], y: [B, 4, 8, 8] }",
        "layers:",
        "  s: { op: add, in: [x, y] }",
      ),
    },
    errors: [[
      "main.yaml:3:3",
      /^s: needs inputs of identical shape: .*\[B, 3, 8, 8\].*\[B, 4, 8, 8\]$/,
    ]],
  },
  "concat of different spatial sizes": {
    files: {
      "main.yaml": y(
        "inputs: { x: [B, 3, 8, 8], y: [B, 3, 4, 4] }",
        "layers:",
        "  s: { op: concat, in: [x, y] }",
      ),
    },
    errors: [["main.yaml:3:3", /^s: input 1 has shape \[B, 3, 4, 4\] but must be \[B, \*, 8, 8\]/]],
  },
  "linear with the wrong in_features": {
    files: {
      "main.yaml": y(
        "inputs: { x: [B, 10] }",
        "layers:",
        "  fc: { op: linear, out: 5, in_features: 12 }",
      ),
    },
    errors: [["main.yaml:3:42", /^fc: expects 12 input features, got 10/]],
  },
  "linear on a 4-D input": {
    files: { "main.yaml": y(NET, "layers:", "  fc: { op: linear, out: 5 }") },
    errors: [[
      "main.yaml:3:3",
      /^fc: expects 2-D input \[B, F\], got \[B, 3, 8, 8\]; add a flatten/,
    ]],
  },
  "conv with the wrong in_channels": {
    files: { "main.yaml": y(NET, "layers:", "  conv: { op: conv2d, out: 4, in_channels: 4 }") },
    errors: [["main.yaml:3:44", /^conv: conv2d expects 4 input channels, got 3/]],
  },
  "avg_pool kernel larger than its input": {
    files: { "main.yaml": y(NET, "layers:", "  pool: { op: avg_pool, kernel: 9 }") },
    errors: [["main.yaml:3:33", /^pool: kernel 9 is larger than the input 8 x 8/]],
  },
  "reshape to a different size": {
    files: { "main.yaml": y(NET, "layers:", "  r: { op: reshape, shape: [3, 8, 9] }") },
    errors: [["main.yaml:3:28", /^r: cannot reshape \[B, 3, 8, 8\] \(192 elements per sample\)/]],
  },
  "input dimension from an expression that is not positive": {
    files: {
      "main.yaml": y(
        "params: { size: 0 }",
        "inputs: { x: [B, 3, $size, 4] }",
        "layers:",
        "  a: { op: relu }",
      ),
    },
    errors: [[
      "main.yaml:2:21",
      /^input 'x': dimension 2 \('\$size'\) must be a positive integer, got 0$/,
    ]],
  },

  // --- parameters and expressions --------------------------------------------------
  "unknown parameter with a suggestion": {
    files: {
      "main.yaml": y(
        "params: { width: 2 }",
        NET,
        "layers:",
        "  conv: { op: conv2d, out: $widht * 4 }",
      ),
    },
    errors: [["main.yaml:4:28", /^unknown parameter \$widht \(did you mean 'width'\?\)$/]],
  },
  "division by zero": {
    files: {
      "main.yaml": y(
        "params: { width: 0 }",
        NET,
        "layers:",
        "  conv: { op: conv2d, out: 8 / $width }",
      ),
    },
    errors: [["main.yaml:4:28", /^division by zero in '8 \/ \$width'$/]],
  },
  "bad expression syntax": {
    files: {
      "main.yaml": y(
        "params: { width: 2 }",
        NET,
        "layers:",
        '  conv: { op: conv2d, out: "$width * (4" }',
      ),
    },
    errors: [["main.yaml:4:28", /^expected '\)' in expression '\$width \* \(4'$/]],
  },
  "unknown function": {
    files: {
      "main.yaml": y("params: { w: 3 }", NET, "layers:", "  conv: { op: conv2d, out: sqrt($w) }"),
    },
    errors: [["main.yaml:4:28", /^unknown function 'sqrt' .*\(known: min, max/]],
  },
  "arithmetic on a boolean": {
    files: {
      "main.yaml": y(
        "params: { multi: true }",
        NET,
        "layers:",
        "  conv: { op: conv2d, out: $multi + 1 }",
      ),
    },
    errors: [["main.yaml:4:28", /^'\+' needs numbers, got true/]],
  },
  "parameter default using a later parameter": {
    files: {
      "main.yaml": y("params:", "  a: $b * 2", "  b: 3", NET, "layers:", "  r: { op: relu }"),
    },
    errors: [["main.yaml:2:6", /^unknown parameter \$b$/]],
  },
  "required parameter not given": {
    files: { "main.yaml": y("params:", "  size: null", NET, "layers:", "  a: { op: relu }") },
    errors: [["main.yaml:2:3", /^parameter 'size' is required: give it a value$/]],
  },
  "override of an unknown parameter": {
    files: { "main.yaml": y("params: { Nd: 2 }", NET, "layers:", "  a: { op: relu }") },
    set: ["Ndd=3"],
    errors: [["--set Ndd=3:0:0", /^unknown parameter 'Ndd' \(did you mean 'Nd'\?\)$/]],
  },
  "override of the wrong type": {
    files: {
      "main.yaml": y("params: { n: 4 }", NET, "layers:", "  conv: { op: conv2d, out: $n }"),
    },
    set: ["n=abc"],
    errors: [["main.yaml:4:28", /^conv: 'out': .*expected number, received string/]],
  },
  "override of an unknown network parameter": {
    files: {
      "main.yaml": y("networks:", "  enc: { file: e.yaml }"),
      "e.yaml": y("params: { w: 1 }", NET, "layers:", "  a: { op: relu }"),
    },
    set: ["enc.ww=2"],
    errors: [["--set enc.ww=2:0:0", /e\.yaml has no parameter 'ww' \(did you mean 'w'\?\)$/]],
  },
  "unknown parameter in a network's params": {
    files: {
      "main.yaml": y(
        "params: { w: 1 }",
        "networks:",
        "  enc: { file: e.yaml, params: { w: $ww } }",
      ),
      "e.yaml": y("params: { w: 1 }", NET, "layers:", "  a: { op: relu }"),
    },
    errors: [["main.yaml:3:37", /^unknown parameter \$ww \(did you mean 'w'\?\)$/]],
  },

  // --- files: extends, graph:, networks: --------------------------------------------
  "missing network file": {
    files: { "main.yaml": y("networks:", "  enc: { file: nope.yaml }") },
    errors: [["main.yaml:2:16", /^cannot read .*nope\.yaml: file not found$/]],
  },
  "missing graph: file": {
    files: { "main.yaml": y(NET, "layers:", "  sub: { graph: nope.yaml }") },
    errors: [["main.yaml:3:17", /^cannot read .*nope\.yaml: file not found$/]],
  },
  "missing extends file": {
    files: { "main.yaml": y("extends: base.yaml", NET) },
    errors: [["main.yaml:1:10", /^cannot read .*base\.yaml: file not found$/]],
  },
  "extends cycle": {
    files: {
      "main.yaml": y("extends: a.yaml", NET, "layers:", "  r: { op: relu }"),
      "a.yaml": y("extends: main.yaml"),
    },
    errors: [["a.yaml:1:10", /^'extends' forms a cycle: main\.yaml -> a\.yaml -> main\.yaml$/]],
  },
  "graph: layer including its own file": {
    files: { "main.yaml": y(NET, "layers:", "  sub: { graph: main.yaml }") },
    errors: [["main.yaml:3:17", /^'graph' forms a cycle: main\.yaml -> main\.yaml$/]],
  },
  "error inside an included file, reported in that file": {
    files: {
      "main.yaml": y(NET, "layers:", "  sub: { graph: sub.yaml }"),
      "sub.yaml": y(NET, "layers:", "  a: { op: relu }", "  c: { op: conv2d, out: 4, strid: 2 }"),
    },
    errors: [["sub.yaml:4:35", /^sub\.c: unknown attribute 'strid' \(did you mean 'stride'\?\)$/]],
  },
  "expression error inside an included file": {
    files: {
      "main.yaml": y(NET, "layers:", "  sub: { graph: sub.yaml, params: { k: 0 } }"),
      "sub.yaml": y("params: { k: 1 }", NET, "layers:", "  a: { op: conv2d, out: 4 / $k }"),
    },
    errors: [["sub.yaml:4:25", /^division by zero in '4 \/ \$k'$/]],
  },
  "error in an extended file, reported in that file": {
    files: {
      "main.yaml": y("extends: base.yaml", "params: { n: 2 }"),
      "base.yaml": y("params: { n: 1 }", NET, "layers:", "  a: { op: conv2d, out: $n, strid: 1 }"),
    },
    errors: [["base.yaml:4:36", /^a: unknown attribute 'strid'/]],
  },
  "variant deleting a layer that another one uses": {
    files: {
      "main.yaml": y("extends: base.yaml", "layers:", "  a: null"),
      "base.yaml": y(NET, "layers:", "  a: { op: relu }", "  b: { op: tanh, in: a }"),
    },
    errors: [["base.yaml:4:22", /^unknown layer or input 'a'( |$)/]],
  },
  "graph: layer with several outputs and no output:": {
    files: {
      "main.yaml": y(NET, "layers:", "  sub: { graph: sub.yaml }", "  t: { op: tanh }"),
      "sub.yaml": y(
        NET,
        "layers:",
        "  a: { op: relu }",
        "  b: { op: sigmoid, in: x }",
        "outputs: { a: a, b: b }",
      ),
    },
    errors: [[
      "main.yaml:4:3",
      /^'sub' has 2 outputs \(a, b\): use one as 'sub\.a', or choose one with 'output:'$/,
    ]],
  },
  "graph: layer choosing an unknown output": {
    files: {
      "main.yaml": y(NET, "layers:", "  sub: { graph: sub.yaml, output: bb }"),
      "sub.yaml": y(
        NET,
        "layers:",
        "  a: { op: relu }",
        "  b: { op: sigmoid, in: x }",
        "outputs: { a: a, b: b }",
      ),
    },
    errors: [["main.yaml:3:35", /sub\.yaml has no output 'bb' \(did you mean 'b'\?\)$/]],
  },
  "graph: layer given an unknown parameter": {
    files: {
      "main.yaml": y(NET, "layers:", "  sub: { graph: sub.yaml, params: { kk: 2 } }"),
      "sub.yaml": y("params: { k: 1 }", NET, "layers:", "  a: { op: conv2d, out: $k }"),
    },
    errors: [["main.yaml:3:37", /sub\.yaml has no parameter 'kk' \(did you mean 'k'\?\)$/]],
  },
  "graph: layer given a tensor of the wrong shape": {
    files: {
      "main.yaml": y(NET, "layers:", "  c: { op: conv2d, out: 4 }", "  sub: { graph: sub.yaml }"),
      "sub.yaml": y(NET, "layers:", "  a: { op: relu }"),
    },
    errors: [[
      "main.yaml:4:3",
      /^sub: sub\.yaml input 'x' must be \[B, 3, 8, 8\], given \[B, 4, 8, 8\]$/,
    ]],
  },
  "network: layer outside a composition": {
    files: { "main.yaml": y(NET, "layers:", "  a: { network: enc }") },
    errors: [["main.yaml:3:17", /^'network:' layers call the networks of a composition/]],
  },
  "training step using an unknown output of a network call": {
    files: {
      "main.yaml": y(
        `extends: ${DRGAN}`,
        "training:",
        "  step:",
        "    layers:",
        "      real_id: { in: d.identt }",
      ),
    },
    errors: [[
      "main.yaml:5:22",
      /^unknown layer or input 'd\.identt' \(did you mean 'd\.identity'\?\)$/,
    ]],
  },
  "training step feeding a network a tensor of the wrong shape": {
    files: { "main.yaml": y(`extends: ${DRGAN}`) },
    set: ["encoder.width=0.5"],
    errors: [[
      "DRGAN:fake",
      /^fake: .*decoder\.yaml input 'feature' must be \[B, 320\], given \[B, 160\]$/,
    ]],
  },

  // --- blocks ----------------------------------------------------------------------
  "unknown block with a suggestion": {
    files: { "main.yaml": y(NET, ...BLOCK, "layers:", "  c: { block: cbe, out: 4 }") },
    errors: [["main.yaml:9:15", /^unknown block 'cbe' \(did you mean 'cbr'\?\)$/]],
  },
  "block missing a required argument": {
    files: { "main.yaml": y(NET, ...BLOCK, "layers:", "  c: { block: cbr, stride: 2 }") },
    errors: [["main.yaml:9:15", /^block 'cbr' needs argument 'out'$/]],
  },
  "unknown block argument with a suggestion": {
    files: { "main.yaml": y(NET, ...BLOCK, "layers:", "  c: { block: cbr, out: 4, strde: 2 }") },
    errors: [[
      "main.yaml:9:28",
      /^block 'cbr' has no argument 'strde' \(did you mean 'stride'\?\)$/,
    ]],
  },
  "block using itself": {
    files: {
      "main.yaml": y(
        NET,
        "blocks:",
        "  b:",
        "    layers:",
        "      r: { block: b }",
        "layers:",
        "  c: { block: b }",
      ),
    },
    errors: [["main.yaml:5:19", /^block 'b' nests too deeply/]],
  },
  "error inside a block, at the block's line": {
    files: { "main.yaml": y(NET, ...BLOCK, "layers:", "  c: { block: cbr, out: 4, stride: 0 }") },
    errors: [["main.yaml:6:46", /^c\.conv: 'stride': too small/]],
  },

  // --- several mistakes at once ----------------------------------------------------
  "three independent shape-stage mistakes are all reported": {
    files: {
      "main.yaml": y(
        NET,
        "layers:",
        "  a: { op: rleu }",
        "  b: { op: conv2d, in: x, out: 4, stride: 0 }",
        "  c: { op: linear, in: x, out: 3 }",
        "  s: { op: add, in: [a, b, c] }",
      ),
    },
    errors: [
      ["main.yaml:3:12", /^a: unknown op 'rleu' \(did you mean 'relu'\?\)$/],
      ["main.yaml:4:43", /^b: 'stride': too small/],
      ["main.yaml:5:3", /^c: expects 2-D input/],
    ],
  },
  "three independent composition mistakes are all reported": {
    files: {
      "main.yaml": y(
        "params: { width: 2 }",
        NET,
        "layers:",
        "  a: { op: conv2d, out: $widht }",
        "  b: { op: relu, in: conv9 }",
        "  c: { block: nope }",
      ),
    },
    errors: [
      ["main.yaml:4:25", /^unknown parameter \$widht \(did you mean 'width'\?\)$/],
      ["main.yaml:5:22", /^unknown layer or input 'conv9'$/],
      ["main.yaml:6:15", /^unknown block 'nope'$/],
    ],
  },
  "three independent structure mistakes are all reported": {
    files: {
      "main.yaml": y(
        "inputs: { x: 3 }",
        "layres: {}",
        "outputs: { y: [a] }",
      ),
    },
    errors: [
      ["main.yaml:1:14", /^'inputs\.x': .*expected array/],
      ["main.yaml:3:15", /^'outputs\.y': .*expected string/],
      ["main.yaml:2:1", /^unknown key 'layres' \(did you mean 'layers'\?\)$/],
    ],
  },
};

/** Where a line of drgan.yaml is, for a case whose error lies in that file. */
function drganLoc(layer: string): string {
  const lines = Deno.readTextFileSync(DRGAN).split("\n");
  const line = lines.findIndex((l) => l.trimStart().startsWith(`${layer}: { network:`));
  assert.ok(line >= 0, `no layer '${layer}' in ${DRGAN}`);
  const col = lines[line].indexOf("in: [") + "in: [".length;
  return `${DRGAN}:${line + 1}:${col + 1}`;
}

for (const [name, c] of Object.entries(cases)) {
  Deno.test(`malformed: ${name}`, async () => {
    await check({
      ...c,
      errors: c.errors.map(([at, re]) => [at === "DRGAN:fake" ? drganLoc("fake") : at, re]),
    });
  });
}

Deno.test("malformed: at least 30 cases", () => {
  assert.ok(Object.keys(cases).length >= 30);
});
