// drgan-webgpu's public API: load a trained DR-GAN and use it for pose-invariant face
// recognition and face rotation. See docs/deploy.md.
//
//   import { FaceModel, loadImage } from "./mod.ts";
//   const m = await FaceModel.load({ run: "runs/drgan-small" });
//   const [a, b] = ["a.png", "b.png"].map((f) => loadImage(f, m.size));
//   console.log(await m.verify(a, b));
export {
  CHECKPOINT_FORMAT,
  checkWeights,
  exportModel,
  FaceModel,
  type FuseResult,
  graphFiles,
  imagesToPNG,
  InferError,
  latestCheckpoint,
  loadImage,
  type LoadOptions,
  type PoseEstimate,
  poseFromYaw,
  readRunConfig,
  type RenderOptions,
  type Resolved,
  resolveModel,
  type Threshold,
  type VerifyResult,
  WEIGHTS_FORMAT,
} from "./src/infer/mod.ts";
export { writeFileAtomic } from "./src/formats/atomic.ts";
export {
  evaluateModel,
  type ModelEvalOptions,
  type ModelEvalResult,
  type Recognizer,
} from "./src/eval/evaluate.ts";
export {
  exportEncoderOnnx,
  exportOnnx,
  ONNX_OPS,
  ONNX_OPSET,
  type OnnxExportOptions,
} from "./src/formats/onnx_export.ts";
export { describeAdapter, type Gpu, NoAdapterError, openGpu } from "./src/engine/device.ts";
export { compile, loadPlan, type Plan, PlanFileError, savePlan } from "./src/plan/plan.ts";
export { adapterTarget, loadTargetFile, softwareTarget, type Target } from "./src/plan/target.ts";
export { FRONTAL_POSE, NUM_POSES, poseOfYaw, yawOfPose } from "./src/data/pose.ts";
