// Training data on every core: a pool of Web Workers renders each step's batch (its
// rows split among them) while the GPU runs, a few steps ahead. Each worker opens
// the same data (data_worker.ts); batches stay a pure function of (seed, step).
import type { Batch } from "./trainer.ts";
import type { openTrainData, Shard, TrainData } from "./data.ts";

/** What every worker opens: the graph with its overrides and the data options. */
export interface PoolSpec {
  graph: string;
  overrides: string[];
  options: Parameters<typeof openTrainData>[2];
}

export interface PoolRequest {
  id: number;
  step: number;
  rows: Shard;
}

type Reply = { id: number; batch: Batch; error?: undefined } | { id: number; error: string };

/** How many steps ahead the pool renders. */
const AHEAD = 2;

/** Workers by default: the cores left after the main thread, shared by the ranks of a machine. */
export function defaultWorkers(localRanks = 1): number {
  return Math.max(0, Math.floor(navigator.hardwareConcurrency / localRanks) - 1);
}

export class DataPool implements TrainData {
  readonly describe: string;
  private next = 0;
  private waiting = new Map<number, { resolve(b: Batch): void; reject(e: Error): void }>();
  private ahead = new Map<number, Promise<Batch>>();

  private constructor(
    private base: TrainData,
    private workers: Worker[],
    private rows: Shard,
  ) {
    this.describe = `${base.describe}; rendered by ${workers.length} worker` +
      `${workers.length === 1 ? "" : "s"}`;
    for (const w of workers) {
      w.onmessage = (e: MessageEvent<Reply>) => {
        const r = e.data, wait = this.waiting.get(r.id)!;
        this.waiting.delete(r.id);
        if (r.error !== undefined) wait.reject(new Error(`data worker: ${r.error}`));
        else wait.resolve(r.batch);
      };
      w.onerror = (e) => {
        e.preventDefault();
        for (const wait of this.waiting.values()) {
          wait.reject(new Error(`data worker: ${e.message}`));
        }
        this.waiting.clear();
      };
    }
  }

  /**
   * `base`: the same data opened on this thread (it has checked the options, and
   * draws the sample faces). `rows`: this rank's rows of each global batch.
   */
  static open(spec: PoolSpec, base: TrainData, workers: number, rows: Shard): DataPool {
    const url = new URL("./data_worker.ts", import.meta.url).href;
    const list = Array.from({ length: workers }, () => {
      const w = new Worker(url, { type: "module" });
      w.postMessage(spec);
      return w;
    });
    return new DataPool(base, list, rows);
  }

  /** The step's batch; the next steps' are started so that they are ready in time. */
  batch(step: number): Promise<Batch> {
    const got = this.ahead.get(step) ?? this.render(step);
    this.ahead.delete(step);
    for (const s of this.ahead.keys()) if (s < step || s > step + AHEAD) this.ahead.delete(s);
    for (let s = step + 1; s <= step + AHEAD; s++) {
      if (!this.ahead.has(s)) {
        const p = this.render(s);
        p.catch(() => {}); // its error surfaces when the step is asked for
        this.ahead.set(s, p);
      }
    }
    return got;
  }

  /** One step's rows, split into contiguous parts, one per worker, then joined. */
  private async render(step: number): Promise<Batch> {
    const { from, to } = this.rows, n = to - from, k = Math.min(this.workers.length, n);
    const parts = await Promise.all(
      Array.from({ length: k }, (_, i) => {
        const rows = { from: from + Math.floor(n * i / k), to: from + Math.floor(n * (i + 1) / k) };
        const id = this.next++;
        return new Promise<Batch>((resolve, reject) => {
          this.waiting.set(id, { resolve, reject });
          this.workers[i].postMessage({ id, step, rows } satisfies PoolRequest);
        });
      }),
    );
    const join = (get: (b: Batch) => Float32Array) => {
      const out = new Float32Array(parts.reduce((s, b) => s + get(b).length, 0));
      let at = 0;
      for (const b of parts) out.set(get(b), at), at += get(b).length;
      return out;
    };
    return {
      image: join((b) => b.image),
      identity: join((b) => b.identity),
      pose: join((b) => b.pose),
    };
  }

  sampleFaces(n: number): Float32Array<ArrayBuffer> {
    return this.base.sampleFaces(n);
  }

  /** Ends the workers (a pool keeps the process alive until then). */
  close(): void {
    for (const w of this.workers) w.terminate();
    for (const wait of this.waiting.values()) wait.reject(new Error("data pool closed"));
    this.waiting.clear();
  }
}
