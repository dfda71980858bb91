// `runs/<name>/report.html`: one self-contained static page about a training run:
// summary, loss and accuracy curves (inline SVG), sample grids (embedded PNGs), the
// run's configuration and its evaluation results. No scripts, no external assets.
import { basename, join } from "node:path";
import { NUM_POSES, yawOfPose } from "../data/pose.ts";
import { writeFileAtomic } from "../formats/atomic.ts";
import { exists } from "../util/fs.ts";
import { chart, CHART_CSS, type ChartSpec } from "./chart.ts";
import { isObject, renderEval } from "./eval_tables.ts";
import { esc, fmtInt, fmtNum, formatDate, formatHms, htmlPage, num, str } from "./html.ts";
import {
  COUNTER_NOTE,
  evenlySpaced,
  groupSeries,
  type Image,
  listSamples,
  parseMetrics,
  readJson,
  readPng,
  readText,
  uninformative,
} from "./run_files.ts";

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

  return htmlPage(
    `${name} · step ${fmtInt(lastStep)} · training report`,
    CSS + CHART_CSS,
    body.join("\n"),
  );
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
.muted { color:var(--muted); font-size:12px; font-weight:400; }
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
