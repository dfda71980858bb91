// `runs/<name>/report.html`: one self-contained static page about a training run:
// summary, loss and accuracy curves (inline SVG), sample grids (embedded PNGs), the
// run's configuration and its evaluation results. No scripts, no external assets.
import { basename, join } from "node:path";
import { Buffer } from "node:buffer";
import { NUM_POSES, yawOfPose } from "../data/pose.ts";
import { writeFileAtomic } from "../formats/atomic.ts";

export interface ReportOptions {
  /**
   * Exponential smoothing drawn over the raw curves: a factor in [0, 1) per logged
   * point (like TensorBoard's), 0 for none. Default: chosen from the number of points.
   */
  smoothing?: number;
  /** Points drawn per series at most; longer series are downsampled. Default 1000. */
  maxPoints?: number;
  /** Earlier sample grids shown under the latest one. Default 6. */
  strip?: number;
  /** Timestamp printed in the footer; default now. */
  generated?: Date;
}

/** Builds `runDir/report.html` from the run's files, replacing the old one atomically. */
export function writeReport(runDir: string, options: ReportOptions = {}): void {
  writeFileAtomic(join(runDir, "report.html"), renderReport(runDir, options));
}

// ---------------------------------------------------------------------------
// Reading the run

interface Point {
  step: number;
  value: number;
}

export interface Metrics {
  /** Records in step order; a resumed run's records supersede those at or after its start. */
  records: Record<string, unknown>[];
  /** Numeric series by key (everything numeric but `step` and `time`), finite points only. */
  series: Map<string, Point[]>;
  /** Non-finite values skipped, by key: count and first step. */
  nonFinite: Map<string, { count: number; first: number }>;
  /** Lines that did not parse (e.g. a line cut short by a crash). */
  badLines: number;
  /** Training time across resumes, in seconds (from `time`). */
  elapsed: number;
}

/** Parses `metrics.jsonl` text; tolerant of damaged lines and NaN/Infinity. */
export function parseMetrics(text: string): Metrics {
  const records: Record<string, unknown>[] = [];
  let badLines = 0;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line) continue;
    const rec = parseLine(line);
    if (!rec || typeof rec.step !== "number" || !Number.isFinite(rec.step)) {
      badLines++;
      continue;
    }
    // train.ts logs the evaluation's rank1_* as a second line of the same step: merge
    // it, or that step's losses would be superseded.
    const prev = records.at(-1);
    if (
      prev?.step === rec.step &&
      Object.keys(rec).every((k) => k === "step" || k === "time" || !(k in prev))
    ) {
      records[records.length - 1] = { ...prev, ...rec };
      continue;
    }
    // A resumed run restarts from its last checkpoint: what was logged after that
    // checkpoint by the earlier process is replaced by the new records.
    while (records.length && (records.at(-1)!.step as number) >= rec.step) records.pop();
    records.push(rec);
  }
  const series = new Map<string, Point[]>();
  const nonFinite = new Map<string, { count: number; first: number }>();
  let elapsed = 0, lastTime = NaN;
  for (const rec of records) {
    const step = rec.step as number;
    for (const [key, v] of Object.entries(rec)) {
      if (key === "step" || key === "time") continue;
      if (typeof v === "number" && Number.isFinite(v)) {
        let s = series.get(key);
        if (!s) series.set(key, s = []);
        s.push({ step, value: v });
      } else if (v === null || typeof v === "number" || v === "NaN" || v === "Infinity") {
        const n = nonFinite.get(key);
        if (n) n.count++;
        else nonFinite.set(key, { count: 1, first: step });
      }
    }
    const t = rec.time;
    if (typeof t === "number" && Number.isFinite(t)) {
      // `time` restarts from 0 when a run is resumed.
      elapsed += Number.isNaN(lastTime) ? t : t >= lastTime ? t - lastTime : t;
      lastTime = t;
    }
  }
  return { records, series, nonFinite, badLines, elapsed };
}

function parseLine(line: string): Record<string, unknown> | undefined {
  for (const text of [line, line.replace(/(?<![\w"])-?(NaN|Infinity)\b/g, "null")]) {
    try {
      const v = JSON.parse(text);
      if (v && typeof v === "object" && !Array.isArray(v)) return v;
      return undefined;
    } catch {
      // try the next form
    }
  }
  return undefined;
}

function readText(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
}

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

function readJson(path: string): { value?: unknown; error?: string; text?: string } {
  const text = readText(path);
  if (text === undefined) return {};
  try {
    return { value: JSON.parse(text), text };
  } catch (e) {
    return { error: (e as Error).message, text };
  }
}

interface Sample {
  step: number;
  path: string;
}

function listSamples(dir: string): Sample[] {
  const out: Sample[] = [];
  try {
    for (const e of Deno.readDirSync(dir)) {
      const m = /^step-(\d+)\.png$/.exec(e.name);
      if (e.isFile && m) out.push({ step: Number(m[1]), path: join(dir, e.name) });
    }
  } catch {
    // no samples yet
  }
  return out.sort((a, b) => a.step - b.step);
}

/** Picks `k` items evenly spaced over `items`, first and last included. */
export function evenlySpaced<T>(items: T[], k: number): T[] {
  if (items.length <= k) return items.slice();
  if (k <= 0) return [];
  if (k === 1) return [items.at(-1)!];
  const out: T[] = [];
  let prev = -1;
  for (let i = 0; i < k; i++) {
    const j = Math.round((i * (items.length - 1)) / (k - 1));
    if (j !== prev) out.push(items[j]);
    prev = j;
  }
  return out;
}

interface Image {
  uri: string;
  width: number;
  height: number;
}

/** Files larger than this are not embedded. */
const MAX_EMBED = 8 << 20;

function readPng(path: string): Image | undefined {
  let bytes: Uint8Array;
  try {
    if (Deno.statSync(path).size > MAX_EMBED) return undefined;
    bytes = Deno.readFileSync(path);
  } catch {
    return undefined;
  }
  const sig = [137, 80, 78, 71, 13, 10, 26, 10];
  if (bytes.length < 24 || sig.some((b, i) => bytes[i] !== b)) return undefined;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    uri: `data:image/png;base64,${Buffer.from(bytes).toString("base64")}`,
    width: dv.getUint32(16),
    height: dv.getUint32(20),
  };
}

// ---------------------------------------------------------------------------
// Rendering

/** The report's HTML for `runDir`, without writing it. */
export function renderReport(runDir: string, options: ReportOptions = {}): string {
  const maxPoints = Math.max(10, options.maxPoints ?? 1000);
  const configFile = readJson(join(runDir, "config.json"));
  const config = isObject(configFile.value) ? configFile.value : {};
  const metrics = parseMetrics(readText(join(runDir, "metrics.jsonl")) ?? "");
  const evalFile = readJson(join(runDir, "eval.json"));
  const name = str(config.name) ?? basename(runDir.replace(/[/\\]+$/, "")) ?? "run";
  const training = isObject(config.training) ? config.training : {};
  const totalSteps = num(training.steps);
  const schedule = isObject(training.schedule) ? training.schedule : {};
  const threshold = num(schedule.threshold) ?? 0.9;
  const last = metrics.records.at(-1);
  const lastStep = last ? (last.step as number) : 0;
  const lastOf = (key: string) => metrics.series.get(key)?.at(-1)?.value;

  const body: string[] = [];

  // Header
  const meta: [string, string | undefined][] = [
    ["graph", str(config.graph)],
    ["adapter", str(config.adapter)],
    ["started", formatDate(str(config.started))],
    [
      "overrides",
      Array.isArray(config.overrides) && config.overrides.length
        ? config.overrides.map(String).join("  ")
        : undefined,
    ],
    ["data", str(config.data)],
  ];
  const finished = totalSteps !== undefined && lastStep >= totalSteps;
  const status = !last ? "no metrics yet" : finished ? "finished" : "in progress or stopped";
  body.push(`<header>
  <div class="title-row"><h1>${esc(name)}</h1><span class="badge ${finished ? "ok" : "run"}">${
    esc(status)
  }</span></div>
  <dl class="meta">${
    meta.filter(([, v]) => v).map(([k, v]) => `<div><dt>${esc(k)}</dt><dd>${esc(v!)}</dd></div>`)
      .join("")
  }</dl>
</header>`);

  // Summary tiles
  const tiles: string[] = [];
  const progressPct = totalSteps ? Math.min(100, (100 * lastStep) / totalSteps) : undefined;
  tiles.push(tile(
    "steps",
    fmtInt(lastStep),
    totalSteps
      ? `of ${fmtInt(totalSteps)} (${progressPct!.toFixed(progressPct! < 10 ? 1 : 0)}%)`
      : "",
    progressPct,
  ));
  tiles.push(tile("elapsed", metrics.records.length ? formatHms(metrics.elapsed) : "–", ""));
  const sps = lastOf("steps_per_s");
  if (sps !== undefined) {
    const remaining = totalSteps && sps > 0 && !finished
      ? `${formatHms((totalSteps - lastStep) / sps)} to go`
      : "";
    tiles.push(tile("steps / s", fmtNum(sps), remaining));
  }
  for (const key of ["d_loss", "g_loss"]) {
    const v = lastOf(key);
    if (v !== undefined) tiles.push(tile(key, fmtNum(v), `at step ${fmtInt(lastStep)}`));
  }
  const strength = lastOf("d_strength");
  if (strength !== undefined) {
    tiles.push(tile("d_strength", fmtNum(strength), `threshold ${fmtNum(threshold)}`));
  }
  body.push(`<section class="tiles">${tiles.join("")}</section>`);

  // Warnings
  const notes: string[] = [];
  for (const [key, n] of metrics.nonFinite) {
    notes.push(
      `<b>${esc(key)}</b> was not finite ${n.count === 1 ? "once" : `${n.count} times`} ` +
        `(first at step ${fmtInt(n.first)}); those points are left out.`,
    );
  }
  if (metrics.badLines) {
    notes.push(
      `${metrics.badLines} line${
        metrics.badLines === 1 ? "" : "s"
      } of metrics.jsonl could not be ` +
        `read (e.g. cut short) and ${metrics.badLines === 1 ? "was" : "were"} skipped.`,
    );
  }
  if (configFile.error) notes.push(`config.json could not be parsed: ${esc(configFile.error)}`);
  if (notes.length) {
    body.push(`<section class="notes">${notes.map((n) => `<p>${n}</p>`).join("")}</section>`);
  }

  // Charts
  const skipped = uninformative(metrics.series);
  const groups = groupSeries([...metrics.series.keys()].filter((k) => !skipped.has(k)));
  const charts: string[] = [];
  let chartId = 0;
  const addChart = (title: string, keys: string[], extra: Partial<ChartSpec> = {}) => {
    if (!keys.length) return;
    charts.push(chart({
      id: `c${chartId++}`,
      title,
      series: keys.map((k) => ({ key: k, points: metrics.series.get(k)! })),
      smoothing: options.smoothing,
      maxPoints,
      ...extra,
    }));
  };
  addChart("Total losses", groups.totals);
  addChart("Accuracies", groups.accuracy, {
    fixed: [0, 1],
    refLine: groups.accuracy.includes("d_strength")
      ? { y: threshold, label: `d_strength threshold ${fmtNum(threshold)}` }
      : undefined,
  });
  addChart("Held-out rank-1", groups.rank1, { fixed: [0, 1] });
  addChart("Discriminator loss terms", groups.d);
  addChart("Generator loss terms", groups.g);
  const small = groups.other.map((k) =>
    chart({
      id: `c${chartId++}`,
      title: k,
      series: [{ key: k, points: metrics.series.get(k)! }],
      smoothing: options.smoothing,
      maxPoints,
      small: true,
    })
  );
  if (charts.length || small.length) {
    body.push(`<h2>Training curves</h2>`);
    if (charts.length) body.push(`<section class="charts">${charts.join("")}</section>`);
    if (small.length) body.push(`<section class="charts small">${small.join("")}</section>`);
    const counters = [...skipped].filter(([, why]) => why === COUNTER_NOTE).map(([k]) => k);
    const constants = [...skipped].filter(([, why]) => why !== COUNTER_NOTE);
    const why = [
      counters.length ? `${counters.join(", ")} (${COUNTER_NOTE})` : "",
      ...constants.map(([k, v]) => `${k} (${v})`),
    ].filter(Boolean);
    if (why.length) body.push(`<p class="muted">Not charted: ${esc(why.join("; "))}.</p>`);
  } else {
    body.push(
      `<h2>Training curves</h2><p class="empty">No metrics logged yet (metrics.jsonl is ${
        readText(join(runDir, "metrics.jsonl")) === undefined ? "missing" : "empty"
      }).</p>`,
    );
  }

  // Samples
  const samples = listSamples(join(runDir, "samples"));
  const latestPath = join(runDir, "samples", "latest.png");
  let latest = readPng(latestPath);
  let latestStep: number | undefined;
  if (samples.length) {
    // latest.png is written together with the newest step file.
    latestStep = samples.at(-1)!.step;
    if (!latest) latest = readPng(samples.at(-1)!.path);
  }
  body.push(`<h2>Samples</h2>`);
  if (latest) {
    const fit = Math.min(1100 / Math.max(1, latest.width), 720 / Math.max(1, latest.height));
    const scale = Math.max(1, Math.min(4, Math.floor(fit))); // whole pixels: crisp faces
    body.push(`<section class="card sample-latest">
  <div class="card-head"><h3>Latest${
      latestStep !== undefined ? ` <span class="muted">step ${fmtInt(latestStep)}</span>` : ""
    }</h3><span class="muted">each row: input face, then the generator's rotation to every pose</span></div>
  <div class="grid" style="width:${latest.width * scale}px">${
      yawHeader(latest)
    }<img src="${latest.uri}" width="${latest.width * scale}" height="${
      latest.height * scale
    }" alt="latest sample grid"></div>
</section>`);
    const earlier = evenlySpaced(samples.slice(0, -1), options.strip ?? 6);
    const thumbs = earlier.map((s) => ({ s, img: readPng(s.path) })).filter((t) => t.img);
    if (thumbs.length) {
      body.push(
        `<section class="strip">${
          thumbs.map(({ s, img }) =>
            `<figure><img src="${img!.uri}" width="${img!.width}" height="${
              img!.height
            }" alt="sample grid at step ${s.step}"><figcaption>step ${
              fmtInt(s.step)
            }</figcaption></figure>`
          ).join("")
        }</section>`,
      );
    }
  } else {
    body.push(`<p class="empty">No sample grids yet.</p>`);
  }

  // Evaluation
  const evalPage = exists(join(runDir, "eval.html"))
    ? `<p>Full evaluation, with ROC curves and frontalisation samples: <a href="eval.html">eval.html</a></p>`
    : "";
  if (evalFile.value !== undefined) {
    body.push(
      `<h2>Evaluation</h2>${evalPage}<section class="card eval">${
        renderEval(evalFile.value)
      }</section>`,
    );
  } else if (evalFile.error) {
    body.push(
      `<h2>Evaluation</h2>${evalPage}<p class="empty">eval.json could not be parsed: ${
        esc(evalFile.error)
      }</p>`,
    );
  } else if (evalPage) body.push(`<h2>Evaluation</h2>${evalPage}`);

  // Configuration
  const configText = configFile.value !== undefined
    ? JSON.stringify(configFile.value, null, 2)
    : configFile.text;
  body.push(`<h2>Configuration</h2>`);
  if (configText !== undefined) {
    body.push(
      `<details class="card config"><summary>config.json</summary><pre>${
        esc(configText)
      }</pre></details>`,
    );
  } else body.push(`<p class="empty">No config.json.</p>`);

  const generated = options.generated ?? new Date();
  body.push(
    `<footer>Generated ${esc(generated.toISOString().replace("T", " ").slice(0, 19))} UTC from ${
      esc(runDir)
    } · ${metrics.records.length} metric records</footer>`,
  );

  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(name)} · step ${fmtInt(lastStep)} · training report</title>
<style>${CSS}</style>
</head>
<body>
<main>
${body.join("\n")}
</main>
</body>
</html>
`;
}

/**
 * Column labels over a sample grid (layout of gridRgba in samples.ts: input, then the
 * 13 poses), placed in percent of its width so they follow the image's scaling; a
 * plain caption when the image does not have that layout.
 */
function yawHeader(img: Image): string {
  const gap = 2, cols = NUM_POSES + 1;
  const size = (img.width - (cols + 2) * gap) / cols;
  const yaws = Array.from({ length: NUM_POSES }, (_, p) => yawOfPose(p));
  if (!Number.isInteger(size) || size < 1 || (img.height - gap) % (size + gap) !== 0) {
    return `<p class="muted">columns: input, then yaw ${yaws.map((y) => `${y}°`).join(" ")} ` +
      `(0° frontal)</p>`;
  }
  const label = (x: number, text: string, cls = "") =>
    `<span${cls ? ` class="${cls}"` : ""} style="left:${(100 * x / img.width).toFixed(3)}%;width:${
      (100 * size / img.width).toFixed(3)
    }%">${text}</span>`;
  return `<div class="yaws">${label(gap, "input", "input")}${
    yaws.map((y, p) =>
      label(
        2 * gap + (p + 1) * (size + gap),
        y === 0 ? "0°<small>frontal</small>" : `${y}°`,
        y === 0 ? "frontal" : "",
      )
    ).join("")
  }</div>`;
}

function tile(label: string, value: string, sub: string, pct?: number): string {
  const bar = pct !== undefined
    ? `<div class="bar"><div style="width:${pct.toFixed(1)}%"></div></div>`
    : "";
  return `<div class="tile"><div class="label">${esc(label)}</div><div class="value">${
    esc(value)
  }</div><div class="sub">${esc(sub)}</div>${bar}</div>`;
}

interface Groups {
  totals: string[];
  rank1: string[];
  d: string[];
  g: string[];
  accuracy: string[];
  other: string[];
}

const COUNTERS = new Set(["d_updated", "d_updates", "g_updates", "d_strength"]);

/** Sorts series keys into the report's charts. */
export function groupSeries(keys: string[]): Groups {
  const g: Groups = { totals: [], rank1: [], d: [], g: [], accuracy: [], other: [] };
  for (const k of keys) {
    if (k === "d_loss" || k === "g_loss") g.totals.push(k);
    else if (/^rank1_/.test(k)) g.rank1.push(k);
    else if (/^acc_/.test(k) || k === "d_strength" || /_acc$/.test(k)) g.accuracy.push(k);
    else if (COUNTERS.has(k)) g.other.push(k);
    else if (/^d_/.test(k)) g.d.push(k);
    else if (/^g_/.test(k)) g.g.push(k);
    else g.other.push(k);
  }
  g.totals.sort();
  return g;
}

const COUNTER = /(^|_)(updates|steps?|iters?|iterations|epochs?|time|elapsed|seconds)$/;
const COUNTER_NOTE = "counters that only grow";

/**
 * Series whose chart would say nothing, with why: counters that never decrease (a
 * straight line up) and series that never change (their value is the whole story).
 */
export function uninformative(series: Map<string, Point[]>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, pts] of series) {
    if (pts.length < 2) continue;
    let min = Infinity, max = -Infinity, grows = true;
    pts.forEach((p, i) => {
      min = Math.min(min, p.value);
      max = Math.max(max, p.value);
      if (i && p.value < pts[i - 1].value) grows = false;
    });
    if (min === max) out.set(k, `${fmtNum(min)} throughout`);
    else if (grows && COUNTER.test(k)) out.set(k, COUNTER_NOTE);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Charts

const PALETTE = [
  "#2f6db5",
  "#e8772e",
  "#2a9d6f",
  "#d1495b",
  "#7b5ea7",
  "#8c6d46",
  "#d264a8",
  "#5b6770",
  "#a3a12b",
  "#1aa0b8",
];

interface ChartSpec {
  id: string;
  title: string;
  series: { key: string; points: Point[] }[];
  smoothing?: number;
  maxPoints: number;
  /** A y range always shown (widened if data falls outside). */
  fixed?: [number, number];
  refLine?: { y: number; label: string };
  small?: boolean;
}

/** Smoothing factor for a series of `n` points (0: none). */
function autoSmoothing(n: number): number {
  if (n < 30) return 0;
  // About n/40 points in the averaging window, between 3 and 200.
  const w = Math.min(200, Math.max(3, n / 40));
  return 1 - 2 / (w + 1);
}

/** Debiased exponential moving average (as TensorBoard draws it). */
export function ema(values: number[], s: number): number[] {
  const out = new Array<number>(values.length);
  let acc = 0, weight = 0;
  for (let i = 0; i < values.length; i++) {
    acc = acc * s + (1 - s) * values[i];
    weight = weight * s + (1 - s);
    out[i] = acc / weight;
  }
  return out;
}

/**
 * Reduces `points` to at most about `max` while keeping spikes: the lowest and
 * highest point of each of max/2 buckets, in step order.
 */
export function downsample(points: Point[], max: number): Point[] {
  if (points.length <= max) return points;
  const buckets = Math.max(1, Math.floor(max / 2));
  const out: Point[] = [];
  const per = points.length / buckets;
  for (let b = 0; b < buckets; b++) {
    const lo = Math.floor(b * per), hi = Math.min(points.length, Math.floor((b + 1) * per));
    if (hi <= lo) continue;
    let min = lo, maxI = lo;
    for (let i = lo + 1; i < hi; i++) {
      if (points[i].value < points[min].value) min = i;
      if (points[i].value > points[maxI].value) maxI = i;
    }
    if (min === maxI) out.push(points[min]);
    else if (min < maxI) out.push(points[min], points[maxI]);
    else out.push(points[maxI], points[min]);
  }
  if (out.at(-1) !== points.at(-1)) out.push(points.at(-1)!);
  return out;
}

function stride(points: Point[], max: number): Point[] {
  if (points.length <= max) return points;
  const k = points.length / max;
  const out: Point[] = [];
  for (let i = 0; i < max; i++) out.push(points[Math.floor(i * k)]);
  out.push(points.at(-1)!);
  return out;
}

/** "Nice" tick values covering [lo, hi], about `count` of them. */
export function niceTicks(
  lo: number,
  hi: number,
  count: number,
): { ticks: number[]; step: number } {
  const span = hi - lo;
  const raw = span / Math.max(1, count);
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const err = raw / mag;
  const step = mag * (err >= 7.5 ? 10 : err >= 3.5 ? 5 : err >= 1.5 ? 2 : 1);
  const ticks: number[] = [];
  const first = Math.ceil(lo / step - 1e-9);
  for (let i = first; i * step <= hi + step * 1e-9; i++) ticks.push(roundTo(i * step, step));
  return { ticks, step };
}

function roundTo(v: number, step: number): number {
  const d = Math.max(0, -Math.floor(Math.log10(step)) + 1);
  return Number(v.toFixed(Math.min(20, d)));
}

function quantile(sorted: number[], q: number): number {
  if (!sorted.length) return NaN;
  const i = (sorted.length - 1) * q;
  const lo = Math.floor(i), hi = Math.ceil(i);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (i - lo);
}

function chart(spec: ChartSpec): string {
  const W = spec.small ? 360 : 560, H = spec.small ? 170 : 260;
  const M = { l: 50, r: 14, t: 12, b: 30 };
  const pw = W - M.l - M.r, ph = H - M.t - M.b;

  const drawn = spec.series.map((s, i) => {
    const color = PALETTE[i % PALETTE.length];
    const n = s.points.length;
    const sm = spec.smoothing ?? autoSmoothing(n);
    const smooth = sm > 0 && sm < 1 && n >= 3
      ? stride(
        ema(s.points.map((p) => p.value), sm).map((v, j) => ({ step: s.points[j].step, value: v })),
        spec.maxPoints,
      )
      : undefined;
    return { ...s, color, raw: downsample(s.points, spec.maxPoints), smooth };
  });

  // x range
  let x0 = Infinity, x1 = -Infinity;
  for (const s of drawn) {
    for (const p of [s.points[0], s.points.at(-1)!]) {
      x0 = Math.min(x0, p.step);
      x1 = Math.max(x1, p.step);
    }
  }
  if (x1 <= x0) {
    x0 = Math.min(0, x0 - 1);
    x1 = Math.max(x1, 1);
  } else if (x0 > 0 && x0 <= 0.05 * x1) {
    x0 = 0; // a run logged from its start: begin the axis at 0
  }

  // y range: robust to early spikes once there are enough points (clipped lines
  // run off the plot; the note below the chart says so).
  const all: number[] = [];
  for (const s of drawn) for (const p of s.points) all.push(p.value);
  all.sort((a, b) => a - b);
  let y0 = all[0], y1 = all.at(-1)!;
  let clipped = false;
  if (all.length >= 100) {
    const q0 = quantile(all, 0.002), q1 = quantile(all, 0.995);
    const pad = (q1 - q0) * 0.15;
    if (y1 > q1 + pad) {
      y1 = q1 + pad;
      clipped = true;
    }
    if (y0 < q0 - pad) {
      y0 = q0 - pad;
      clipped = true;
    }
  }
  if (spec.fixed) {
    y0 = Math.min(y0, spec.fixed[0]);
    y1 = Math.max(y1, spec.fixed[1]);
  } else if (y0 >= 0 && y0 < 0.35 * y1) {
    y0 = 0; // losses: show the floor
  }
  if (!(y1 > y0)) {
    const pad = Math.abs(y0) * 0.1 || 1;
    y0 -= pad;
    y1 += pad;
  }
  const yt = niceTicks(y0, y1, spec.small ? 3 : 5);
  if (!spec.fixed) {
    y0 = Math.floor(y0 / yt.step + 1e-9) * yt.step;
    y1 = Math.ceil(y1 / yt.step - 1e-9) * yt.step;
  }
  const yTicks = yt.ticks.filter((t) => t >= y0 - 1e-12 && t <= y1 + 1e-12);
  if (!spec.fixed) {
    if (!yTicks.length || yTicks[0] > y0 + yt.step / 2) yTicks.unshift(roundTo(y0, yt.step));
    if (yTicks.at(-1)! < y1 - yt.step / 2) yTicks.push(roundTo(y1, yt.step));
  }
  let xt = niceTicks(x0, x1, spec.small ? 4 : 6);
  if (xt.step < 1) xt = niceTicks(x0, x1, Math.max(1, Math.floor(x1 - x0))); // whole steps

  const sx = (v: number) => M.l + ((v - x0) / (x1 - x0)) * pw;
  const sy = (v: number) => M.t + (1 - (v - y0) / (y1 - y0)) * ph;
  const f = (v: number) => (Math.round(v * 10) / 10).toString();

  const parts: string[] = [];
  parts.push(
    `<clipPath id="${spec.id}-clip"><rect x="${M.l - 4}" y="${M.t - 4}" width="${pw + 8}" height="${
      ph + 8
    }"/></clipPath>`,
  );
  // grid and ticks
  const yDec = decimals(yt.step);
  for (const t of yTicks) {
    const y = f(sy(t));
    parts.push(`<line class="grid" x1="${M.l}" x2="${M.l + pw}" y1="${y}" y2="${y}"/>`);
    parts.push(
      `<text class="tick" x="${M.l - 7}" y="${y}" text-anchor="end" dominant-baseline="middle">${
        esc(tickLabel(t, yDec))
      }</text>`,
    );
  }
  for (const t of xt.ticks) {
    const x = f(sx(t));
    parts.push(`<line class="grid" x1="${x}" x2="${x}" y1="${M.t}" y2="${M.t + ph}"/>`);
    parts.push(`<line class="axis" x1="${x}" x2="${x}" y1="${M.t + ph}" y2="${M.t + ph + 4}"/>`);
    parts.push(
      `<text class="tick" x="${x}" y="${M.t + ph + 17}" text-anchor="middle">${
        esc(stepLabel(t))
      }</text>`,
    );
  }
  parts.push(
    `<line class="axis" x1="${M.l}" x2="${M.l}" y1="${M.t}" y2="${M.t + ph}"/>`,
    `<line class="axis" x1="${M.l}" x2="${M.l + pw}" y1="${M.t + ph}" y2="${M.t + ph}"/>`,
    `<text class="axis-title" x="${M.l + pw}" y="${H - 2}" text-anchor="end">step</text>`,
  );
  if (spec.refLine && spec.refLine.y >= y0 && spec.refLine.y <= y1) {
    const y = f(sy(spec.refLine.y));
    parts.push(
      `<line class="ref" x1="${M.l}" x2="${M.l + pw}" y1="${y}" y2="${y}"><title>${
        esc(spec.refLine.label)
      }</title></line>`,
      `<text class="ref-label" x="${M.l + 6}" y="${f(sy(spec.refLine.y) - 5)}">${
        esc(spec.refLine.label)
      }</text>`,
    );
  }
  // lines
  const path = (pts: Point[]) =>
    pts.map((p, i) => `${i ? "L" : "M"}${f(sx(p.step))} ${f(sy(p.value))}`).join("");
  const lines: string[] = [];
  for (const s of drawn) {
    const title = `<title>${esc(s.key)}</title>`;
    if (s.raw.length === 1) {
      const p = s.raw[0];
      lines.push(
        `<circle cx="${f(sx(p.step))}" cy="${
          f(sy(p.value))
        }" r="3.5" fill="${s.color}">${title}</circle>`,
      );
      continue;
    }
    lines.push(
      `<path d="${path(s.raw)}" stroke="${s.color}" class="${
        s.smooth ? "raw" : "line"
      }">${title}</path>`,
    );
    if (s.smooth) {
      lines.push(`<path d="${path(s.smooth)}" stroke="${s.color}" class="line">${title}</path>`);
    }
  }
  parts.push(`<g clip-path="url(#${spec.id}-clip)">${lines.join("")}</g>`);

  const legend = drawn.map((s) => {
    const lastV = s.points.at(-1)!.value;
    return `<span class="item"><i style="background:${s.color}"></i>${esc(s.key)} <b>${
      esc(fmtNum(lastV))
    }</b></span>`;
  }).join("");
  const smoothed = drawn.some((s) => s.smooth);
  const notes = [
    smoothed ? "faint: raw; solid: smoothed (EMA)" : "",
    clipped ? "y-axis clipped to hide outliers" : "",
  ].filter(Boolean).join(" · ");

  return `<figure class="card chart${spec.small ? " small" : ""}">
<figcaption class="card-head"><h3>${esc(spec.title)}</h3>${
    notes ? `<span class="muted">${esc(notes)}</span>` : ""
  }</figcaption>
<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="${
    esc(spec.title)
  }" xmlns="http://www.w3.org/2000/svg">${parts.join("")}</svg>
<div class="legend">${legend}</div>
</figure>`;
}

function decimals(step: number): number {
  return Math.max(0, Math.ceil(-Math.log10(step) - 1e-9));
}

function tickLabel(v: number, dec: number): string {
  if (v !== 0 && (Math.abs(v) >= 1e5 || Math.abs(v) < 1e-4)) return v.toExponential(1);
  return v.toFixed(Math.min(dec, 8));
}

function stepLabel(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e6) return `${trim(v / 1e6)}M`;
  if (a >= 1e4) return `${trim(v / 1e3)}k`;
  return String(v);
}

function trim(v: number): string {
  return String(Number(v.toFixed(2)));
}

// ---------------------------------------------------------------------------
// eval.json: the trainer's {step, adapter, rank1} or `deno task eval`'s
// ModelEvalResult (evaluate.ts) as tables; keys of other shapes go to renderValue.

type Obj = Record<string, unknown>;

const rows = (v: unknown): Obj[] | undefined =>
  Array.isArray(v) && v.length && v.every(isObject) ? v : undefined;

const pct = (v: unknown) =>
  typeof v === "number" && Number.isFinite(v) ? `${(100 * v).toFixed(1)}%` : "–";

const fix = (d: number) => (v: unknown) =>
  typeof v === "number" && Number.isFinite(v) ? v.toFixed(d) : "–";

const deg = (v: unknown) => `${typeof v === "number" ? v : "?"}°`;

/** A table; a cell is text (escaped here) or [text, class]. */
function table(head: string[], body: (string | [string, string])[][], cls = "matrix"): string {
  const td = (c: string | [string, string]) =>
    typeof c === "string" || !c[1]
      ? `<td class="num">${esc(typeof c === "string" ? c : c[0])}</td>`
      : `<td class="num ${c[1]}">${esc(c[0])}</td>`;
  return `<table class="${cls}"><thead><tr>${
    head.map((h) => `<th>${esc(h)}</th>`).join("")
  }</tr></thead><tbody>${
    body.map((r, i) =>
      `<tr${i === body.length - 1 && r[0] === "mean" ? ` class="mean"` : ""}><th>${
        esc(String(r[0]))
      }</th>${r.slice(1).map(td).join("")}</tr>`
    ).join("")
  }</tbody></table>`;
}

/** Marks the better of two numbers (`lower`: smaller is better) with class "better". */
function pair(
  a: unknown,
  b: unknown,
  f: (v: unknown) => string,
  lower = false,
): [string, string][] {
  const ok = typeof a === "number" && typeof b === "number" && a !== b;
  const aWins = ok && (lower ? a < b : a > b);
  return [[f(a), aWins ? "better" : ""], [f(b), ok && !aWins ? "better" : ""]];
}

function rank1Table(r: Obj): string | undefined {
  const per = rows(r.perPose);
  if (!per) return undefined;
  const mean = isObject(r.mean) ? r.mean : undefined;
  const line = (label: string, p: Obj) => [label, ...pair(p.features, p.pixels, pct)];
  const n = num(r.identities);
  return `<h3 id="rank1">Rank-1 identification</h3><p class="muted">${
    n === undefined ? "" : `${fmtInt(n)} held-out identities; `
  }gallery: one frontal face each; probes: the other poses; bold: the better of the two</p>${
    table(["yaw", "features", "raw pixels"], [
      ...per.map((p) => line(deg(p.yaw), p)),
      ...(mean ? [line("mean", mean)] : []),
    ])
  }`;
}

function verificationTable(v: Obj): string | undefined {
  const protocols = Object.entries(v).filter(([, x]) =>
    isObject(x) && Object.values(x).some((y) => isObject(y) && "auc" in y)
  ) as [string, Obj][];
  if (!protocols.length) return undefined;
  const body: (string | [string, string])[][] = [];
  for (const [name, p] of protocols) {
    for (const [input, m] of Object.entries(p)) {
      if (!isObject(m)) continue;
      const acc = isObject(m.accuracy) ? m.accuracy : {};
      body.push([
        `${name.replace(/([a-z])([A-Z])/g, "$1–$2").toLowerCase()}, ${
          input === "pixels" ? "raw pixels" : input
        }`,
        m.pairs === undefined ? "–" : scalar(m.pairs),
        fix(3)(m.auc),
        fix(3)(m.eer),
        `${pct(acc.mean)}${typeof acc.std === "number" ? ` ± ${(100 * acc.std).toFixed(1)}` : ""}`,
        fix(3)(m.threshold),
      ]);
    }
  }
  const t = num(v.threshold), ta = num(v.thresholdAccuracy);
  return `<h3 id="verification">Verification</h3>${
    str(v.protocol) ? `<p class="muted">${esc(v.protocol as string)}</p>` : ""
  }${
    t !== undefined
      ? `<p>Calibrated threshold ${fix(3)(t)}${
        ta !== undefined ? `: ${pct(ta)} of all pairs right` : ""
      }</p>`
      : ""
  }${table(["protocol", "pairs", "AUC", "EER", "accuracy", "threshold"], body)}`;
}

function frontalizationTable(f: Obj): string | undefined {
  const per = rows(f.perPose);
  if (!per) return undefined;
  const mean = isObject(f.mean) ? f.mean : undefined;
  const all = mean ? [...per, mean] : per;
  const withId = all.some((p) => "identityRank1" in p);
  const line = (label: string, p: Obj) => {
    const [l1, inL1] = pair(p.l1, p.inputL1, fix(4), true);
    const [ss, inSs] = pair(p.ssim, p.inputSsim, fix(4));
    return [label, l1, inL1, ss, inSs, ...(withId ? [pct(p.identityRank1)] : [])];
  };
  return `<h3 id="frontalization">Frontalisation</h3><p class="muted">${
    str(f.metric) ? `${esc(f.metric as string)}. ` : ""
  }Bold: the better of generated and input (L1 lower, SSIM higher).</p>${
    table(
      [
        "yaw",
        "L1 generated",
        "L1 input",
        "SSIM generated",
        "SSIM input",
        ...(withId ? ["rank-1 of the frontalised face"] : []),
      ],
      [...per.map((p) => line(deg(p.yaw), p)), ...(mean ? [line("mean", mean)] : [])],
    )
  }`;
}

function multiImageTable(m: Obj): string | undefined {
  const per = rows(m.perN);
  if (!per) return undefined;
  return `<h3 id="multi-image">Several images per person</h3>${
    str(m.protocol) ? `<p class="muted">${esc(m.protocol as string)}</p>` : ""
  }${
    table(
      ["images", "confidence-weighted", "mean"],
      per.map((x) => [scalar(x.n), ...pair(x.confidence, x.mean, pct)]),
    )
  }`;
}

const EVAL_TABLES: [string, (v: Obj) => string | undefined][] = [
  ["rank1", rank1Table],
  ["verification", verificationTable],
  ["frontalization", frontalizationTable],
  ["multiImage", multiImageTable],
];

function renderEval(v: unknown): string {
  if (!isObject(v)) return renderValue(v, 0);
  const rest: Obj = { ...v };
  delete rest.report; // the link above
  const tables: string[] = [];
  for (const [key, render] of EVAL_TABLES) {
    const html = isObject(v[key]) ? render(v[key] as Obj) : undefined;
    if (html === undefined) continue;
    tables.push(html);
    delete rest[key];
  }
  return (Object.keys(rest).length ? renderValue(rest, 0) : "") + tables.join("");
}

// ---------------------------------------------------------------------------
// Generic JSON as tables

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isScalar(v: unknown): boolean {
  return v === null || typeof v !== "object";
}

function scalar(v: unknown): string {
  if (typeof v === "number") return fmtNum(v);
  if (v === null) return "–";
  return String(v);
}

function cell(v: unknown): string {
  if (isScalar(v)) {
    return `<td class="${typeof v === "number" ? "num" : ""}">${esc(scalar(v))}</td>`;
  }
  if (Array.isArray(v) && v.every(isScalar)) {
    const shown = v.slice(0, 12).map(scalar).join(", ");
    return `<td>${esc(v.length > 12 ? `${shown}, … (${v.length})` : shown)}</td>`;
  }
  return `<td><code>${esc(JSON.stringify(v))}</code></td>`;
}

/** Renders any JSON value: objects of scalars as key/value tables, objects of such objects as matrices. */
function renderValue(v: unknown, depth: number): string {
  if (isScalar(v) || (Array.isArray(v) && v.every(isScalar))) {
    return `<table><tbody><tr>${cell(v)}</tr></tbody></table>`;
  }
  const rows: [string, unknown][] = Array.isArray(v)
    ? v.map((x, i) => [String(i), x])
    : Object.entries(v as Record<string, unknown>);
  const scalars = rows.filter(([, x]) => isScalar(x) || (Array.isArray(x) && x.every(isScalar)));
  const nested = rows.filter(([, x]) => !scalars.some(([, y]) => y === x));
  const out: string[] = [];
  if (scalars.length) {
    out.push(
      `<table class="kv"><tbody>${
        scalars.map(([k, x]) => `<tr><th>${esc(k)}</th>${cell(x)}</tr>`).join("")
      }</tbody></table>`,
    );
  }
  // Objects whose values are all flat records: one matrix, rows by key, columns by field.
  const flat = nested.filter(([, x]) => isObject(x) && Object.values(x).every(isScalar));
  if (flat.length >= 2 && flat.length === nested.length) {
    const cols = [...new Set(flat.flatMap(([, x]) => Object.keys(x as object)))];
    out.push(
      `<table class="matrix"><thead><tr><th></th>${
        cols.map((c) => `<th>${esc(c)}</th>`).join("")
      }</tr></thead><tbody>${
        flat.map(([k, x]) =>
          `<tr><th>${esc(k)}</th>${
            cols.map((c) =>
              c in (x as object) ? cell((x as Record<string, unknown>)[c]) : "<td></td>"
            )
              .join("")
          }</tr>`
        ).join("")
      }</tbody></table>`,
    );
  } else {
    const h = Math.min(6, depth + 4);
    for (const [k, x] of nested) {
      out.push(
        `<div class="nest"><h${h}>${esc(k)}</h${h}>${
          depth > 8 ? `<code>${esc(JSON.stringify(x))}</code>` : renderValue(x, depth + 1)
        }</div>`,
      );
    }
  }
  return out.join("");
}

// ---------------------------------------------------------------------------
// Formatting

function str(v: unknown): string | undefined {
  return typeof v === "string" && v ? v : undefined;
}

function num(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

function fmtInt(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

function fmtNum(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (Number.isInteger(v) && a < 1e6) return v.toLocaleString("en-US");
  if (a === 0) return "0";
  if (a >= 1e6 || a < 1e-3) return v.toExponential(2);
  return String(Number(v.toPrecision(4)));
}

function formatHms(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "–";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  if (h >= 24) return `${Math.floor(h / 24)}d ${h % 24}h ${m}m`;
  if (h > 0) return `${h}h ${String(m).padStart(2, "0")}m`;
  if (m > 0) return `${m}m ${String(sec).padStart(2, "0")}s`;
  return `${sec}s`;
}

function formatDate(iso: string | undefined): string | undefined {
  if (!iso) return undefined;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toISOString().replace("T", " ").slice(0, 16) + " UTC";
}

const CSS = `
:root { --fg:#1c2430; --muted:#5d6b7a; --line:#dde3ea; --bg:#f4f6f9; --card:#fff; --accent:#2f6db5; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--fg);
  font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif; }
main { max-width:1180px; margin:0 auto; padding:28px 24px 40px; }
h1 { font-size:26px; margin:0; letter-spacing:-0.01em; }
h2 { font-size:17px; margin:30px 0 12px; padding-bottom:6px; border-bottom:1px solid var(--line); }
h3 { font-size:14px; margin:0; font-weight:600; }
h4,h5,h6 { font-size:13px; margin:14px 0 6px; color:var(--muted); text-transform:uppercase; letter-spacing:.04em; }
.title-row { display:flex; align-items:center; gap:12px; flex-wrap:wrap; }
.badge { font-size:12px; padding:2px 10px; border-radius:999px; font-weight:600; }
.badge.ok { background:#e3f4ea; color:#1d6b41; }
.badge.run { background:#e6eef9; color:#24558f; }
.meta { display:flex; flex-wrap:wrap; gap:4px 26px; margin:10px 0 0; }
.meta div { display:flex; gap:6px; min-width:0; }
.meta dt { color:var(--muted); }
.meta dd { margin:0; font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; font-size:13px;
  overflow-wrap:anywhere; }
.tiles { display:grid; grid-template-columns:repeat(auto-fill,minmax(160px,1fr)); gap:12px; margin-top:20px; }
.tile, .card { background:var(--card); border:1px solid var(--line); border-radius:10px;
  box-shadow:0 1px 2px rgba(20,30,45,.05); }
.tile { padding:12px 14px; }
.tile .label { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.05em; }
.tile .value { font-size:24px; font-weight:650; margin-top:2px; font-variant-numeric:tabular-nums; }
.tile .sub { color:var(--muted); font-size:12px; min-height:1.2em; }
.tile .bar { height:5px; background:#e7ebf0; border-radius:3px; margin-top:8px; overflow:hidden; }
.tile .bar div { height:100%; background:var(--accent); }
.notes { margin-top:16px; background:#fff8e6; border:1px solid #f1dca6; border-radius:10px; padding:8px 14px; }
.notes p { margin:4px 0; }
.charts { display:grid; grid-template-columns:repeat(auto-fill,minmax(480px,1fr)); gap:14px; }
.charts.small { grid-template-columns:repeat(auto-fill,minmax(330px,1fr)); margin-top:14px; }
.card { padding:14px 16px; margin:0; }
.card-head { display:flex; justify-content:space-between; align-items:baseline; gap:12px; flex-wrap:wrap;
  margin-bottom:6px; }
.muted { color:var(--muted); font-size:12px; font-weight:400; }
svg { display:block; width:100%; height:auto; overflow:visible; }
svg .grid { stroke:#edf0f4; stroke-width:1; }
svg .axis { stroke:#9aa6b2; stroke-width:1; }
svg .tick { font-size:11px; fill:#5d6b7a; font-variant-numeric:tabular-nums; }
svg .axis-title { font-size:11px; fill:#8794a1; }
svg .line { fill:none; stroke-width:1.7; stroke-linejoin:round; stroke-linecap:round; }
svg .raw { fill:none; stroke-width:1; stroke-opacity:.28; stroke-linejoin:round; }
svg .ref { stroke:#3a4450; stroke-width:1.2; stroke-dasharray:5 4; }
svg .ref-label { font-size:11px; fill:#3a4450; }
.legend { display:flex; flex-wrap:wrap; gap:4px 16px; margin-top:6px; font-size:12.5px; }
.legend .item { display:inline-flex; align-items:center; gap:6px; white-space:nowrap; }
.legend i { width:14px; height:3px; border-radius:2px; display:inline-block; }
.legend b { font-weight:600; font-variant-numeric:tabular-nums; color:var(--muted); }
.sample-latest img { display:block; max-width:100%; height:auto; image-rendering:pixelated;
  border-radius:4px; background:#222; }
.grid { max-width:100%; }
.grid img { width:100%; }
.yaws { position:relative; height:2.6em; font-size:11px; color:var(--muted);
  font-variant-numeric:tabular-nums; }
.yaws span { position:absolute; bottom:2px; text-align:center; white-space:nowrap; line-height:1.15; }
.yaws .input { font-style:italic; }
.yaws .frontal { color:var(--accent); font-weight:700; }
.yaws small { display:block; font-size:9.5px; font-weight:600; }
.strip { display:grid; grid-template-columns:repeat(6,1fr); gap:10px; margin-top:12px; }
.strip figure { margin:0; background:var(--card); border:1px solid var(--line); border-radius:8px; padding:6px; }
.strip img { display:block; width:100%; height:auto; image-rendering:pixelated; border-radius:3px; }
.strip figcaption { text-align:center; font-size:12px; color:var(--muted); margin-top:4px;
  font-variant-numeric:tabular-nums; }
.empty { color:var(--muted); font-style:italic; }
table { border-collapse:collapse; margin:4px 0 10px; font-size:13px; }
th, td { padding:5px 12px; border-bottom:1px solid var(--line); text-align:left; vertical-align:top; }
thead th { color:var(--muted); font-weight:600; border-bottom:2px solid var(--line); }
tbody th { font-weight:500; }
td.better { font-weight:700; color:#1d6b41; }
tr.mean th, tr.mean td { border-top:2px solid var(--line); font-weight:600; }
td.num { text-align:right; font-variant-numeric:tabular-nums; font-family:ui-monospace,SFMono-Regular,Menlo,monospace; }
.matrix thead th { text-align:right; }
.nest { margin-left:0; }
details.config summary { cursor:pointer; font-weight:600; }
details.config pre { margin:10px 0 0; padding:12px; background:#f7f9fb; border:1px solid var(--line);
  border-radius:6px; overflow:auto; max-height:640px; font-size:12.5px; line-height:1.45; }
code { font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; font-size:12.5px; }
footer { margin-top:34px; color:var(--muted); font-size:12px; text-align:center; }
@media (max-width:760px) { .strip { grid-template-columns:repeat(3,1fr); } .charts { grid-template-columns:1fr; } }
`;
