// `deno task exec` end to end: a graph run on the GPU from safetensors files, its
// outputs and gradients checked against the float64 reference; bad input rejected.
import assert from "node:assert/strict";
import { loadModel } from "../../src/lang/model.ts";
import { buildProgram, gradName } from "../../src/plan/program.ts";
import { runReference } from "../../src/plan/reference.ts";
import { readSafetensors, writeSafetensors } from "../../src/formats/safetensors.ts";
import { numel } from "../../src/ops/wgsl.ts";
import { rng } from "../../src/util/rng.ts";
import { relErr } from "../ops/harness.ts";
import { command } from "../commands.ts";

const exec = (args: string[]) => command("exec", args);

function random(shape: number[], next: () => number, f = (v: number) => 2 * v - 1) {
  return { shape, data: Float32Array.from({ length: numel(shape) }, () => f(next())) };
}

Deno.test("exec: a small network forward and backward, against the float64 reference", async () => {
  const dir = await Deno.makeTempDir();
  const next = rng(11);
  const file = `${dir}/net.yaml`;
  await Deno.writeTextFile(
    file,
    `inputs: { x: [B, 2, 6, 6] }
layers:
  conv: { op: conv2d, out: 3, stride: 2 }
  bn: { op: batch_norm }
  act: { op: elu }
  pool: { op: avg_pool, global: true }
`,
  );
  const x = random([2, 2, 6, 6], next);
  const w = {
    "net.conv.weight": random([3, 2, 3, 3], next),
    "net.bn.weight": random([3], next, (v) => 0.5 + v),
    "net.bn.bias": random([3], next),
    "net.bn.running_mean": random([3], next),
    "net.bn.running_var": random([3], next, (v) => 0.5 + v),
  };
  const up = random([2, 3], next);
  writeSafetensors(`${dir}/in.safetensors`, { x });
  writeSafetensors(`${dir}/w.safetensors`, w);
  writeSafetensors(`${dir}/up.safetensors`, { pool: up });
  const r = await exec([
    file,
    "--inputs",
    `${dir}/in.safetensors`,
    "--weights",
    `${dir}/w.safetensors`,
    "--grad",
    `${dir}/up.safetensors`,
    "--train",
    "--out",
    `${dir}/out.safetensors`,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const got = readSafetensors(`${dir}/out.safetensors`).tensors;

  const net = loadModel(file).networks[0];
  const program = buildProgram(net, {
    batch: 2,
    training: true,
    backwardFrom: ["pool"],
    inputGrads: ["x"],
  });
  const values = new Map<string, Float64Array>([["x", Float64Array.from(x.data)]]);
  for (const [k, v] of Object.entries(w)) values.set(k, Float64Array.from(v.data));
  values.set(gradName("pool"), Float64Array.from(up.data));
  const want = runReference(net, program, values, { backward: true });
  const expected = [
    ["pool", "pool"],
    ["grad.x", "grad.x"],
    ["grad.net.conv.weight", "grad.net.conv.weight"],
    ["grad.net.bn.weight", "grad.net.bn.weight"],
    ["net.bn.running_mean", "net.bn.running_mean"],
    ["net.bn.running_var", "net.bn.running_var"],
  ];
  for (const [file, ref] of expected) {
    const t = got.get(file);
    assert.ok(t, `output has no ${file}`);
    const e = relErr(t.data as Float32Array, want.get(ref)!);
    assert.ok(e < 1e-4, `${file}: relative error ${e}`);
  }
});

Deno.test("exec: bad input gives one clear message and exit 1", async () => {
  const dir = await Deno.makeTempDir();
  const g = "graphs/ops/linear.yaml";
  writeSafetensors(`${dir}/ok.safetensors`, { x: { shape: [2, 10], data: new Float32Array(20) } });
  writeSafetensors(`${dir}/wrong.safetensors`, {
    x: { shape: [2, 9], data: new Float32Array(18) },
  });
  writeSafetensors(`${dir}/misnamed.safetensors`, {
    y: { shape: [2, 10], data: new Float32Array(20) },
  });
  await Deno.writeTextFile(`${dir}/bad.safetensors`, "not a safetensors file");
  const cases: [string[], RegExp][] = [
    [
      [g, "--inputs", `${dir}/wrong.safetensors`, "--out", `${dir}/o`],
      /"x" has shape \[2,9\], expected \[2,10\]/,
    ],
    [[g, "--inputs", `${dir}/misnamed.safetensors`, "--out", `${dir}/o`], /none of the inputs "x"/],
    [[g, "--inputs", `${dir}/bad.safetensors`, "--out", `${dir}/o`], /bad\.safetensors: /],
    [
      [g, "--inputs", `${dir}/missing.safetensors`, "--out", `${dir}/o`],
      /missing\.safetensors: cannot read/,
    ],
    [
      [
        g,
        "--inputs",
        `${dir}/ok.safetensors`,
        "--weights",
        `${dir}/ok.safetensors`,
        "--out",
        `${dir}/o`,
      ],
      /ok\.safetensors does not fit linear, whose 2 parameters are named linear\.<layer>\.<parameter> \(2 problems\):\n {2}- missing "linear\.fc\.weight" \[\d+,10\]\n {2}- missing "linear\.fc\.bias"/,
    ],
    [[g, "--inputs", `${dir}/ok.safetensors`], /--out is required/],
    [
      [g, "--inputs", `${dir}/ok.safetensors`, "--out", `${dir}/o`, "--bogus", "1"],
      /unknown flag --bogus/,
    ],
    [
      ["graphs/drgan.yaml", "--inputs", `${dir}/ok.safetensors`, "--out", `${dir}/o`],
      /several networks/,
    ],
  ];
  for (const [args, re] of cases) {
    const r = await exec(args);
    assert.equal(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
  }
  assert.throws(() => Deno.statSync(`${dir}/o`), "nothing written on error");
});

Deno.test("every op has an example graph in graphs/ops that runs forward", async () => {
  const { OPS } = await import("../../src/ops/registry.ts");
  for (const name of Object.keys(OPS)) {
    const file = `graphs/ops/${name}.yaml`;
    const model = loadModel(file);
    assert.ok(model.networks[0].nodes.some((n) => n.op === name), `${file} uses ${name}`);
  }
});

Deno.test("exec: weights from a checkpoint holding more take what the network needs", async () => {
  const dir = await Deno.makeTempDir();
  const g = "graphs/ops/linear.yaml";
  writeSafetensors(`${dir}/in.safetensors`, { x: { shape: [2, 10], data: new Float32Array(20) } });
  const model = loadModel(g);
  const fc = model.networks[0].nodes.find((n) => n.op === "linear")!;
  const out = Number(fc.shape.at(-1));
  writeSafetensors(`${dir}/ckpt.safetensors`, {
    "linear.fc.weight": { shape: [out, 10], data: new Float32Array(out * 10).fill(0.5) },
    "linear.fc.bias": { shape: [out], data: new Float32Array(out).fill(1) },
    "decoder.fc.bias": { shape: [3], data: new Float32Array(3) },
    "adam.step": { shape: [1], data: new Float32Array(1) },
  });
  const r = await exec([
    g,
    "--inputs",
    `${dir}/in.safetensors`,
    "--weights",
    `${dir}/ckpt.safetensors`,
    "--out",
    `${dir}/o.safetensors`,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stderr,
    /note: .*ckpt\.safetensors: 2 tensors not used by linear \("adam\.step", "decoder\.fc\.bias"\)/,
  );
  const y = [...readSafetensors(`${dir}/o.safetensors`).tensors.values()][0];
  assert.ok(y, "an output was written");
});
