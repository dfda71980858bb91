// What every benchmark of `deno task bench` produces, and the timing loop they share.
import { loadModel } from "../src/lang/model.ts";
import { parseOverride } from "../src/lang/files.ts";
import type { Model } from "../src/lang/ir.ts";
import type { Gpu } from "../src/engine/device.ts";

/** One figure of bench/results.json. */
export interface BenchRecord {
  name: string;
  value: number;
  unit: string;
  /** the device that produced the figure: our adapter, or a peer's (PyTorch: the CPU) */
  adapter: string;
  /** ISO date of the run */
  date: string;
  /** the command that produced it */
  command: string;
  notes?: string;
}

/** The two DR-GAN variants the benchmarks run. */
export interface Variant {
  name: "small" | "paper";
  file: string;
  batch: number;
}

export const VARIANTS: Variant[] = [
  { name: "small", file: "graphs/drgan-small.yaml", batch: 16 },
  { name: "paper", file: "graphs/drgan.yaml", batch: 4 },
];

/** The variant's model with its batch and any extra `--set` overrides (quick runs shrink it). */
export function variantModel(v: Variant, sets: string[] = []): Model {
  return loadModel(v.file, [`training.batch=${v.batch}`, ...sets].map(parseOverride));
}

export const median = (xs: number[]): number => {
  const s = xs.slice().sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

export interface Timing {
  /** median milliseconds per call of `fn` */
  ms: number;
  /** per-call milliseconds of each timed sample */
  samples: number[];
  /** calls of `fn` per timed sample (one queue wait each) */
  per: number;
  warmup: number;
}

export interface TimingOptions {
  warmup: number;
  samples: number;
  /** seconds one sample should last: sets how many calls it batches (at least 1) */
  sampleSeconds: number;
  /** fewer samples (at least 1) when one call takes longer than this many seconds */
  slowSeconds?: number;
}

/**
 * Median milliseconds per call of `fn`, which only submits GPU work: after `warmup`
 * calls and a wait, each sample is `per` calls and ONE onSubmittedWorkDone wait, so
 * the queue stays full as in training and the wait's latency is spread over them.
 */
export async function timeGpu(gpu: Gpu, fn: () => void, o: TimingOptions): Promise<Timing> {
  return (await timeGpuInterleaved(gpu, [fn], o))[0];
}

/**
 * timeGpu for several functions at once, their samples interleaved (A B A B ...), so
 * that a comparison (fused vs unfused) sees the same machine load on both sides.
 */
export async function timeGpuInterleaved(
  gpu: Gpu,
  fns: (() => void)[],
  o: TimingOptions,
): Promise<Timing[]> {
  const { queue } = gpu.device;
  const sample = async (fn: () => void, per: number) => {
    const t0 = performance.now();
    for (let i = 0; i < per; i++) fn();
    await queue.onSubmittedWorkDone();
    return (performance.now() - t0) / per;
  };
  const plans = [];
  for (const fn of fns) {
    for (let i = 0; i < o.warmup; i++) fn();
    await queue.onSubmittedWorkDone();
    // One call on its own to size the samples.
    const one = await sample(fn, 1);
    const per = Math.max(1, Math.min(100, Math.round(o.sampleSeconds * 1000 / one)));
    const slow = o.slowSeconds !== undefined && one > o.slowSeconds * 1000;
    const count = slow ? Math.max(1, Math.min(o.samples, 2)) : o.samples;
    // With one call per sample the sizing call is itself a sample.
    plans.push({ fn, per, count, samples: per === 1 ? [one] : [] as number[] });
  }
  while (plans.some((p) => p.samples.length < p.count)) {
    for (const p of plans) {
      if (p.samples.length < p.count) p.samples.push(await sample(p.fn, p.per));
    }
  }
  return plans.map((p) => ({
    ms: median(p.samples),
    samples: p.samples,
    per: p.per,
    warmup: o.warmup,
  }));
}

export const fmt = (x: number, digits = 3): string => {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a >= 1000) return Math.round(x).toLocaleString("en-US");
  return Number(x.toPrecision(digits)).toString();
};

export const mib = (bytes: number): number => bytes / 2 ** 20;

export function describeTiming(t: Timing): string {
  return `median of ${t.samples.length} samples of ${t.per} after ${t.warmup} warm-up ` +
    `(samples ms: ${t.samples.map((x) => fmt(x)).join(", ")})`;
}

/** Checks the shape of bench/results.json; returns the problems found (none: []). */
export function recordProblems(data: unknown): string[] {
  if (!Array.isArray(data)) return ["results.json is not an array"];
  const problems: string[] = [];
  data.forEach((r, i) => {
    const at = `record ${i} (${(r as { name?: unknown })?.name ?? "?"})`;
    if (typeof r !== "object" || r === null) return problems.push(`${at}: not an object`);
    const o = r as Record<string, unknown>;
    for (const k of ["name", "unit", "adapter", "date", "command"]) {
      if (typeof o[k] !== "string" || !o[k]) problems.push(`${at}: ${k} is not a non-empty string`);
    }
    if (typeof o.value !== "number" || !Number.isFinite(o.value)) {
      problems.push(`${at}: value is not a finite number`);
    }
    if (typeof o.date === "string" && Number.isNaN(Date.parse(o.date))) {
      problems.push(`${at}: date is not a date`);
    }
    if ("notes" in o && typeof o.notes !== "string") problems.push(`${at}: notes is not a string`);
    const extra = Object.keys(o).filter(
      (k) => !["name", "value", "unit", "adapter", "date", "command", "notes"].includes(k),
    );
    if (extra.length) problems.push(`${at}: unexpected fields ${extra.join(", ")}`);
  });
  return problems;
}
