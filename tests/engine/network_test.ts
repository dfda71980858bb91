// Whole networks of the small variant: GPU forward and backward against the
// float64 reference executor, with every output and gradient poisoned first.
import assert from "node:assert/strict";
import { loadModel } from "../../src/lang/model.ts";
import { buildProgram, gradName } from "../../src/plan/program.ts";
import { Executor } from "../../src/engine/executor.ts";
import { runReference } from "../../src/plan/reference.ts";
import { initParams } from "../../src/train/params.ts";
import { numel } from "../../src/ops/wgsl.ts";
import { mergeOptions } from "../../src/plan/merge.ts";
import type { Target } from "../../src/plan/target.ts";
import { rng } from "../../src/util/rng.ts";
import { relErr } from "../ops/harness.ts";
import { planOf, testGpu, testTarget } from "../gpu.ts";

const model = loadModel("graphs/drgan-small.yaml", []);

for (const training of [true, false]) {
  for (const net of model.networks) {
    Deno.test(`${net.name} (small, ${training ? "training" : "inference"}): GPU matches float64 reference`, async () => {
      const next = rng(7);
      const program = buildProgram(net, {
        batch: 2,
        training,
        backwardFrom: net.outputs.map((o) => o.name),
        inputGrads: net.inputs.map((i) => i.name),
      });
      const gpu = await testGpu();
      const exec = await Executor.create(gpu, planOf(program, { memory: false }));
      const values = new Map<string, Float64Array>();
      for (const [name, data] of initParams(program, 3)) {
        // Perturb batch norm's ones/zeros so that every parameter matters.
        values.set(name, Float64Array.from(data, (v) => v + 0.1 * (next() - 0.5)));
      }
      for (const name of program.inputs) {
        values.set(
          name,
          Float64Array.from(
            { length: numel(program.tensors.get(name)!.shape) },
            () => 2 * next() - 1,
          ),
        );
      }
      for (const o of Object.values(program.outputs)) {
        values.set(
          gradName(o),
          Float64Array.from({ length: numel(program.tensors.get(o)!.shape) }, () => 2 * next() - 1),
        );
      }
      exec.poison(["activation", "grad", "scratch"]);
      for (const [k, v] of values) exec.write(k, Float32Array.from(v));
      exec.run({ backward: true });
      const want = runReference(net, program, values, { backward: true });
      const check = [
        ...Object.values(program.outputs),
        ...[...program.tensors.values()].filter((t) => t.kind === "grad").map((t) => t.name),
        ...program.params,
      ];
      const got = await exec.read(check);
      exec.destroy();
      const errs = check.map((n) => [n, relErr(got.get(n)!, want.get(n)!)] as const);
      const bad = errs.filter(([, e]) => !(e < 1e-3));
      assert.deepEqual(
        bad,
        [],
        `tensors off: ${bad.map(([n, e]) => `${n} ${e.toExponential(1)}`).join(", ")}`,
      );
    });
  }
}

Deno.test("memory planning: the training step agrees with the unplanned run and needs far less", async () => {
  const { planMemory } = await import("../../src/plan/memory.ts");
  const step = model.step!;
  const merge = mergeOptions(testTarget());
  const gStep = (batch: number, fuse = true) =>
    buildProgram(step, {
      batch,
      training: true,
      backwardFrom: ["g_id", "g_pose", "g_gan"],
      trains: (p) => p.startsWith("encoder.") || p.startsWith("decoder."),
      fuse,
    });
  // At the small variant's training batch activations dominate. Planned, the fused step
  // needs under 62% of its own tensors' sum (0.605: that sum includes the weight
  // gradients' partial sums, which the conv blocks size) and under 50% of the naive
  // (unfused) sum (0.42).
  const big = planMemory(gStep(16), { backward: true, merge });
  const naive = planMemory(gStep(16, false), { backward: true, merge });
  assert.ok(
    big.peakBytes < 0.62 * big.unplannedBytes && big.peakBytes < 0.5 * naive.unplannedBytes,
    `peak ${big.peakBytes} vs unplanned ${big.unplannedBytes}, naive ${naive.unplannedBytes}`,
  );
  const program = gStep(2);
  const plan = planMemory(program, { backward: true, merge });
  assert.ok(
    plan.peakBytes < plan.unplannedBytes,
    `peak ${plan.peakBytes} vs unplanned ${plan.unplannedBytes}`,
  );
  // No step binds two tensors that share a slot.
  for (const s of [...program.forward, ...program.backward]) {
    for (const d of s.dispatches) {
      const ts = [...new Set(d.bindings.map((b) => s.roles[b.role]))].filter((t) =>
        plan.slotOf.has(t)
      );
      assert.equal(
        new Set(ts.map((t) => plan.slotOf.get(t))).size,
        ts.length,
        `${d.label}: two tensors share a slot`,
      );
    }
  }
  const gpu = await testGpu();
  const next = rng(9);
  const values = new Map<string, Float32Array<ArrayBuffer>>();
  for (const [k, v] of initParams(program, 4)) values.set(k, v);
  for (const name of program.inputs) {
    const n = numel(program.tensors.get(name)!.shape);
    const labels = name === "identity" || name.endsWith("pose");
    values.set(
      name,
      Float32Array.from(
        { length: n },
        () => labels ? Math.floor(next() * 13) % 13 : 2 * next() - 1,
      ),
    );
  }
  values.set("identity", Float32Array.from({ length: 2 }, (_, i) => i * 7));
  for (const t of ["g_id", "g_pose", "g_gan"]) values.set(gradName(t), Float32Array.of(1));
  const results = [];
  for (const plan of [true, false]) {
    const exec = await Executor.create(gpu, planOf(program, { memory: plan }));
    exec.poison(["activation", "grad", "scratch"]);
    for (const [k, v] of values) exec.write(k, v);
    exec.run({ backward: true });
    const names = [
      ...Object.values(program.outputs),
      ...program.params.map(gradName).filter((g) => program.tensors.has(g)),
    ];
    results.push(await exec.read(names));
    exec.destroy();
  }
  for (const [name, a] of results[0]) {
    assert.deepEqual(a, results[1].get(name), `${name} differs between planned and unplanned`);
  }
});

Deno.test("fusion: fused and unfused plans agree on every network of the small variant", async () => {
  const gpu = await testGpu();
  for (const net of model.networks) {
    const results = [];
    const dispatches: number[] = [];
    for (const fuse of [true, false]) {
      const program = buildProgram(net, {
        batch: 2,
        training: true,
        backwardFrom: net.outputs.map((o) => o.name),
        inputGrads: net.inputs.map((i) => i.name),
        fuse,
      });
      const exec = await Executor.create(gpu, planOf(program));
      const r = rng(5);
      for (const [k, v] of initParams(program, 3)) exec.write(k, v);
      for (const name of program.inputs) {
        const n = numel(program.tensors.get(name)!.shape);
        exec.write(name, Float32Array.from({ length: n }, () => 2 * r() - 1));
      }
      for (const o of Object.values(program.outputs)) {
        const n = numel(program.tensors.get(o)!.shape);
        exec.write(gradName(o), Float32Array.from({ length: n }, () => 2 * r() - 1));
      }
      exec.run({ backward: true });
      const names = [
        ...Object.values(program.outputs),
        ...program.params,
        ...program.params.map(gradName).filter((g) => program.tensors.has(g)),
        ...program.inputs.map(gradName),
      ];
      results.push(await exec.read(names));
      dispatches.push(exec.dispatchCount.forward + exec.dispatchCount.backward);
      exec.destroy();
    }
    for (const [name, a] of results[0]) {
      const e = relErr(a, results[1].get(name)!);
      assert.ok(e < 1e-4, `${net.name} ${name}: fused vs unfused relative error ${e}`);
    }
    assert.ok(
      dispatches[0] < dispatches[1],
      `${net.name}: fusion saves dispatches (${dispatches})`,
    );
  }
});

Deno.test("fusion: in inference conv + batch norm + ELU is one kernel, as the unfused plan computes", async () => {
  const gpu = await testGpu();
  for (const net of model.networks) {
    const results = [];
    const labels: string[][] = [];
    // fused with the register-blocked kernels, fused with workgroup-memory tiles, unfused
    for (const [fuse, tile] of [[true, false], [true, true], [false, false]]) {
      const t = { tm: 8, tn: 16, tk: 4, rm: 2, rn: 4 };
      const target: Target = {
        ...testTarget(),
        blocks: tile ? { gather: t, scatter: t, wgrad: t } : {},
      };
      const program = buildProgram(net, { batch: 2, training: false, fuse, target });
      const exec = await Executor.create(gpu, planOf(program));
      const r = rng(11);
      for (const [k, v] of initParams(program, 3)) {
        // Running statistics away from their initial 0 and 1, so that folding them shows.
        const stat = k.endsWith("running_mean") ? 0 : k.endsWith("running_var") ? 1 : -1;
        exec.write(k, stat < 0 ? v : v.map(() => stat + 0.5 * r()));
      }
      for (const name of program.inputs) {
        const n = numel(program.tensors.get(name)!.shape);
        exec.write(name, Float32Array.from({ length: n }, () => 2 * r() - 1));
      }
      exec.run();
      results.push(await exec.read(Object.values(program.outputs)));
      labels.push(program.forward.flatMap((s) => s.dispatches.map((d) => d.label)));
      exec.destroy();
    }
    for (const k of [0, 1]) {
      for (const [name, a] of results[k]) {
        const e = relErr(a, results[2].get(name)!);
        assert.ok(e < 1e-4, `${net.name} ${name} (${k ? "tiles" : "blocks"}): vs unfused ${e}`);
      }
    }
    assert.ok(labels[2].some((l) => l.startsWith("batch_norm")), `${net.name} has batch norms`);
    assert.deepEqual(labels[0].filter((l) => l.startsWith("batch_norm")), [], net.name);
  }
});

Deno.test("a plan with a tensor bigger than the adapter binds is refused before it runs", async () => {
  const gpu = await testGpu();
  const net = model.networks.find((n) => n.name === "encoder")!;
  const per = 16 * 32 * 32 * 4; // bytes per image of the biggest activation
  const batch = Math.ceil(gpu.device.limits.maxStorageBufferBindingSize / per) + 1;
  const program = buildProgram(net, { batch, training: false });
  await assert.rejects(
    () => Executor.create(gpu, planOf(program)),
    (e: Error) => e.constructor.name === "PlanLimitError" && /smaller batch/.test(e.message),
  );
});

Deno.test("the joint-batch training step (concat on the batch, slices at B) matches float64", async () => {
  // D's update: real and generated faces go through D as one batch [2B, ...]; the slices at
  // B split its outputs again, and their gradients meet in D's parameters.
  const step = model.step!;
  const losses = ["d_real_id", "d_real_pose", "d_real_gan", "d_fake_gan"];
  const program = buildProgram(step, {
    batch: 2,
    training: true,
    backwardFrom: losses,
    trains: (p) => p.startsWith("discriminator."),
  });
  assert.deepEqual(program.tensors.get("d_in")!.shape, [4, 3, 32, 32]);
  assert.deepEqual(program.tensors.get("fake_fake")!.shape, [2, 1]);
  const gpu = await testGpu();
  const exec = await Executor.create(gpu, planOf(program, { memory: false }));
  const next = rng(11);
  const values = new Map<string, Float64Array>();
  for (const [name, data] of initParams(program, 5)) values.set(name, Float64Array.from(data));
  for (const name of program.inputs) {
    const n = numel(program.tensors.get(name)!.shape);
    const classes = name === "identity" ? 40 : 13;
    const label = ["identity", "pose", "target_pose"].includes(name);
    values.set(
      name,
      Float64Array.from({ length: n }, () => label ? Math.floor(next() * classes) : 2 * next() - 1),
    );
  }
  for (const t of losses) values.set(gradName(program.outputs[t]), Float64Array.of(1));
  exec.poison(["activation", "grad", "scratch"]);
  for (const [k, v] of values) exec.write(k, Float32Array.from(v));
  exec.run({ backward: true });
  const want = runReference(step, program, values, { backward: true });
  const check = [
    ...losses.map((t) => program.outputs[t]),
    ...program.params.map(gradName).filter((g) => program.tensors.has(g)),
  ];
  const got = await exec.read(check);
  exec.destroy();
  const bad = check.map((n) => [n, relErr(got.get(n)!, want.get(n)!)] as const)
    .filter(([, e]) => !(e < 1e-3));
  assert.deepEqual(bad, [], `tensors off: ${bad.map(([n, e]) => `${n} ${e.toExponential(1)}`)}`);
});
