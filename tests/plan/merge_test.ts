// Horizontal merging of independent dispatches: which ones merge, and that a
// merged kernel computes what its members compute.
import assert from "node:assert/strict";
import { mergeSteps } from "../../src/plan/merge.ts";
import type { Step } from "../../src/plan/program.ts";
import { perElement } from "../../src/ops/wgsl.ts";
import { tiledGather } from "../../src/ops/conv/mod.ts";
import {
  accumulator,
  channelDims,
  channelTotals,
  forChannel,
  perChannel,
  rowBindings,
  vec4Rows,
} from "../../src/ops/per_channel.ts";
import { sumTerms } from "../../src/ops/loss_common.ts";
import type { Dispatch } from "../../src/ops/types.ts";
import { createStorage, readBack, upload } from "../../src/engine/buffers.ts";
import { prepare, submit } from "../../src/engine/launch.ts";
import { testGpu } from "../gpu.ts";

const LIMITS = { maxBindings: 16, maxWorkgroupBytes: 16384, mixed: true };

function step(label: string, d: Dispatch, roles: Record<string, string>): Step {
  return { label, node: label, phase: "forward", dispatches: [d], roles };
}

/** y = x * k + j for n elements (j: element index, so a wrong mapping shows). */
function affine(label: string, n: number, k: number, from: string, to: string): Step {
  const d = perElement(
    label,
    n,
    [{ role: "x0" }, { role: "y", write: true }],
    `  y[i] = x0[i] * ${k}.0 + f32(i);`,
  );
  return step(label, d, { x0: from, y: to });
}

/**
 * y[c] = sum over channel c of x (B=2, C, S), broadcast to every element of c; the sizes
 * are read from tensor "d" (channelDims). Rows of a multiple of 4 bind x and y as vec4s.
 */
function channelSum(label: string, C: number, S: number, from: string, to: string): Step {
  const d = { B: 2, C, S, wg: 16 };
  const { zero, total } = accumulator(d);
  const k = perChannel(
    label,
    d,
    rowBindings(d, [{ role: "x0" }, { role: "y", write: true }]),
    `  var s = ${zero};
${forChannel(d, "    s = s + x0[e];")}
${channelTotals(d, [["tot", total("s"), 0]])}
${forChannel(d, `    y[e] = ${vec4Rows(d) ? "vec4f(tot)" : "tot"};`)}`,
  );
  return step(label, k, { x0: from, y: to, "c.dims": "d" });
}

const id = (t: string) => t;

Deno.test("merge: independent kernels share a dispatch, dependent ones do not", () => {
  const steps = [
    affine("a", 100, 2, "x", "p"),
    affine("b", 70, 3, "x", "q"), // independent of a: joins it
    affine("c", 100, 1, "p", "r"), // reads a's output: a new dispatch
    affine("d", 50, 1, "x", "s"), // independent of everything: moves up to a's group
  ];
  const out = mergeSteps(steps, id, LIMITS);
  assert.deepEqual(out.map((s) => s.label), ["a | b | d", "c"]);
  // A write after read is a hazard too: e overwrites what a reads.
  const war = mergeSteps([affine("a", 10, 2, "x", "p"), affine("e", 10, 2, "q", "x")], id, LIMITS);
  assert.equal(war.length, 2);
  // Same tensors in one buffer (memory planning) are a hazard as well.
  const slot = (t: string) => (t === "p" || t === "q" ? "slot0" : t);
  assert.equal(mergeSteps(steps.slice(0, 2), slot, LIMITS).length, 2);
});

Deno.test("merge: by default only copies of one kernel merge; arenas are not mixed", () => {
  const steps = [
    affine("a", 64, 2, "x", "p"),
    channelSum("s", 3, 5, "x", "q"),
    affine("b", 64, 3, "x", "v"), // different code
    channelSum("s", 3, 5, "x", "r"),
    affine("a", 64, 2, "x", "u"),
  ];
  const label = (l: Step[]) => l.map((s) => s.label);
  assert.deepEqual(label(mergeSteps(steps, id, { ...LIMITS, mixed: false })), [
    "a | a",
    "s | s",
    "b",
  ]);
  // Mixed: different kernels too, but only of one workgroup size.
  assert.deepEqual(label(mergeSteps(steps, id, LIMITS)), ["a | b | a", "s | s"]);
  // Reading one parameter while writing another of the same arena is refused by WebGPU.
  const arena = (t: string) => (t === "w1" || t === "w2" ? "param" : undefined);
  const two = mergeSteps(
    [affine("a", 8, 2, "w1", "p"), affine("b", 8, 2, "x", "w2")],
    id,
    LIMITS,
    arena,
  );
  assert.equal(two.length, 2);
  // A tight binding limit keeps kernels apart too.
  const tight = mergeSteps(
    [affine("a", 8, 2, "x", "p"), affine("b", 8, 2, "y", "q")],
    id,
    { ...LIMITS, maxBindings: 3 },
  );
  assert.equal(tight.length, 2);
  // So does a code limit: a merged kernel repeats each member's code (compile time).
  const copies = [affine("a", 8, 2, "x", "p"), affine("a", 8, 2, "x", "q")];
  const n = copies[0].dispatches[0].code.length;
  assert.equal(mergeSteps(copies, id, { ...LIMITS, maxCode: 2 * n - 1 }).length, 2);
  assert.equal(mergeSteps(copies, id, { ...LIMITS, maxCode: 2 * n }).length, 1);
});

Deno.test("merge: a buffer is bound as one element type (f32 or vec4f) in a merged kernel", () => {
  const label = (l: Step[]) => l.map((s) => s.label);
  // x read as vec4s by the channel sums (rows of 36), as f32 by the affine kernel
  const steps = [channelSum("s", 3, 36, "x", "q"), affine("a", 216, 2, "x", "p")];
  assert.deepEqual(label(mergeSteps(steps, id, LIMITS)), ["s", "a"]);
  const copies = [channelSum("s", 3, 36, "x", "q"), channelSum("s", 3, 36, "x", "r")];
  const [m] = mergeSteps(copies, id, LIMITS);
  assert.equal(m.label, "s | s");
  assert.match(m.dispatches[0].code, /Hb0: array<vec4f>/);
});

for (const S of [37, 36]) {
  Deno.test(`merge: a merged dispatch computes what its members compute (rows of ${S})`, async () => {
    await mergedComputesTheSame(S);
  });
}

async function mergedComputesTheSame(S: number) {
  const { device, pipelines } = await testGpu();
  const C = 3, n = 2 * C * S;
  const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 3);
  // A one-workgroup sum (64 threads, a barrier) next to barrier-free kernels.
  const total = sumTerms(
    "t",
    n,
    1,
    [{ role: "x0" }],
    "fn term(i: u32) -> f32 { return x0[i]; }",
    true,
  );
  const steps = [
    affine("a", n, 2, "x", "p"),
    channelSum("s1", C, S, "x", "q"),
    affine("b", 130, 3, "x", "r"),
    channelSum("s2", C, S, "x", "u"),
    step("t", total.dispatches[0], { x0: "x", y: "v" }),
  ];
  const run = async (list: Step[]) => {
    const bufs = new Map<string, GPUBuffer>();
    for (const t of ["x", "p", "q", "r", "u", "v", "d"]) bufs.set(t, createStorage(device, n, t));
    upload(device, bufs.get("x")!, x);
    upload(device, bufs.get("d")!, Float32Array.from(channelDims({ B: 2, C, S, wg: 16 })));
    for (const s of list) {
      submit(
        device,
        await prepare(device, s.dispatches, (role) => bufs.get(s.roles[role])!, pipelines),
      );
    }
    const got = await readBack(
      device,
      ["p", "q", "r", "u", "v"].map((t) => ({
        buffer: bufs.get(t)!,
        elements: t === "r" ? 130 : n,
      })),
    );
    for (const b of bufs.values()) b.destroy();
    return got;
  };
  const merged = mergeSteps(steps, id, LIMITS);
  assert.equal(merged.length, 2); // the sum with barrier-free kernels; the channel sums
  const [want, got] = [await run(steps), await run(merged)];
  want.forEach((w, k) => assert.deepEqual(got[k], w, `output ${k}`));
}

Deno.test("merge: workgroup-memory tiles (barriers, workgroup ids) merge and compute the same", async () => {
  const { device, pipelines } = await testGpu();
  const g = { b: 2, srcC: 3, srcH: 7, srcW: 9, dstC: 5, dstH: 7, dstW: 9, kh: 3, kw: 3, s: 1 };
  const geom = { ...g, pt: 1, pl: 1 };
  const io = { from: "x0", to: "y", weight: "w", accumulate: false };
  const conv = tiledGather("conv", geom, io, { tm: 8, tn: 16, tk: 4, rm: 2, rn: 4 });
  const steps = [
    step("c1", conv, { x0: "x", w: "k", y: "p" }),
    step("c2", conv, { x0: "z", w: "k", y: "q" }),
  ];
  const sizes: Record<string, number> = { x: 2 * 3 * 63, z: 2 * 3 * 63, k: 5 * 27, p: 630, q: 630 };
  const run = async (list: Step[]) => {
    const bufs = new Map<string, GPUBuffer>();
    Object.entries(sizes).forEach(([t, n], k) => {
      bufs.set(t, createStorage(device, n, t));
      upload(device, bufs.get(t)!, Float32Array.from({ length: n }, (_, i) => Math.cos(i + 7 * k)));
    });
    for (const s of list) {
      submit(
        device,
        await prepare(device, s.dispatches, (role) => bufs.get(s.roles[role])!, pipelines),
      );
    }
    const got = await readBack(
      device,
      ["p", "q"].map((t) => ({ buffer: bufs.get(t)!, elements: 630 })),
    );
    for (const b of bufs.values()) b.destroy();
    return got;
  };
  const merged = mergeSteps(steps, id, LIMITS);
  assert.equal(merged.length, 1);
  assert.match(merged[0].dispatches[0].code, /workgroupBarrier/);
  const [want, got] = [await run(steps), await run(merged)];
  assert.notDeepEqual(want[0], want[1]);
  want.forEach((w, k) => assert.deepEqual(got[k], w, `output ${k}`));
});
