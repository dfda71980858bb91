import { loadModel } from "../../src/compiler/model.ts";
import { summarise } from "../../src/compiler/summary.ts";
const dir = Deno.makeTempDirSync();
const w = (f: string, t: string) => Deno.writeTextFileSync(`${dir}/${f}`, t);
w(
  "res.yaml",
  `
params: { c: 4 }
inputs: { x: [B, $c, 8, 8] }
blocks:
  res:
    args: { ch: null }
    layers:
      conv: { op: conv2d, out: $ch }
      sum: { op: add, in: [input, conv] }
    output: sum
  mix:
    layers:
      s: { op: add, in: [input, input1] }
layers:
  r1: { block: res, ch: $c }
  r2: { block: res, ch: $c }
  m: { block: mix, in: [r1, r2] }
  head: { graph: head.yaml, params: { n: 5 } }
  other: { op: tanh, in: head.logits }
  p: { op: relu, in: head.prob }
`,
);
w(
  "head.yaml",
  `
params: { n: 2 }
inputs: { f: [B, 4, 8, 8] }
layers:
  pool: { op: avg_pool, global: true }
  logits: { op: linear, out: $n }
  prob: { op: sigmoid }
outputs: { logits: logits, prob: prob }
`,
);
const m = loadModel(`${dir}/res.yaml`);
console.log(summarise(m));
for (const n of m.networks[0].nodes) console.log(n.name, n.inputs);
