import { loadModel } from "/work/main/src/compiler/model.ts";
import { parseOverride } from "/work/main/src/compiler/files.ts";
import { GraphError } from "/work/main/src/compiler/diagnostics.ts";
const NET = `inputs: { x: [B, 3, 8, 8] }\n`;
const cases: Record<string, Record<string, string>> = {
  graphMissing: { "main.yaml": NET + `layers:\n  sub: { graph: nope.yaml }\n` },
  three: {
    "main.yaml": NET +
      `layers:\n  a: { op: rleu }\n  b: { op: conv2d, in: x, out: 4, stride: 0 }\n  c: { op: linear, in: x, out: 3 }\n  s: { op: add, in: [a, b, c] }\n`,
  },
  three2: {
    "main.yaml": `params: { width: 2 }\n` + NET +
      `layers:\n  a: { op: conv2d, out: $widht }\n  b: { op: relu, in: conv9 }\n  c: { block: nope }\n`,
  },
  baseErr: {
    "main.yaml": `extends: base.yaml\nparams: { n: 2 }\n`,
    "base.yaml": `params: { n: 1 }\n` + NET + `layers:\n  a: { op: conv2d, out: $n, strid: 1 }\n`,
  },
  subExpr: {
    "main.yaml": NET + `layers:\n  sub: { graph: sub.yaml, params: { k: 0 } }\n`,
    "sub.yaml":
      `params: { k: 1 }\ninputs: { x: [B, 3, 8, 8] }\nlayers:\n  a: { op: conv2d, out: 4 / $k }\n`,
  },
  subParamUnknown: {
    "main.yaml": NET + `layers:\n  sub: { graph: sub.yaml, params: { kk: 0 } }\n`,
    "sub.yaml":
      `params: { k: 1 }\ninputs: { x: [B, 3, 8, 8] }\nlayers:\n  a: { op: conv2d, out: 4 / $k }\n`,
  },
  subOutput: {
    "main.yaml": NET + `layers:\n  sub: { graph: sub.yaml, output: bb }\n`,
    "sub.yaml":
      `inputs: { x: [B, 3, 8, 8] }\nlayers:\n  a: { op: relu }\n  b: { op: sigmoid, in: x }\noutputs: { a: a, b: b }\n`,
  },
  typeErr: {
    "main.yaml": `params: { multi: true }\n` + NET +
      `layers:\n  a: { op: conv2d, out: $multi + 1 }\n`,
  },
  nonInt: {
    "main.yaml": `params: { w: 0.3 }\n` + NET + `layers:\n  a: { op: conv2d, out: $w * 10 }\n`,
  },
  inputExpr: {
    "main.yaml":
      `params: { size: 0 }\ninputs: { x: [B, 3, $size, $size] }\nlayers:\n  a: { op: relu }\n`,
  },
  unknownFn: {
    "main.yaml": `params: { w: 3 }\n` + NET + `layers:\n  a: { op: conv2d, out: sqrt($w) + $w }\n`,
  },
  netUnknown: { "main.yaml": NET + `layers:\n  a: { network: enc }\n` },
  dupInputName: { "main.yaml": NET + `layers:\n  x: { op: relu }\n` },
  noLayers: { "main.yaml": NET },
  setWrongType: {
    "main.yaml": `params: { n: 4 }\n` + NET + `layers:\n  a: { op: conv2d, out: $n }\n`,
    "@set": "n=abc",
  },
  setNetBad: {
    "main.yaml": `networks:\n  enc: { file: e.yaml }\n`,
    "e.yaml": `params: { w: 1 }\n` + NET + `layers:\n  a: { op: relu }\n`,
    "@set": "enc.ww=2",
  },
  ifDisabledRef: {
    "main.yaml": NET + `layers:\n  a: { op: relu, if: false }\n  b: { op: tanh, in: a }\n`,
  },
  graphCycle: { "main.yaml": NET + `layers:\n  sub: { graph: main.yaml }\n` },
  blockSelf: {
    "main.yaml": NET +
      `blocks:\n  b:\n    layers:\n      r: { block: b }\nlayers:\n  c: { block: b }\n`,
  },
  paramsOnOp: { "main.yaml": NET + `layers:\n  c: { op: relu, params: { a: 1 } }\n` },
  emptyFile: { "main.yaml": `` },
  listFile: { "main.yaml": `- a\n- b\n` },
  blockBadKey: {
    "main.yaml": NET +
      `blocks:\n  cbr:\n    arg: { out: null }\n    layers:\n      conv: { op: conv2d, out: 3 }\nlayers:\n  c: { block: cbr }\n`,
  },
  arity: { "main.yaml": NET + `layers:\n  s: { op: add }\n` },
  tab: { "main.yaml": `inputs:\n\tx: [B, 3]\n` },
  badInRef: { "main.yaml": NET + `layers:\n  a: { op: relu, in: [x, y] }\n` },
};
for (const [name, files] of Object.entries(cases)) {
  const dir = Deno.makeTempDirSync();
  for (const [f, t] of Object.entries(files)) {
    if (!f.startsWith("@")) Deno.writeTextFileSync(`${dir}/${f}`, t);
  }
  const ov = files["@set"] ? [parseOverride(files["@set"])] : [];
  try {
    loadModel(`${dir}/main.yaml`, ov);
    console.log(`${name}: OK (no error)`);
  } catch (e) {
    if (e instanceof GraphError) {
      for (const d of e.diagnostics) {
        console.log(
          `${name}: ${d.loc.file.replace(dir + "/", "")}:${d.loc.line}:${d.loc.col}: ${d.message}`,
        );
      }
    } else console.log(`${name}: NON-GRAPH ERROR ${e}`);
  }
}
