// Checking a checkpoint or weights file against the parameters a graph needs: every
// tensor present, with its shape, floating point and finite; all problems listed at once.
import { type Tensor, toFloat32 } from "../formats/safetensors.ts";
import { InferError } from "./errors.ts";

/** The checkpoint formats whose parameters a model loads. */
export const CHECKPOINT_FORMAT = "drgan-webgpu checkpoint 1";
export const WEIGHTS_FORMAT = "drgan-webgpu weights 1";

/** Lists problems one per line, at most `max`, then how many more. */
export function listProblems(head: string, problems: string[], max = 5): string {
  const shown = problems.slice(0, max).map((p) => `  - ${p}`);
  if (problems.length > max) shown.push(`  - and ${problems.length - max} more`);
  const n = problems.length;
  return `${head} (${n} problem${n === 1 ? "" : "s"}):\n${shown.join("\n")}`;
}

const FLOAT_DTYPES = ["F32", "F16", "BF16", "F64"];

/**
 * The tensors of `want` from a checkpoint or weights file: every one present with its
 * shape, floating point and finite; no tensor of the same networks that the graph lacks.
 */
export function checkWeights(
  path: string,
  file: { tensors: Map<string, Tensor>; metadata: Record<string, string> },
  want: Map<string, number[]>,
  graph: string,
  networks: string[],
): { weights: Map<string, { shape: number[]; data: Float32Array }>; step?: number } {
  const { tensors, metadata } = file;
  if (metadata.format !== CHECKPOINT_FORMAT && metadata.format !== WEIGHTS_FORMAT) {
    throw new InferError(
      `${path}: not a checkpoint of this project (format ${
        JSON.stringify(metadata.format ?? "missing")
      }); weights trained elsewhere are converted with deno task import`,
    );
  }
  const problems: string[] = [];
  const weights = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, shape] of want) {
    const t = tensors.get(name);
    if (!t) {
      problems.push(`missing tensor "${name}" (the graph needs shape [${shape.join(", ")}])`);
    } else if (t.shape.join(",") !== shape.join(",")) {
      problems.push(
        `tensor "${name}" has shape [${t.shape.join(", ")}], the graph needs [${shape.join(", ")}]`,
      );
    } else if (!FLOAT_DTYPES.includes(t.dtype)) {
      problems.push(`tensor "${name}" is ${t.dtype}, expected floating point`);
    } else {
      const data = toFloat32(t);
      if (!data.every(Number.isFinite)) {
        problems.push(`tensor "${name}" holds NaN or infinite values`);
      } else weights.set(name, { shape, data });
    }
  }
  for (const name of tensors.keys()) {
    if (!want.has(name) && networks.some((n) => name.startsWith(`${n}.`))) {
      problems.push(`tensor "${name}" is not in this graph`);
    }
  }
  if (problems.length) {
    const other = metadata.graph && metadata.graph !== graph
      ? ` (it was written for ${metadata.graph})`
      : "";
    const overrides = metadata.overrides ? ` with ${metadata.overrides}` : "";
    throw new InferError(
      listProblems(`${path}${other}${overrides} does not fit ${graph}`, problems),
    );
  }
  const s = Number(metadata.step);
  return { weights, step: metadata.step !== undefined && Number.isInteger(s) ? s : undefined };
}
