// deno task bench:data — synthetic images per second at 96x96 on the CPU (one thread),
// the median of several timed runs after a warm-up, plus training batches as the
// trainer gets them (src/train/data.ts), on this thread and from a pool of 1, 2 and
// all cores' data workers (src/train/data_pool.ts); and PNG files decoded and resized
// as a manifest's images are loaded, on this thread and by the same pools.
import process from "node:process";
import { loadModel } from "../src/lang/model.ts";
import { trainingConfig } from "../src/train/config.ts";
import { openTrainData } from "../src/train/data.ts";
import { DataPool } from "../src/train/data_pool.ts";
import { readImage } from "../src/data/folder.ts";
import { encodePNG } from "../src/data/png.ts";
import { fromCHW } from "../src/data/image.ts";
import { identityFromSeed } from "../src/data/identity.ts";
import { NUM_POSES } from "../src/data/pose.ts";
import { renderFace } from "../src/data/synthetic.ts";
import { NUM_LIGHTS, viewFor } from "../src/data/view.ts";

const SIZE = 96;
const PEOPLE = 24; // 24 people x 13 poses = 312 images a run
const RUNS = 7;

const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[xs.length >> 1];
const cpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

function renderRun(run: number, out: Float32Array): number {
  let n = 0;
  for (let j = 0; j < PEOPLE; j++) {
    const id = run * PEOPLE + j;
    const person = identityFromSeed(1, id);
    for (let pose = 0; pose < NUM_POSES; pose++) {
      renderFace(person, viewFor(1, id, pose, (j + pose) % NUM_LIGHTS), SIZE, out);
      n++;
    }
  }
  return n;
}

const out = new Float32Array(3 * SIZE * SIZE);
renderRun(100, out); // warm-up: compile the hot loops
const wall: number[] = [], cpu: number[] = [];
for (let r = 0; r < RUNS; r++) {
  const t0 = performance.now(), c0 = cpuSeconds();
  const n = renderRun(r, out);
  wall.push(n / ((performance.now() - t0) / 1000));
  cpu.push(n / (cpuSeconds() - c0));
}
console.log(`synthetic render ${SIZE}x${SIZE}, CPU, 1 thread, median of ${RUNS} runs:`);
console.log(
  `  ${median(wall).toFixed(0)} images/s wall clock (runs: ${
    wall.map((x) => x.toFixed(0)).join(" ")
  })`,
);
console.log(`  ${median(cpu).toFixed(0)} images/s per CPU second`);

// Batches of 64 as training gets them for graphs/drgan.yaml (96x96): rendering plus labels.
const model = loadModel("graphs/drgan.yaml");
const cfg = trainingConfig(model);
const data = await openTrainData(model, cfg, {});
await data.batch(0);
const rates: number[] = [];
for (let r = 1; r <= 5; r++) {
  const t0 = performance.now();
  await data.batch(r);
  rates.push(cfg.batch / ((performance.now() - t0) / 1000));
}
console.log(
  `  ${
    median(rates).toFixed(0)
  } images/s as ${cfg.batch}-image training batches (rendered on the fly)`,
);

// The same batches from the data workers (--data-workers N), fetched back to back: the
// pool's own rate, with nothing else for the cores to do.
const cores = navigator.hardwareConcurrency;
for (const n of [...new Set([1, 2, cores])]) {
  const pool = DataPool.start(n);
  const served = await pool.serve(
    { graph: "graphs/drgan.yaml", overrides: [], options: {} },
    data,
    { from: 0, to: cfg.batch },
  );
  await served.batch(0);
  const steps = 8, t0 = performance.now();
  for (let s = 1; s <= steps; s++) await served.batch(s);
  const rate = steps * cfg.batch / ((performance.now() - t0) / 1000);
  pool.close();
  console.log(`  ${rate.toFixed(0)} images/s, ${n} data workers (${cores} cores)`);
}

// Decoding: 64 PNG photos of 250x250 (rendered faces) read, decoded and resized to 96x96.
const dir = Deno.makeTempDirSync();
const files: string[] = [];
for (let k = 0; k < 64; k++) {
  const chw = renderFace(identityFromSeed(2, k), viewFor(2, k, k % NUM_POSES, 0), 250);
  files.push(`${dir}/${k}.png`);
  Deno.writeFileSync(files[k], encodePNG(fromCHW(chw, 250), 250, 250, 3));
}
const reading = { size: SIZE, dir };
const decodeRate = async (read: () => Promise<unknown>) => {
  await read(); // warm-up
  const rates: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    await read();
    rates.push(files.length / ((performance.now() - t0) / 1000));
  }
  return median(rates);
};
const one = await decodeRate(() => Promise.all(files.map((f) => readImage(f, reading))));
console.log(
  `  ${one.toFixed(0)} PNG images/s decoded (250x250 -> 96x96, median of 5) on the main thread`,
);
for (const n of [...new Set([1, 2, cores])]) {
  const pool = DataPool.start(n);
  const rate = await decodeRate(() => pool.readMany(files, reading));
  pool.close();
  console.log(`  ${rate.toFixed(0)} PNG images/s decoded, ${n} data workers (${cores} cores)`);
}
Deno.removeSync(dir, { recursive: true });
