// Training data on every core: a pool of Web Workers decodes a folder's images at
// load, and renders each step's synthetic batch (its rows split among them) while
// the GPU runs, a few steps ahead. Batches stay a pure function of (seed, step).
import type { Batch } from "./trainer.ts";
import type { openTrainData, Shard, TrainData } from "./data.ts";
import type { ReadImageOptions } from "../data/folder.ts";

/** What every worker opens for batches: the graph with its overrides, the data options. */
export interface PoolSpec {
  graph: string;
  overrides: string[];
  options: Omit<Parameters<typeof openTrainData>[2], "readMany">;
}

/** A worker's jobs: open the training data, render rows of a batch, read image files. */
export type Job =
  | { kind: "open"; spec: PoolSpec }
  | { kind: "batch"; step: number; rows: Shard }
  | { kind: "read"; files: string[]; opts: ReadImageOptions };

export type PoolRequest = Job & { id: number };

type Reply = { id: number; result: unknown; error?: undefined } | { id: number; error: string };

/** How many steps ahead the pool renders. */
const AHEAD = 2;

/** Workers by default: the cores left after the main thread, shared by a machine's ranks. */
export function defaultWorkers(localRanks = 1): number {
  return Math.max(0, Math.floor(navigator.hardwareConcurrency / localRanks) - 1);
}

export class DataPool {
  private next = 0;
  private waiting = new Map<number, { resolve(r: unknown): void; reject(e: Error): void }>();

  private constructor(private workers: Worker[]) {
    for (const w of workers) {
      w.onmessage = (e: MessageEvent<Reply>) => {
        const r = e.data, wait = this.waiting.get(r.id)!;
        this.waiting.delete(r.id);
        if (r.error !== undefined) wait.reject(new Error(`data worker: ${r.error}`));
        else wait.resolve(r.result);
      };
      w.onerror = (e) => {
        e.preventDefault();
        const err = new Error(`data worker: ${e.message}`);
        for (const wait of this.waiting.values()) wait.reject(err);
        this.waiting.clear();
      };
    }
  }

  static start(workers: number): DataPool {
    const url = new URL("./data_worker.ts", import.meta.url).href;
    return new DataPool(
      Array.from({ length: workers }, () => new Worker(url, { type: "module" })),
    );
  }

  get size(): number {
    return this.workers.length;
  }

  private ask<T>(worker: number, m: Job): Promise<T> {
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (r: unknown) => void, reject });
      this.workers[worker].postMessage({ ...m, id });
    });
  }

  /** `n` items in contiguous parts, one per worker (fewer when there are fewer items). */
  private split(n: number): { from: number; to: number }[] {
    const k = Math.min(this.workers.length, n);
    return Array.from({ length: k }, (_, i) => ({
      from: Math.floor(n * i / k),
      to: Math.floor(n * (i + 1) / k),
    }));
  }

  /** Reads image files on every worker (a folder's `readMany`), in the files' order. */
  readMany = async (files: string[], opts: ReadImageOptions): Promise<(Uint8Array | string)[]> => {
    const parts = await Promise.all(
      this.split(files.length).map(({ from, to }, i) =>
        this.ask<(Uint8Array | string)[]>(i, { kind: "read", files: files.slice(from, to), opts })
      ),
    );
    return parts.flat();
  };

  /**
   * Training data whose batches the workers render: `base` is the same data opened
   * here (options checked, sample faces drawn here), `rows` this rank's shard. Its
   * batches carry no scenes at other poses (a function does not cross to a worker).
   */
  async serve(spec: PoolSpec, base: TrainData, rows: Shard): Promise<TrainData> {
    await Promise.all(this.workers.map((_, i) => this.ask(i, { kind: "open", spec })));
    const ahead = new Map<number, Promise<Batch>>();
    const render = async (step: number): Promise<Batch> => {
      const n = rows.to - rows.from;
      const parts = await Promise.all(
        this.split(n).map(({ from, to }, i) =>
          this.ask<Batch>(i, {
            kind: "batch",
            step,
            rows: { from: rows.from + from, to: rows.from + to },
          })
        ),
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
    };
    const workers = this.workers.length;
    return {
      describe: `${base.describe}; rendered by ${workers} worker${workers === 1 ? "" : "s"}`,
      paired: false,
      batch(step: number): Promise<Batch> {
        const got = ahead.get(step) ?? render(step);
        ahead.delete(step);
        for (const s of ahead.keys()) if (s < step || s > step + AHEAD) ahead.delete(s);
        for (let s = step + 1; s <= step + AHEAD; s++) {
          if (ahead.has(s)) continue;
          const p = render(s);
          p.catch(() => {}); // its error surfaces when the step is asked for
          ahead.set(s, p);
        }
        return got;
      },
      sampleFaces: (n: number) => base.sampleFaces(n),
    };
  }

  /** Ends the workers (a pool keeps the process alive until then). */
  close(): void {
    for (const w of this.workers) w.terminate();
    for (const wait of this.waiting.values()) wait.reject(new Error("data pool closed"));
    this.waiting.clear();
  }
}
