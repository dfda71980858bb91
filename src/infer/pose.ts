// Pose classes as users give them: a class number checked against the model's range,
// or a yaw in degrees on the 15-degree grid.
import { NUM_POSES, POSE_STEP_DEG, poseOfYaw } from "../data/pose.ts";
import { InferError } from "./errors.ts";

export function poseRangeMessage(given: string, poses = NUM_POSES): string {
  const yaw = poses === NUM_POSES
    ? ` (yaw -90..90 degrees in steps of ${POSE_STEP_DEG}; ${(poses - 1) >> 1} is frontal)`
    : "";
  return `pose ${given} is out of range: pose classes are 0..${poses - 1}${yaw}`;
}

/** The pose class of a yaw in degrees; an error outside [-90, 90] or off the 15-degree grid. */
export function poseFromYaw(yaw: number): number {
  const p = poseOfYaw(yaw);
  if (p < 0) throw new InferError(`yaw ${yaw} is out of range: -90..90 degrees`);
  if (Math.abs(yaw - (p - 6) * POSE_STEP_DEG) > 1e-9) {
    throw new InferError(
      `yaw ${yaw} is not a pose class: use a multiple of ${POSE_STEP_DEG} from -90 to 90`,
    );
  }
  return p;
}
