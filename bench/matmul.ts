// Matmul ceiling: GFLOP/s of our best plain matmul kernel (bench/matmul_kernels.ts)
// on this adapter, the figure our conv kernels are judged against.
//
//   deno task bench:matmul [--quick] [--budget SECONDS]
//
// Every variant is first checked against a float64 CPU reference on random inputs
// (max |C - ref| / max |ref| < 1e-4); one that fails (or does not compile) is
// reported as failing and not timed. Timing: after a warm-up, each sample is many
// dispatches in one command buffer, one submit and one onSubmittedWorkDone wait,
// less an empty wait measured just before (src/engine/timing.ts, as bench/ops.ts);
// the figure is the median over samples, GFLOP/s = 2 M N K / time.
// Sweep: every family's blocks at 512^3, then the best of each family over
// workgroup sizes and thread orders, then the leaders at 1024^3 and as the GEMM
// of the paper's biggest conv layer. The adapter is noisy when shared: medians.
import { parseArgs } from "node:util";
import type { Gpu } from "../src/engine/device.ts";
import { Rng } from "../src/util/rng.ts";
import { netMs } from "../src/engine/timing.ts";
import {
  describe,
  type Family,
  matmulKernel,
  type MatmulVariant,
  type Operand,
  type Shape,
} from "./matmul_kernels.ts";

export const TOLERANCE = 1e-4;

/** float64 C = A B of row-major A [m, k] and B [k, n]. */
export function reference(a: Float32Array, b: Float32Array, s: Shape): Float64Array {
  const c = new Float64Array(s.m * s.n);
  const row = new Float64Array(s.n);
  for (let i = 0; i < s.m; i++) {
    row.fill(0);
    for (let p = 0; p < s.k; p++) {
      const x = a[i * s.k + p], o = p * s.n;
      for (let j = 0; j < s.n; j++) row[j] += x * b[o + j];
    }
    c.set(row, i * s.n);
  }
  return c;
}

/** max |c - ref| / max |ref|, c with row stride ldc. */
export function relError(c: Float32Array, ldc: number, ref: Float64Array, s: Shape): number {
  let err = 0, big = 0;
  for (let i = 0; i < s.m; i++) {
    for (let j = 0; j < s.n; j++) {
      const r = ref[i * s.n + j];
      err = Math.max(err, Math.abs(c[i * ldc + j] - r));
      big = Math.max(big, Math.abs(r));
    }
  }
  return big > 0 ? err / big : err;
}

export function randomMatrix(rng: Rng, n: number): Float32Array {
  return Float32Array.from({ length: n }, () => 2 * rng.next() - 1);
}

/** A compiled variant bound to its operands: `run(copies)` = seconds per dispatch, net of the wait. */
export interface Bound {
  /** row stride of C as read() returns it */
  ldc: number;
  run(copies: number): Promise<number>;
  read(): Promise<Float32Array>;
  destroy(): void;
}

/** Compiles the variant for shape s and uploads A and B; throws on a WGSL or validation error. */
export async function bind(
  gpu: Gpu,
  v: MatmulVariant,
  s: Shape,
  a: Float32Array,
  b: Float32Array,
): Promise<Bound> {
  const { device } = gpu;
  const kern = matmulKernel(v, s);
  const owned: { destroy(): void }[] = [];
  const operand = (op: Operand, x: Float32Array, rows: number, cols: number) => {
    const data = op.pack(x, rows, cols);
    if (op.texture) {
      const { width, height } = op.texture;
      const t = device.createTexture({
        size: [width, height],
        format: "rgba32float",
        usage: GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_DST,
      });
      device.queue.writeTexture({ texture: t }, data, { bytesPerRow: width * 16 }, [width, height]);
      owned.push(t);
      return {
        resource: t.createView(),
        layout: { texture: { sampleType: "unfilterable-float" } },
      };
    }
    const buf = device.createBuffer({
      size: Math.max(16, data.byteLength),
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
    });
    device.queue.writeBuffer(buf, 0, data);
    owned.push(buf);
    return { resource: { buffer: buf }, layout: { buffer: { type: "read-only-storage" } } };
  };
  device.pushErrorScope("validation");
  const ops = [operand(kern.a, a, s.m, s.k), operand(kern.b, b, s.k, s.n)];
  const cBytes = Math.max(16, s.m * kern.ldc * 4);
  const c = device.createBuffer({
    size: cBytes,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
  });
  owned.push(c);
  const layout = device.createBindGroupLayout({
    entries: [
      ...ops.map((o, i) => ({ binding: i, visibility: GPUShaderStage.COMPUTE, ...o.layout })),
      { binding: 2, visibility: GPUShaderStage.COMPUTE, buffer: { type: "storage" } },
    ] as GPUBindGroupLayoutEntry[],
  });
  const module = device.createShaderModule({ code: kern.code });
  const pipeline = device.createComputePipeline({
    layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
    compute: { module, entryPoint: "main" },
  });
  const group = device.createBindGroup({
    layout,
    entries: [
      ...ops.map((o, i) => ({ binding: i, resource: o.resource })),
      { binding: 2, resource: { buffer: c } },
    ] as GPUBindGroupEntry[],
  });
  const err = await device.popErrorScope();
  if (err) {
    for (const o of owned) o.destroy();
    throw new Error(err.message.split("\n").slice(0, 6).join(" "));
  }
  const [gx, gy, gz] = kern.workgroups;
  return {
    ldc: kern.ldc,
    async run(copies) {
      const record = (pass: GPUComputePassEncoder) => {
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, group);
        pass.dispatchWorkgroups(gx, gy, gz);
      };
      return await netMs(device, record, copies) / 1000;
    },
    async read() {
      const st = device.createBuffer({
        size: cBytes,
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      });
      const enc = device.createCommandEncoder();
      enc.copyBufferToBuffer(c, 0, st, 0, cBytes);
      device.queue.submit([enc.finish()]);
      await st.mapAsync(GPUMapMode.READ);
      const out = new Float32Array(st.getMappedRange().slice(0));
      st.destroy();
      return out;
    },
    destroy() {
      for (const o of owned) o.destroy();
    },
  };
}

/** Problem data shared by every variant of one shape. */
export interface Problem {
  label: string;
  shape: Shape;
  a: Float32Array;
  b: Float32Array;
  ref: Float64Array;
}

export function problem(label: string, shape: Shape, seed = 1): Problem {
  const rng = new Rng(seed);
  const a = randomMatrix(rng, shape.m * shape.k);
  const b = randomMatrix(rng, shape.k * shape.n);
  return { label, shape, a, b, ref: reference(a, b, shape) };
}

export interface Row {
  variant: MatmulVariant;
  problem: string;
  shape: Shape;
  /** GFLOP/s; undefined when the variant failed */
  gflops?: number;
  error?: string;
  /** max relative error of the check */
  rel?: number;
  /** seconds to compile, first-run and check it */
  setup: number;
}

/** Checks a variant on the problem, then (if right and `time`) times it. */
export async function measure(
  gpu: Gpu,
  v: MatmulVariant,
  p: Problem,
  o: { sampleSeconds: number; samples: number; time?: boolean },
): Promise<Row> {
  const t0 = performance.now();
  const row: Row = { variant: v, problem: p.label, shape: p.shape, setup: 0 };
  let bound: Bound | undefined;
  try {
    bound = await bind(gpu, v, p.shape, p.a, p.b);
    await bound.run(1); // llvmpipe compiles at the first dispatch
    row.rel = relError(await bound.read(), bound.ldc, p.ref, p.shape);
    row.setup = (performance.now() - t0) / 1000;
    if (!(row.rel < TOLERANCE)) {
      row.error = `wrong: relative error ${row.rel.toExponential(2)}`;
      return row;
    }
    if (o.time === false) return row;
    const one = await bound.run(1);
    const copies = Math.max(1, Math.min(50, Math.round(o.sampleSeconds / one)));
    // a slow kernel (the tiled one on a software adapter) gets one sample besides this run
    const ts: number[] = one > 1 ? [one] : [];
    for (let i = 0; i < (one > 1 ? 1 : o.samples); i++) ts.push(await bound.run(copies));
    ts.sort((x, y) => x - y);
    const { m, n, k } = p.shape;
    row.gflops = 2 * m * n * k / ts[ts.length >> 1] / 1e9;
  } catch (e) {
    row.error = `failed: ${e instanceof Error ? e.message : String(e)}`;
    row.setup = (performance.now() - t0) / 1000;
  } finally {
    bound?.destroy();
  }
  return row;
}

// ---------------------------------------------------------------------- sweep

const BLOCKS = [4, 8, 16];

/** The first-stage candidates of each family at the default workgroup size. */
export function candidates(quick: boolean): MatmulVariant[] {
  if (quick) {
    return [
      { family: "storage", rm: 8, rn: 8 },
      { family: "texture", aLayout: "k", rm: 8, rn: 8 },
      { family: "texture", aLayout: "m", rm: 8, rn: 8 },
      { family: "tiled", rm: 4, rn: 4, wx: 8, wy: 8, tk: 16 },
    ];
  }
  const out: MatmulVariant[] = [];
  for (const rm of BLOCKS) {
    for (const rn of BLOCKS) {
      out.push({ family: "storage", rm, rn });
      out.push({ family: "texture", aLayout: "k", rm, rn });
      out.push({ family: "texture", aLayout: "m", rm, rn });
    }
  }
  out.push(
    { family: "tiled", rm: 1, rn: 4, wx: 16, wy: 16, tk: 16 }, // textbook-like
    { family: "tiled", rm: 4, rn: 4, wx: 8, wy: 8, tk: 16 },
    { family: "tiled", rm: 8, rn: 8, wx: 8, wy: 8, tk: 8 },
  );
  return out;
}

/** The GEMM of the paper's biggest conv layer (64x48x48 -> 128, k3, batch 4), as im2col. */
export const PAPER_GEMM: Shape = { m: 128, n: 4 * 48 * 48, k: 64 * 9 };

export interface SweepResult {
  rows: Row[];
  /** best timed row per family ("storage", "texture", "tiled") */
  best: Map<Family, Row>;
  overall?: Row;
  seconds: number;
}

export async function sweep(
  gpu: Gpu,
  o: { quick: boolean; budget: number; log: (line: string) => void },
): Promise<SweepResult> {
  const started = performance.now();
  const left = () => o.budget - (performance.now() - started) / 1000;
  const timing = o.quick
    ? { sampleSeconds: 0.02, samples: 1 }
    : { sampleSeconds: 0.15, samples: 3 };
  const rows: Row[] = [];
  const log = (r: Row) => {
    rows.push(r);
    const { m, n, k } = r.shape;
    const fig = r.gflops !== undefined ? r.gflops.toFixed(2).padStart(7) : `   ${r.error}`;
    o.log(`${`${m}x${n}x${k}`.padEnd(16)} ${describe(r.variant).padEnd(34)} ${fig}`);
  };
  const bestOf = (rs: Row[], fam?: Family) =>
    rs.filter((r) => r.gflops !== undefined && (!fam || r.variant.family === fam))
      .sort((x, y) => y.gflops! - x.gflops!)[0];
  const families: Family[] = ["storage", "texture", "tiled"];

  o.log(`${"M x N x K".padEnd(16)} ${"variant (rm x rn block)".padEnd(34)} GFLOP/s`);
  const small = o.quick ? problem("128", { m: 128, n: 128, k: 128 }) : problem("512", cube(512));
  for (const v of candidates(o.quick)) {
    if (left() < 0) break;
    log(await measure(gpu, v, small, timing));
  }
  if (!o.quick) {
    // workgroup sizes and thread order for the best block of each barrier-free family
    for (const fam of ["storage", "texture"] as Family[]) {
      const b = bestOf(rows, fam);
      const tries: Partial<MatmulVariant>[] = [{ wg: 16 }, { wg: 32 }, { wg: 128 }, {
        order: "m",
      }];
      for (const t of tries) {
        if (!b || left() < 30) break;
        log(await measure(gpu, { ...b.variant, ...t }, small, timing));
      }
    }
    // the leaders on bigger problems: the best of each family, and the runner-up overall
    const lead = families.map((f) => bestOf(rows, f)).filter((r) => r) as Row[];
    const second = rows.filter((r) => r.gflops !== undefined && !lead.includes(r))
      .sort((x, y) => y.gflops! - x.gflops!)[0];
    if (second) lead.push(second);
    for (const [label, shape] of [["1024", cube(1024)], ["paper", PAPER_GEMM]] as const) {
      if (left() < 40) break;
      const p = problem(label, shape);
      for (const r of lead) {
        if (left() < 10) break;
        log(await measure(gpu, r.variant, p, timing));
      }
    }
  }
  const best = new Map<Family, Row>();
  for (const f of families) {
    const b = bestOf(rows, f);
    if (b) best.set(f, b);
  }
  return { rows, best, overall: bestOf(rows), seconds: (performance.now() - started) / 1000 };
}

const cube = (n: number): Shape => ({ m: n, n, k: n });

export function shapeText(s: Shape): string {
  return `${s.m}x${s.n}x${s.k}`;
}

// ------------------------------------------------------------------------ CLI

if (import.meta.main) {
  const { values: opt } = parseArgs({
    args: Deno.args,
    options: {
      quick: { type: "boolean", default: false },
      budget: { type: "string", default: "110" },
    },
  });
  const budget = Number(opt.budget);
  if (!(budget > 0)) {
    console.error("deno task bench:matmul: --budget is a number of seconds");
    console.error("usage: deno task bench:matmul [--quick] [--budget SECONDS]");
    Deno.exit(1);
  }
  const { openGpu } = await import("../src/engine/device.ts");
  const gpu = await openGpu();
  console.log(`adapter: ${gpu.description}`);
  const res = await sweep(gpu, { quick: opt.quick!, budget, log: (l) => console.log(l) });
  console.log(`\nbest per family (GFLOP/s):`);
  for (const [f, r] of res.best) {
    console.log(
      `  ${f.padEnd(8)} ${r.gflops!.toFixed(2).padStart(7)}  ${describe(r.variant)}, ${
        shapeText(r.shape)
      }`,
    );
  }
  const failed = res.rows.filter((r) => r.error);
  if (res.overall) {
    console.log(
      `best: ${res.overall.gflops!.toFixed(2)} GFLOP/s, ${describe(res.overall.variant)}, ${
        shapeText(res.overall.shape)
      }`,
    );
  }
  console.log(
    `${res.rows.length} runs, ${failed.length} failing, ${res.seconds.toFixed(0)} s`,
  );
  if (!res.overall) Deno.exit(1);
}
