// Op benchmark: GFLOP/s of every distinct convolution layer of DR-GAN (forward,
// input gradient, weight gradient) plus a few other DR-GAN-sized ops, on the
// adapter this process gets. Results go to a table and bench/ops-results.json.
//
//   deno task bench:ops [--only small|paper] [--filter REGEX] [--budget SECONDS]
//                       [--out FILE] [--compare FILE]
//
// Timing: after a warm-up, each sample is many copies of the kernel's dispatches
// in one command buffer, one submit and one onSubmittedWorkDone wait, less an empty
// wait measured just before it (a fixed ~11 ms in Deno on llvmpipe, which training
// pays once per log interval, not per kernel); the figure is the median over
// samples. Dispatch overhead is included, as in training.
import { parseArgs } from "node:util";
import { loadModel } from "../src/lang/model.ts";
import { parseOverride } from "../src/lang/files.ts";
import { OPS } from "../src/ops/registry.ts";
import type { BackwardCtx, Dispatch, KernelCtx, OpDef } from "../src/ops/types.ts";
import { numel } from "../src/ops/wgsl.ts";
import { openGpu } from "../src/engine/device.ts";
import { targetFor } from "../src/tune/target.ts";
import { createStorage, upload } from "../src/engine/buffers.ts";
import { encode, prepare, type Prepared } from "../src/engine/launch.ts";
import { netMs } from "../src/engine/timing.ts";
import { Rng } from "../src/util/rng.ts";

const { values: opt } = parseArgs({
  args: Deno.args,
  options: {
    only: { type: "string" },
    filter: { type: "string" },
    budget: { type: "string", default: "270" },
    out: { type: "string", default: "bench/ops-results.json" },
    compare: { type: "string" },
  },
});

interface Layer {
  /** e.g. "small conv2d 16x32x32 -> 32 k3 s2" */
  name: string;
  variant: string;
  op: OpDef;
  attrs: unknown;
  input: number[];
  output: number[];
  params: Record<string, number[]>;
}

const VARIANTS = [
  { variant: "small", file: "graphs/drgan-small.yaml", batch: 16 },
  { variant: "paper", file: "graphs/drgan.yaml", batch: 4 },
];

/** Every distinct conv / transposed conv layer of a model, with the batch bound. */
function convLayers(variant: string, file: string, batch: number): Layer[] {
  const model = loadModel(file, [parseOverride(`training.batch=${batch}`)]);
  const seen = new Map<string, Layer>();
  for (const net of model.networks) {
    for (const node of net.nodes) {
      if (node.op !== "conv2d" && node.op !== "conv_transpose2d") continue;
      const bind = (s: readonly (number | string)[]) =>
        s.map((d) => typeof d === "number" ? d : batch);
      const input = bind(net.shapes.get(node.inputs[0])!);
      const output = bind(node.shape);
      const a = node.parsed as { out: number; kernel: number | number[]; stride: number };
      const k = Array.isArray(a.kernel) ? a.kernel.join("x") : a.kernel;
      const short = node.op === "conv2d" ? "conv" : "deconv";
      const name = `${variant} ${short} ${input.slice(1).join("x")}->${
        output[1]
      } k${k} s${a.stride}`;
      const key = `${name} ${JSON.stringify(node.parsed)}`;
      if (seen.has(key)) continue;
      seen.set(key, {
        name,
        variant,
        op: OPS[node.op],
        attrs: node.parsed,
        input,
        output,
        params: Object.fromEntries(Object.entries(node.params).map(([n, p]) => [n, p.shape])),
      });
    }
  }
  return [...seen.values()];
}

interface Result {
  name: string;
  value: number;
  unit: string;
  adapter: string;
  date: string;
  command: string;
  /** median seconds per run of the kernel group */
  seconds: number;
}

const gpu = await openGpu();
const { device } = gpu;
// The kernels the plans on this adapter get: its cost model and tuned blocks.
const target = targetFor(gpu);
const rng = new Rng(1);
const command = `deno task bench:ops${Deno.args.length ? " " + Deno.args.join(" ") : ""}`;
const date = new Date().toISOString();
const budget = Number(opt.budget) * 1000;
const filter = opt.filter ? new RegExp(opt.filter) : undefined;
const started = performance.now();

/** Random buffers of `sizes`, and the kernels' constant tensors (roles c.NAME). */
function buffers(
  sizes: Record<string, number>,
  consts: Record<string, number[]> = {},
): (role: string) => GPUBuffer {
  const bufs = new Map<string, GPUBuffer>();
  for (const [role, n] of Object.entries(sizes)) {
    const b = createStorage(device, n, role);
    upload(device, b, Float32Array.from({ length: n }, () => 2 * rng.next() - 1));
    bufs.set(role, b);
  }
  for (const [k, v] of Object.entries(consts)) {
    const b = createStorage(device, v.length, `c.${k}`);
    upload(device, b, Float32Array.from(v));
    bufs.set(`c.${k}`, b);
  }
  return (role) => {
    const b = bufs.get(role);
    if (!b) throw new Error(`kernel binds unknown role ${role}`);
    return b;
  };
}

/** Seconds per copy of `steps`, less the queue wait's fixed latency (engine/timing.ts). */
async function run(steps: Prepared[], copies: number): Promise<number> {
  return await netMs(device, (pass) => encode(pass, steps), copies) / 1000;
}

/**
 * Median seconds per run of `steps` (fewer repetitions when one run is long or
 * time is short), and the first run's excess over it: llvmpipe JIT-compiles a
 * pipeline at its first dispatch.
 */
async function time(steps: Prepared[]): Promise<{ median: number; firstExtra: number }> {
  const first = await run(steps, 1); // warm-up (compiles)
  const left = budget - (performance.now() - started);
  if (first > 2 || left < 10_000) return { median: first, firstExtra: 0 };
  const one = Math.max(await run(steps, 4), 1e-5); // an estimate, compiled
  const target = left > 60_000 ? 0.25 : 0.05; // seconds per sample
  const samples = one > 2 || left < 30_000 ? 1 : one > 0.5 ? 2 : 5;
  const copies = Math.max(1, Math.min(1000, Math.round(target / one)));
  const t: number[] = [];
  for (let s = 0; s < samples; s++) t.push(await run(steps, copies));
  t.sort((a, b) => a - b);
  const median = t[Math.floor(t.length / 2)];
  return { median, firstExtra: Math.max(0, first - median) };
}

const results: Result[] = [];
/**
 * Per variant: seconds to create the conv pipelines and run each once beyond its
 * steady time (the LLVM compile on llvmpipe; Mesa's disk cache in
 * ~/.cache/mesa_shader_cache makes repeated runs cheaper), and distinct pipelines.
 */
const setup = new Map<string, { seconds: number; codes: Set<string> }>();
function record(name: string, value: number, unit: string, seconds: number) {
  results.push({ name, value, unit, adapter: gpu.description, date, command, seconds });
}

async function benchConv(l: Layer) {
  const ctx: KernelCtx = {
    inputs: [l.input],
    output: l.output,
    params: l.params,
    training: true,
    target,
  };
  const bctx: BackwardCtx = {
    ...ctx,
    needDx: [true],
    needDp: new Set(Object.keys(l.params)),
    accumulate: new Set(),
  };
  const fwd = l.op.forward(l.attrs, ctx);
  const bwd = l.op.backward(l.attrs, bctx);
  const sizes: Record<string, number> = {
    x0: numel(l.input),
    y: numel(l.output),
    dy: numel(l.output),
    dx0: numel(l.input),
  };
  for (const [k, s] of Object.entries(l.params)) sizes[`p.${k}`] = sizes[`dp.${k}`] = numel(s);
  for (const [k, n] of Object.entries({ ...fwd.scratch, ...bwd.scratch })) sizes[`t.${k}`] = n;
  const buf = buffers(sizes, { ...fwd.consts, ...bwd.consts });
  const flops = 2 * l.op.macs!(l.attrs, [l.input], l.output);
  const groups: [string, Dispatch[]][] = [
    ["fwd", fwd.dispatches],
    ["dx", bwd.dispatches.filter((d) => /\.dx/.test(d.label))],
    ["dw", bwd.dispatches.filter((d) => /\.dw/.test(d.label))],
  ];
  for (const [pass, ds] of groups) {
    if (!ds.length) continue;
    const t0 = performance.now();
    const steps = await prepare(device, ds, buf, gpu.pipelines);
    const c = setup.get(l.variant) ?? { seconds: 0, codes: new Set() };
    c.seconds += (performance.now() - t0) / 1000;
    for (const d of ds) c.codes.add(d.code);
    setup.set(l.variant, c);
    const { median, firstExtra } = await time(steps);
    c.seconds += firstExtra;
    record(`${l.name} ${pass}`, flops / median / 1e9, "GFLOP/s", median);
  }
}

async function benchOther() {
  const B = 4;
  // the paper decoder's first layer: [B, 320 + 13 + 50] -> [B, 320 * 6 * 6]
  const lin = { F: 383, O: 320 * 36 };
  const act = [B, 64, 96, 96]; // conv12's output
  const cases: { name: string; op: string; attrs: object; input: number[]; output: number[] }[] = [
    {
      name: `paper linear ${lin.F}->${lin.O}`,
      op: "linear",
      attrs: { out: lin.O },
      input: [B, lin.F],
      output: [B, lin.O],
    },
    {
      name: `paper batch_norm ${act.slice(1).join("x")}`,
      op: "batch_norm",
      attrs: {},
      input: act,
      output: act,
    },
    { name: `paper elu ${act.slice(1).join("x")}`, op: "elu", attrs: {}, input: act, output: act },
  ];
  for (const c of cases) {
    if (filter && !filter.test(c.name)) continue;
    const op = OPS[c.op];
    const attrs = op.attrs.parse(c.attrs);
    const params = Object.fromEntries(
      Object.entries(op.params?.(attrs, [c.input]) ?? {}).map(([k, s]) => [k, s.shape]),
    );
    const fwd = op.forward(attrs, {
      inputs: [c.input],
      output: c.output,
      params,
      training: true,
      target,
    });
    const sizes: Record<string, number> = { x0: numel(c.input), y: numel(c.output) };
    for (const [k, s] of Object.entries(params)) sizes[`p.${k}`] = numel(s);
    for (const [k, n] of Object.entries(fwd.scratch ?? {})) sizes[`t.${k}`] = n;
    const s = (await time(
      await prepare(device, fwd.dispatches, buffers(sizes, fwd.consts), gpu.pipelines),
    )).median;
    if (c.op === "linear") {
      record(`${c.name} fwd`, 2 * op.macs!(attrs, [c.input], c.output) / s / 1e9, "GFLOP/s", s);
    } else {
      // memory-bound: bytes of the input read and the output written, once each
      record(`${c.name} fwd`, 4 * (numel(c.input) + numel(c.output)) / s / 1e9, "GB/s", s);
    }
  }
}

console.log(`adapter: ${gpu.description}`);
for (const v of VARIANTS) {
  if (opt.only && opt.only !== v.variant) continue;
  for (const l of convLayers(v.variant, v.file, v.batch)) {
    if (filter && !filter.test(l.name)) continue;
    await benchConv(l);
    const last = results.slice(-3).map((r) => r.value.toFixed(2).padStart(7)).join(" ");
    console.log(`${l.name.padEnd(40)} ${last}`);
  }
}
for (const [v, c] of setup) record(`${v} conv pipelines setup`, c.seconds, "s", c.seconds);
if (!opt.only || opt.only === "paper") await benchOther();

// ------------------------------------------------------------------- report

const before = new Map<string, number>();
if (opt.compare) {
  const old = JSON.parse(await Deno.readTextFile(opt.compare)) as Result[];
  for (const r of old) before.set(r.name, r.value);
}

function table() {
  const rows = new Map<string, Record<string, Result>>();
  const other: Result[] = [];
  for (const r of results) {
    const m = /^(.*) (fwd|dx|dw)$/.exec(r.name);
    if (!m || r.unit !== "GFLOP/s" || !/conv/.test(m[1])) {
      if (r.unit === "s") continue;
      other.push(r);
      continue;
    }
    const row = rows.get(m[1]) ?? {};
    row[m[2]] = r;
    rows.set(m[1], row);
  }
  const cell = (r?: Result) => {
    if (!r) return "-".padStart(opt.compare ? 15 : 7);
    const v = r.value.toFixed(2).padStart(7);
    if (!opt.compare) return v;
    const b = before.get(r.name);
    return b === undefined ? `${"?".padStart(7)} ${v}` : `${b.toFixed(2).padStart(7)} ${v}`;
  };
  const head = opt.compare ? "before   after" : "";
  console.log(
    `\nGFLOP/s on ${gpu.description}, ${date}${opt.compare ? ` (before: ${opt.compare})` : ""}`,
  );
  const w = opt.compare ? 15 : 7;
  console.log(
    `${"layer".padEnd(40)} ${"forward".padStart(w)} ${"input grad".padStart(w)} ${
      "weight grad".padStart(w)
    }`,
  );
  if (head) {
    console.log(`${"".padEnd(40)} ${[head, head, head].map((h) => h.padStart(w)).join(" ")}`);
  }
  for (const [name, row] of rows) {
    console.log(`${name.padEnd(40)} ${cell(row.fwd)} ${cell(row.dx)} ${cell(row.dw)}`);
  }
  // totals: seconds of one forward + backward of every distinct layer, per variant
  for (const v of VARIANTS) {
    const rs = results.filter((r) =>
      r.name.startsWith(`${v.variant} `) && /conv/.test(r.name) && r.unit === "GFLOP/s"
    );
    if (!rs.length) continue;
    const c = setup.get(v.variant);
    const secs = rs.reduce((s, r) => s + r.seconds, 0);
    const flops = rs.reduce((s, r) => s + r.value * 1e9 * r.seconds, 0);
    console.log(
      `${v.variant}: ${rs.length} kernels, ${(secs * 1000).toFixed(1)} ms in all, ${
        (flops / secs / 1e9).toFixed(2)
      } GFLOP/s overall; ${c?.codes.size} distinct pipelines, ${
        c?.seconds.toFixed(1)
      } s to create and first run them`,
    );
  }
  for (const r of other) {
    const b = before.get(r.name);
    const was = b === undefined ? "" : ` (before ${b.toFixed(2)})`;
    console.log(`${r.name.padEnd(40)} ${r.value.toFixed(2)} ${r.unit}${was}`);
  }
}
table();
await Deno.writeTextFile(opt.out!, JSON.stringify(results, null, 2) + "\n");
console.log(
  `\n${results.length} results in ${opt.out}, ${
    ((performance.now() - started) / 1000).toFixed(0)
  } s`,
);
