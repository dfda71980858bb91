// Starting a run from another run's or model's parameters (fine-tuning): tensors of the
// same name and shape are copied; one that only has more leading rows here (multi-image
// mode's confidence channel on the encoder's last convolution) gets the source's rows and
// keeps its fresh values in the rest. The optimiser state and counters start afresh.
import { readSafetensors, toFloat32 } from "../formats/safetensors.ts";
import { CHECKPOINT_FORMAT, WEIGHTS_FORMAT } from "../infer/weights.ts";
import { listCheckpoints } from "../infer/run_folder.ts";
import { exists } from "../util/fs.ts";
import { CheckpointError, firstProblems } from "./checkpoint.ts";
import type { Trainer } from "./trainer.ts";
import type { Region } from "../engine/buffers.ts";

export interface InitSummary {
  source: string;
  copied: number;
  /** tensors of which only the leading rows came from the source: "name (r of n rows)" */
  extended: string[];
  /** networks none of whose tensors the source had (they start from the seed) */
  fresh: string[];
}

/** A run folder or exported model (its newest checkpoint), or a .safetensors file. */
export function initSource(path: string): string {
  if (!exists(path)) throw new CheckpointError(`--init ${path}: no such file or folder`);
  if (Deno.statSync(path).isFile) return path;
  const last = listCheckpoints(path).at(-1);
  if (!last) {
    throw new CheckpointError(
      `--init ${path}: a folder without checkpoints/step-*.safetensors (give a run folder, ` +
        `an exported model or a .safetensors file)`,
    );
  }
  return last;
}

/** Overwrites the trainer's fresh parameters with those `path` holds; names every mismatch. */
export function initFrom(trainer: Trainer, path: string): InitSummary {
  const { tensors, metadata } = readSafetensors(path);
  if (metadata.format !== CHECKPOINT_FORMAT && metadata.format !== WEIGHTS_FORMAT) {
    throw new CheckpointError(`${path}: not a checkpoint or model of this project`);
  }
  const problems: string[] = [];
  const writes: { region: Region; data: Float32Array }[] = [];
  const extended: string[] = [];
  const networks = new Map<string, boolean>(); // network -> any tensor found
  for (const [name, t] of trainer.paramTensors()) {
    const net = name.split(".")[0];
    const got = tensors.get(name);
    networks.set(net, (networks.get(net) ?? false) || got !== undefined);
    if (!got) continue;
    const same = got.shape.join(",") === t.shape.join(",");
    const rows = got.shape.length === t.shape.length && got.shape[0] < t.shape[0] &&
      got.shape.slice(1).join(",") === t.shape.slice(1).join(",");
    if (!same && !rows) {
      problems.push(`tensor "${name}" has shape [${got.shape}], the graph needs [${t.shape}]`);
      continue;
    }
    const data = toFloat32(got);
    if (!data.every(Number.isFinite)) {
      problems.push(`tensor "${name}" holds NaN or infinite values`);
      continue;
    }
    if (rows) extended.push(`${name} (${got.shape[0]} of ${t.shape[0]} rows)`);
    writes.push({ region: t.region, data });
  }
  if (!writes.length && !problems.length) {
    problems.push(`no tensor of ${trainer.model.file} is in it`);
  }
  if (problems.length) {
    throw new CheckpointError(
      `${path}: cannot start ${trainer.model.file} from it: ${firstProblems(problems)}`,
    );
  }
  // Leading rows are the first elements in row-major order.
  for (const { region, data } of writes) {
    trainer.gpu.device.queue.writeBuffer(
      region.buffer,
      region.offset,
      data as Float32Array<ArrayBuffer>,
    );
  }
  const fresh = [...networks].filter(([, found]) => !found).map(([n]) => n);
  return { source: path, copied: writes.length, extended, fresh };
}
