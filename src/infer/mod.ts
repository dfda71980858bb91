// Inference with a trained DR-GAN, beside train/ and eval/ in the pipeline: a model
// folder (a run folder, or a graph file with a checkpoint) is resolved on the CPU
// (graph through src/lang, parameters checked against it), then `FaceModel` runs the
// encoder and decoder on the engine for identity features, fusion of several images,
// face rotation and frontalisation, and verification. Also image loading and the
// export of a self-contained model folder. This file is the folder's public surface.
export { InferError } from "./errors.ts";
export {
  checkpointPath,
  latestCheckpoint,
  listCheckpoints,
  readRunConfig,
  requireCheckpoint,
  type RunConfig,
  RunFolderError,
  type Threshold,
} from "./run_folder.ts";
export { CHECKPOINT_FORMAT, checkWeights, listProblems, WEIGHTS_FORMAT } from "./weights.ts";
export { type LoadOptions, type Resolved, resolveModel } from "./resolve.ts";
export {
  FaceModel,
  type FuseResult,
  type PoseEstimate,
  type RenderOptions,
  type VerifyResult,
} from "./face_model.ts";
export { poseFromYaw, poseRangeMessage } from "./pose.ts";
export { imagesToPNG, loadImage } from "./images.ts";
export { exportModel, graphFiles } from "./export.ts";
