// Keeps the next batch ready: after a batch is handed out, the next one is made on a
// later turn of the event loop, i.e. while the caller awaits its GPU step, so making
// data does not add to the step's time. `upload` (given by the runtime, e.g. writing
// the batch into GPU buffers) runs as each batch is handed out; queue writes do not
// block, and the copy is made before the batch's slot is reused.
export class Prefetcher<Batch> {
  private pending: Promise<Batch>;
  private closed = false;

  constructor(
    private readonly make: () => Batch,
    private readonly upload?: (batch: Batch) => void | Promise<void>,
  ) {
    this.pending = this.schedule();
  }

  private schedule(): Promise<Batch> {
    const p = new Promise<Batch>((resolve, reject) => {
      setTimeout(() => {
        try {
          resolve(this.make());
        } catch (e) {
          reject(e);
        }
      }, 0);
    });
    p.catch(() => {}); // the error surfaces in next(); until then it is not "unhandled"
    return p;
  }

  /** The prepared batch (uploaded, if an upload was given); starts preparing the next. */
  async next(): Promise<Batch> {
    if (this.closed) throw new Error("prefetcher is closed");
    const batch = await this.pending;
    this.pending = this.schedule();
    if (this.upload) await this.upload(batch);
    return batch;
  }

  /** Stops after the batch in preparation; later next() calls fail. */
  close(): void {
    this.closed = true;
  }
}
