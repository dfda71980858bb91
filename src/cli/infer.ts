// `deno task infer --model runs/NAME --input a.png [b.png ...] ...`: rotates and
// frontalises faces, writes identity features, verifies a pair, or exports a model
// folder for deployment, or exports the encoder as ONNX. Also the entry point of the
// bundled dist/infer.js.
import { yawOfPose } from "../data/pose.ts";
import { openGpu } from "../engine/device.ts";
import { targetFor } from "../tune/target.ts";
import { loadTargetFile, softwareTarget } from "../plan/target.ts";
import {
  exportModel,
  FaceModel,
  imagesToPNG,
  loadImage,
  type LoadOptions,
  poseFromYaw,
  poseRangeMessage,
  resolveModel,
} from "../infer/mod.ts";
import { writeFileAtomic } from "../formats/atomic.ts";
import { exportEncoderOnnx, ONNX_OPSET } from "../formats/onnx_export.ts";
import { maxPixelsFlag, parseArgs, runMain, UsageError, UserError } from "./args.ts";

const USAGE =
  `usage: deno task infer --model RUN_DIR [--input] A.png [B.png ...] ACTION... [OPTIONS]
actions:
  --pose P --out OUT.png      each face rotated to pose class P (0..12, 6 frontal), one PNG strip;
                              --pose all: a row per face, the input then all 13 poses
  --yaw DEG --out OUT.png     the same with the pose given as yaw (-90..90, steps of 15)
  --frontalize --out OUT.png  each face rotated to frontal
  --features OUT.json         the identity feature of each face [--fuse: and one fused feature]
  --verify                    two faces: their similarity and whether they are the same person
  --estimate-pose             each face's pose (class, yaw, probability) and the probability it
                              is a real photo, by the discriminator (the checkpoint must hold it)
  --export DIR                a self-contained model folder (graph files, inference weights, and
                              plan.json, its Plan for --target FILE or the software default)
  --onnx OUT.onnx             the encoder as an ONNX model (opset 17, any batch): input image
                              [B, 3, size, size], output feature (and confidence if multi-image)
options:
  --graph G.yaml --checkpoint C.safetensors   a model without a run folder (or another checkpoint)
  --set NAME=VALUE   graph overrides after the run's    --threshold T   for --verify
  --exact            refuse images that are not the model's size (default: centre square, resized)
  --batch N          images per GPU dispatch (default 8)    --debug   stack traces
  --max-pixels N     decode images of up to N pixels (default 4096 x 4096)`;

runMain(USAGE, main);

async function main(argv: string[]) {
  const args = parseArgs(argv, {
    strings: [
      "model",
      "graph",
      "checkpoint",
      "pose",
      "out",
      "features",
      "export",
      "onnx",
      "target",
    ],
    numbers: ["yaw", "threshold", "batch", "max-pixels"],
    bools: ["frontalize", "verify", "fuse", "exact", "estimate-pose", "debug"],
    multi: ["set", "input"],
  });
  const s = args.strings, n = args.numbers, b = args.bools;
  const inputs = [...args.multi.input, ...args.positional];
  const opts: LoadOptions = {
    run: s.model,
    graph: s.graph,
    checkpoint: s.checkpoint,
    set: args.multi.set,
    batch: n.batch,
    threshold: n.threshold,
    discriminator: b["estimate-pose"],
  };
  if (!s.model && !(s.graph && s.checkpoint)) {
    throw new UsageError("give --model RUN_DIR, or --graph and --checkpoint");
  }
  if (n.batch !== undefined && !(Number.isInteger(n.batch) && n.batch >= 1 && n.batch <= 4096)) {
    throw new UsageError("--batch expects an integer from 1 to 4096");
  }
  if (n.threshold !== undefined && !(n.threshold >= -1 && n.threshold <= 1)) {
    throw new UsageError("--threshold is a cosine similarity, from -1 to 1");
  }

  if (s.onnx !== undefined) {
    if (inputs.length || s.out || s.features || b.verify || s.export !== undefined) {
      throw new UsageError("--onnx takes no images and no other action");
    }
    if (!s.onnx.toLowerCase().endsWith(".onnx")) throw new UsageError("--onnx names a .onnx file");
    const { bytes, outputs } = exportEncoderOnnx(opts, s.onnx);
    console.error(
      `wrote ${s.onnx}: the encoder, ONNX opset ${ONNX_OPSET}, ${(bytes / 1024).toFixed(0)} KiB ` +
        `(input image [B, 3, size, size]; outputs ${outputs.join(", ")})`,
    );
    return;
  }

  if (s.export !== undefined) {
    if (inputs.length || s.out || s.features || b.verify) {
      throw new UsageError("--export takes no images and no other action");
    }
    const target = s.target ? loadTargetFile(s.target) : softwareTarget();
    const { files, bytes } = exportModel(opts, s.export, target);
    console.error(
      `wrote ${s.export}: ${files.length} files, ${(bytes / 1024).toFixed(0)} KiB, its plan ` +
        `compiled for ${target.adapter} at batch ${
          opts.batch ?? 8
        } (open it with --model ${s.export})`,
    );
    return;
  }

  const rotations = [s.pose !== undefined, n.yaw !== undefined, b.frontalize].filter(Boolean);
  if (rotations.length > 1) throw new UsageError("give one of --pose, --yaw and --frontalize");
  if (rotations.length && !s.out) throw new UsageError("a rotation needs --out OUT.png");
  if (s.out && !rotations.length) {
    throw new UsageError("--out writes rotated faces: give --pose, --yaw or --frontalize");
  }
  if (s.out && !s.out.toLowerCase().endsWith(".png")) {
    throw new UsageError("--out names a .png file");
  }
  if (s.features !== undefined && !s.features.toLowerCase().endsWith(".json")) {
    throw new UsageError("--features names a .json file");
  }
  if (b.fuse && s.features === undefined) throw new UsageError("--fuse goes with --features");
  if (!s.out && s.features === undefined && !b.verify && !b["estimate-pose"]) {
    throw new UsageError(
      "nothing to do: give --pose, --yaw, --frontalize, --features, --verify or --estimate-pose",
    );
  }
  if (!inputs.length) throw new UsageError("no input images (--input A.png [B.png ...])");
  if (b.verify && inputs.length !== 2) {
    throw new UsageError(`--verify compares two images, got ${inputs.length}`);
  }
  if (s.pose !== undefined && s.pose !== "all" && !/^-?\d+$/.test(s.pose)) {
    throw new UsageError(`--pose expects a pose class (0..12) or 'all', got '${s.pose}'`);
  }
  const yawPose = n.yaw !== undefined ? poseFromYaw(n.yaw) : undefined;

  // Everything that can be checked on the CPU comes before the GPU: the graph, the
  // checkpoint, the pose, the images.
  const resolved = resolveModel(opts);
  let pose: number | "all" | undefined = yawPose;
  if (s.pose === "all") pose = "all";
  else if (s.pose !== undefined) {
    pose = Number(s.pose);
    if (pose < 0 || pose >= resolved.poses) {
      throw new UserError(poseRangeMessage(s.pose, resolved.poses));
    }
  } else if (b.frontalize) pose = (resolved.poses - 1) >> 1;
  if (pose !== undefined && !resolved.decoder) {
    throw new UserError(`${resolved.graph} has no decoder: it cannot rotate faces`);
  }
  const maxPixels = maxPixelsFlag(n["max-pixels"]);
  const images = inputs.map((f) => loadImage(f, resolved.size, { exact: b.exact, maxPixels }));

  const gpu = await openGpu();
  const model = await FaceModel.fromResolved(resolved, { ...opts, gpu, target: targetFor(gpu) });
  console.error(
    `model ${resolved.graph} (${resolved.size}x${resolved.size}, step ${resolved.step ?? "?"}) ` +
      `on ${model.gpu.description}`,
  );
  // Compute everything, then write: a failure leaves no output behind.
  const writes: [string, Uint8Array | string, string][] = [];
  if (pose === "all") {
    const all = await model.rotateAll(images);
    const png = imagesToPNG(images.map((im, i) => [im, ...all[i]]), model.size);
    writes.push([
      s.out!,
      png,
      `${images.length} faces (rows), input then poses 0..${model.poses - 1}`,
    ]);
  } else if (pose !== undefined) {
    const out = await model.rotate(images, pose);
    const yaw = model.poses === 13 ? ` (yaw ${yawOfPose(pose)})` : "";
    writes.push([
      s.out!,
      imagesToPNG([out], model.size),
      `${out.length} faces at pose ${pose}${yaw}`,
    ]);
  }
  if (s.features !== undefined) {
    const enc = await model.encode(images);
    const record: Record<string, unknown> = {
      model: model.describe(),
      images: inputs.map((file, i) => ({
        file,
        feature: Array.from(enc.features[i]),
        ...(enc.confidences ? { confidence: enc.confidences[i] } : {}),
        ...(enc.scenes ? { scene: Array.from(enc.scenes[i]) } : {}),
      })),
    };
    if (b.fuse) {
      const f = await model.fuse(images);
      record.fused = { mode: f.mode, weights: f.weights, feature: Array.from(f.feature) };
    }
    writes.push([
      s.features,
      JSON.stringify(record, null, 1) + "\n",
      `${images.length} features of ${model.featureSize} values${
        b.fuse ? " and the fused one" : ""
      }`,
    ]);
  }
  if (b.verify) {
    const v = await model.verify(images[0], images[1]);
    console.log(
      `similarity ${v.similarity.toFixed(4)}: ${v.same ? "same person" : "different people"} ` +
        `(threshold ${v.threshold.toFixed(4)}, ${v.thresholdSource})`,
    );
  }
  if (b["estimate-pose"]) {
    const est = await model.estimatePose(images);
    est.forEach((e, i) => {
      const real = e.real === undefined ? "" : `, real photo ${(100 * e.real).toFixed(1)}%`;
      console.log(
        `${inputs[i]}: pose ${e.pose} (yaw ${e.yaw}), ` +
          `${(100 * e.probabilities[e.pose]).toFixed(1)}%${real}`,
      );
    });
  }
  for (const [path, data, what] of writes) {
    writeFileAtomic(path, data);
    console.error(`wrote ${path}: ${what}`);
  }
}
