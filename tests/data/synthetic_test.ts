import { deepEqual, equal, notDeepEqual, ok } from "node:assert/strict";
import { HELD_OUT_BASE, identityFromSeed, identityNumber } from "../../src/data/identity.ts";
import { NUM_POSES } from "../../src/data/pose.ts";
import { renderFace } from "../../src/data/synthetic.ts";
import { SyntheticDataset } from "../../src/data/synthetic_set.ts";
import { type View, viewFor } from "../../src/data/view.ts";

const S = 64;

function meanAbs(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s / a.length;
}

function mirrorCHW(img: Float32Array, size: number): Float32Array {
  const out = new Float32Array(img.length);
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        out[c * size * size + y * size + x] = img[c * size * size + y * size + size - 1 - x];
      }
    }
  }
  return out;
}

/** A view with no jitter and the frontal light: mirror-symmetric conditions. */
function plain(yaw: number): View {
  return {
    yaw,
    pitch: 0,
    roll: 0,
    light: 0,
    ambient: 0.35,
    intensity: 0.9,
    warmth: 0,
    background: 7,
  };
}

Deno.test("same seed, identity, pose and light give identical images", () => {
  const a = renderFace(identityFromSeed(3, 5), viewFor(3, 5, 4, 2), S);
  const b = renderFace(identityFromSeed(3, 5), viewFor(3, 5, 4, 2), S);
  deepEqual(new Uint8Array(a.buffer), new Uint8Array(b.buffer));
  const ds1 = new SyntheticDataset({ seed: 9, split: "train", identities: 2, imageSize: 32 });
  const ds2 = new SyntheticDataset({ seed: 9, split: "train", identities: 2, imageSize: 32 });
  deepEqual(ds1.get(17).image, ds2.get(17).image);
});

Deno.test("images are CHW of the asked size with values in [-1, 1]", () => {
  for (const size of [24, 96]) {
    const img = renderFace(identityFromSeed(1, 0), viewFor(1, 0, 6, 0), size);
    equal(img.length, 3 * size * size);
    let lo = Infinity, hi = -Infinity;
    for (const v of img) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    ok(lo >= -1 && hi <= 1 && hi - lo > 0.5, `range ${lo}..${hi}`);
  }
  // rendering into a batch buffer at an offset leaves the rest alone
  const buf = new Float32Array(2 * 3 * S * S).fill(5);
  renderFace(identityFromSeed(1, 0), viewFor(1, 0, 6, 0), S, buf, 3 * S * S);
  equal(buf[0], 5);
  ok(buf[3 * S * S] <= 1);
});

Deno.test("different identities, poses and lights give different images", () => {
  const v = plain(0);
  const a = renderFace(identityFromSeed(1, 0), v, S);
  const b = renderFace(identityFromSeed(1, 1), v, S);
  ok(meanAbs(a, b) > 0.03, "identities differ");
  const c = renderFace(identityFromSeed(1, 0), { ...v, light: 3 }, S);
  ok(meanAbs(a, c) > 0.02, "lights differ");
  const d = renderFace(identityFromSeed(1, 0), { ...v, yaw: 45 }, S);
  ok(meanAbs(a, d) > 0.03, "poses differ");
});

Deno.test("mirroring yaw +θ gives yaw -θ: exactly without a side parting, closely with one", () => {
  const person = { ...identityFromSeed(2, 4), hairPart: 0, hairStyle: 1 };
  for (const yaw of [30, 75]) {
    const right = mirrorCHW(renderFace(person, plain(yaw), S), S);
    const left = renderFace(person, plain(-yaw), S);
    ok(meanAbs(right, left) < 1e-6, `symmetric head at ${yaw}°: ${meanAbs(right, left)}`);
  }
  const parted = { ...person, hairPart: 0.12 };
  const right = mirrorCHW(renderFace(parted, plain(45), S), S);
  const left = renderFace(parted, plain(-45), S);
  const d = meanAbs(right, left);
  ok(d > 0.003 && d < 0.08, `side-parted hair is not symmetric but close: ${d}`);
});

Deno.test("a profile shows the nose's length, a frontal view its width", () => {
  const base = { ...identityFromSeed(5, 1), glasses: false, beard: 0 };
  const diff = (a: typeof base, b: typeof base, yaw: number) =>
    meanAbs(renderFace(a, plain(yaw), S), renderFace(b, plain(yaw), S));
  const long = { ...base, noseLength: 1.4 }, short = { ...base, noseLength: 0.7 };
  const wide = { ...base, noseWidth: 1.35 }, narrow = { ...base, noseWidth: 0.75 };
  ok(diff(long, short, 90) > 1.5 * diff(long, short, 0), "length shows in profile");
  ok(diff(wide, narrow, 0) > 1.5 * diff(wide, narrow, 90), "width shows frontally");
});

Deno.test("turning the head moves the nose across the image", () => {
  // The nose tip changes the silhouette most: compare a noseless and a nosed head.
  const person = { ...identityFromSeed(6, 2), glasses: false };
  const columnOfChange = (yaw: number) => {
    const a = renderFace({ ...person, noseLength: 1.4 }, plain(yaw), S);
    const b = renderFace({ ...person, noseLength: 0.7 }, plain(yaw), S);
    let sx = 0, sw = 0;
    for (let p = 0; p < S * S; p++) {
      const w = Math.abs(a[p] - b[p]) + Math.abs(a[S * S + p] - b[S * S + p]);
      sx += w * (p % S);
      sw += w;
    }
    return sx / sw;
  };
  const left = columnOfChange(-60), front = columnOfChange(0), right = columnOfChange(60);
  ok(left < front - 3 && front < right - 3, `nose columns ${left}, ${front}, ${right}`);
});

Deno.test("training and held-out people are disjoint", () => {
  const seed = 11;
  const train = new SyntheticDataset({ seed, split: "train", identities: 50, imageSize: 16 });
  const test = new SyntheticDataset({ seed, split: "test", identities: 50, imageSize: 16 });
  const key = (p: ReturnType<typeof identityFromSeed>) => JSON.stringify({ ...p, id: 0 });
  const trainIds = new Set(Array.from({ length: 50 }, (_, j) => train.person(j).id));
  const trainKeys = new Set(Array.from({ length: 50 }, (_, j) => key(train.person(j))));
  for (let j = 0; j < 50; j++) {
    ok(!trainIds.has(test.person(j).id));
    ok(!trainKeys.has(key(test.person(j))), "no held-out person looks like a training one");
  }
  equal(identityNumber("test", 3), HELD_OUT_BASE + 3);
  notDeepEqual(identityFromSeed(1, 0), identityFromSeed(2, 0));
});

Deno.test("a synthetic dataset enumerates person, pose, light and variant", () => {
  const ds = new SyntheticDataset({
    seed: 1,
    split: "train",
    identities: 3,
    imageSize: 16,
    lights: [0, 4],
    variants: 2,
  });
  equal(ds.size, 3 * NUM_POSES * 2 * 2);
  deepEqual(ds.labels(0), { identity: 0, pose: 0, light: 0 });
  deepEqual(ds.labels(2), { identity: 0, pose: 0, light: 4 });
  deepEqual(ds.labels(4), { identity: 0, pose: 1, light: 0 });
  deepEqual(ds.labels(ds.size - 1), { identity: 2, pose: 12, light: 4 });
  // variants of one (person, pose, light) differ in jitter and background
  ok(meanAbs(ds.get(0).image, ds.get(1).image) > 0.01);
});
