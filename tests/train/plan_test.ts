// The training Plan is the contract between compiler and engine: `check --stage
// plan --train` prints the very plan the trainer walks, and a plan written to disk
// and read back trains to bit-identical parameters.
import assert from "node:assert/strict";
import { loadModel } from "../../src/lang/model.ts";
import { parseOverride } from "../../src/lang/files.ts";
import { trainingConfig } from "../../src/train/config.ts";
import { trainingPlan } from "../../src/train/plan.ts";
import { Trainer } from "../../src/train/trainer.ts";
import { openTrainData } from "../../src/train/data.ts";
import { loadPlan, PlanFileError, savePlan } from "../../src/plan/plan.ts";
import { planReport } from "../../src/plan/plan_report.ts";
import { readBack } from "../../src/engine/buffers.ts";
import { testGpu, testTarget } from "../gpu.ts";

const GRAPH = "graphs/drgan-small.yaml";
const SET = ["size=16", "width=0.125", "Nd=5", "training.batch=4"];

async function check(...args: string[]): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-env", "src/cli/check.ts", ...args],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  assert.equal(out.code, 0, dec.decode(out.stderr));
  return dec.decode(out.stdout);
}

function tinyModel() {
  const model = loadModel(GRAPH, SET.map(parseOverride));
  return { model, cfg: trainingConfig(model) };
}

Deno.test("check --stage plan --train prints the plan the trainer runs", async () => {
  const { model, cfg } = tinyModel();
  const trainer = await Trainer.create(
    await testGpu(),
    trainingPlan(model, cfg, { target: testTarget() }),
    model,
    cfg,
  );
  const sets = SET.flatMap((s) => ["--set", s]);
  const json = await check(GRAPH, "--stage", "plan", "--train", "--json", ...sets);
  assert.deepEqual(JSON.parse(json), JSON.parse(JSON.stringify(trainer.plan)));
  const text = await check(GRAPH, "--stage", "plan", "--train", ...sets);
  const titles = { d: `d update of ${model.name}`, g: `g update of ${model.name}` };
  assert.equal(text, planReport(trainer.plan, titles) + "\n");
  assert.match(text, /^target: software default; \d+ distinct kernels for \d+ launches$/m);
  assert.match(text, /optimizer:\n .* adam d /);
  trainer.destroy();
});

Deno.test("a plan written to disk and loaded again trains to identical parameters", async () => {
  const { model, cfg } = tinyModel();
  const plan = trainingPlan(model, cfg, { target: testTarget() });
  const dir = await Deno.makeTempDir({ prefix: "plan-test-" });
  try {
    savePlan(`${dir}/plan.json`, plan);
    const loaded = loadPlan(`${dir}/plan.json`);
    assert.deepEqual(loaded, JSON.parse(JSON.stringify(plan)));
    const gpu = await testGpu();
    const data = await openTrainData(model, cfg, {});
    const params: Float32Array[][] = [];
    const metrics: Record<string, number>[] = [];
    for (const p of [plan, loaded]) {
      const trainer = await Trainer.create(gpu, p, model, cfg);
      for (let i = 0; i < 2; i++) trainer.iterate(await data.batch(i));
      metrics.push(await trainer.metrics());
      const state = [...trainer.stateTensors().values()];
      params.push(
        await readBack(
          gpu.device,
          state.map(({ region, shape }) => ({
            buffer: region.buffer,
            offset: region.offset,
            elements: shape.reduce((a, b) => a * b, 1),
          })),
        ),
      );
      trainer.destroy();
    }
    assert.deepEqual(metrics[1], metrics[0]);
    assert.equal(params[1].length, params[0].length);
    params[0].forEach((a, i) => assert.deepEqual(params[1][i], a, `state tensor ${i}`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a corrupt or foreign plan file is refused by name", async () => {
  const dir = await Deno.makeTempDir({ prefix: "plan-test-" });
  try {
    const { model, cfg } = tinyModel();
    const plan = trainingPlan(model, cfg, { target: testTarget() });
    // a constant tensor (sizes a kernel reads) without its values
    const stripped = structuredClone(plan);
    const c = Object.values(stripped.programs[0].tensors).find((t) => t.kind === "const");
    assert.ok(c, "the plan has a constant tensor");
    delete c.values;
    // G's update skipping launches it does not have, or after a program that is not there
    const g = plan.programs.findIndex((q) => q.reuse);
    assert.ok(g >= 0, "G's update reuses D's forward launches");
    const reuse = (r: unknown) =>
      JSON.stringify({
        ...plan,
        programs: plan.programs.map((q, i) => i === g ? { ...q, reuse: r } : q),
      });
    const badReuse = /reuse names no other program or launches it does not have/;
    const cases: [string, string, RegExp][] = [
      ["reuse past", reuse({ after: "d", skip: [1e6] }), badReuse],
      ["reuse whom", reuse({ after: "g", skip: [0] }), badReuse],
      ["not json", "{", /not a plan file \(not JSON\)/],
      ["no values", JSON.stringify(stripped), /constant tensor .* without its values/],
      ["old", JSON.stringify({ ...plan, version: 0 }), /version 0, this program reads version 1/],
      ["no kernels", JSON.stringify({ ...plan, kernels: undefined }), /kernels, slots or programs/],
      ["no limits", JSON.stringify({ ...plan, limits: undefined }), /limits\.maxBindings missing/],
      [
        "bad launch",
        JSON.stringify({ ...plan, kernels: plan.kernels.slice(0, 1) }),
        /does not match its kernel/,
      ],
    ];
    for (const [name, text, want] of cases) {
      const path = `${dir}/${name}.json`;
      Deno.writeTextFileSync(path, text);
      assert.throws(
        () => loadPlan(path),
        (e: Error) =>
          e instanceof PlanFileError && want.test(e.message) && e.message.includes(path),
        name,
      );
    }
    assert.throws(() => loadPlan(`${dir}/missing.json`), PlanFileError);
    // a device is refused, not read forever
    assert.throws(() => loadPlan("/dev/zero"), /cannot read the plan file \(not a regular file\)/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a plan compiled for limits beyond the adapter's is refused before anything runs", async () => {
  const { model, cfg } = tinyModel();
  const gpu = await testGpu();
  const big = gpu.device.limits.maxComputeWorkgroupStorageSize * 2;
  const t = testTarget();
  const plan = trainingPlan(model, cfg, {
    target: { ...t, adapter: "a bigger GPU", limits: { ...t.limits, maxWorkgroupBytes: big } },
  });
  await assert.rejects(
    () => Trainer.create(gpu, plan, model, cfg),
    (e: Error) =>
      e.constructor.name === "PlanLimitError" && /compiled for a bigger GPU/.test(e.message),
  );
});
