// CPU ray caster for the procedural head: per pixel, the nearest of a few dozen clipped
// ellipsoids, then a material and Lambert/Blinn shading with a shadow from the nose.
// Per-image work (pose, light, screen bounds) is hoisted out of the pixel loop, and the
// loop itself allocates nothing, which is what makes it fast enough to not need a GPU.
import { buildHead, type Head, Mat } from "./head.ts";
import type { Identity } from "./identity.ts";
import { Random } from "./random.ts";
import { LIGHTS, type View } from "./view.ts";

/** Bump when the renderer's output changes: it is part of every cache key. */
export const RENDER_VERSION = 1;

export interface RenderOptions {
  /** render at n x n samples per pixel and average (default 2 below 64 px, else 1) */
  supersample?: number;
}

// Camera: on the z axis looking at the head, with a mild telephoto perspective.
const CAM_DIST = 7;
const CAM_Y = -0.05;
const HALF_VIEW = 1.45; // half the visible height at the head's centre, in head units
const TAN_HALF = HALF_VIEW / CAM_DIST;
// The camera slides sideways to keep this point of the face centred, as aligned crops do:
// turning about the neck alone would push a profile's face out of the frame.
const ANCHOR_Z = 0.5;

// Per-head constants, STRIDE_H numbers per solid:
// M (9: head -> unit sphere), c (3), N (9: unit sphere point -> head normal),
// planes count (1), 2 planes x (n, d) (8), material (1), caster (1),
// E (9: unit sphere -> head offset, for screen bounds).
const STRIDE_H = 41;
// Per-image constants, STRIDE_V numbers per solid:
// A (9: camera ray -> unit sphere), o (3: camera in unit sphere), o·o - 1 (1),
// 2 planes x (n in camera frame, n·o - d) (8), bbox x0 x1 y0 y1 (4).
const STRIDE_V = 25;

interface Compiled {
  head: Head;
  h: Float64Array;
  count: number;
  casters: number[];
}

const compiledCache = new WeakMap<Identity, Compiled>();

function compile(identity: Identity): Compiled {
  const hit = compiledCache.get(identity);
  if (hit) return hit;
  const head = buildHead(identity);
  const n = head.prims.length;
  const h = new Float64Array(n * STRIDE_H);
  const casters: number[] = [];
  head.prims.forEach((p, i) => {
    const o = i * STRIDE_H;
    const R = p.rot ?? [[1, 0, 0], [0, 1, 0], [0, 0, 1]];
    for (let a = 0; a < 3; a++) {
      for (let b = 0; b < 3; b++) {
        h[o + a * 3 + b] = R[a][b] / p.r[a]; // M = diag(1/r) R
        h[o + 12 + b * 3 + a] = R[a][b] / p.r[a]; // N = R^T diag(1/r)
        h[o + 32 + b * 3 + a] = R[a][b] * p.r[a]; // E = R^T diag(r)
      }
      h[o + 9 + a] = p.c[a];
    }
    h[o + 21] = p.cut.length;
    p.cut.forEach((cut, k) => {
      h.set([cut.n[0], cut.n[1], cut.n[2], cut.d], o + 22 + 4 * k);
    });
    h[o + 30] = p.mat;
    h[o + 31] = p.caster ? 1 : 0;
    if (p.caster) casters.push(i);
  });
  const c = { head, h, count: n, casters };
  compiledCache.set(identity, c);
  return c;
}

// Scratch state shared by the pixel loop and the shader; sized on demand, never per pixel.
let V = new Float64Array(0);
let rowList = new Int32Array(0);
const P = new Float64Array(9); // head -> camera rotation
const Lh = new Float64Array(3); // key light in the head frame
const Oh = new Float64Array(3); // camera position in the head frame
const rgb = new Float64Array(3);
const bg = new Float64Array(6);
const light = new Float64Array(5); // ambient, intensity, r, g, b gains
let hitPrim = -1;
let hitEntry = -1;
// the hit's ray parameter; kept in an array because a returned double gets boxed
const hitT = new Float64Array(1);

function setupView(cp: Compiled, view: View, res: number): void {
  const d2r = Math.PI / 180;
  const [cy, sy] = [Math.cos(view.yaw * d2r), Math.sin(view.yaw * d2r)];
  const [cx, sx] = [Math.cos(-view.pitch * d2r), Math.sin(-view.pitch * d2r)];
  const [cz, sz] = [Math.cos(-view.roll * d2r), Math.sin(-view.roll * d2r)];
  // P = Rz * Rx * Ry
  const ry = [cy, 0, sy, 0, 1, 0, -sy, 0, cy];
  const rx = [1, 0, 0, 0, cx, -sx, 0, sx, cx];
  const rz = [cz, -sz, 0, sz, cz, 0, 0, 0, 1];
  const mul = (a: number[], b: number[]) => {
    const o = new Array(9);
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) {
        o[i * 3 + j] = a[i * 3] * b[j] + a[i * 3 + 1] * b[3 + j] + a[i * 3 + 2] * b[6 + j];
      }
    }
    return o;
  };
  P.set(mul(rz, mul(rx, ry)));
  // camera at (camX, CAM_Y, CAM_DIST); head frame = P^T world
  const camX = P[2] * ANCHOR_Z;
  for (let i = 0; i < 3; i++) Oh[i] = P[i] * camX + P[3 + i] * CAM_Y + P[6 + i] * CAM_DIST;
  const L = LIGHTS[view.light].dir;
  const ll = Math.hypot(L[0], L[1], L[2]);
  for (let i = 0; i < 3; i++) Lh[i] = (P[i] * L[0] + P[3 + i] * L[1] + P[6 + i] * L[2]) / ll;
  light[0] = view.ambient;
  light[1] = view.intensity;
  light[2] = 1 + 0.12 * view.warmth;
  light[3] = 1;
  light[4] = 1 - 0.12 * view.warmth;

  const r = new Random(view.background);
  const base = [r.range(0.15, 0.85), r.range(0.15, 0.85), r.range(0.15, 0.85)];
  const sat = r.range(0, 0.6);
  const grey = (base[0] + base[1] + base[2]) / 3;
  for (let i = 0; i < 3; i++) {
    const v = grey + (base[i] - grey) * sat;
    bg[i] = v * r.range(1.0, 1.25);
    bg[3 + i] = v * r.range(0.65, 0.95);
  }

  const n = cp.count;
  if (V.length < n * STRIDE_V) V = new Float64Array(n * STRIDE_V);
  const h = cp.h;
  for (let k = 0; k < n; k++) {
    const o = k * STRIDE_H;
    const v = k * STRIDE_V;
    // A = M P^T: a camera-space direction straight to the solid's unit-sphere space.
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) {
        V[v + i * 3 + j] = h[o + i * 3] * P[j * 3] + h[o + i * 3 + 1] * P[j * 3 + 1] +
          h[o + i * 3 + 2] * P[j * 3 + 2];
      }
    }
    const ox = Oh[0] - h[o + 9], oy = Oh[1] - h[o + 10], oz = Oh[2] - h[o + 11];
    let oo = 0;
    for (let i = 0; i < 3; i++) {
      const s = h[o + i * 3] * ox + h[o + i * 3 + 1] * oy + h[o + i * 3 + 2] * oz;
      V[v + 9 + i] = s;
      oo += s * s;
    }
    V[v + 12] = oo - 1;
    for (let q = 0; q < h[o + 21]; q++) {
      const p = o + 22 + 4 * q;
      const w = v + 13 + 4 * q;
      for (let i = 0; i < 3; i++) {
        V[w + i] = P[i * 3] * h[p] + P[i * 3 + 1] * h[p + 1] + P[i * 3 + 2] * h[p + 2];
      }
      V[w + 3] = h[p] * Oh[0] + h[p + 1] * Oh[1] + h[p + 2] * Oh[2] - h[p + 3];
    }
    // Screen bounds: project the corners of the solid's world-space bounding box.
    const c = [h[o + 9], h[o + 10], h[o + 11]];
    const wc = [0, 0, 0], ext = [0, 0, 0];
    for (let i = 0; i < 3; i++) {
      wc[i] = P[i * 3] * c[0] + P[i * 3 + 1] * c[1] + P[i * 3 + 2] * c[2];
      for (let j = 0; j < 3; j++) {
        const b = P[i * 3] * h[o + 32 + j] + P[i * 3 + 1] * h[o + 35 + j] +
          P[i * 3 + 2] * h[o + 38 + j];
        ext[i] += b * b;
      }
      ext[i] = Math.sqrt(ext[i]);
    }
    const scale = res / (2 * TAN_HALF);
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (let corner = 0; corner < 8; corner++) {
      const wx = wc[0] - camX + (corner & 1 ? ext[0] : -ext[0]);
      const wy = wc[1] - CAM_Y + (corner & 2 ? ext[1] : -ext[1]);
      const depth = Math.max(CAM_DIST - wc[2] + (corner & 4 ? ext[2] : -ext[2]), 1e-3);
      const sx = (wx / depth) * scale + res / 2, sy = res / 2 - (wy / depth) * scale;
      x0 = Math.min(x0, sx);
      x1 = Math.max(x1, sx);
      y0 = Math.min(y0, sy);
      y1 = Math.max(y1, sy);
    }
    V[v + 21] = Math.floor(x0 - 1);
    V[v + 22] = Math.ceil(x1);
    V[v + 23] = Math.floor(y0 - 1);
    V[v + 24] = Math.ceil(y1);
  }
}

/**
 * Nearest hit along camera ray (dx, dy, -1) among the solids in `list`, skipping lenses
 * when `noLens`. Sets hitPrim (-1 for none), hitEntry (-1: ellipsoid, else the cut
 * plane) and hitT.
 */
function trace(
  h: Float64Array,
  list: Int32Array,
  len: number,
  ix: number,
  dx: number,
  dy: number,
  noLens: boolean,
): void {
  const V_ = V;
  let best = Infinity;
  hitPrim = -1;
  for (let li = 0; li < len; li++) {
    const k = list[li];
    const v = k * STRIDE_V;
    if (ix < V_[v + 21] || ix > V_[v + 22]) continue;
    if (noLens && h[k * STRIDE_H + 30] === Mat.Lens) continue;
    const sx = V_[v] * dx + V_[v + 1] * dy - V_[v + 2];
    const sy = V_[v + 3] * dx + V_[v + 4] * dy - V_[v + 5];
    const sz = V_[v + 6] * dx + V_[v + 7] * dy - V_[v + 8];
    const a = sx * sx + sy * sy + sz * sz;
    const b = V_[v + 9] * sx + V_[v + 10] * sy + V_[v + 11] * sz;
    const disc = b * b - a * V_[v + 12];
    if (disc <= 0) continue;
    const sq = Math.sqrt(disc);
    let t0 = (-b - sq) / a;
    if (t0 >= best) continue;
    let t1 = (-b + sq) / a;
    let entry = -1;
    const planes = h[k * STRIDE_H + 21];
    for (let q = 0; q < planes; q++) {
      const w = v + 13 + 4 * q;
      const nd = V_[w] * dx + V_[w + 1] * dy - V_[w + 2];
      const no = V_[w + 3];
      if (nd === 0) {
        if (no > 0) t1 = -1;
        continue;
      }
      const tp = -no / nd;
      if (nd > 0) {
        if (tp < t1) t1 = tp;
      } else if (tp > t0) {
        t0 = tp;
        entry = q;
      }
    }
    if (t0 < t1 && t0 > 0 && t0 < best) {
      best = t0;
      hitPrim = k;
      hitEntry = entry;
    }
  }
  hitT[0] = best;
}

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
function shade(
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
        if (hd.hairStyle === 5 && (py > 0.5 || pz > 0.2)) hair = false; // balding crown
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

/** Shades one camera ray into rgb: the head if hit, else the background. */
function castPixel(
  cp: Compiled,
  list: Int32Array,
  len: number,
  ix: number,
  dx: number,
  dy: number,
  fx: number,
  fy: number,
): void {
  let noLens = false;
  let tint = 0;
  for (let pass = 0; pass < 2; pass++) {
    trace(cp.h, list, len, ix, dx, dy, noLens);
    const t = hitT[0];
    if (hitPrim < 0) {
      // background: a vertical gradient with a soft light fall-off
      const g = fy, vig = 1 - 0.25 * (fx - 0.5) * (fx - 0.5);
      for (let i = 0; i < 3; i++) rgb[i] = (bg[i] * (1 - g) + bg[3 + i] * g) * vig;
      break;
    }
    const k = hitPrim;
    const h = cp.h, o = k * STRIDE_H, v = k * STRIDE_V;
    // direction and hit point in the head frame
    const hx = P[0] * dx + P[3] * dy - P[6];
    const hy = P[1] * dx + P[4] * dy - P[7];
    const hz = P[2] * dx + P[5] * dy - P[8];
    const px = Oh[0] + t * hx, py = Oh[1] + t * hy, pz = Oh[2] + t * hz;
    const sx = V[v] * dx + V[v + 1] * dy - V[v + 2];
    const sy = V[v + 3] * dx + V[v + 4] * dy - V[v + 5];
    const sz = V[v + 6] * dx + V[v + 7] * dy - V[v + 8];
    const qx = V[v + 9] + t * sx, qy = V[v + 10] + t * sy, qz = V[v + 11] + t * sz;
    let nx: number, ny: number, nz: number;
    if (hitEntry < 0) {
      nx = h[o + 12] * qx + h[o + 13] * qy + h[o + 14] * qz;
      ny = h[o + 15] * qx + h[o + 16] * qy + h[o + 17] * qz;
      nz = h[o + 18] * qx + h[o + 19] * qy + h[o + 20] * qz;
    } else {
      const w = o + 22 + 4 * hitEntry;
      nx = h[w];
      ny = h[w + 1];
      nz = h[w + 2];
    }
    if (k < 2 && hitEntry < 0) {
      // Skull (0) and jaw (1) meet in a crease; blending in the other's normal near
      // its surface shades the union as one smooth head.
      const m = (1 - k) * STRIDE_H;
      const rx = px - h[m + 9], ry = py - h[m + 10], rz = pz - h[m + 11];
      const ux = h[m] * rx + h[m + 1] * ry + h[m + 2] * rz;
      const uy = h[m + 3] * rx + h[m + 4] * ry + h[m + 5] * rz;
      const uz = h[m + 6] * rx + h[m + 7] * ry + h[m + 8] * rz;
      const f = ux * ux + uy * uy + uz * uz - 1;
      if (f < 0.5) {
        const l0 = Math.sqrt(nx * nx + ny * ny + nz * nz);
        const mx = h[m + 12] * ux + h[m + 13] * uy + h[m + 14] * uz;
        const my = h[m + 15] * ux + h[m + 16] * uy + h[m + 17] * uz;
        const mz = h[m + 18] * ux + h[m + 19] * uy + h[m + 20] * uz;
        const w = (1 - (f < 0 ? 0 : f) * 2) * 0.5;
        const s = w / Math.sqrt(mx * mx + my * my + mz * mz);
        nx = (nx / l0) * (1 - w) + mx * s;
        ny = (ny / l0) * (1 - w) + my * s;
        nz = (nz / l0) * (1 - w) + mz * s;
      }
    }
    const nl = Math.sqrt(nx * nx + ny * ny + nz * nz);
    const hl = Math.sqrt(hx * hx + hy * hy + hz * hz);
    const lens = shade(
      cp,
      k,
      px,
      py,
      pz,
      nx / nl,
      ny / nl,
      nz / nl,
      qx,
      qy,
      qz,
      -hx / hl,
      -hy / hl,
      -hz / hl,
    );
    if (!lens) break;
    noLens = true;
    tint = 1;
  }
  if (tint) {
    // glass: slightly darker and bluish
    rgb[0] = rgb[0] * 0.88 + 0.02;
    rgb[1] = rgb[1] * 0.9 + 0.03;
    rgb[2] = rgb[2] * 0.92 + 0.05;
  }
}

function renderInto(cp: Compiled, view: View, res: number, out: Float32Array, offset: number) {
  setupView(cp, view, res);
  const n = cp.count;
  if (rowList.length < n) rowList = new Int32Array(n);
  const plane = res * res;
  const step = (2 * TAN_HALF) / res;
  for (let iy = 0; iy < res; iy++) {
    let len = 0;
    for (let k = 0; k < n; k++) {
      const v = k * STRIDE_V;
      if (iy >= V[v + 23] && iy <= V[v + 24]) rowList[len++] = k;
    }
    const dy = TAN_HALF - (iy + 0.5) * step;
    const fy = (iy + 0.5) / res;
    for (let ix = 0; ix < res; ix++) {
      const dx = -TAN_HALF + (ix + 0.5) * step;
      castPixel(cp, rowList, len, ix, dx, dy, (ix + 0.5) / res, fy);
      const p = offset + iy * res + ix;
      for (let c = 0; c < 3; c++) {
        const x = rgb[c];
        out[p + c * plane] = (x < 0 ? 0 : x > 1 ? 1 : x) * 2 - 1;
      }
    }
  }
}

let superBuf = new Float32Array(0);

/**
 * Renders `identity` under `view` as a size x size RGB image in [-1, 1], CHW order
 * (3 planes of size*size), into `out` at `offset` (a new array when not given).
 */
export function renderFace(
  identity: Identity,
  view: View,
  size: number,
  out?: Float32Array,
  offset = 0,
  options: RenderOptions = {},
): Float32Array {
  if (!Number.isInteger(size) || size < 4) throw new RangeError(`image size ${size} is below 4`);
  if (!(view.light >= 0 && view.light < LIGHTS.length)) {
    throw new RangeError(`light ${view.light} is not in 0..${LIGHTS.length - 1}`);
  }
  const target = out ?? new Float32Array(3 * size * size);
  const cp = compile(identity);
  const ss = options.supersample ?? (size < 64 ? 2 : 1);
  if (ss <= 1) {
    renderInto(cp, view, size, target, offset);
    return target;
  }
  const big = size * ss;
  if (superBuf.length < 3 * big * big) superBuf = new Float32Array(3 * big * big);
  renderInto(cp, view, big, superBuf, 0);
  const inv = 1 / (ss * ss);
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        let s = 0;
        for (let j = 0; j < ss; j++) {
          const row = c * big * big + (y * ss + j) * big + x * ss;
          for (let i = 0; i < ss; i++) s += superBuf[row + i];
        }
        target[offset + c * size * size + y * size + x] = s * inv;
      }
    }
  }
  return target;
}
