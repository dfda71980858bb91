// Identity factors of the procedural head: each person is a seeded draw of these, so an
// identity is just (seed, number). Training and held-out people come from disjoint numbers.
import { hashInts, Random } from "./random.ts";

export type RGB = [number, number, number];

export const HAIR_STYLES = ["buzz", "short", "parted", "bob", "long", "balding"] as const;
export const BEARDS = ["none", "stubble", "moustache", "full"] as const;

/** The shape and colour of one synthetic person. Sizes are factors around 1. */
export interface Identity {
  /** global identity number (training and held-out numbers never overlap) */
  id: number;
  headWidth: number;
  headHeight: number;
  headDepth: number;
  jawWidth: number;
  jawLength: number;
  chin: number;
  skin: RGB;
  hair: RGB;
  hairStyle: number;
  /** forehead height of the hairline */
  hairline: number;
  /** side parting: tilts the hairline, so hair is not left-right symmetric */
  hairPart: number;
  eyeSize: number;
  eyeSpacing: number;
  eyeHeight: number;
  iris: RGB;
  browThickness: number;
  browTilt: number;
  noseLength: number;
  noseWidth: number;
  noseHeight: number;
  mouthWidth: number;
  lipThickness: number;
  lips: RGB;
  earSize: number;
  earAngle: number;
  glasses: boolean;
  glassesColor: RGB;
  beard: number;
  cloth: RGB;
}

// Skin from light to dark; an identity's tone is a point on this ramp plus a small tint.
const SKIN_RAMP: RGB[] = [
  [0.98, 0.84, 0.74],
  [0.9, 0.7, 0.56],
  [0.76, 0.55, 0.4],
  [0.56, 0.38, 0.26],
  [0.36, 0.24, 0.17],
];
const HAIR: RGB[] = [
  [0.06, 0.05, 0.05],
  [0.18, 0.11, 0.07],
  [0.36, 0.22, 0.12],
  [0.55, 0.3, 0.14],
  [0.78, 0.63, 0.38],
  [0.62, 0.6, 0.58],
];
const IRIS: RGB[] = [
  [0.3, 0.17, 0.08],
  [0.15, 0.08, 0.04],
  [0.25, 0.45, 0.7],
  [0.3, 0.5, 0.3],
  [0.45, 0.38, 0.2],
  [0.45, 0.5, 0.55],
];
const FRAMES: RGB[] = [[0.08, 0.08, 0.08], [0.45, 0.3, 0.15], [0.7, 0.7, 0.72], [0.15, 0.2, 0.45]];

/** Training identity j is number j; held-out identity j is HELD_OUT_BASE + j. */
export const HELD_OUT_BASE = 0x40000000;

export type Split = "train" | "test";

export function identityNumber(split: Split, j: number): number {
  return split === "train" ? j : HELD_OUT_BASE + j;
}

function lerpRGB(ramp: RGB[], t: number): RGB {
  const x = Math.min(Math.max(t, 0), 1) * (ramp.length - 1);
  const i = Math.min(Math.floor(x), ramp.length - 2);
  const f = x - i;
  return [0, 1, 2].map((c) => ramp[i][c] * (1 - f) + ramp[i + 1][c] * f) as RGB;
}

function jitter(r: Random, c: RGB, amount: number): RGB {
  return c.map((v) => Math.min(1, Math.max(0, v * (1 + r.range(-amount, amount))))) as RGB;
}

/** The identity numbered `id` under `seed`: a pure function of both. */
export function identityFromSeed(seed: number, id: number): Identity {
  const r = new Random(hashInts(seed, id, 0x1d));
  const u = (a: number, b: number) => r.range(a, b);
  const hair = jitter(r, r.pick(HAIR), 0.15);
  const style = r.int(HAIR_STYLES.length);
  return {
    id,
    headWidth: u(0.88, 1.1),
    headHeight: u(0.92, 1.08),
    headDepth: u(0.9, 1.08),
    jawWidth: u(0.8, 1.12),
    jawLength: u(0.88, 1.12),
    chin: u(0.6, 1.4),
    skin: jitter(r, lerpRGB(SKIN_RAMP, r.next()), 0.05),
    hair,
    hairStyle: style,
    hairline: u(-0.08, 0.1),
    hairPart: u(-0.12, 0.12),
    eyeSize: u(0.85, 1.2),
    eyeSpacing: u(0.88, 1.12),
    eyeHeight: u(-0.04, 0.04),
    iris: jitter(r, r.pick(IRIS), 0.15),
    browThickness: u(0.6, 1.5),
    browTilt: u(-0.25, 0.2),
    noseLength: u(0.7, 1.4),
    noseWidth: u(0.75, 1.35),
    noseHeight: u(0.85, 1.15),
    mouthWidth: u(0.8, 1.25),
    lipThickness: u(0.7, 1.35),
    lips: jitter(r, [0.72, 0.36, 0.36], 0.15),
    earSize: u(0.8, 1.25),
    earAngle: u(0.2, 0.6),
    glasses: r.chance(0.25),
    glassesColor: r.pick(FRAMES),
    beard: r.chance(0.6) ? 0 : 1 + r.int(3),
    cloth: [u(0.1, 0.9), u(0.1, 0.9), u(0.1, 0.9)],
  };
}
