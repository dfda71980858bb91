// src/data, beside the pipeline: what training and evaluation feed the engine. The
// synthetic faces (synthetic.ts, shading, head, view: identities x 13 poses x
// lights, deterministic from a seed, cached by cache.ts), a user's folder of images
// (manifest.ts, folder.ts; PNG and JPEG decoded in png.ts and jpeg.ts) and image
// helpers. This file is the public API, for the trainer and tools.
export { DEFAULT_CACHE_DIR, readCache, writeCache } from "./cache.ts";
export { contactSheet } from "./contact_sheet.ts";
export type { Dataset, Labels, Sample } from "./dataset.ts";
export { ImageSet } from "./dataset.ts";
export { decodeImage } from "./decode.ts";
export { DataError } from "./errors.ts";
export type { Folder, FolderOptions, FolderSummary } from "./folder.ts";
export { formatSummary, loadFolder } from "./folder.ts";
export type { Identity, Split } from "./identity.ts";
export { identityFromSeed, identityNumber } from "./identity.ts";
export type { Augment, RGBImage } from "./image.ts";
export { augmentCHW, fromCHW, paddingFor, squareResize, toCHW } from "./image.ts";
export { parseManifest, readManifest } from "./manifest.ts";
export type { DataSpec } from "./open.ts";
export { openData } from "./open.ts";
export { decodePNG, encodePNG } from "./png.ts";
export { FRONTAL_POSE, mirrorPose, NUM_POSES, poseOfYaw, yawOfPose } from "./pose.ts";
export { Prefetcher } from "./prefetch.ts";
export { renderFace } from "./synthetic.ts";
export type { SyntheticOptions } from "./synthetic_set.ts";
export { loadSynthetic, SyntheticDataset } from "./synthetic_set.ts";
export type { View } from "./view.ts";
export { LIGHTS, NUM_LIGHTS, viewFor } from "./view.ts";
