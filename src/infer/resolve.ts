// Resolving a model on the CPU: a run folder or a graph file with a checkpoint,
// compiled, its parameters read and checked, its verification threshold found.
import { isAbsolute, relative, resolve } from "node:path";
import type { Model, TypedNetwork } from "../lang/ir.ts";
import { loadModel } from "../lang/model.ts";
import { type Override, parseOverride } from "../lang/files.ts";
import { paramShapes } from "../plan/program.ts";
import { NUM_POSES } from "../data/pose.ts";
import type { Gpu } from "../engine/device.ts";
import { readSafetensors } from "../formats/safetensors.ts";
import { InferError } from "./errors.ts";
import {
  readRunConfig,
  readThreshold,
  requireCheckpoint,
  runGraph,
  type Threshold,
} from "./run_folder.ts";
import { checkWeights } from "./weights.ts";

export interface LoadOptions {
  /** a run folder: graph and overrides from its config.json, its latest checkpoint */
  run?: string;
  /** the graph file (required without `run`; with `run`, where the run's graph now lives) */
  graph?: string;
  /** a checkpoint or weights file (default: the run's latest checkpoint) */
  checkpoint?: string;
  /** NAME=VALUE overrides, after the run's own */
  set?: string[];
  /** images per dispatch (default 8); every call is padded to whole batches */
  batch?: number;
  /** the decoder's noise: one fixed U(-1, 1) draw from this seed, the same for every image */
  noiseSeed?: number;
  /** verification threshold (default: the run's eval.json calibration, else 0.5) */
  threshold?: number;
  /** load the discriminator too, for estimatePose (its weights must be in the checkpoint) */
  discriminator?: boolean;
  gpu?: Gpu;
  /**
   * compile the plan's kernels on a second core as well (software adapters, see
   * src/engine/compile_aside.ts): for a command that runs all of the model once, cold;
   * `destroy` stops it (await it before the process exits)
   */
  compileAside?: boolean;
}

/** A model resolved on the CPU: graph compiled, parameters read and checked. */
export interface Resolved {
  model: Model;
  graph: string;
  overrides: string[];
  checkpoint: string;
  step?: number;
  run?: string;
  encoder: TypedNetwork;
  decoder?: TypedNetwork;
  /** with `discriminator: true`: it, with outputs pose and fake */
  discriminator?: TypedNetwork;
  /** every parameter of the networks loaded, by name */
  weights: Map<string, { shape: number[]; data: Float32Array }>;
  threshold: Threshold;
  size: number;
  poses: number;
  noise: number;
  /** values of the encoder's scene code (0 without one): the decoder's last noise values */
  scene: number;
  featureSize: number;
  multi: boolean;
}

/** Graph, overrides and checkpoint of the options, compiled and checked; no GPU needed. */
export function resolveModel(opts: LoadOptions): Resolved {
  let graph = opts.graph, overrides = [...(opts.set ?? [])], checkpoint = opts.checkpoint;
  const run = opts.run;
  if (run !== undefined) {
    const cfg = readRunConfig(run);
    graph ??= runGraph(run, cfg.graph);
    overrides = [...cfg.overrides, ...overrides];
    checkpoint ??= requireCheckpoint(run);
  }
  if (!graph) throw new InferError("give a run folder, or a graph file with a checkpoint");
  if (!checkpoint) throw new InferError(`${graph}: give the checkpoint to load with it`);
  let parsed: Override[];
  try {
    parsed = overrides.map(parseOverride);
  } catch (e) {
    throw new InferError((e as Error).message);
  }
  // A graph shipped inside the model folder is read from that folder only: a symlink
  // in it must not make a narrowly permitted deploy read (and quote) other files.
  const shipped = run !== undefined && isInside(graph, run);
  const model = loadModel(graph, parsed, shipped ? { inside: run } : {});
  const encoder = model.networks.find((n) => n.name === "encoder");
  if (!encoder) {
    const names = model.networks.map((n) => n.name).join(", ");
    throw new InferError(`${graph} has no network 'encoder' (it has ${names})`);
  }
  const decoder = model.networks.find((n) => n.name === "decoder");
  const inShape = encoder.inputs[0]?.shape;
  if (encoder.inputs.length !== 1 || inShape.length !== 4 || inShape[1] !== 3) {
    throw new InferError(`${graph}: the encoder must take one input [B, 3, size, size]`);
  }
  const size = Number(inShape[2]);
  const outShape = (net: TypedNetwork, out: string) => {
    const o = net.outputs.find((x) => x.name === out);
    return o ? net.shapes.get(o.from) : undefined;
  };
  const fshape = outShape(encoder, "feature");
  if (!fshape) throw new InferError(`${graph}: the encoder has no output 'feature'`);
  const featureSize = Number(fshape[1]);
  const multi = encoder.outputs.some((o) => o.name === "confidence");
  const scene = Number(outShape(encoder, "scene")?.[1] ?? 0);
  let poses = NUM_POSES, noise = 0;
  if (decoder) {
    const shape = (n: string) => decoder.inputs.find((i) => i.name === n)?.shape;
    const [f, p, z] = [shape("feature"), shape("pose"), shape("noise")];
    if (!f || !p || !z || !outShape(decoder, "image")) {
      throw new InferError(
        `${graph}: the decoder must take inputs feature, pose and noise and output image`,
      );
    }
    if (Number(f[1]) !== featureSize) {
      throw new InferError(
        `${graph}: the decoder takes ${f[1]}-d features, the encoder makes ${featureSize}`,
      );
    }
    poses = Number(p[1]);
    noise = Number(z[1]);
    if (scene > noise) {
      throw new InferError(
        `${graph}: the encoder's ${scene}-value scene code does not fit the decoder's ` +
          `${noise}-value noise`,
      );
    }
  }
  const discriminator = opts.discriminator ? discriminatorOf(model, graph, size) : undefined;
  const nets = [encoder, decoder, discriminator].filter((n) => n !== undefined);
  const want = new Map<string, number[]>();
  for (const net of nets) {
    for (const [name, shape] of paramShapes(net)) want.set(name, shape);
  }
  // (a checkpoint the user names may live anywhere; the folder's own stays in it)
  const own = shipped && opts.checkpoint === undefined;
  const file = readSafetensors(checkpoint, own ? { inside: run } : {});
  if (discriminator && ![...file.tensors.keys()].some((k) => k.startsWith("discriminator."))) {
    throw new InferError(
      `${checkpoint} holds no discriminator (exported and imported models keep the encoder and ` +
        `decoder only): estimating poses needs a training checkpoint`,
    );
  }
  const { weights, step } = checkWeights(checkpoint, file, want, graph, nets.map((n) => n.name));
  const threshold = opts.threshold !== undefined
    ? { value: opts.threshold, source: "given" }
    : readThreshold(run, step);
  return {
    model,
    graph,
    overrides,
    checkpoint,
    step,
    run,
    encoder,
    decoder,
    discriminator,
    weights,
    threshold,
    size,
    poses,
    noise,
    scene,
    featureSize,
    multi,
  };
}

/** The model's discriminator, checked to take the encoder's images and to judge pose and fake. */
function discriminatorOf(model: Model, graph: string, size: number): TypedNetwork {
  const d = model.networks.find((n) => n.name === "discriminator");
  if (!d) throw new InferError(`${graph} has no network 'discriminator'`);
  const input = d.inputs[0]?.shape;
  const outs = d.outputs.map((o) => o.name);
  if (d.inputs.length !== 1 || input?.[2] !== size || !outs.includes("pose")) {
    throw new InferError(
      `${graph}: the discriminator must take the encoder's images and output pose (it outputs ` +
        `${outs.join(", ")})`,
    );
  }
  return d;
}

/** Whether `path`, as written, lies in `dir` (before links are resolved). */
function isInside(path: string, dir: string): boolean {
  const rel = relative(resolve(dir), resolve(path));
  return rel !== "" && !rel.startsWith("..") && !isAbsolute(rel);
}
