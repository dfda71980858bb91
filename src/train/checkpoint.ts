// Checkpoints: every parameter, running statistic and optimiser state tensor as
// safetensors (PyTorch names), with the step, schedule and random state in the
// metadata. Written to a temporary file and renamed.
import { UserError } from "../errors.ts";
import { numel } from "../ops/wgsl.ts";
import { readBack } from "../engine/buffers.ts";
import { readSafetensors, toFloat32, writeSafetensors } from "../formats/safetensors.ts";
import { CHECKPOINT_FORMAT } from "../infer/weights.ts";
import { COUNTERS, type Counters, type Trainer } from "./trainer.ts";

export class CheckpointError extends UserError {}

/** The first five problems on one line, then how many more. */
export function firstProblems(problems: string[]): string {
  const more = problems.length > 5 ? ` (and ${problems.length - 5} more)` : "";
  return `${problems.slice(0, 5).join("; ")}${more}`;
}

export async function saveCheckpoint(trainer: Trainer, path: string): Promise<void> {
  const tensors = trainer.stateTensors();
  const names = [...tensors.keys()];
  const data = await readBack(
    trainer.gpu.device,
    names.map((n) => {
      const { region, shape } = tensors.get(n)!;
      return { buffer: region.buffer, offset: region.offset, elements: numel(shape) };
    }),
  );
  const out: Record<string, { shape: number[]; data: Float32Array }> = {};
  names.forEach((n, i) => (out[n] = { shape: tensors.get(n)!.shape, data: data[i] }));
  const meta = {
    format: CHECKPOINT_FORMAT,
    graph: trainer.model.file,
    ...Object.fromEntries(Object.entries(trainer.counters()).map(([k, v]) => [k, String(v)])),
    strong: String(trainer.strong), // "true" / "false", as checkpoints have always held it
  };
  writeSafetensors(path, out, meta);
}

/** Restores a checkpoint into a trainer built for the same graph; every mismatch is named. */
export function loadCheckpoint(trainer: Trainer, path: string): void {
  const { tensors, metadata } = readSafetensors(path);
  if (metadata.format !== CHECKPOINT_FORMAT) {
    throw new CheckpointError(`${path}: not a training checkpoint of this project`);
  }
  const want = trainer.stateTensors();
  const problems: string[] = [];
  for (const [name, t] of want) {
    const got = tensors.get(name);
    if (!got) problems.push(`missing tensor "${name}"`);
    else if (got.shape.join(",") !== t.shape.join(",")) {
      problems.push(`tensor "${name}" has shape [${got.shape}], the graph needs [${t.shape}]`);
    }
  }
  for (const name of tensors.keys()) {
    if (!want.has(name)) problems.push(`tensor "${name}" is not in this graph`);
  }
  if (problems.length) {
    throw new CheckpointError(
      `${path}: does not fit ${trainer.model.file}: ${firstProblems(problems)}`,
    );
  }
  for (const [name, t] of want) {
    trainer.gpu.device.queue.writeBuffer(
      t.region.buffer,
      t.region.offset,
      toFloat32(tensors.get(name)!) as Float32Array<ArrayBuffer>,
    );
  }
  const int = (k: string) => {
    const v = Number(metadata[k]);
    if (!Number.isInteger(v) || v < 0) throw new CheckpointError(`${path}: bad metadata ${k}`);
    return v;
  };
  const c = Object.fromEntries(
    COUNTERS.map((k) => [k, k === "strong" ? Number(metadata.strong === "true") : int(k)]),
  ) as Counters;
  trainer.setCounters(c);
}
