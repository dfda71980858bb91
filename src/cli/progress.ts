// Progress reporting for long loops (training, evaluation, data preparation).
// On a terminal: one line redrawn in place, at most ~10 times a second. Elsewhere
// (CI logs, pipes): a plain line every ~10% of the work, or every 30 s when slow.

/** Where progress goes; `Deno.stderr` fits. */
export interface ProgressOut {
  isTerminal(): boolean;
  writeSync(b: Uint8Array): number;
}

export interface ProgressOptions {
  /** Number of items when done (e.g. the last training step). */
  total: number;
  /** Printed before the bar, e.g. "train". */
  label?: string;
  /** Default: `Deno.stderr`. */
  out?: ProgressOut;
  /** Clock in milliseconds; default `performance.now`. */
  now?: () => number;
  /** Terminal width for clipping the line; default: the console's, or 100. */
  columns?: number;
}

/** Terminal redraws at most this often (ms). */
const REDRAW_MS = 100;
/** Without a terminal, a line at least this often while work goes on (ms). */
const PLAIN_MS = 30_000;
/** Rate samples closer together than this are merged (ms). */
const SAMPLE_MS = 50;
/** Time constant of the rate's exponential smoothing (s). */
const RATE_TAU_S = 10;
const BAR = 24;

export class Progress {
  readonly total: number;
  private label: string;
  private out: ProgressOut;
  private now: () => number;
  private tty: boolean;
  private columns: number;
  private done = 0;
  private info: Record<string, number | string> = {};
  private started: number;
  private updates = 0;
  // Rate: last sample point, and the smoothed items per second (NaN until known).
  private sampleT = NaN;
  private sampleDone = NaN;
  private rate = NaN;
  private lastDraw = -Infinity;
  private drawnDone = NaN;
  private plainBucket = -1;
  private finished = false;
  private enc = new TextEncoder();

  constructor(opts: ProgressOptions) {
    this.total = Math.max(0, opts.total);
    this.label = opts.label ?? "";
    this.out = opts.out ?? Deno.stderr;
    this.now = opts.now ?? (() => performance.now());
    this.started = this.now();
    let tty = false;
    try {
      tty = this.out.isTerminal();
    } catch {
      tty = false;
    }
    this.tty = tty;
    let cols = opts.columns;
    if (cols === undefined && tty && !opts.out) {
      try {
        cols = Deno.consoleSize().columns;
      } catch {
        cols = undefined;
      }
    }
    this.columns = cols && cols > 20 ? cols : 100;
  }

  /** Items per second, smoothed; NaN until two updates some time apart. */
  get itemsPerSecond(): number {
    return this.rate;
  }

  /** Seconds left at the current rate; NaN when unknown. */
  get eta(): number {
    if (this.done >= this.total) return 0;
    return this.rate > 0 ? (this.total - this.done) / this.rate : NaN;
  }

  /** Reports that `done` items of `total` are finished; `info` fields are shown after the ETA. */
  update(done: number, info?: Record<string, number | string>): void {
    if (this.finished) return;
    const t = this.now();
    this.done = done;
    if (info) this.info = info;
    this.updates++;
    this.sampleRate(t, done);
    if (this.tty) {
      const final = done >= this.total;
      if (t - this.lastDraw >= REDRAW_MS || (final && this.drawnDone !== done)) this.draw(t);
    } else {
      const bucket = this.total > 0
        ? Math.floor((10 * Math.min(done, this.total)) / this.total)
        : 0;
      if (this.updates === 1 || bucket > this.plainBucket || t - this.lastDraw >= PLAIN_MS) {
        this.plainBucket = Math.max(bucket, this.plainBucket);
        this.lastDraw = t;
        this.drawnDone = done;
        this.write(this.plainLine(t) + "\n");
      }
    }
  }

  /** Draws the final state, ends the line, and prints `message` if given. Later calls do nothing. */
  finish(message?: string): void {
    if (this.finished) return;
    this.finished = true;
    const t = this.now();
    if (this.tty) {
      if (this.updates > 0) {
        this.write("\r" + this.clip(this.termLine(t, true)) + "\x1b[K\n");
      }
    } else if (this.updates > 0 && this.drawnDone !== this.done) {
      this.write(this.plainLine(t) + "\n");
    }
    if (message) this.write(message + "\n");
  }

  private sampleRate(t: number, done: number) {
    if (Number.isNaN(this.sampleT)) {
      // The first update is the baseline: it may follow a slow start (compiling,
      // loading a checkpoint) or begin part way (resuming), so it sets no rate.
      this.sampleT = t;
      this.sampleDone = done;
      return;
    }
    const dt = t - this.sampleT;
    if (dt < SAMPLE_MS) return;
    const inst = ((done - this.sampleDone) * 1000) / dt;
    this.sampleT = t;
    this.sampleDone = done;
    if (!Number.isFinite(inst) || inst < 0) return;
    if (Number.isNaN(this.rate)) this.rate = inst;
    else {
      const a = 1 - Math.exp(-dt / 1000 / RATE_TAU_S);
      this.rate += a * (inst - this.rate);
    }
  }

  private draw(t: number) {
    this.lastDraw = t;
    this.drawnDone = this.done;
    this.write("\r" + this.clip(this.termLine(t, false)) + "\x1b[K");
  }

  private write(s: string) {
    const b = this.enc.encode(s);
    let off = 0;
    // writeSync may write part of the buffer.
    while (off < b.length) {
      const n = this.out.writeSync(b.subarray(off));
      if (!(n > 0)) break;
      off += n;
    }
  }

  private clip(line: string): string {
    const max = this.columns - 1;
    return line.length > max ? line.slice(0, max - 1) + "…" : line;
  }

  private fraction(): number {
    if (this.total <= 0) return 1;
    return Math.min(1, Math.max(0, this.done / this.total));
  }

  private termLine(t: number, final: boolean): string {
    const f = this.fraction();
    const filled = Math.round(f * BAR);
    const parts: string[] = [];
    if (this.label) parts.push(this.label);
    parts.push(`[${"#".repeat(filled)}${".".repeat(BAR - filled)}]`);
    parts.push(`${this.done}/${this.total}`);
    parts.push(`${percent(f)}`);
    parts.push(formatRate(this.rate));
    if (final) parts.push(`in ${formatDuration((t - this.started) / 1000)}`);
    else parts.push(`ETA ${formatDuration(this.eta)}`);
    const info = formatInfo(this.info);
    return parts.join(" ") + (info ? "  " + info : "");
  }

  private plainLine(t: number): string {
    const f = this.fraction();
    const parts = [
      `${this.label ? this.label + " " : ""}${this.done}/${this.total} (${percent(f)})`,
      formatRate(this.rate),
      this.done >= this.total
        ? `elapsed ${formatDuration((t - this.started) / 1000)}`
        : `ETA ${formatDuration(this.eta)}`,
    ];
    const info = formatInfo(this.info);
    if (info) parts.push(info);
    // No control characters off a terminal, whatever the info strings hold.
    // deno-lint-ignore no-control-regex
    return parts.join(", ").replace(/[\x00-\x1f\x7f]/g, " ");
  }
}

function percent(f: number): string {
  return `${Math.floor(f * 100)}%`;
}

function formatRate(rate: number): string {
  if (!(rate > 0) || !Number.isFinite(rate)) return "-- it/s";
  return rate >= 1 ? `${formatNumber(rate)} it/s` : `${formatNumber(1 / rate)} s/it`;
}

function formatInfo(info: Record<string, number | string>): string {
  return Object.entries(info)
    .map(([k, v]) => `${k} ${typeof v === "number" ? formatNumber(v) : v}`)
    .join("  ");
}

/**
 * Seconds as `m:ss`, or `h:mm:ss` from an hour on; `--:--` when unknown
 * (NaN, infinite or negative).
 */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "--:--";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
}

/**
 * A number in a few characters, with 3-4 significant digits: integers below
 * 100000 as they are, tiny and huge magnitudes in exponent form (`1.23e-5`).
 */
export function formatNumber(v: number): string {
  if (Number.isNaN(v)) return "nan";
  if (!Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
  const a = Math.abs(v);
  if (Number.isInteger(v) && a < 1e5) return String(v);
  if (a === 0) return "0";
  if (a >= 1e5 || a < 1e-3) {
    return v.toExponential(2).replace(/\.?0+e/, "e").replace("e+", "e");
  }
  const p = v.toPrecision(4);
  return p.includes(".") ? p.replace(/\.?0+$/, "") : p;
}
