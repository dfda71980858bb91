import assert from "node:assert/strict";
import { deflateSync } from "node:zlib";
import { join } from "node:path";
import { renderReport, writeReport } from "../../src/eval/report.ts";
import { downsample, ema, niceTicks } from "../../src/eval/chart.ts";
import {
  evenlySpaced,
  groupSeries,
  parseMetrics,
  uninformative,
} from "../../src/eval/run_files.ts";

function crc32(bytes: Uint8Array): number {
  let c = ~0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

/** A valid RGB PNG of w x h pixels. */
function tinyPng(w: number, h: number, seed = 0): Uint8Array {
  const raw = new Uint8Array(h * (1 + 3 * w));
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      raw.set([(x * 40 + seed) & 255, (y * 60) & 255, 128], y * (1 + 3 * w) + 1 + 3 * x);
    }
  }
  const chunk = (type: string, data: Uint8Array) => {
    const out = new Uint8Array(12 + data.length);
    const dv = new DataView(out.buffer);
    dv.setUint32(0, data.length);
    out.set(new TextEncoder().encode(type), 4);
    out.set(data, 8);
    dv.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
    return out;
  };
  const ihdr = new Uint8Array(13);
  new DataView(ihdr.buffer).setUint32(0, w);
  new DataView(ihdr.buffer).setUint32(4, h);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const parts = [
    new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk("IHDR", ihdr),
    chunk("IDAT", new Uint8Array(deflateSync(raw))),
    chunk("IEND", new Uint8Array(0)),
  ];
  const png = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    png.set(p, off);
    off += p.length;
  }
  return png;
}

function base64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

function fakeRun(): string {
  const dir = Deno.makeTempDirSync({ prefix: "report_test_" });
  Deno.mkdirSync(join(dir, "samples"));
  Deno.writeTextFileSync(
    join(dir, "config.json"),
    JSON.stringify({
      graph: "graphs/drgan-small.yaml",
      name: "demo<run>",
      adapter: "fake adapter",
      started: "2025-01-02T03:04:05.000Z",
      params: { size: 32 },
      training: { steps: 100, schedule: { threshold: 0.85 } },
      overrides: ["note=<script>alert(1)</script>&"],
    }),
  );
  const rec = (step: number, extra: Record<string, unknown> = {}) =>
    JSON.stringify({
      step,
      time: step / 10,
      d_loss: 2 - step / 100,
      g_loss: 3 - step / 200,
      d_real_id: 1 + step / 1000,
      g_gan: 0.5 - step / 1000,
      acc_real_id: step / 100,
      d_strength: 0.5 + step / 200,
      d_updates: step / 2,
      g_updates: step,
      d_updated: 1,
      steps_per_s: 10 + step / 100,
      ...extra,
    });
  const lines = [
    rec(10),
    rec(20, { g_loss: null }), // JSON.stringify writes NaN as null
    "",
    rec(30).replace(/"d_real_id":[\d.]+/, '"d_real_id":NaN'),
    rec(40, { d_loss: 1.5 }),
    '{"step": 50, "time": 5, "d_lo', // cut short by a crash
  ];
  Deno.writeTextFileSync(join(dir, "metrics.jsonl"), lines.join("\n"));
  for (const step of [10, 20, 30, 40]) {
    Deno.writeFileSync(
      join(dir, "samples", `step-${String(step).padStart(7, "0")}.png`),
      tinyPng(4, 3, step),
    );
  }
  Deno.writeFileSync(join(dir, "samples", "latest.png"), tinyPng(4, 3, 40));
  return dir;
}

Deno.test("writeReport builds a self-contained page from a run folder", () => {
  const dir = fakeRun();
  try {
    writeReport(dir);
    const html = Deno.readTextFileSync(join(dir, "report.html"));
    assert.ok(html.startsWith("<!DOCTYPE html>"));
    // charts
    const svgs = html.match(/<svg /g) ?? [];
    assert.ok(svgs.length >= 5, `expected charts, found ${svgs.length}`);
    for (
      const title of [
        "Total losses",
        "Accuracies",
        "Discriminator loss terms",
        "Generator loss terms",
      ]
    ) {
      assert.ok(html.includes(title), title);
    }
    assert.ok(html.includes("d_strength threshold 0.85"), "dashed threshold line from the config");
    assert.ok(html.includes('class="ref"'));
    // counters and constants get a line, not a chart; rates and losses keep theirs
    assert.ok(
      html.includes(
        "Not charted: d_updates, g_updates (counters that only grow); d_updated (1 throughout).",
      ),
    );
    for (const k of ["d_updates", "g_updates", "d_updated"]) {
      assert.ok(!html.includes(`aria-label="${k}"`), k);
    }
    assert.ok(html.includes('aria-label="steps_per_s"'));
    // a latest.png that is not a sample grid's shape: columns named in a caption
    assert.ok(html.includes("columns: input, then yaw -90° -75°"));
    // latest sample and the strip of earlier ones, as data URIs
    assert.ok(html.includes(`data:image/png;base64,${base64(tinyPng(4, 3, 40))}`));
    assert.ok(html.includes(`data:image/png;base64,${base64(tinyPng(4, 3, 10))}`));
    assert.ok(html.includes("step 10</figcaption>"));
    assert.equal((html.match(/<img /g) ?? []).length, 4); // latest + 3 earlier
    // summary: steps done and total, the name, the config (escaped)
    assert.ok(html.includes(">40<"), "steps done");
    assert.ok(html.includes("of 100 (40%)"));
    assert.ok(html.includes("<h1>demo&lt;run&gt;</h1>"));
    assert.ok(html.includes("&lt;script&gt;alert(1)&lt;/script&gt;&amp;"));
    assert.ok(!html.includes("<script>"), "no raw config text, and no scripts at all");
    assert.ok(html.includes("<details"));
    // the damaged line and the non-finite values are reported, not fatal
    assert.ok(html.includes("1 line of metrics.jsonl could not be read"));
    assert.ok(html.includes("<b>g_loss</b> was not finite once (first at step 20)"));
    assert.ok(html.includes("<b>d_real_id</b> was not finite once (first at step 30)"));
    assert.ok(!/NaN|Infinity/.test(html.replace(/base64,[^"]*/g, "")), "no NaN in the page");
    // no external assets
    assert.ok(!/(src|href)="(https?:)?\/\//.test(html));
    // atomic write: nothing left beside the report
    const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.deepEqual(names, ["config.json", "metrics.jsonl", "report.html", "samples"]);
    // a second write replaces the first
    writeReport(dir);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), names);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("writeReport copes with an empty run folder and with a single point", () => {
  const dir = Deno.makeTempDirSync({ prefix: "report_test_" });
  try {
    writeReport(dir);
    let html = Deno.readTextFileSync(join(dir, "report.html"));
    assert.ok(html.includes("No metrics logged yet (metrics.jsonl is missing)"));
    assert.ok(html.includes("No sample grids yet"));
    Deno.writeTextFileSync(join(dir, "metrics.jsonl"), "");
    writeReport(dir);
    html = Deno.readTextFileSync(join(dir, "report.html"));
    assert.ok(html.includes("metrics.jsonl is empty"));
    Deno.writeTextFileSync(join(dir, "metrics.jsonl"), '{"step":5,"d_loss":0.7}\n');
    writeReport(dir);
    html = Deno.readTextFileSync(join(dir, "report.html"));
    assert.ok(html.includes("<circle"), "a lone point is drawn as a dot");
    assert.ok(!html.includes("NaN"));
    Deno.writeTextFileSync(join(dir, "config.json"), "{ damaged");
    html = renderReport(dir);
    assert.ok(html.includes("config.json could not be parsed"));
    assert.ok(html.includes("{ damaged"));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("writeReport renders eval.json as tables", () => {
  const dir = Deno.makeTempDirSync({ prefix: "report_test_" });
  try {
    Deno.writeTextFileSync(
      join(dir, "eval.json"),
      JSON.stringify({
        identities: 200,
        recognition: { frontal: { rank1: 0.9123, eer: 0.04 }, profile: { rank1: 0.7, eer: 0.1 } },
        extra: { tags: ["a", "b"], deep: { x: 1 } },
      }),
    );
    const html = renderReport(dir);
    assert.ok(html.includes("<h2>Evaluation</h2>"));
    assert.ok(html.includes("<th>identities</th>"));
    assert.ok(html.includes('<table class="matrix">'));
    assert.ok(html.includes("<th>rank1</th>") && html.includes("<th>profile</th>"));
    assert.ok(html.includes(">0.9123<"));
    assert.ok(html.includes(">a, b<"));
    assert.ok(html.includes("<th>x</th>"));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("eval.json as the trainer writes it: rank-1 per yaw, no eval.html link", () => {
  const dir = Deno.makeTempDirSync({ prefix: "report_test_" });
  try {
    Deno.writeTextFileSync(
      join(dir, "eval.json"),
      JSON.stringify({
        step: 500,
        adapter: "fake",
        rank1: {
          identities: 40,
          perPose: [
            { yaw: -90, features: 0.475, pixels: 0.1 },
            { yaw: 15, features: 0.2, pixels: 0.425 },
          ],
          mean: { features: 0.6, pixels: 0.23958 },
        },
      }),
    );
    const html = renderReport(dir);
    assert.ok(html.includes('<h3 id="rank1">Rank-1 identification</h3>'));
    assert.ok(html.includes("40 held-out identities"));
    assert.ok(html.includes("<th>yaw</th><th>features</th><th>raw pixels</th>"));
    assert.ok(
      html.includes('<th>-90°</th><td class="num better">47.5%</td><td class="num">10.0%</td>'),
    );
    assert.ok(
      html.includes('<th>15°</th><td class="num">20.0%</td><td class="num better">42.5%</td>'),
    );
    assert.ok(
      html.includes(
        '<tr class="mean"><th>mean</th><td class="num better">60.0%</td><td class="num">24.0%</td>',
      ),
    );
    assert.ok(html.includes('<th>step</th><td class="num">500</td>'));
    assert.ok(!html.includes("perPose"), "no generic dump of the known keys");
    assert.ok(!html.includes("eval.html"), "no link without eval.html");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("eval.json from deno task eval: verification, frontalisation, multi-image, link", () => {
  const dir = Deno.makeTempDirSync({ prefix: "report_test_" });
  const protocol = (auc: number, mean: number) => ({
    pairs: 240,
    same: 120,
    different: 120,
    auc,
    eer: 0.1,
    accuracy: { mean, std: 0.0565, folds: 10 },
    threshold: 0.60196,
    roc: { fpr: [0, 0.5, 1], tpr: [0, 0.9, 1] },
  });
  const record = {
    step: 900,
    report: "eval.html",
    rank1: {
      identities: 2,
      perPose: [{ yaw: 90, features: 0.5, pixels: 0.5 }],
      mean: { features: 0.5, pixels: 0.5 },
    },
    verification: {
      protocol: "held-out identities",
      threshold: 0.68033,
      thresholdAccuracy: 0.91042,
      frontalFrontal: { features: protocol(0.97951, 0.925), pixels: protocol(0.7322, 0.6375) },
      frontalProfile: { features: protocol(0.96035, 0.9), pixels: protocol(0.687, 0.625) },
    },
    frontalization: {
      metric: "generated frontal view against the true frontal",
      perPose: [
        {
          yaw: -90,
          l1: 0.157224,
          ssim: 0.152655,
          inputL1: 0.17378,
          inputSsim: 0.170275,
          identityRank1: 0.35,
        },
      ],
      mean: {
        l1: 0.15692,
        ssim: 0.15214,
        inputL1: 0.15929,
        inputSsim: 0.26171,
        identityRank1: 0.3,
      },
    },
    multiImage: {
      protocol: "n images per person",
      perN: [{ n: 1, confidence: 0.5, mean: 0.5 }, { n: 3, confidence: 0.7, mean: 0.65 }],
    },
    notes: { x: 1 },
  };
  try {
    Deno.writeTextFileSync(join(dir, "eval.json"), JSON.stringify(record));
    Deno.writeTextFileSync(join(dir, "eval.html"), "<!doctype html>");
    let html = renderReport(dir);
    assert.ok(html.includes('<a href="eval.html">eval.html</a>'));
    // verification: one row per protocol and input
    assert.ok(html.includes('<h3 id="verification">Verification</h3>'));
    assert.ok(html.includes("Calibrated threshold 0.680: 91.0% of all pairs right"));
    assert.ok(
      html.includes(
        '<th>frontal–profile, features</th><td class="num">240</td><td class="num">0.960</td>' +
          '<td class="num">0.100</td><td class="num">90.0% ± 5.7</td><td class="num">0.602</td>',
      ),
    );
    assert.ok(html.includes("<th>frontal–frontal, raw pixels</th>"));
    assert.ok(!html.includes("fpr"), "ROC points stay in eval.html");
    // frontalisation: generated next to input, the better marked, identity rank-1 column
    assert.ok(html.includes("<th>rank-1 of the frontalised face</th>"));
    assert.ok(
      html.includes(
        '<th>-90°</th><td class="num better">0.1572</td><td class="num">0.1738</td>' +
          '<td class="num">0.1527</td><td class="num better">0.1703</td><td class="num">35.0%</td>',
      ),
    );
    assert.ok(
      html.includes(
        '<th>mean</th><td class="num better">0.1569</td><td class="num">0.1593</td>' +
          '<td class="num">0.1521</td><td class="num better">0.2617</td><td class="num">30.0%</td>',
      ),
    );
    // multi-image per n
    assert.ok(html.includes('<h3 id="multi-image">Several images per person</h3>'));
    assert.ok(
      html.includes('<th>3</th><td class="num better">70.0%</td><td class="num">65.0%</td>'),
    );
    // unknown keys: the generic tables
    assert.ok(html.includes("<th>x</th>"));
    // without identityRank1 (older eval.json), no such column
    for (const p of [...record.frontalization.perPose, record.frontalization.mean]) {
      delete (p as { identityRank1?: number }).identityRank1;
    }
    Deno.writeTextFileSync(join(dir, "eval.json"), JSON.stringify(record));
    Deno.removeSync(join(dir, "eval.html"));
    html = renderReport(dir);
    assert.ok(!html.includes("frontalised face"));
    assert.ok(html.includes('<td class="num better">0.2617</td></tr>'));
    assert.ok(!html.includes("eval.html"));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("the latest sample grid gets a header row: input, then the yaw of each column", () => {
  const dir = Deno.makeTempDirSync({ prefix: "report_test_" });
  try {
    Deno.mkdirSync(join(dir, "samples"));
    // samples.ts layout at 4x4 faces, 2 rows: 14 columns, 2-pixel gaps, 2 more after the input
    Deno.writeFileSync(join(dir, "samples", "latest.png"), tinyPng(14 * 4 + 32, 2 * 4 + 6));
    const html = renderReport(dir);
    const head = /<div class="yaws">(.*?)<\/div>/.exec(html)?.[1] ?? "";
    const labels = [...head.matchAll(/<span[^>]*>(.*?)<\/span>/g)].map((m) => m[1]);
    assert.deepEqual(labels, [
      "input",
      ...[-90, -75, -60, -45, -30, -15].map((y) => `${y}°`),
      "0°<small>frontal</small>",
      ...[15, 30, 45, 60, 75, 90].map((y) => `${y}°`),
    ]);
    assert.ok(head.includes('class="input" style="left:2.273%'));
    assert.ok(head.includes('<span style="left:11.364%;width:4.545%">-90°'));
    assert.ok(head.includes('<span class="frontal" style="left:52.273%'), "frontal column marked");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("a huge run is downsampled", () => {
  const dir = Deno.makeTempDirSync({ prefix: "report_test_" });
  try {
    const lines: string[] = [];
    for (let s = 1; s <= 50_000; s++) {
      lines.push(JSON.stringify({ step: s, d_loss: Math.sin(s) + 2, g_loss: Math.cos(s) + 2 }));
    }
    Deno.writeTextFileSync(join(dir, "metrics.jsonl"), lines.join("\n") + "\n");
    const html = renderReport(dir);
    const paths = [...html.matchAll(/<path d="([^"]*)"/g)].map((m) => m[1]);
    assert.ok(paths.length >= 2);
    for (const d of paths) {
      const n = d.split(/[ML]/).length - 1;
      assert.ok(n <= 1010, `${n} points in one line`);
    }
    assert.ok(html.length < 500_000, `${html.length} characters`);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("parseMetrics: resumed runs supersede, time adds up across resumes", () => {
  const m = parseMetrics(
    [
      { step: 10, time: 1, a: 1 },
      { step: 20, time: 2, a: 2 },
      { step: 30, time: 3, a: 3 }, // logged after the last checkpoint (20): replaced on resume
      { step: 30, time: 0.5, a: 30 },
      { step: 40, time: 1.5, a: 40 },
    ].map((r) => JSON.stringify(r)).join("\n"),
  );
  assert.deepEqual(m.series.get("a")!.map((p) => p.step), [10, 20, 30, 40]);
  assert.deepEqual(m.series.get("a")!.map((p) => p.value), [1, 2, 30, 40]);
  assert.equal(m.elapsed, 2 + 1.5);
  assert.equal(m.badLines, 0);
  assert.ok(!m.series.has("time") && !m.series.has("step"));
  // train.ts writes the evaluation's rank-1 as a second line of a logged step: merged
  const e = parseMetrics(
    '{"step":10,"time":1,"d_loss":2}\n{"step":20,"time":2,"d_loss":1}\n' +
      '{"step":20,"rank1_features":0.3}\n',
  );
  assert.deepEqual(e.series.get("d_loss")!.map((p) => p.step), [10, 20]);
  assert.deepEqual(e.series.get("rank1_features")!.map((p) => p.step), [20]);
});

Deno.test("chart helpers", () => {
  assert.deepEqual(niceTicks(0, 1, 5).ticks, [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(0, 2900, 6).ticks, [0, 500, 1000, 1500, 2000, 2500]);
  assert.deepEqual(evenlySpaced([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 6), [1, 3, 5, 7, 9, 11]);
  assert.deepEqual(evenlySpaced([1, 2], 6), [1, 2]);
  const s = ema([1, 1, 1, 5], 0.5);
  assert.equal(s[0], 1); // debiased: starts at the first value
  assert.ok(s[3] > 1 && s[3] < 5);
  const pts = Array.from({ length: 10_000 }, (_, i) => ({ step: i, value: i === 5000 ? 99 : 0 }));
  const d = downsample(pts, 1000);
  assert.ok(d.length <= 1001);
  assert.ok(d.some((p) => p.value === 99), "spikes survive downsampling");
  assert.equal(d.at(-1)!.step, 9999);
  const g = groupSeries([
    "d_loss",
    "g_loss",
    "d_real_id",
    "g_id",
    "acc_fake_id",
    "d_strength",
    "steps_per_s",
  ]);
  assert.deepEqual(g.totals, ["d_loss", "g_loss"]);
  assert.deepEqual(g.d, ["d_real_id"]);
  assert.deepEqual(g.g, ["g_id"]);
  assert.deepEqual(g.accuracy, ["acc_fake_id", "d_strength"]);
  assert.deepEqual(g.other, ["steps_per_s"]);
  assert.deepEqual(groupSeries(["rank1_features", "rank1_pixels"]).rank1, [
    "rank1_features",
    "rank1_pixels",
  ]);
  const series = (values: number[]) => values.map((value, i) => ({ step: 10 * i, value }));
  const skip = uninformative(
    new Map([
      ["g_updates", series([1, 2, 3])],
      ["d_updates", series([1, 1, 2])],
      ["d_updated", series([1, 1, 1])],
      ["d_updated_varies", series([1, 0, 1])],
      ["steps_per_s", series([1, 2, 3])],
      ["rank1_features", series([0.1, 0.2])],
      ["d_loss", series([0.7])],
      ["time_left", series([3, 2, 1])],
    ]),
  );
  assert.deepEqual([...skip], [
    ["g_updates", "counters that only grow"],
    ["d_updates", "counters that only grow"],
    ["d_updated", "1 throughout"],
  ]);
});
