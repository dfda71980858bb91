// `deno task check`: the summary on success; on failure, file:line:col messages,
// exit status 1 and never a stack trace.
import assert from "node:assert/strict";
import { command, type Ran as Result } from "../commands.ts";

async function check(...args: string[]): Promise<Result> {
  const out = await command("check", args, { perms: ["--allow-read", "--allow-env"] });
  // On a fresh machine Deno may report fetching npm metadata first; that is not ours.
  const stderr = out.stderr.replace(/^Download \S+\n/gm, "");
  return { code: out.code, stdout: out.stdout, stderr };
}

/** No JavaScript stack frames ("    at f (file:...)") and no internal error. */
function noStack(r: Result) {
  assert.doesNotMatch(r.stderr, /^\s+at /m, `stack trace in:\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, /internal error|Uncaught/, r.stderr);
}

async function withFile(text: string, fn: (path: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "check-cli-" });
  try {
    await Deno.writeTextFile(`${dir}/bad.yaml`, text);
    await fn(`${dir}/bad.yaml`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("check: drgan.yaml prints every network's summary", async () => {
  const r = await check("graphs/drgan.yaml");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, "");
  for (const s of ["network encoder", "network decoder", "network discriminator"]) {
    assert.match(r.stdout, new RegExp(s));
  }
  assert.match(r.stdout, /parameters: 2,861,984 /);
  assert.match(r.stdout, /parameters: 7,285,024 /);
  assert.match(r.stdout, /parameters: 2,930,678 /);
  assert.match(r.stdout, /^total: 13,077,686 parameters/m);
});

Deno.test("check: --set changes the graph", async () => {
  const r = await check("graphs/drgan.yaml", "--set", "Nd=100", "--set=multi=true");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /outputs: logits \[B, 114\], identity \[B, 100\]/);
  assert.match(r.stdout, /outputs: feature \[B, 320\], confidence \[B, 1\]/);
});

Deno.test("check: a malformed graph gives file:line:col and exit 1", async () => {
  await withFile(
    "inputs: { x: [B, 3, 8, 8] }\nlayers:\n  conv: { op: conv2d, out: 4, strid: 2 }\n",
    async (path) => {
      const r = await check(path);
      assert.equal(r.code, 1);
      assert.equal(r.stdout, "");
      assert.equal(
        r.stderr,
        `${path}:3:38: conv: unknown attribute 'strid' (did you mean 'stride'?)\n`,
      );
      noStack(r);
    },
  );
});

Deno.test("check: every error is reported, one a line, with a count", async () => {
  await withFile(
    "inputs: { x: [B, 3, 8, 8] }\nlayers:\n  a: { op: rleu }\n  b: { op: conv2d, in: x, out: 4, stride: 0 }\n",
    async (path) => {
      const r = await check(path);
      assert.equal(r.code, 1);
      const lines = r.stderr.trim().split("\n");
      assert.equal(lines.length, 3, r.stderr);
      assert.match(lines[0], /:3:12: a: unknown op 'rleu' \(did you mean 'relu'\?\)$/);
      assert.match(lines[1], /:4:43: b: 'stride': too small/);
      assert.equal(lines[2], "2 errors");
      for (const l of lines.slice(0, 2)) assert.ok(l.startsWith(`${path}:`), l);
      noStack(r);
    },
  );
});

Deno.test("check: YAML syntax errors and missing files are located too", async () => {
  await withFile("layers:\n  a: { op: relu\n", async (path) => {
    const r = await check(path);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`^${path}:\\d+:\\d+: `));
    noStack(r);
  });
  const r = await check("graphs/no-such-file.yaml");
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^graphs\/no-such-file\.yaml: cannot read .*file not found/);
  noStack(r);
});

Deno.test("check: a bad --set is reported at the override", async () => {
  let r = await check("graphs/drgan.yaml", "--set", "Ndd=3");
  assert.equal(r.code, 1);
  assert.equal(r.stderr, "--set Ndd=3: unknown parameter 'Ndd' (did you mean 'Nd'?)\n");
  r = await check("graphs/drgan.yaml", "--set", "Nd");
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^--set Nd: --set expects NAME=VALUE/);
  noStack(r);
});

Deno.test("check: usage errors exit 1 with the usage", async () => {
  let r = await check("graphs/drgan.yaml", "--sett", "Nd=3");
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^error: unknown flag --sett \(did you mean '--set'\?\)\n/);
  assert.match(r.stderr, /^usage: deno task check GRAPH\.yaml/m);
  noStack(r);
  r = await check();
  assert.equal(r.code, 1);
  assert.match(r.stderr, /expected one graph file\nusage: /);
  r = await check("graphs/drgan.yaml", "--stage", "lowering");
  assert.equal(r.code, 1);
  assert.match(r.stderr, /unknown stage 'lowering'/);
});

Deno.test("check: --debug is accepted", async () => {
  const r = await check("graphs/encoder.yaml", "--debug");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /parameters: 2,861,984 /);
});

Deno.test("check: --stage plan of a grouping op picks a batch it divides, and refuses one it does not", async () => {
  const r = await check("graphs/ops/group_mean.yaml", "--stage", "plan");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /batch 4, inference/);
  const bad = await check("graphs/ops/group_mean.yaml", "--stage", "plan", "--batch", "6");
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^error: --batch 6: group_mean groups rows by 4; give a multiple\n/);
  noStack(bad);
});

Deno.test("every command: --help prints its usage on stdout and exits 0", async () => {
  for (const cmd of ["check", "train", "infer", "eval", "exec", "import", "profile", "tune"]) {
    const out = await command(cmd, ["--help"], { perms: ["--allow-read", "--allow-env"] });
    const text = out.stdout;
    assert.equal(out.code, 0, `${cmd}: ${out.stderr}`);
    assert.match(text, new RegExp(`^usage: deno task ${cmd}`), cmd);
  }
});
