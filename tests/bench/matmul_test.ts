// The matmul kernels of bench/matmul.ts against a float64 reference, on sizes that
// exercise the ragged edges (blocks not dividing M or N, K and N not multiples of 4,
// K-loop remainders), and the --quick sweep the bench's matmul section runs.
import assert from "node:assert/strict";
import {
  bind,
  measure,
  problem,
  reference,
  relError,
  sweep,
  TOLERANCE,
} from "../../bench/matmul.ts";
import { describe, type MatmulVariant } from "../../bench/matmul_kernels.ts";
import { CEILING, matmulRecords, matmulTarget } from "../../bench/matmul_records.ts";
import { recordProblems } from "../../bench/record.ts";
import { testGpu } from "../gpu.ts";

const VARIANTS: MatmulVariant[] = [
  { family: "storage", rm: 8, rn: 8 },
  { family: "storage", rm: 4, rn: 16, unroll: 8, wg: 32 },
  { family: "texture", aLayout: "k", rm: 8, rn: 8, order: "m" },
  { family: "texture", aLayout: "m", rm: 4, rn: 16, unroll: 5 },
  { family: "tiled", rm: 4, rn: 4, wx: 8, wy: 8, tk: 16 },
  { family: "tiled", rm: 1, rn: 4, wx: 16, wy: 16, tk: 8 },
];

const SHAPES = [
  { m: 37, n: 20, k: 19 },
  { m: 64, n: 64, k: 64 },
  { m: 33, n: 21, k: 70 },
];

Deno.test("the float64 reference is a matmul", () => {
  // [[1, 2], [3, 4]] x [[5, 6], [7, 8]] = [[19, 22], [43, 50]]
  const c = reference(Float32Array.of(1, 2, 3, 4), Float32Array.of(5, 6, 7, 8), {
    m: 2,
    n: 2,
    k: 2,
  });
  assert.deepEqual([...c], [19, 22, 43, 50]);
});

Deno.test("every matmul variant matches the float64 reference", async () => {
  const gpu = await testGpu();
  for (const s of SHAPES) {
    const p = problem(`${s.m}x${s.n}x${s.k}`, s, 7);
    for (const v of VARIANTS) {
      const b = await bind(gpu, v, s, p.a, p.b);
      try {
        await b.run(2);
        const c = await b.read();
        const err = relError(c, b.ldc, p.ref, s);
        assert.ok(err < TOLERANCE, `${describe(v)} on ${p.label}: relative error ${err}`);
        // and the check would see a wrong answer
        c[b.ldc * (s.m - 1) + s.n - 1] += 1;
        assert.ok(relError(c, b.ldc, p.ref, s) > TOLERANCE);
      } finally {
        b.destroy();
      }
    }
  }
});

Deno.test("a failing variant is reported, not timed", async () => {
  const gpu = await testGpu();
  const p = problem("16", { m: 16, n: 16, k: 16 });
  const row = await measure(gpu, { family: "storage", rm: 4, rn: 4, unroll: 6 }, p, {
    sampleSeconds: 0.01,
    samples: 1,
  });
  assert.equal(row.gflops, undefined);
  assert.match(row.error ?? "", /failed: .*multiple of 4/);
});

Deno.test("the quick sweep times every family and picks a best", async () => {
  const gpu = await testGpu();
  const res = await sweep(gpu, { quick: true, budget: 20, log: () => {} });
  assert.deepEqual(res.rows.filter((r) => r.error).map((r) => r.error), []);
  assert.deepEqual([...res.best.keys()].sort(), ["storage", "texture", "tiled"]);
  for (const r of res.rows) assert.ok(r.gflops! > 0, `${describe(r.variant)}: ${r.gflops}`);
  assert.equal(res.overall!.gflops, Math.max(...res.rows.map((r) => r.gflops!)));
});

Deno.test("the bench's matmul records: ceiling, conv ratios and their targets", () => {
  const row = (family: "storage" | "texture", gflops: number) => ({
    variant: { family, rm: 8, rn: 8 },
    problem: "512",
    shape: { m: 512, n: 512, k: 512 },
    gflops,
    setup: 0,
  });
  const rows = [row("storage", 5), row("texture", 10)];
  const res = {
    rows,
    best: new Map([["storage", rows[0]], ["texture", rows[1]]] as const),
    overall: rows[1],
    seconds: 1,
  };
  const rec = (name: string, value: number, unit: string, notes?: string) => ({
    name,
    value,
    unit,
    adapter: "a",
    date: new Date(0).toISOString(),
    command: "c",
    ...(notes ? { notes } : {}),
  });
  const convs = [
    { name: "paper conv 64x48x48->128 k3 s1 fwd", gflops: 8, seconds: 1 },
    { name: "paper conv 64x48x48->128 k3 s1 dw", gflops: 2, seconds: 3 },
    { name: "small conv 8x32x32->16 k3 s1 fwd", gflops: 4, seconds: 1 },
  ];
  const rs = matmulRecords(res, rec, convs);
  assert.deepEqual(recordProblems(rs), []);
  const get = (n: string) => rs.find((r) => r.name === n)!;
  assert.equal(get(CEILING).value, 10);
  const best = get("matmul ratio: best paper conv kernel / best matmul");
  assert.equal(best.value, 0.8);
  assert.equal(matmulTarget(best), "≥ 0.6 (met)");
  // (8 * 1 + 2 * 3) GFLOP over 4 s = 3.5 GFLOP/s
  const all = get("matmul ratio: paper conv kernels overall / best matmul");
  assert.equal(all.value, 0.35);
  assert.equal(matmulTarget(all), "≥ 0.5 (not met)");
  assert.equal(get("matmul ratio: best small conv kernel / best matmul").value, 0.4);
  assert.ok(get("matmul ratio: all conv kernels overall / best matmul"));
  assert.equal(matmulRecords(res, rec, []).filter((r) => /ratio/.test(r.name)).length, 0);
});
