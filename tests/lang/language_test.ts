// What well-formed graphs mean: wiring, blocks, `graph:` layers, extends, if, overrides.
// (docs/graph-language.md describes the same behaviour with the same kind of examples.)
import assert from "node:assert/strict";
import { loadModel } from "../../src/lang/model.ts";
import { parseOverride } from "../../src/lang/files.ts";
import type { Model } from "../../src/lang/ir.ts";

/** Writes the files to a temporary directory and loads the first one. */
async function build(files: Record<string, string>, ...set: string[]): Promise<Model> {
  const dir = await Deno.makeTempDir({ prefix: "graph-language-" });
  try {
    for (const [name, text] of Object.entries(files)) {
      await Deno.writeTextFile(`${dir}/${name}`, text);
    }
    return loadModel(`${dir}/${Object.keys(files)[0]}`, set.map(parseOverride));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** layer -> its inputs, of the only network. */
function wiring(m: Model): Record<string, string[]> {
  return Object.fromEntries(m.networks[0].nodes.map((n) => [n.name, n.inputs]));
}

const shapeOf = (m: Model, t: string) => m.networks[0].shapes.get(t);
const outputs = (m: Model) =>
  Object.fromEntries(m.networks[0].outputs.map((o) => [o.name, o.from]));

Deno.test("language: layers run in sequence unless 'in:' says otherwise", async () => {
  const m = await build({
    "main.yaml": `
inputs: { x: [B, 3, 8, 8], y: [B, 4, 8, 8] }
layers:
  conv: { op: conv2d, out: 4 }
  act: { op: relu }
  sum: { op: add, in: [act, y] }
  gate: { op: sigmoid, in: y }
  out: { op: mul, in: [sum, gate] }
`,
  });
  assert.deepEqual(wiring(m), {
    conv: ["x"],
    act: ["conv"],
    sum: ["act", "y"],
    gate: ["y"],
    out: ["sum", "gate"],
  });
  assert.deepEqual(outputs(m), { out: "out" }, "default outputs: the layers nobody uses");
  assert.deepEqual(shapeOf(m, "out"), ["B", 4, 8, 8]);
});

Deno.test("language: blocks with arguments, defaults, several inputs and output:", async () => {
  const m = await build({
    "main.yaml": `
params: { c: 4 }
inputs: { x: [B, 4, 8, 8] }
blocks:
  res:
    args: { ch: null, stride: 1 }
    layers:
      conv: { op: conv2d, out: $ch, stride: $stride }
      sum: { op: add, in: [input, conv] }
    output: sum
  mix:
    layers:
      s: { op: add, in: [input, input1] }
layers:
  r1: { block: res, ch: $c }
  r2: { block: res, ch: $c * 1 }
  m: { block: mix, in: [r1, r2] }
`,
  });
  const w = wiring(m);
  assert.deepEqual(w["r1.sum"], ["x", "r1.conv"]);
  assert.deepEqual(w["r2.conv"], ["r1.sum"], "a block stands for its output");
  assert.deepEqual(w["m.s"], ["r1.sum", "r2.sum"]);
  assert.equal(m.networks[0].nodes.find((n) => n.name === "r1.conv")!.attrs.stride, 1);
});

Deno.test("language: graph: layers with params, output: and layer.output", async () => {
  const head = `
params: { n: 2 }
inputs: { f: [B, 4, 8, 8] }
layers:
  pool: { op: avg_pool, global: true }
  logits: { op: linear, out: $n }
  prob: { op: sigmoid }
outputs: { logits: logits, prob: prob }
`;
  const m = await build({
    "main.yaml": `
inputs: { x: [B, 4, 8, 8] }
layers:
  head: { graph: head.yaml, params: { n: 5 } }
  a: { op: tanh, in: head.logits }
  b: { op: relu, in: head.prob }
  only: { graph: head.yaml, in: x, output: prob }
  c: { op: relu }
`,
    "head.yaml": head,
  });
  const w = wiring(m);
  assert.deepEqual(w["head.pool"], ["x"]);
  assert.deepEqual(w.a, ["head.logits"]);
  assert.deepEqual(w.b, ["head.prob"]);
  assert.deepEqual(w.c, ["only.prob"]);
  assert.deepEqual(shapeOf(m, "a"), ["B", 5]);
  assert.deepEqual(shapeOf(m, "c"), ["B", 2], "the default n");
  // `only.logits` is used by `only.prob` only; nothing is dropped that feeds an output.
  assert.ok("only.logits" in w);
});

Deno.test("language: unused layers of a graph: file are pruned silently", async () => {
  const m = await build({
    "main.yaml": `
inputs: { x: [B, 4] }
layers:
  sub: { graph: sub.yaml, output: a }
`,
    "sub.yaml": `
inputs: { x: [B, 4] }
layers:
  a: { op: relu }
  b: { op: tanh, in: x }
outputs: { a: a, b: b }
`,
  });
  assert.deepEqual(Object.keys(wiring(m)), ["sub.a"]);
});

Deno.test("language: extends deep-merges, null deletes a layer", async () => {
  const m = await build({
    "variant.yaml": `
extends: base.yaml
params: { c: 8 }
layers:
  conv: { stride: 2 }
  drop: null
`,
    "base.yaml": `
params: { c: 4 }
inputs: { x: [B, 3, 8, 8] }
layers:
  conv: { op: conv2d, out: $c, kernel: 3 }
  drop: { op: relu }
  act: { op: tanh }
`,
  });
  assert.deepEqual(wiring(m), { conv: ["x"], act: ["conv"] });
  const conv = m.networks[0].nodes.find((n) => n.name === "conv")!;
  assert.deepEqual(conv.attrs, { out: 8, kernel: 3, stride: 2 });
  assert.deepEqual(shapeOf(m, "act"), ["B", 8, 4, 4]);
});

Deno.test("language: if: switches layers and outputs off", async () => {
  const files = {
    "main.yaml": `
params: { extra: false }
inputs: { x: [B, 4] }
layers:
  fc: { op: linear, out: 3 }
  more: { op: linear, out: 1, in: x, if: $extra }
  gate: { op: sigmoid, if: $extra }
outputs: { y: fc, z: gate }
`,
  };
  const off = await build(files);
  assert.deepEqual(outputs(off), { y: "fc" });
  assert.deepEqual(Object.keys(wiring(off)), ["fc"]);
  const on = await build(files, "extra=true");
  assert.deepEqual(outputs(on), { y: "fc", z: "gate" });
  assert.deepEqual(wiring(on).gate, ["more"]);
});

Deno.test("language: --set paths reach any value", async () => {
  const files = {
    "main.yaml": `
params: { c: 4 }
inputs: { x: [B, 3, 8, 8] }
layers:
  conv: { op: conv2d, out: $c }
training: { batch: 8 }
`,
  };
  const m = await build(files, "c=6", "layers.conv.stride=2", "training.batch=32");
  assert.equal(m.params.c, 6);
  assert.deepEqual(shapeOf(m, "conv"), ["B", 6, 4, 4]);
  assert.equal((m.doc.training as Record<string, unknown>).batch, 32);
});

Deno.test("language: parameter defaults may use earlier parameters", async () => {
  const m = await build({
    "main.yaml": `
params:
  size: 32
  width: 0.5
  Nf: $width * 320
  base: "$size >= 64 ? $size // 16 : 2"
inputs: { x: [B, $Nf] }
layers:
  fc: { op: linear, out: $Nf * $base * $base }
`,
  }, "size=96");
  assert.deepEqual(m.params, { size: 96, width: 0.5, Nf: 160, base: 6 });
  assert.deepEqual(shapeOf(m, "fc"), ["B", 160 * 36]);
});

Deno.test("language: a block's first layer takes all its inputs", async () => {
  const m = await build({
    "main.yaml": `
inputs: { x: [B, 4], y: [B, 4] }
blocks:
  mix:
    layers:
      s: { op: add }
      t: { op: tanh }
layers:
  m: { block: mix, in: [x, y] }
`,
  });
  assert.deepEqual(wiring(m), { "m.s": ["x", "y"], "m.t": ["m.s"] });
});

Deno.test("language: an included file means what it means alone", async () => {
  // Its first layer without in: takes its first input only, as when it is checked alone.
  const two = `
inputs: { x: [B, 4], y: [B, 4] }
layers:
  a: { op: relu }
  b: { op: add, in: [a, y] }
`;
  const alone = await build({ "two.yaml": two });
  assert.deepEqual(wiring(alone), { a: ["x"], b: ["a", "y"] });
  const m = await build({
    "main.yaml": `
inputs: { p: [B, 4], q: [B, 4] }
layers:
  t: { graph: two.yaml, in: [p, q] }
`,
    "two.yaml": two,
  });
  assert.deepEqual(wiring(m), { "t.a": ["p"], "t.b": ["t.a", "q"] });
});

Deno.test("language: an override giving a layer another op replaces its attributes", async () => {
  const m = await build({
    "variant.yaml": `
extends: base.yaml
layers:
  act: { op: leaky_relu, slope: 0.1 }
  scaled: { op: tanh }
  blk: { block: null, op: sigmoid }
`,
    "base.yaml": `
inputs: { x: [B, 4] }
blocks:
  double: { args: { f: 2 }, layers: { s: { op: scale, factor: $f } } }
layers:
  fc: { op: linear, out: 3 }
  act: { op: scale, factor: 2 }
  scaled: { op: scale, factor: 3, in: fc }
  blk: { block: double, f: 4 }
`,
  });
  const node = (name: string) => m.networks[0].nodes.find((n) => n.name === name)!;
  assert.equal(node("act").op, "leaky_relu");
  assert.deepEqual(node("act").attrs, { slope: 0.1 });
  // the wiring stays: 'scaled' still reads fc
  assert.equal(node("scaled").op, "tanh");
  assert.deepEqual(node("scaled").attrs, {});
  assert.deepEqual(wiring(m).scaled, ["fc"]);
  // `block: null` with a new op: the block call and its arguments are gone
  assert.equal(node("blk").op, "sigmoid");
  assert.deepEqual(node("blk").attrs, {});
});

Deno.test("language: a list-valued expression sets a list attribute", async () => {
  const files = {
    "main.yaml": `
params: { stride: 2 }
inputs: { x: [B, 3, 8, 8] }
layers:
  conv: { op: conv2d, out: 4, kernel: 3, stride: $stride, padding: "$stride == 2 ? [0, 0, 1, 1] : 1" }
`,
  };
  const two = await build(files);
  assert.deepEqual(two.networks[0].nodes[0].attrs.padding, [0, 0, 1, 1]);
  assert.deepEqual(shapeOf(two, "conv"), ["B", 4, 4, 4]); // (8 + 1 - 3) / 2 + 1
  const one = await build(files, "stride=1");
  assert.equal(one.networks[0].nodes[0].attrs.padding, 1);
  assert.deepEqual(shapeOf(one, "conv"), ["B", 4, 8, 8]);
});
