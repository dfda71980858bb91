// Materials and lighting of a ray's hit: skin with scalp hair, beard, eye sockets and
// blush; eyes with lids and irises; lips, hair strands, cloth, glasses. Results go to
// the shared `rgb` scratch array so the pixel loop allocates nothing.
import { Mat } from "./head.ts";
import { type Compiled, STRIDE_H } from "./solids.ts";

/** The shaded colour of the last hit (or the background), linear 0..1. */
export const rgb = new Float64Array(3);
/** The key light's direction in the head frame, set per image. */
export const Lh = new Float64Array(3);
/** ambient, intensity, and r, g, b gains of the key light, set per image. */
export const light = new Float64Array(5);

/** Whether the segment from p towards the light hits a shadow caster other than `self`. */
function shadowed(cp: Compiled, self: number, px: number, py: number, pz: number): boolean {
  const h = cp.h;
  const casters = cp.casters;
  for (let ci = 0; ci < casters.length; ci++) {
    const k = casters[ci];
    if (k === self) continue;
    const o = k * STRIDE_H;
    const rx = px - h[o + 9], ry = py - h[o + 10], rz = pz - h[o + 11];
    let a = 0, b = 0, c = -1;
    for (let i = 0; i < 3; i++) {
      const m0 = h[o + i * 3], m1 = h[o + i * 3 + 1], m2 = h[o + i * 3 + 2];
      const so = m0 * rx + m1 * ry + m2 * rz;
      const sd = m0 * Lh[0] + m1 * Lh[1] + m2 * Lh[2];
      a += sd * sd;
      b += so * sd;
      c += so * so;
    }
    const disc = b * b - a * c;
    if (disc > 0 && -b + Math.sqrt(disc) > 1e-3 && c > 0) return true;
  }
  return false;
}

function ramp(x: number): number {
  return x <= 0 ? 0 : x >= 1 ? 1 : x;
}

function mix3(r: number, g: number, b: number, t: number): void {
  rgb[0] += (r - rgb[0]) * t;
  rgb[1] += (g - rgb[1]) * t;
  rgb[2] += (b - rgb[2]) * t;
}

/** Stripes along hair strands, flowing down from the crown; rotates with the head. */
function strands(px: number, py: number, pz: number): number {
  // "diamond angle" from the front around the vertical axis, 0..2 for a half turn: like
  // atan2 but cheaper; taken of |x| so the pattern is left-right symmetric
  const x = pz + 0.25, y = px < 0 ? -px : px;
  const d = x >= 0 ? y / (x + y + 1e-9) : 1 - x / (y - x);
  const ang = d * (Math.PI / 2);
  return 0.92 + 0.08 * Math.cos(ang * 36 + Math.sin(py * 7 + ang * 4) * 2.5);
}

/**
 * Albedo and shading of the hit (p, normal n, local unit point q, view v), left in rgb.
 * Returns 1 when the hit is a clear lens and the caller should look through it.
 */
export function shade(
  cp: Compiled,
  k: number,
  px: number,
  py: number,
  pz: number,
  nx: number,
  ny: number,
  nz: number,
  qx: number,
  qy: number,
  qz: number,
  vx: number,
  vy: number,
  vz: number,
): number {
  const hd = cp.head;
  const mat = cp.h[k * STRIDE_H + 30];
  let ks = 0.08, shin = 16, wrap = 0.2;
  let skinLike = false;
  switch (mat) {
    case Mat.Skin:
    case Mat.Nose:
    case Mat.Ear: {
      skinLike = true;
      rgb[0] = hd.skin[0];
      rgb[1] = hd.skin[1];
      rgb[2] = hd.skin[2];
      if (mat === Mat.Skin) {
        const h0 = hd.hairline[0], h1 = hd.hairline[1];
        let hair = h1.n[0] * px + h1.n[1] * py + h1.n[2] * pz <= h1.d ||
          (hd.hairStyle !== 5 && h0.n[0] * px + h0.n[1] * py + h0.n[2] * pz <= h0.d);
        if (hd.hairStyle === 5) {
          // balding: a horseshoe from just in front of the ears round the back
          hair = pz < 0.08 && py < 0.4 && (hair || py > -0.02);
        }
        if (hair) {
          const s = strands(px, py, pz);
          const t = hd.hairStyle === 0 ? 0.7 : 1;
          mix3(hd.hair[0] * s, hd.hair[1] * s, hd.hair[2] * s, t);
          skinLike = false;
          ks = 0.15;
        } else if (hd.beard > 0) {
          // soft-edged regions: chin and jaw below the mouth, moustache above it
          const chin = ramp((hd.mouthY - 0.02 - py) / 0.06) * ramp((pz + 0.1) / 0.12) *
            ramp((py + 1.1) / 0.1);
          const tache = ramp((py - hd.mouthY - 0.035) / 0.02) *
            ramp((hd.noseBottom + 0.01 - py) / 0.02) *
            ramp((hd.mouthWidth * 1.15 - Math.abs(px)) / 0.04);
          const w = hd.beard === 2 ? tache : Math.max(chin, tache);
          if (hd.beard === 1) {
            mix3(hd.hair[0] * 0.6, hd.hair[1] * 0.6, hd.hair[2] * 0.6, 0.4 * w);
          } else if (w > 0) {
            const s = strands(px * 3, py * 3, pz);
            mix3(hd.hair[0] * s, hd.hair[1] * s, hd.hair[2] * s, 0.95 * w);
            if (w > 0.5) skinLike = false;
          }
        }
        if (skinLike) {
          // darker eye sockets, a little colour on the cheeks
          const ex = Math.abs(px) - hd.eyeX, ey = py - hd.eyeY - 0.02;
          const e2 = ex * ex + ey * ey;
          const sock = e2 < 0.06 ? Math.exp(-e2 / 0.012) : 0;
          rgb[0] *= 1 - 0.22 * sock;
          rgb[1] *= 1 - 0.26 * sock;
          rgb[2] *= 1 - 0.24 * sock;
          const cx = Math.abs(px) - 0.34, cy = py + 0.18;
          const c2 = cx * cx + cy * cy;
          if (c2 < 0.1) mix3(0.85, 0.4, 0.4, 0.12 * Math.exp(-c2 / 0.02));
        }
      } else if (mat === Mat.Nose) {
        if (ny < -0.45 && qy < -0.2) {
          const t = Math.min(1, (-ny - 0.45) * 2.5);
          rgb[0] *= 1 - 0.7 * t;
          rgb[1] *= 1 - 0.72 * t;
          rgb[2] *= 1 - 0.72 * t;
        }
      } else if (qz > 0 && qx * qx + qy * qy < 0.4) {
        rgb[0] *= 0.72; // inner ear
        rgb[1] *= 0.66;
        rgb[2] *= 0.66;
      }
      break;
    }
    case Mat.Eye: {
      ks = 0.9;
      shin = 90;
      wrap = 0;
      if (qy > 0.42 || qy < -0.52) {
        rgb[0] = hd.skin[0] * 0.92;
        rgb[1] = hd.skin[1] * 0.88;
        rgb[2] = hd.skin[2] * 0.88;
        ks = 0.1;
        shin = 16;
      } else if (qy > 0.3) {
        rgb[0] = rgb[1] = rgb[2] = 0.06; // lashes
      } else if (qz > 0.95) {
        rgb[0] = rgb[1] = rgb[2] = 0.03;
      } else if (qz > 0.82) {
        const f = 0.75 + 0.5 * (qz - 0.82) / 0.13;
        rgb[0] = hd.iris[0] * f;
        rgb[1] = hd.iris[1] * f;
        rgb[2] = hd.iris[2] * f;
      } else {
        rgb[0] = 0.93;
        rgb[1] = 0.9;
        rgb[2] = 0.87;
      }
      break;
    }
    case Mat.Brow:
      rgb[0] = hd.hair[0] * 0.75;
      rgb[1] = hd.hair[1] * 0.75;
      rgb[2] = hd.hair[2] * 0.75;
      break;
    case Mat.UpperLip:
    case Mat.LowerLip: {
      ks = 0.25;
      shin = 30;
      rgb[0] = hd.lips[0];
      rgb[1] = hd.lips[1];
      rgb[2] = hd.lips[2];
      const ax = Math.abs(qx);
      if (ax > 0.75) mix3(hd.skin[0], hd.skin[1], hd.skin[2], (ax - 0.75) * 4);
      const gap = mat === Mat.UpperLip ? -qy : qy;
      if (gap > 0.45) mix3(0.12, 0.04, 0.04, Math.min(1, (gap - 0.45) * 3));
      break;
    }
    case Mat.Hair:
    case Mat.Beard: {
      const s = strands(px, py, pz) * (mat === Mat.Beard ? 0.9 : 1);
      rgb[0] = hd.hair[0] * s;
      rgb[1] = hd.hair[1] * s;
      rgb[2] = hd.hair[2] * s;
      ks = 0.18;
      shin = 10;
      wrap = 0.3;
      break;
    }
    case Mat.Cloth:
      rgb[0] = hd.cloth[0];
      rgb[1] = hd.cloth[1];
      rgb[2] = hd.cloth[2];
      ks = 0.02;
      wrap = 0.35;
      break;
    case Mat.Lens:
      if (qx * qx + qy * qy < 0.72) return 1;
      /* falls through: the rim is frame */
    case Mat.Frame:
      rgb[0] = hd.frame[0];
      rgb[1] = hd.frame[1];
      rgb[2] = hd.frame[2];
      ks = 0.6;
      shin = 40;
      wrap = 0;
      break;
  }
  if (skinLike) {
    ks = 0.1;
    shin = 20;
    wrap = 0.3;
  }
  const ndl = nx * Lh[0] + ny * Lh[1] + nz * Lh[2];
  let diff = (ndl + wrap) / (1 + wrap);
  let spec = 0;
  if (diff < 0) diff = 0;
  else {
    if (ndl > 0 && cp.casters.length > 0 && mat !== Mat.Nose && shadowed(cp, k, px, py, pz)) {
      diff *= 0.3;
    } else if (ndl > 0) {
      const hx = Lh[0] + vx, hy = Lh[1] + vy, hz = Lh[2] + vz;
      const hl = Math.sqrt(hx * hx + hy * hy + hz * hz);
      const nh = (nx * hx + ny * hy + nz * hz) / hl;
      if (nh > 0) spec = ks * Math.pow(nh, shin) * light[1];
    }
  }
  // ambient is stronger on surfaces that face the camera, a cheap occlusion term
  const amb = light[0] * (0.55 + 0.45 * Math.max(0, nx * vx + ny * vy + nz * vz));
  for (let i = 0; i < 3; i++) rgb[i] = rgb[i] * (amb + diff * light[1] * light[2 + i]) + spec;
  return 0;
}
