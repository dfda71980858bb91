// Reading a run folder for the report, tolerantly: metrics.jsonl (damaged lines,
// NaN, resumed runs), JSON files that may be missing or broken, sample grids as
// embeddable PNGs, and which series are worth a chart.
import { READ_LIMITS, readTextGuarded } from "../formats/read.ts";
import { join } from "node:path";
import { Buffer } from "node:buffer";
import { fmtNum } from "./html.ts";
import type { Point } from "./chart.ts";

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

export function readText(path: string): string | undefined {
  try {
    return readTextGuarded(path, { max: READ_LIMITS.json });
  } catch {
    return undefined;
  }
}

export function readJson(path: string): { value?: unknown; error?: string; text?: string } {
  const text = readText(path);
  if (text === undefined) return {};
  try {
    return { value: JSON.parse(text), text };
  } catch (e) {
    return { error: (e as Error).message, text };
  }
}

export interface Sample {
  step: number;
  path: string;
}

export function listSamples(dir: string): Sample[] {
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

export interface Image {
  uri: string;
  width: number;
  height: number;
}

/** Files larger than this are not embedded. */
const MAX_EMBED = 8 << 20;

export function readPng(path: string): Image | undefined {
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

export interface Groups {
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
export const COUNTER_NOTE = "counters that only grow";

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
