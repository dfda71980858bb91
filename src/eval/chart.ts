// The one SVG line chart of the HTML pages: training curves over steps (robust y range,
// smoothing, downsampling) and curves on fixed axes (ROC, rank-1 per yaw).
import { esc, fmtNum } from "./html.ts";

/** One point of a series: `step` is the x value (a training step on the report's charts). */
export interface Point {
  step: number;
  value: number;
}

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

export interface ChartSpec {
  id: string;
  title: string;
  series: { key: string; points: Point[] }[];
  smoothing?: number;
  /** Points drawn per series at most; longer series are downsampled. Default 1000. */
  maxPoints?: number;
  /** A y range always shown (widened if data falls outside). */
  fixed?: [number, number];
  /** Both axes exactly these ranges: no outlier clipping, no widening (ROC curves). */
  exact?: { x: [number, number]; y: [number, number] };
  /** Labels at given x positions instead of numbered ticks. */
  xTicks?: { at: number; label: string }[];
  /** Default "step". */
  xTitle?: string;
  yTitle?: string;
  refLine?: { y: number; label: string };
  /** The line y = x (chance level of a ROC curve). */
  diagonal?: boolean;
  /** Show each series' last value in the legend. Default true. */
  lastValues?: boolean;
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

export function chart(spec: ChartSpec): string {
  const W = spec.small ? 360 : 560, H = spec.small ? 170 : 260;
  const M = { l: spec.yTitle ? 64 : 50, r: 14, t: 12, b: spec.xTitle ? 40 : 30 };
  const maxPoints = spec.maxPoints ?? 1000;
  const pw = W - M.l - M.r, ph = H - M.t - M.b;

  const drawn = spec.series.map((s, i) => {
    const color = PALETTE[i % PALETTE.length];
    const n = s.points.length;
    const sm = spec.smoothing ?? autoSmoothing(n);
    const smooth = sm > 0 && sm < 1 && n >= 3
      ? stride(
        ema(s.points.map((p) => p.value), sm).map((v, j) => ({ step: s.points[j].step, value: v })),
        maxPoints,
      )
      : undefined;
    return { ...s, color, raw: downsample(s.points, maxPoints), smooth };
  });

  // x range
  let [x0, x1] = spec.exact?.x ?? [Infinity, -Infinity];
  for (const s of spec.exact ? [] : drawn) {
    for (const p of [s.points[0], s.points.at(-1)!]) {
      x0 = Math.min(x0, p.step);
      x1 = Math.max(x1, p.step);
    }
  }
  if (spec.exact) {
    // as given
  } else if (x1 <= x0) {
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
  let [y0, y1] = spec.exact?.y ?? [all[0], all.at(-1)!];
  let clipped = false;
  if (all.length >= 100 && !spec.exact) {
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
  if (spec.exact) {
    // as given
  } else if (spec.fixed) {
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
  const fixedY = spec.fixed || spec.exact;
  if (!fixedY) {
    y0 = Math.floor(y0 / yt.step + 1e-9) * yt.step;
    y1 = Math.ceil(y1 / yt.step - 1e-9) * yt.step;
  }
  const yTicks = yt.ticks.filter((t) => t >= y0 - 1e-12 && t <= y1 + 1e-12);
  if (!fixedY) {
    if (!yTicks.length || yTicks[0] > y0 + yt.step / 2) yTicks.unshift(roundTo(y0, yt.step));
    if (yTicks.at(-1)! < y1 - yt.step / 2) yTicks.push(roundTo(y1, yt.step));
  }
  let xt = niceTicks(x0, x1, spec.small ? 4 : 6);
  if (xt.step < 1 && !spec.exact) {
    xt = niceTicks(x0, x1, Math.max(1, Math.floor(x1 - x0))); // whole steps
  }
  const xLabels = spec.xTicks ??
    xt.ticks.map((t) => ({
      at: t,
      label: spec.exact ? tickLabel(t, decimals(xt.step)) : stepLabel(t),
    }));

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
  for (const { at: t, label } of xLabels) {
    const x = f(sx(t));
    parts.push(`<line class="grid" x1="${x}" x2="${x}" y1="${M.t}" y2="${M.t + ph}"/>`);
    parts.push(`<line class="axis" x1="${x}" x2="${x}" y1="${M.t + ph}" y2="${M.t + ph + 4}"/>`);
    parts.push(
      `<text class="tick" x="${x}" y="${M.t + ph + 17}" text-anchor="middle">${esc(label)}</text>`,
    );
  }
  parts.push(
    `<line class="axis" x1="${M.l}" x2="${M.l}" y1="${M.t}" y2="${M.t + ph}"/>`,
    `<line class="axis" x1="${M.l}" x2="${M.l + pw}" y1="${M.t + ph}" y2="${M.t + ph}"/>`,
    spec.xTitle
      ? `<text class="axis-title" x="${M.l + pw / 2}" y="${H - 4}" text-anchor="middle">${
        esc(spec.xTitle)
      }</text>`
      : `<text class="axis-title" x="${M.l + pw}" y="${H - 2}" text-anchor="end">step</text>`,
  );
  if (spec.yTitle) {
    parts.push(
      `<text class="axis-title" transform="translate(12 ${M.t + ph / 2}) rotate(-90)" ` +
        `text-anchor="middle">${esc(spec.yTitle)}</text>`,
    );
  }
  if (spec.diagonal) {
    parts.push(
      `<line class="ref" x1="${f(sx(x0))}" y1="${f(sy(y0))}" x2="${f(sx(x1))}" y2="${f(sy(y1))}"/>`,
    );
  }
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
    const last = spec.lastValues === false ? "" : ` <b>${esc(fmtNum(s.points.at(-1)!.value))}</b>`;
    return `<span class="item"><i style="background:${s.color}"></i>${esc(s.key)}${last}</span>`;
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

/** The chart's styles, for any page that shows charts. */
export const CHART_CSS = `
.card-head { display:flex; justify-content:space-between; align-items:baseline; gap:12px; flex-wrap:wrap;
  margin-bottom:6px; }
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
.legend b { font-weight:600; font-variant-numeric:tabular-nums; color:#5d6b7a; }
`;
