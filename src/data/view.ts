// How one synthetic photo is taken: head pose, light and background. Lights are fixed
// relative to the camera (like Multi-PIE's flashes) while the head turns.
import { hashInts, Random } from "./random.ts";
import { yawOfPose } from "./pose.ts";
import type { Vec3 } from "./head.ts";

export interface View {
  /** degrees; positive turns the face towards the image's right */
  yaw: number;
  /** degrees; positive tilts the face up */
  pitch: number;
  /** degrees; positive rolls the head clockwise on the image */
  roll: number;
  /** index into LIGHTS */
  light: number;
  /** ambient light level, about 0.2 to 0.5 */
  ambient: number;
  /** key light strength, about 0.7 to 1.1 */
  intensity: number;
  /** colour temperature of the key light, -1 (cool) to 1 (warm) */
  warmth: number;
  /** seed of the background's colours */
  background: number;
}

/** Key light directions in camera space (towards the light; x right, y up, z to camera). */
export const LIGHTS: readonly { name: string; dir: Vec3 }[] = [
  { name: "front", dir: [0, 0.2, 1] },
  { name: "left", dir: [-0.75, 0.25, 0.65] },
  { name: "right", dir: [0.75, 0.25, 0.65] },
  { name: "far-left", dir: [-1, 0.15, 0.1] },
  { name: "far-right", dir: [1, 0.15, 0.1] },
  { name: "above", dir: [0, 1, 0.45] },
  { name: "below", dir: [0, -0.6, 0.8] },
];
export const NUM_LIGHTS = LIGHTS.length;

/** Small pitch and roll jitter, in degrees, around every pose. */
export const PITCH_JITTER = 6;
export const ROLL_JITTER = 4;

/**
 * The view of one synthetic sample: pose class and light are given; the jitter, ambient
 * level and background are drawn from (seed, identity, pose, light, variant) so the same
 * arguments always give the same photo.
 */
export function viewFor(
  seed: number,
  identity: number,
  pose: number,
  light: number,
  variant = 0,
): View {
  const r = new Random(hashInts(seed, identity, pose, light, variant, 0x71e));
  return {
    yaw: yawOfPose(pose),
    pitch: r.range(-PITCH_JITTER, PITCH_JITTER),
    roll: r.range(-ROLL_JITTER, ROLL_JITTER),
    light,
    ambient: r.range(0.2, 0.5),
    intensity: r.range(0.7, 1.1),
    warmth: r.range(-1, 1),
    background: hashInts(seed, identity, pose, light, variant, 0xb6),
  };
}
