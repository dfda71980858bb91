import assert from "node:assert/strict";
import { formatDuration, formatNumber, Progress } from "../../src/cli/progress.ts";

function fakeOut(terminal: boolean) {
  const writes: string[] = [];
  const dec = new TextDecoder();
  return {
    writes,
    text: () => writes.join(""),
    out: {
      isTerminal: () => terminal,
      writeSync(b: Uint8Array) {
        writes.push(dec.decode(b));
        return b.length;
      },
    },
  };
}

function clock() {
  const c = { t: 0, now: () => c.t };
  return c;
}

Deno.test("formatDuration", () => {
  assert.equal(formatDuration(0), "0:00");
  assert.equal(formatDuration(5), "0:05");
  assert.equal(formatDuration(59.6), "1:00");
  assert.equal(formatDuration(65), "1:05");
  assert.equal(formatDuration(3599), "59:59");
  assert.equal(formatDuration(3600), "1:00:00");
  assert.equal(formatDuration(3661), "1:01:01");
  assert.equal(formatDuration(100 * 3600 + 5), "100:00:05");
  assert.equal(formatDuration(NaN), "--:--");
  assert.equal(formatDuration(Infinity), "--:--");
  assert.equal(formatDuration(-1), "--:--");
});

Deno.test("formatNumber keeps 3-4 significant digits", () => {
  assert.equal(formatNumber(0.693147), "0.6931");
  assert.equal(formatNumber(1.23456), "1.235");
  assert.equal(formatNumber(123.456), "123.5");
  assert.equal(formatNumber(1234.56), "1235");
  assert.equal(formatNumber(0.5), "0.5");
  assert.equal(formatNumber(42), "42");
  assert.equal(formatNumber(0), "0");
  assert.equal(formatNumber(0.0000123), "1.23e-5");
  assert.equal(formatNumber(1234567.8), "1.23e6");
  assert.equal(formatNumber(-2.5), "-2.5");
  assert.equal(formatNumber(NaN), "nan");
  assert.equal(formatNumber(-Infinity), "-inf");
});

Deno.test("on a terminal: one line redrawn in place, at most 10 times a second", () => {
  const o = fakeOut(true), c = clock();
  const p = new Progress({ total: 1000, label: "train", out: o.out, now: c.now });
  for (let i = 1; i <= 1000; i++) {
    c.t = i * 2; // 500 updates a second, 2 s in all
    p.update(i, { D: 0.693147, G: 1.23456, phase: "warm" });
  }
  // 2 s of updates: about 20 redraws, plus the final state.
  assert.ok(o.writes.length >= 19 && o.writes.length <= 22, `${o.writes.length} redraws`);
  for (const w of o.writes) {
    assert.ok(w.startsWith("\r") && w.endsWith("\x1b[K"), JSON.stringify(w));
    assert.ok(!w.includes("\n"));
  }
  const mid = o.writes[5];
  assert.match(
    mid,
    /^\rtrain \[#*\.*\] \d+\/1000 \d+% 500 it\/s ETA \d:\d\d {2}D 0\.6931 {2}G 1\.235 {2}phase warm/,
  );
  assert.equal(/\[([#.]*)\]/.exec(mid)![1].length, 24);
  const last = o.writes.at(-1)!;
  assert.ok(last.includes("[########################] 1000/1000 100%"), last);
  p.finish("done.");
  assert.ok(o.text().endsWith("\n" + "done.\n"));
  assert.ok(o.writes.at(-2)!.includes("in 0:02"), "the final line says how long it took");
  const n = o.writes.length;
  p.finish("again");
  p.update(5);
  assert.equal(o.writes.length, n, "nothing after finish");
});

Deno.test("ETA from the smoothed rate", () => {
  const o = fakeOut(true), c = clock();
  const p = new Progress({ total: 1000, out: o.out, now: c.now });
  c.t = 5000;
  p.update(200); // resumed at 200 after a slow start: only a baseline
  assert.ok(Number.isNaN(p.eta));
  assert.ok(o.writes[0].includes("ETA --:--"), o.writes[0]);
  for (let s = 1; s <= 10; s++) {
    c.t = 5000 + s * 1000;
    p.update(200 + 10 * s); // 10 items a second
  }
  assert.ok(Math.abs(p.itemsPerSecond - 10) < 1e-9);
  assert.equal(p.eta, 70); // 700 left at 10/s
  assert.ok(o.writes.at(-1)!.includes("10 it/s ETA 1:10"), o.writes.at(-1));
  // a slower phase pulls the rate down gradually, not at once
  c.t += 1000;
  p.update(302);
  assert.ok(p.itemsPerSecond < 10 && p.itemsPerSecond > 8, String(p.itemsPerSecond));
});

Deno.test("slow items show seconds per item", () => {
  const o = fakeOut(true), c = clock();
  const p = new Progress({ total: 10, out: o.out, now: c.now });
  p.update(0);
  c.t = 4000;
  p.update(1);
  assert.ok(o.writes.at(-1)!.includes("4 s/it ETA 0:36"), o.writes.at(-1));
});

Deno.test("off a terminal: plain lines every 10%, no control characters", () => {
  const o = fakeOut(false), c = clock();
  const p = new Progress({ total: 1000, label: "eval", out: o.out, now: c.now });
  for (let i = 0; i <= 1000; i++) {
    c.t = i * 10;
    p.update(i, { loss: 0.123456, note: "a\tb\x1b[31m" });
  }
  p.finish("finished");
  const text = o.text();
  // deno-lint-ignore no-control-regex
  assert.ok(!/[\r\x1b\t]/.test(text), JSON.stringify(text));
  const lines = text.trimEnd().split("\n");
  assert.equal(lines.length, 12, lines.join("\n")); // 0%, 10%, ..., 100%, message
  assert.match(lines[0], /^eval 0\/1000 \(0%\), -- it\/s, ETA --:--, loss 0\.1235/);
  assert.match(lines[5], /^eval 500\/1000 \(50%\), 100 it\/s, ETA 0:05, loss 0\.1235/);
  assert.match(lines[10], /^eval 1000\/1000 \(100%\), 100 it\/s, elapsed 0:10/);
  assert.equal(lines[11], "finished");
});

Deno.test("off a terminal: a line at least every 30 s when progress is slow", () => {
  const o = fakeOut(false), c = clock();
  const p = new Progress({ total: 1000, out: o.out, now: c.now });
  for (let i = 0; i < 50; i++) {
    c.t = i * 5000; // one item per 5 s: 10% would take over 8 minutes
    p.update(i);
  }
  const lines = o.text().trimEnd().split("\n");
  assert.equal(lines.length, 1 + Math.floor((49 * 5) / 30));
  p.finish();
  assert.equal(o.text().trimEnd().split("\n").length, lines.length + 1, "final state on finish");
  assert.ok(o.text().trimEnd().endsWith("49/1000 (4%), 5 s/it, ETA 1:19:15"), o.text());
});
