// Pose classes as in Multi-PIE: yaw from -90 to +90 degrees in 15 degree steps.
// Class k has yaw (k - 6) * 15 degrees; class 6 is frontal. Positive yaw turns the
// face towards the image's right, so a mirrored image of class k has class 12 - k.

export const NUM_POSES = 13;
export const FRONTAL_POSE = 6;
export const POSE_STEP_DEG = 15;

export function yawOfPose(k: number): number {
  return (k - FRONTAL_POSE) * POSE_STEP_DEG;
}

/** The nearest pose class of a yaw in degrees, or -1 when outside [-90, 90]. */
export function poseOfYaw(deg: number): number {
  if (!(deg >= -90 && deg <= 90)) return -1;
  return FRONTAL_POSE + Math.round(deg / POSE_STEP_DEG);
}

/** Mirroring negates yaw, so class k becomes 12 - k. */
export function mirrorPose(k: number): number {
  return NUM_POSES - 1 - k;
}
