import { deepEqual, equal, notDeepEqual, ok, throws } from "node:assert/strict";
import { type Batch, MultiImageSampler, SingleImageSampler } from "../../src/data/batcher.ts";
import { ImageSet } from "../../src/data/dataset.ts";
import { augmentCHW, paddingFor } from "../../src/data/image.ts";
import { mirrorPose, NUM_POSES, poseOfYaw, yawOfPose } from "../../src/data/pose.ts";
import { Prefetcher } from "../../src/data/prefetch.ts";

/** A tiny set whose pixel values encode (image, x, y) so crops and flips can be checked. */
function tinySet(people: number, perPerson: number, size = 8): ImageSet {
  const n = people * perPerson;
  const px = new Uint8Array(n * size * size * 3);
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < size * size; p++) {
      px.set([i, p % size, Math.floor(p / size)], (i * size * size + p) * 3);
    }
  }
  const identity = Int32Array.from({ length: n }, (_, i) => Math.floor(i / perPerson));
  const pose = Int32Array.from({ length: n }, (_, i) => i % NUM_POSES);
  return new ImageSet(size, px, identity, pose, new Int32Array(n), people, 1);
}

const byte = (v: number) => Math.round((v + 1) * 127.5);

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

Deno.test("single-image batches: NCHW, labels, mirrored poses, deterministic by seed", () => {
  const set = tinySet(5, 13);
  const make = (seed: number) => new SingleImageSampler(set, { batchSize: 16, seed, noiseDim: 4 });
  const a = make(1).next(), b = make(1).next(), c = make(2).next();
  deepEqual(a.images, b.images);
  notDeepEqual(a.images, c.images);
  equal(a.images.length, 16 * 3 * 8 * 8);
  equal(a.noise.length, 16 * 4);
  ok(a.noise.every((v) => v >= -1 && v <= 1));
  let mirrored = 0;
  for (let k = 0; k < 16; k++) {
    const i = byte(a.images[k * 192]); // red channel of the top-left pixel: the image index
    equal(a.identity[k], set.identity[i]);
    const flipped = a.pose[k] !== set.pose[i];
    if (flipped) {
      mirrored++;
      equal(a.pose[k], 12 - set.pose[i]);
    }
    ok(a.targetPose[k] >= 0 && a.targetPose[k] < NUM_POSES);
  }
  ok(mirrored > 0 && mirrored < 16, `${mirrored} of 16 mirrored`);
});

Deno.test("single-image epochs visit every image once", () => {
  const set = tinySet(3, 4);
  const s = new SingleImageSampler(set, { batchSize: 4, seed: 3, crop: false, mirror: false });
  const seen: number[] = [];
  for (let b = 0; b < 3; b++) {
    const batch = s.next();
    for (let k = 0; k < 4; k++) seen.push(byte(batch.images[k * 192]));
  }
  deepEqual(seen.sort((x, y) => x - y), [...Array(12).keys()]);
});

Deno.test("multi-image batches: groups of n images of one person, adjacent, one target", () => {
  const set = tinySet(6, 5);
  const s = new MultiImageSampler(set, { batchSize: 12, groupSize: 3, seed: 4 });
  for (let b = 0; b < 4; b++) {
    const batch = s.next();
    equal(batch.groupSize, 3);
    for (let g = 0; g < 4; g++) {
      const ids = [0, 1, 2].map((k) => batch.identity[g * 3 + k]);
      const images = [0, 1, 2].map((k) => byte(batch.images[(g * 3 + k) * 192]));
      ok(ids.every((id) => id === ids[0]), `group ${g}: ${ids}`);
      ok(images.every((i) => set.identity[i] === ids[0]));
      equal(new Set(images).size, 3, "distinct images while the person has enough");
      const t = [0, 1, 2].map((k) => batch.targetPose[g * 3 + k]);
      ok(t.every((x) => x === t[0]));
    }
  }
  throws(() => new MultiImageSampler(set, { batchSize: 10, groupSize: 3, seed: 1 }), /multiple/);
});

Deno.test("the prefetcher hands out batches in order and makes the next one meanwhile", async () => {
  const set = tinySet(2, 13);
  const sampler = new SingleImageSampler(set, { batchSize: 2, seed: 5 });
  const uploaded: number[] = [];
  let made = 0;
  const pf = new Prefetcher(() => {
    made++;
    return sampler.next();
  }, (b: Batch) => {
    uploaded.push(b.index);
  });
  const first = await pf.next();
  equal(first.index, 0);
  await new Promise((r) => setTimeout(r, 5)); // the "GPU step"
  equal(made, 2, "batch 1 was made while batch 0 was in use");
  equal((await pf.next()).index, 1);
  deepEqual(uploaded, [0, 1]);
  pf.close();
});
