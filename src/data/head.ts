// The procedural head: an identity becomes a few dozen solids, each an ellipsoid cut by
// at most two half-spaces, in a head frame (x to the image's right at frontal view, y up,
// z out of the face, units of about half a head height). Features sit on the surface
// of the skull and jaw, so they move and hide as the head turns.
import type { Identity, RGB } from "./identity.ts";

/** Material numbers: plain constants so the shader's switch stays cheap. */
export const Mat = {
  Skin: 0,
  Nose: 1,
  Ear: 2,
  Eye: 3,
  Brow: 4,
  UpperLip: 5,
  LowerLip: 6,
  Hair: 7,
  Beard: 8,
  Cloth: 9,
  Frame: 10,
  Lens: 11,
} as const;
export type Mat = (typeof Mat)[keyof typeof Mat];

export type Vec3 = [number, number, number];

/** Keep points p with n·p <= d (head frame). */
export interface HalfSpace {
  n: Vec3;
  d: number;
}

export interface Prim {
  c: Vec3;
  r: Vec3;
  /** rows are the local axes in the head frame; identity when absent */
  rot?: [Vec3, Vec3, Vec3];
  cut: HalfSpace[];
  mat: Mat;
  /** casts a shadow on the skin (the nose) */
  caster?: boolean;
}

/** Everything the shader needs beyond the solids: colours and feature positions. */
export interface Head {
  prims: Prim[];
  skin: RGB;
  hair: RGB;
  lips: RGB;
  iris: RGB;
  cloth: RGB;
  frame: RGB;
  hairStyle: number;
  /** skin with n·p <= d for either half-space is scalp hair */
  hairline: HalfSpace[];
  beard: number;
  mouthY: number;
  mouthWidth: number;
  noseBottom: number;
  eyeX: number;
  eyeY: number;
}

const CRANIUM = { c: [0, 0.2, -0.1] as Vec3, r: [0.72, 0.95, 0.93] as Vec3 };

function norm(v: Vec3): Vec3 {
  const l = Math.hypot(v[0], v[1], v[2]);
  return [v[0] / l, v[1] / l, v[2] / l];
}

function cross(a: Vec3, b: Vec3): Vec3 {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}

/** Rotation whose local axes are yawed by `ay`, then pitched by `ax`, rolled by `az` (radians). */
export function rotation(ax: number, ay: number, az: number): [Vec3, Vec3, Vec3] {
  const [cx, sx, cy, sy, cz, sz] = [
    Math.cos(ax),
    Math.sin(ax),
    Math.cos(ay),
    Math.sin(ay),
    Math.cos(az),
    Math.sin(az),
  ];
  // R = Rz * Rx * Ry maps head to local; its rows are the local axes.
  const ry = [[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]];
  const rx = [[1, 0, 0], [0, cx, -sx], [0, sx, cx]];
  const rz = [[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]];
  const mul = (a: number[][], b: number[][]) =>
    a.map((row) => [0, 1, 2].map((j) => row[0] * b[0][j] + row[1] * b[1][j] + row[2] * b[2][j]));
  return mul(rz, mul(rx, ry)) as [Vec3, Vec3, Vec3];
}

/** A thin ellipsoid from a to b, `w` thick across and `h` thick vertically. */
function segment(a: Vec3, b: Vec3, w: number, h: number, mat: Mat): Prim {
  const z = norm([b[0] - a[0], b[1] - a[1], b[2] - a[2]]);
  const side = cross([0, 1, 0], z);
  const x = norm(Math.hypot(...side) < 1e-6 ? [1, 0, 0] : side);
  const y = cross(z, x);
  const half = Math.hypot(b[0] - a[0], b[1] - a[1], b[2] - a[2]) / 2;
  return {
    c: [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2, (a[2] + b[2]) / 2],
    r: [w, h, half],
    rot: [x, y, z],
    cut: [],
    mat,
  };
}

/** z of the front surface of an axis-aligned ellipsoid at (x, y), or -Infinity. */
function frontZ(e: { c: Vec3; r: Vec3 }, x: number, y: number): number {
  const u = (x - e.c[0]) / e.r[0];
  const v = (y - e.c[1]) / e.r[1];
  const w = 1 - u * u - v * v;
  return w < 0 ? -Infinity : e.c[2] + e.r[2] * Math.sqrt(w);
}

export function buildHead(id: Identity): Head {
  const cranium = {
    c: CRANIUM.c,
    r: [
      CRANIUM.r[0] * id.headWidth,
      CRANIUM.r[1] * id.headHeight,
      CRANIUM.r[2] * id.headDepth,
    ] as Vec3,
  };
  const jaw = {
    c: [0, -0.26 * id.jawLength, 0.06] as Vec3,
    r: [0.62 * id.jawWidth * id.headWidth, 0.68 * id.jawLength, 0.72 * id.headDepth] as Vec3,
  };
  const surf = (x: number, y: number) => Math.max(frontZ(cranium, x, y), frontZ(jaw, x, y));
  const prims: Prim[] = [
    { ...cranium, cut: [], mat: Mat.Skin },
    { ...jaw, cut: [], mat: Mat.Skin },
  ];
  const chinY = -0.8 * id.jawLength;
  prims.push({
    c: [0, chinY + 0.07, surf(0, chinY + 0.07) - 0.13],
    r: [0.2 * id.jawWidth, 0.15, 0.14 + 0.04 * id.chin],
    cut: [],
    mat: Mat.Skin,
  });
  // Eyes, set into the surface with a brow ridge above.
  const eyeY = 0.04 + id.eyeHeight;
  const eyeX = 0.27 * id.eyeSpacing * id.headWidth;
  const er = 0.1 * id.eyeSize;
  for (const s of [-1, 1]) {
    const x = s * eyeX;
    const z = surf(x, eyeY) - 0.75 * er;
    prims.push({ c: [x, eyeY, z], r: [er, er, er], cut: [], mat: Mat.Eye });
    const by = eyeY + 0.12 + 0.02 * id.browThickness;
    const bz = surf(x, by);
    const tilt = s * id.browTilt * 0.12;
    prims.push(
      segment(
        [x - s * 0.1, by - tilt, bz - 0.035 + 0.02],
        [x + s * 0.12, by + tilt, surf(x + s * 0.12, by) - 0.035],
        0.04,
        0.022 * id.browThickness,
        Mat.Brow,
      ),
    );
    prims.push({ c: [x, eyeY + 0.1, bz - 0.1], r: [0.15, 0.07, 0.1], cut: [], mat: Mat.Skin });
  }

  // Nose: a bridge from between the eyes down to a tip, and two wings (alae).
  const tipY = eyeY - 0.3 * id.noseHeight;
  const tipZ = surf(0, tipY) + 0.05 + 0.09 * id.noseLength;
  prims.push({
    ...segment(
      [0, eyeY - 0.02, surf(0, eyeY) - 0.07],
      [0, tipY + 0.02, tipZ - 0.06],
      0.055 * id.noseWidth,
      0.085,
      Mat.Nose,
    ),
    caster: true,
  });
  prims.push({
    c: [0, tipY, tipZ - 0.06],
    r: [0.065 * id.noseWidth, 0.065, 0.07],
    cut: [],
    mat: Mat.Nose,
    caster: true,
  });
  for (const s of [-1, 1]) {
    const x = s * 0.065 * id.noseWidth;
    prims.push({
      c: [x, tipY - 0.015, surf(x, tipY) + 0.005],
      r: [0.045, 0.04, 0.05],
      cut: [],
      mat: Mat.Nose,
    });
  }

  // Lips sit mostly inside the jaw so only their front shows.
  const mouthY = tipY - 0.19;
  const mw = 0.15 * id.mouthWidth;
  const mz = surf(0, mouthY);
  const lt = id.lipThickness;
  prims.push({
    c: [0, mouthY + 0.022 * lt, mz - 0.035],
    r: [mw, 0.03 * lt, 0.06],
    cut: [],
    mat: Mat.UpperLip,
  });
  prims.push({
    c: [0, mouthY - 0.028 * lt, mz - 0.04],
    r: [mw * 0.88, 0.036 * lt, 0.06],
    cut: [],
    mat: Mat.LowerLip,
  });

  // Ears: flat discs on the sides, turned out by earAngle.
  for (const s of [-1, 1]) {
    const x = s * (cranium.r[0] - 0.02);
    prims.push({
      c: [x, eyeY - 0.08, -0.12],
      r: [0.1 * id.earSize, 0.16 * id.earSize, 0.03],
      rot: rotation(0, s * (Math.PI / 2 - id.earAngle), 0),
      cut: [],
      mat: Mat.Ear,
    });
  }

  // Neck and shoulders.
  prims.push({ c: [0, -0.95, -0.14], r: [0.4, 0.7, 0.42], cut: [], mat: Mat.Skin });
  prims.push({ c: [0, -1.9, -0.2], r: [1.4, 0.62, 0.62], cut: [], mat: Mat.Cloth });

  // Hair: the scalp above a hairline that runs from the forehead down to above the ears
  // (one plane) and on down to the nape (a steeper one); the union of the two half-spaces.
  // Fuller styles add a shell over the scalp and a curtain down the sides and back.
  const s1 = (0.38 + id.hairline) / 0.9;
  const s2 = 0.96;
  const hairline: HalfSpace[] = [
    { n: [id.hairPart, -1, s1], d: -(0.12 + 0.1 * s1) },
    { n: [0, -1, s2], d: -(0.12 + 0.1 * s2) },
  ];
  const style = id.hairStyle;
  const shell = [0, 1.03, 1.07, 1.08, 1.08, 0][style];
  if (shell > 0) {
    const r = cranium.r.map((v) => v * shell + (shell - 1) * 0.2) as Vec3;
    for (const cut of hairline) {
      prims.push({
        c: [0, cranium.c[1] + 0.02, cranium.c[2] - 0.02],
        r,
        cut: [cut],
        mat: Mat.Hair,
      });
    }
  }
  if (style === 3 || style === 4) {
    // a dome from the hair's bottom edge up over the crown, cut away in front of the ears
    const bottom = style === 3 ? -0.62 : -1.3;
    const top = cranium.c[1] + cranium.r[1] * 1.06;
    prims.push({
      c: [0, bottom, cranium.c[2] - 0.06],
      r: [cranium.r[0] * 1.1 + 0.02, top - bottom, cranium.r[2] * 0.98],
      cut: [{ n: [0, 0, 1], d: 0.15 }, { n: [0, -1, 0], d: -bottom }],
      mat: Mat.Hair,
    });
  }
  if (id.beard === 3) {
    prims.push({
      c: jaw.c,
      r: jaw.r.map((v) => v + 0.035) as Vec3,
      cut: [{ n: [0, 1, 0], d: mouthY - 0.06 }, { n: [0, 0, -1], d: 0.05 }],
      mat: Mat.Beard,
    });
  }

  if (id.glasses) {
    const lz = surf(eyeX, eyeY) + 0.1;
    const lr = 0.13;
    for (const s of [-1, 1]) {
      const x = s * (eyeX + 0.01);
      prims.push({ c: [x, eyeY, lz], r: [lr, lr * 0.78, 0.008], cut: [], mat: Mat.Lens });
      const side = s * (cranium.r[0] * 0.98);
      prims.push(
        segment(
          [x + s * lr * 0.95, eyeY + 0.03, lz],
          [side, eyeY + 0.03, -0.1],
          0.012,
          0.012,
          Mat.Frame,
        ),
      );
    }
    prims.push(
      segment(
        [-eyeX + lr * 0.9, eyeY + 0.03, lz],
        [eyeX - lr * 0.9, eyeY + 0.03, lz],
        0.012,
        0.012,
        Mat.Frame,
      ),
    );
  }

  const skin = id.skin;
  return {
    prims,
    skin,
    hair: id.hair,
    lips: [0, 1, 2].map((i) => 0.55 * skin[i] * 0.85 + 0.45 * id.lips[i]) as RGB,
    iris: id.iris,
    cloth: id.cloth,
    frame: id.glassesColor,
    hairStyle: style,
    hairline,
    beard: id.beard,
    mouthY,
    mouthWidth: mw,
    noseBottom: tipY - 0.05,
    eyeX,
    eyeY,
  };
}
