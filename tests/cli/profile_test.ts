// `deno task profile`: per-kernel GPU times of a (tiny) training iteration.
import assert from "node:assert/strict";
import { command } from "../commands.ts";

const profile = (...args: string[]) =>
  command("profile", args, { perms: ["--allow-read", "--allow-env"] });

const TINY = ["size=16", "width=0.125", "Nd=5", "training.batch=4"].flatMap((s) => ["--set", s]);

Deno.test("profile: every dispatch of both updates timed, grouped by kernel", async () => {
  const r = await profile("graphs/drgan-small.yaml", ...TINY, "--repeats", "1", "--top", "500");
  if (r.code !== 0 && /no timestamp queries/.test(r.stderr)) return; // adapter without them
  assert.equal(r.code, 0, r.stderr);
  const n = (p: string) => Number(r.stdout.match(new RegExp(`${p} update: (\\d+) dispatches`))![1]);
  assert.ok(n("d") > 50 && n("g") > 50, r.stdout);
  // The per-kind counts add up to every dispatch of both updates.
  const rows = [...r.stdout.matchAll(/^ {4}(.+?)\s+(\d+)\s+[\d.]+\s+[\d.]+$/gm)];
  assert.match(r.stdout, /batch_norm\.train/);
  assert.equal(rows.reduce((s, m) => s + Number(m[2]), 0), n("d") + n("g"));
});

Deno.test("profile: a bad flag is one message and exit 1", async () => {
  const r = await profile("graphs/drgan-small.yaml", "--repeats", "0");
  assert.equal(r.code, 1);
  assert.match(r.stderr, /--repeats must be a positive integer/);
  assert.doesNotMatch(r.stderr, /^\s+at /m);
});
