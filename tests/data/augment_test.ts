// Pose classes and the paper's augmentation (pad, random crop, mirror), which the
// training batches of src/train/data.ts apply to a folder of images.
import { deepEqual, equal } from "node:assert/strict";
import { augmentCHW, paddingFor } from "../../src/data/image.ts";
import { mirrorPose, NUM_POSES, poseOfYaw, yawOfPose } from "../../src/data/pose.ts";

Deno.test("pose classes: yaw, nearest class and mirror", () => {
  equal(yawOfPose(0), -90);
  equal(yawOfPose(6), 0);
  equal(yawOfPose(12), 90);
  equal(poseOfYaw(44), 9);
  equal(poseOfYaw(91), -1);
  for (let k = 0; k < NUM_POSES; k++) {
    equal(mirrorPose(k), 12 - k);
    equal(yawOfPose(mirrorPose(k)), -yawOfPose(k));
  }
});

Deno.test("pad and crop keeps the size; mirroring flips left and right", () => {
  const S = 96;
  equal(paddingFor(S), 7); // 96 + 2 * 7 = 110, as in the paper
  const src = Float32Array.from({ length: 3 * S * S }, (_, i) => (i % S) / S);
  const out = new Float32Array(src.length);
  augmentCHW(src, 0, S, { dx: 7, dy: 7, pad: 7, mirror: false }, out, 0);
  deepEqual(out, src);
  augmentCHW(src, 0, S, { dx: 0, dy: 14, pad: 7, mirror: false }, out, 0);
  equal(out[10], src[3]); // shifted right by 7
  equal(out[0], src[0]); // edge repeated into the padding
  augmentCHW(src, 0, S, { dx: 7, dy: 7, pad: 7, mirror: true }, out, 0);
  equal(out[0], src[S - 1]);
  equal(out[S - 1], src[0]);
});
