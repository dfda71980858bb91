// `deno task train` end to end on a tiny variant: the run folder, exact resume,
// a diverging run stopped with its term named, and bad flags.
import assert from "node:assert/strict";
import { command, PERMS, sets } from "../commands.ts";

const TINY = sets([
  "size=16",
  "width=0.125",
  "Nd=5",
  "training.batch=4",
  "training.log_every=1",
  "training.checkpoint_every=2",
  "training.sample_every=2",
  "training.eval.identities=3",
]);

const train = (args: string[]) => command("train", args);

function metrics(dir: string): Record<string, number>[] {
  return Deno.readTextFileSync(`${dir}/metrics.jsonl`).trim().split("\n").map((l) => JSON.parse(l))
    .filter((r) => r.d_loss !== undefined);
}

Deno.test("train: a run folder with config, metrics, samples, checkpoints, eval and report", async () => {
  const root = await Deno.makeTempDir();
  const r = await train([
    "graphs/drgan-small.yaml",
    "--steps",
    "4",
    "--runs",
    root,
    "--name",
    "a",
    ...TINY,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const dir = `${root}/a`;
  const m = metrics(dir);
  assert.deepEqual(m.map((x) => x.step), [1, 2, 3, 4]);
  for (const k of ["d_loss", "g_loss", "d_real_id", "g_gan", "acc_real_id", "d_strength"]) {
    assert.ok(Number.isFinite(m[3][k]), `${k} logged`);
  }
  const files = (d: string) => [...Deno.readDirSync(d)].map((e) => e.name).sort();
  assert.deepEqual(files(`${dir}/checkpoints`), [
    "step-0000002.safetensors",
    "step-0000004.safetensors",
  ]);
  assert.deepEqual(files(`${dir}/samples`), ["latest.png", "step-0000002.png", "step-0000004.png"]);
  const config = JSON.parse(Deno.readTextFileSync(`${dir}/config.json`));
  assert.equal(config.graph, "graphs/drgan-small.yaml");
  // The run ends with the full evaluation: eval.json, eval.html and a summary printed.
  const ev = JSON.parse(Deno.readTextFileSync(`${dir}/eval.json`));
  assert.equal(ev.rank1.identities, 3);
  assert.equal(ev.rank1.perPose.length, 12);
  assert.equal(ev.frontalization.perPose.length, 12);
  assert.ok(ev.frontalization.mean.identityRank1 >= 0, "identity kept by the generator");
  assert.ok(ev.verification.frontalProfile.features.auc >= 0);
  assert.match(Deno.readTextFileSync(`${dir}/eval.html`), /Frontalisation/);
  assert.match(Deno.readTextFileSync(`${dir}/report.html`), /<svg/);
  assert.match(r.stdout, /^rank-1 \(3 identities, gallery frontal\): features [\d.]+%/m);
  assert.match(r.stdout, /per yaw \(features \/ pixels\): -90 [\d.]+%\/[\d.]+%/);
  assert.match(r.stdout, /frontal-profile: AUC/);
  assert.match(r.stdout, /frontalisation: L1 [\d.]+, SSIM [-\d.]+ \(input as is: L1/);

  // The same run in two parts: the steps after resuming give the same losses.
  const b = await train([
    "graphs/drgan-small.yaml",
    "--steps",
    "2",
    "--runs",
    root,
    "--name",
    "b",
    ...TINY,
  ]);
  assert.equal(b.code, 0, b.stderr);
  // As a run killed after its last checkpoint leaves it: metrics past the checkpoint
  // (one line cut short) and a half-written checkpoint.
  Deno.writeTextFileSync(`${root}/b/metrics.jsonl`, '{"step":3,"d_loss":9}\n{"step":4,"d_', {
    append: true,
  });
  const stale = `${root}/b/checkpoints/step-0000003.safetensors.tmp-0badc0de`;
  Deno.writeTextFileSync(stale, "half");
  const c = await train(["--resume", `${root}/b`, "--steps", "4"]);
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.stderr, /dropped 2 metrics lines after step 2 and 1 half-written files/);
  assert.throws(() => Deno.statSync(stale), Deno.errors.NotFound);
  const steps = metrics(`${root}/b`).map((x) => x.step);
  assert.deepEqual(steps, [1, 2, 3, 4], "each step logged once");
  const whole = m.filter((x) => x.step > 2);
  const resumed = metrics(`${root}/b`).filter((x) => x.step > 2);
  assert.equal(resumed.length, 2);
  for (let i = 0; i < 2; i++) {
    for (const k of ["d_loss", "g_loss", "d_real_id", "g_id", "acc_fake_fake"]) {
      assert.equal(resumed[i][k], whole[i][k], `step ${whole[i].step} ${k}`);
    }
  }
});

Deno.test("train: a diverging run stops naming the term and keeps a usable checkpoint", async () => {
  const root = await Deno.makeTempDir();
  const ok = await train([
    "graphs/drgan-small.yaml",
    "--steps",
    "2",
    "--runs",
    root,
    "--name",
    "nan",
    ...TINY,
  ]);
  assert.equal(ok.code, 0, ok.stderr);
  // Resumed with an absurd learning rate, the weights blow up within a step or two.
  const r = await train([
    "--resume",
    `${root}/nan`,
    "--steps",
    "8",
    "--set",
    "training.optimizer.lr=1e30",
  ]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(
    r.stderr,
    /stopped: \w+ became (NaN|Infinity|-Infinity) at step \d+; the last good checkpoint is \S+step-0000002\.safetensors/,
  );
  assert.doesNotMatch(r.stderr, /\n\s+at /);
  // That checkpoint still trains (the override was not saved with the run).
  const again = await train(["--resume", `${root}/nan`, "--steps", "3"]);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(metrics(`${root}/nan`).at(-1)!.step, 3);
});

Deno.test("train: bad flags and graphs give one message and exit 1", async () => {
  const cases: [string[], RegExp][] = [
    [["graphs/drgan-small.yaml", "--steps", "0"], /--steps expects a positive integer/],
    [["graphs/drgan-small.yaml", "--stepz", "3"], /unknown flag --stepz/],
    [["graphs/drgan-small.yaml", "--set", "training.batch=-1"], /drgan-small|batch/],
    [["graphs/encoder.yaml"], /no .training:. section/],
    [["graphs/drgan-small-multi.yaml", "--set", "training.batch=7"], /multiple of the group size/],
    [["graphs/missing.yaml"], /cannot read graphs\/missing\.yaml/],
    [
      ["graphs/drgan-small.yaml", "--init", "/nonexistent/run"],
      /--init \/nonexistent\/run: no such/,
    ],
    [
      ["graphs/drgan-small.yaml", "--init", "models/drgan-small", "--resume", "x"],
      /--init starts a new run; --resume continues one/,
    ],
    [
      ["--resume", "/nonexistent/run"],
      /cannot open the run folder \/nonexistent\/run \(not found\)/,
    ],
  ];
  for (const [args, re] of cases) {
    const r = await train(args);
    assert.equal(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
  }
});

Deno.test("train: a folder of images with a manifest, bad lines skipped and counted", async () => {
  const { renderFace } = await import("../../src/data/synthetic.ts");
  const { identityFromSeed } = await import("../../src/data/identity.ts");
  const { viewFor } = await import("../../src/data/view.ts");
  const { encodePNG } = await import("../../src/data/png.ts");
  const { fromCHW } = await import("../../src/data/image.ts");
  const dir = await Deno.makeTempDir();
  const lines = ["path,identity,yaw"];
  for (let id = 0; id < 5; id++) {
    for (const yaw of [-90, -45, 0, 45, 90]) {
      const chw = renderFace(identityFromSeed(3, id), viewFor(3, id, yaw / 15 + 6, 0), 16);
      const name = `p${id}_${yaw}.png`;
      await Deno.writeFile(`${dir}/${name}`, encodePNG(fromCHW(chw, 16), 16, 16, 3));
      lines.push(`${name},person${id},${yaw}`);
    }
  }
  lines.push("missing.png,person0,0");
  await Deno.writeTextFile(`${dir}/faces.csv`, lines.join("\n") + "\n");
  const args = [
    "graphs/drgan-small.yaml",
    "--steps",
    "2",
    "--runs",
    dir,
    "--name",
    "real",
    ...TINY,
  ];
  const bad = await train([...args, "--manifest", `${dir}/faces.csv`]);
  assert.equal(bad.code, 1, bad.stderr);
  assert.match(bad.stderr, /faces\.csv:27: .*missing\.png/);
  const ok = await train([...args, "--manifest", `${dir}/faces.csv`, "--skip-bad"]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stderr, /skipped|1 bad/i);
  assert.equal(metrics(`${dir}/real`).length, 2);
});

Deno.test("train: Ctrl-C during set-up leaves no run folder, or a resumable one", async () => {
  const root = await Deno.makeTempDir();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...PERMS,
      "src/cli/train.ts",
      "graphs/drgan-small.yaml",
      "--steps",
      "50",
      "--runs",
      root,
      "--name",
      "c",
      ...TINY,
    ],
    env: { NO_COLOR: "1", DRGAN_TUNE: "off" },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  // Interrupt as soon as the command says where it will write: before its pipelines compile.
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!/run folder/.test(seen)) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += value;
  }
  child.kill("SIGINT");
  while (!(await reader.read()).done);
  const { code } = await child.status;
  const dir = `${root}/c`;
  if (code !== 0) {
    assert.throws(
      () => Deno.statSync(dir),
      Deno.errors.NotFound,
      `${dir} left behind (exit ${code})`,
    );
  } else {
    // set-up had finished: the interrupt stopped training with a checkpoint to resume from
    assert.ok([...Deno.readDirSync(`${dir}/checkpoints`)].length > 0);
  }
});
