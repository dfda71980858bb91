// `deno task infer` and `deno task eval` end to end on one tiny trained run (made
// once for this file), bad input of every kind (one message, exit 1, no stack
// trace, nothing written), and the bundled single-file dist/infer.js run with
// narrow permissions.
import assert from "node:assert/strict";
import { join } from "node:path";
import { heldOutFaces } from "../../src/eval/evaluate.ts";
import { decodePNG, encodePNG } from "../../src/data/png.ts";
import { fromCHW } from "../../src/data/image.ts";
import { command, deno, trainRun } from "../commands.ts";

const infer = (...a: string[]) => command("infer", a);
const evaluate = (...a: string[]) => command("eval", a);

const root = await Deno.makeTempDir({ prefix: "infer-cli-" });
const run = await trainRun(root, "tiny");

// Input pictures: held-out faces saved as PNG (at 16 px, and one at 64 px).
const faces = heldOutFaces(1, 2, 16);
const png = (name: string, im: Float32Array, size = 16) => {
  const p = join(root, name);
  Deno.writeFileSync(p, encodePNG(fromCHW(im, size), size, size, 3));
  return p;
};
const a = png("a.png", faces[0][6]), a2 = png("a2.png", faces[0][2]), b = png("b.png", faces[1][6]);
const big = png("big.png", heldOutFaces(1, 1, 64)[0][3], 64);
const corrupt = join(root, "corrupt.png");
Deno.writeFileSync(corrupt, Deno.readFileSync(a).slice(0, 40));

function noStack(stderr: string) {
  assert.doesNotMatch(stderr, /\n\s+at .*:\d+:\d+/, `no stack trace in:\n${stderr}`);
  assert.doesNotMatch(stderr, /internal error/);
}

Deno.test("infer: rotations as one PNG strip (--pose, --yaw, --frontalize, --pose all)", async () => {
  const out = join(root, "rot.png");
  const r = await infer("--model", run, "--input", a, a2, b, "--pose", "0", "--out", out);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /wrote .*rot\.png: 3 faces at pose 0 \(yaw -90\)/);
  const strip = decodePNG(Deno.readFileSync(out));
  assert.deepEqual([strip.width, strip.height], [3 * 16 + 4 * 2, 16 + 2 * 2]);
  const byYaw = join(root, "yaw.png");
  assert.equal((await infer("--model", run, a, a2, b, "--yaw", "-90", "--out", byYaw)).code, 0);
  assert.deepEqual(Deno.readFileSync(byYaw), Deno.readFileSync(out));
  const front = join(root, "front.png");
  const f = await infer("--model", run, "--input", a2, "--frontalize", "--out", front);
  assert.match(f.stderr, /1 faces at pose 6 \(yaw 0\)/);
  const all = join(root, "all.png");
  assert.equal(
    (await infer("--model", run, "--input", a, a2, "--pose", "all", "--out", all)).code,
    0,
  );
  const grid = decodePNG(Deno.readFileSync(all));
  assert.deepEqual([grid.width, grid.height], [14 * 16 + 15 * 2, 2 * 16 + 3 * 2]);
  // A larger picture is reduced to the model's size.
  assert.equal((await infer("--model", run, "--input", big, "--pose", "3", "--out", out)).code, 0);
});

Deno.test("infer: --features (with --fuse) writes JSON; --verify prints similarity and decision", async () => {
  const path = join(root, "f.json");
  const r = await infer("--model", run, "--input", a, a2, "--features", path, "--fuse");
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(Deno.readTextFileSync(path));
  assert.equal(j.images.length, 2);
  assert.equal(j.images[0].file, a);
  assert.equal(j.images[0].feature.length, 40);
  assert.equal(j.model.featureSize, 40);
  assert.equal(j.fused.mode, "mean");
  assert.equal(j.fused.feature.length, 40);
  // Training ended with an evaluation: verify takes its threshold from that calibration.
  const c = await infer("--model", run, "--verify", a, b);
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.stdout, /eval\.json, calibrated on held-out synthetic pairs at step 2\)/);
  // A model without an evaluation uses the default (the eval test below writes it again).
  Deno.removeSync(join(run, "eval.json"));
  const v = await infer("--model", run, "--verify", a, b);
  assert.equal(v.code, 0, v.stderr);
  assert.match(
    v.stdout,
    /^similarity -?\d\.\d{4}: (same person|different people) \(threshold 0\.5000, default 0\.5/,
  );
  // A given threshold wins (-1: every pair is the same person; cosines only reach -1).
  const t = await infer("--model", run, "--verify", a, b, "--threshold", "-1");
  assert.match(t.stdout, /same person \(threshold -1\.0000, given\)/);
});

Deno.test("infer --estimate-pose: the discriminator's pose and realness per image", async () => {
  const r = await infer("--model", run, "--estimate-pose", a, b);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split("\n");
  assert.equal(lines.length, 2);
  for (const line of lines) {
    assert.match(line, /\.png: pose \d+ \(yaw -?\d+\), \d+\.\d%, real photo \d+\.\d%$/);
  }
  // An exported model keeps the encoder and decoder only: one clear message.
  const model = join(await Deno.makeTempDir(), "m");
  assert.equal((await infer("--model", run, "--export", model)).code, 0);
  const e = await infer("--model", model, "--estimate-pose", a);
  assert.equal(e.code, 1);
  assert.match(e.stderr, /^error: .*holds no discriminator .*needs a training checkpoint\n$/);
});

Deno.test("eval: eval.json (rank1 as training writes it, plus verification, frontalisation), eval.html with the ROC", async () => {
  // Into another folder: the model folder stays as it was.
  const listing = (d: string) =>
    [...Deno.readDirSync(d)].map((e) => `${e.name} ${Deno.statSync(join(d, e.name)).mtime}`)
      .sort();
  const before = listing(run);
  const other = join(await Deno.makeTempDir(), "ev");
  const elsewhere = await evaluate("--model", run, "--identities", "3", "--out", other);
  assert.equal(elsewhere.code, 0, elsewhere.stderr);
  assert.deepEqual(listing(run), before, "the model folder is untouched");
  assert.match(elsewhere.stderr, /wrote .*ev\/eval\.json and .*ev\/eval\.html/);
  assert.ok(Deno.statSync(join(other, "eval.html")).isFile);
  // --seed: a validation set of other identities (their input L1 differs too), recorded.
  const val = join(await Deno.makeTempDir(), "val");
  const v7 = await evaluate("--model", run, "--identities", "3", "--seed", "7", "--out", val);
  assert.equal(v7.code, 0, v7.stderr);
  const [test, valid] = [other, val].map((d) =>
    JSON.parse(Deno.readTextFileSync(join(d, "eval.json")))
  );
  assert.deepEqual([test.seed, valid.seed], [1, 7]);
  assert.notEqual(valid.frontalization.mean.inputL1, test.frontalization.mean.inputL1);
  // Named as --out, the run folder itself is recalibrated.
  const r = await evaluate("--model", run, "--identities", "3", "--out", run);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /rank-1 \(3 identities, gallery frontal\): features \d+\.\d%, raw pixels/);
  assert.match(r.stdout, /frontal-profile: AUC \d\.\d{3}/);
  assert.match(r.stdout, /frontalisation: L1 \d\.\d{4}, SSIM/);
  const ev = JSON.parse(Deno.readTextFileSync(join(run, "eval.json")));
  assert.equal(ev.step, 2);
  assert.match(ev.adapter, /\w/);
  assert.equal(ev.rank1.identities, 3);
  assert.equal(ev.rank1.perPose.length, 12);
  assert.deepEqual(Object.keys(ev.rank1.perPose[0]), ["yaw", "features", "pixels"]);
  assert.deepEqual(Object.keys(ev.rank1.mean), ["features", "pixels"]);
  for (const k of ["frontalFrontal", "frontalProfile"]) {
    const p = ev.verification[k];
    for (const key of ["auc", "eer", "accuracy", "roc"]) assert.ok(key in p.features, key);
  }
  assert.equal(typeof ev.verification.threshold, "number");
  assert.equal(ev.frontalization.perPose.length, 12);
  const html = Deno.readTextFileSync(join(run, "eval.html"));
  assert.match(html, /<svg[^>]*>.*false accept rate/s);
  assert.match(html, /data:image\/png;base64,/);
  assert.doesNotMatch(html, /<script/);
  assert.match(Deno.readTextFileSync(join(run, "report.html")), /verification/);
  // verify now takes its threshold from the calibration.
  const v = await infer("--model", run, "--verify", a, b);
  assert.match(v.stdout, /eval\.json, calibrated on held-out synthetic pairs at step 2\)/);
});

Deno.test("bad input: one message each, exit 1, no stack trace, nothing written", async () => {
  const out = join(root, "never.png");
  const dir = await Deno.makeTempDir();
  const cut = join(dir, "cut.safetensors");
  const ckpt = join(run, "checkpoints", "step-0000002.safetensors");
  const bytes = Deno.readFileSync(ckpt);
  Deno.writeFileSync(cut, bytes.slice(0, bytes.length >> 1));
  const evil = join(dir, "evil.safetensors");
  const header = new TextEncoder().encode(
    '{"encoder.conv11.conv.weight":{"dtype":"F32","shape":[4,3,3,3],"data_offsets":[0,99999999]}}',
  );
  const evilBytes = new Uint8Array(8 + header.length);
  new DataView(evilBytes.buffer).setBigUint64(0, BigInt(header.length), true);
  evilBytes.set(header, 8);
  Deno.writeFileSync(evil, evilBytes);
  const rot = ["--pose", "0", "--out", out];
  const cases: [string[], RegExp][] = [
    [
      ["--model", run, a, "--pose", "13", "--out", out],
      /pose 13 is out of range: pose classes are 0\.\.12/,
    ],
    [["--model", run, a, "--yaw", "100", "--out", out], /yaw 100 is out of range: -90\.\.90/],
    [["--model", run, a, "--yaw", "20", "--out", out], /yaw 20 is not a pose class/],
    [["--model", run, a, "--pose", "left", "--out", out], /--pose expects a pose class/],
    [
      ["--model", run, a, corrupt, ...rot],
      /corrupt\.png: not a readable PNG or JPEG image \(PNG: /,
    ],
    [
      ["--model", run, join(dir, "none.png"), ...rot],
      /none\.png: cannot read the image \(not found\)/,
    ],
    [["--model", run, big, "--exact", ...rot], /big\.png is 64x64; this model takes 16x16 images/],
    [
      ["--model", run, a, "--set", "width=0.25", ...rot],
      /does not fit graphs\/drgan-small\.yaml \(\d+ problems\):\n {2}- tensor "encoder\.conv11\.conv\.weight" has shape \[4, 3, 3, 3\], the graph needs \[8, 3, 3, 3\]/,
    ],
    [
      ["--model", run, "--checkpoint", cut, a, ...rot],
      /cut\.safetensors: tensor ".*": data_offsets .* exceed the data section/,
    ],
    [
      ["--model", run, "--checkpoint", evil, a, ...rot],
      /evil\.safetensors: .*data_offsets \[0, 99999999\] hold 99999999 bytes but F32 shape \[4, 3, 3, 3\] needs 432/,
    ],
    [["--model", join(dir, "nope"), a, ...rot], /cannot open the run folder .*nope \(not found\)/],
    [["--model", dir, a, ...rot], /is not a run folder \(no config\.json\)/],
    [["--model", run, a, "--set", "nonsense", ...rot], /--set expects NAME=VALUE/],
    [["--model", run, a], /nothing to do/],
    [["--model", run, "--pose", "1"], /needs --out/],
    [["--model", run, "--verify", a, a2, b], /--verify compares two images, got 3/],
    [["--model", run, a, "--pose", "0", "--out", join(root, "x.jpg")], /--out names a \.png file/],
    [
      ["--model", run, a, "--pose", "0", "--out", join(dir, "no", "such", "dir.png")],
      /cannot write .*dir\.png/,
    ],
    [["--model", run, a, "--frontalise", "--out", out], /unknown flag --frontalise.*--frontalize/],
  ];
  for (const [args, re] of cases) {
    const r = await infer(...args);
    assert.equal(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, re, args.join(" "));
    assert.match(r.stderr, /^(error: |\S+:\d+:\d+: |--set )/m);
    noStack(r.stderr);
  }
  assert.throws(() => Deno.statSync(out), "nothing written");
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), [
    "cut.safetensors",
    "evil.safetensors",
  ]);
  for (
    const [args, re] of [
      [["--model", join(dir, "nope")], /cannot open the run folder/],
      [["--model", run, "--identities", "1"], /--identities expects an integer from 2/],
      [["--model", run, "--seed", "-1"], /--seed expects an integer from 0/],
      [[], /give the run folder/],
    ] as [string[], RegExp][]
  ) {
    const r = await evaluate(...args);
    assert.equal(r.code, 1);
    assert.match(r.stderr, re);
    noStack(r.stderr);
  }
});

Deno.test("deployment: dist/infer.js bundled into one file, run on an exported model with narrow permissions", async () => {
  const dist = await Deno.makeTempDir({ prefix: "dist-" });
  const js = join(dist, "infer.js");
  const built = await deno([
    "bundle",
    "--platform",
    "deno",
    "-o",
    js,
    "src/cli/infer.ts",
  ]);
  assert.equal(built.code, 0, built.stderr);
  const model = join(dist, "model");
  const exp = await infer("--model", run, "--export", model);
  assert.equal(exp.code, 0, exp.stderr);
  const out = join(dist, "out.png");
  const narrow = [
    `--allow-read=${model},${a},${a2}`,
    `--allow-write=${out}`,
    "--allow-env=XDG_RUNTIME_DIR,LOG_TOKENS,LOG_STREAM",
  ];
  // From another directory: nothing of the repository is needed.
  const cwd = await Deno.makeTempDir();
  const r = await deno(
    ["run", ...narrow, js, "--model", model, "--input", a, a2, "--pose", "3", "--out", out],
    { cwd },
  );
  assert.equal(r.code, 0, r.stderr);
  const ref = join(root, "ref.png");
  assert.equal(
    (await infer("--model", run, "--input", a, a2, "--pose", "3", "--out", ref)).code,
    0,
  );
  assert.deepEqual(Deno.readFileSync(out), Deno.readFileSync(ref), "the bundle computes the same");
  const v = await deno(["run", ...narrow, js, "--model", model, "--verify", a, a2], { cwd });
  assert.match(v.stdout, /^similarity /);
  // Outside what it may read: a clear message, exit 1.
  const denied = await deno([
    "run",
    ...narrow,
    js,
    "--model",
    model,
    b,
    "--pose",
    "0",
    "--out",
    out,
  ], { cwd });
  assert.equal(denied.code, 1);
  assert.match(denied.stderr, /b\.png: cannot read the image \(no permission/);
  noStack(denied.stderr);

  // A graph file of the model replaced by a symlink to a file outside it: refused, and
  // none of that file is quoted back.
  const secret = join(await Deno.makeTempDir(), "secret.yaml");
  Deno.writeTextFileSync(secret, "password: hunter2\napi_key: abc123\n");
  const graphs = [...Deno.readDirSync(join(model, "graph"))].map((e) => e.name);
  const victim = join(model, "graph", graphs.find((n) => n.startsWith("encoder"))!);
  const graphText = Deno.readTextFileSync(victim);
  Deno.removeSync(victim);
  Deno.symlinkSync(secret, victim);
  const linked = await deno(
    ["run", ...narrow, js, "--model", model, "--input", a, "--pose", "3", "--out", out],
    { cwd },
  );
  assert.equal(linked.code, 1);
  assert.match(linked.stderr, /encoder\.yaml: it leads outside /);
  assert.doesNotMatch(linked.stderr, /hunter2|abc123|password|api_key/);
  noStack(linked.stderr);

  // The same for the model's checkpoint, once the graph file is back.
  Deno.removeSync(victim);
  Deno.writeTextFileSync(victim, graphText);
  const ckDir = join(model, "checkpoints");
  const ck = join(ckDir, [...Deno.readDirSync(ckDir)][0].name);
  const moved = join(dist, "outside.safetensors");
  Deno.renameSync(ck, moved);
  Deno.symlinkSync(moved, ck);
  const ckLinked = await deno(
    [
      "run",
      `--allow-read=${model},${a},${dist}`,
      ...narrow.slice(1),
      js,
      "--model",
      model,
      "--input",
      a,
      "--pose",
      "3",
      "--out",
      out,
    ],
    { cwd },
  );
  assert.equal(ckLinked.code, 1, ckLinked.stderr);
  assert.match(ckLinked.stderr, /\.safetensors: it leads outside /);
  noStack(ckLinked.stderr);
});

Deno.test({
  name: "deployment: deno compile into one executable (only where DENORT_BIN names a runtime)",
  ignore: !Deno.env.get("DENORT_BIN"),
  fn: async () => {
    const dir = await Deno.makeTempDir();
    const exe = join(dir, "drgan-infer");
    const c = await deno([
      "compile",
      "--allow-read",
      "--allow-write",
      "--allow-env=XDG_RUNTIME_DIR,LOG_TOKENS,LOG_STREAM",
      "-o",
      exe,
      "src/cli/infer.ts",
    ]);
    assert.equal(c.code, 0, c.stderr);
    const out = join(dir, "o.png");
    const r = await new Deno.Command(exe, {
      args: ["--model", run, "--input", a, "--pose", "0", "--out", out],
      env: { DRGAN_TUNE: "off" }, // never the user's tune cache
      stderr: "piped",
    }).output();
    assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
    assert.ok(Deno.statSync(out).size > 0);
  },
});

globalThis.addEventListener("unload", () => {
  try {
    Deno.removeSync(root, { recursive: true });
  } catch {
    // best effort
  }
});
