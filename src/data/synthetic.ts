// CPU ray caster for the procedural head: per pixel, the nearest of a few dozen clipped
// ellipsoids, then a material and Lambert/Blinn shading with a shadow from the nose.
// Per-image work (pose, light, screen bounds) is hoisted out of the pixel loop, and the
// loop itself allocates nothing, which is what makes it fast enough to not need a GPU.
import type { Identity } from "./identity.ts";
import { Mat } from "./head.ts";
import { Lh, light, rgb, shade } from "./shading.ts";
import { compile, type Compiled, STRIDE_H } from "./solids.ts";
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

// Per-image constants, STRIDE_V numbers per solid:
// A (9: camera ray -> unit sphere), o (3: camera in unit sphere), o·o - 1 (1),
// 2 planes x (n in camera frame, n·o - d) (8), bbox x0 x1 y0 y1 (4).
const STRIDE_V = 25;

// Scratch state of the pixel loop: sized on demand, never per pixel.
let V = new Float64Array(0);
let rowList = new Int32Array(0);
const P = new Float64Array(9); // head -> camera rotation
const Oh = new Float64Array(3); // camera position in the head frame
const bg = new Float64Array(6);
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
