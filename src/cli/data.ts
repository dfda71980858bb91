// deno task data <command>: look at the synthetic data, build its cache, or check a
// real dataset's manifest. Bad flags and bad data print one message and exit 1.
import { dirname, join } from "node:path";
import { writeFileAtomic } from "../formats/atomic.ts";
import { maxPixelsFlag, parseArgs, runMain, UsageError } from "./args.ts";
import { contactSheet } from "../data/contact_sheet.ts";
import { formatSummary, loadFolder } from "../data/folder.ts";
import { identityFromSeed, identityNumber, type Split } from "../data/identity.ts";
import { fromCHW } from "../data/image.ts";
import { encodePNG } from "../data/png.ts";
import { NUM_POSES, poseOfYaw, yawOfPose } from "../data/pose.ts";
import { renderFace } from "../data/synthetic.ts";
import { loadSynthetic } from "../data/synthetic_set.ts";
import { NUM_LIGHTS, viewFor } from "../data/view.ts";

const USAGE = `usage: deno task data <command> [flags]
commands:
  preview   [--size 96] [--ids 8] [--seed 1] [--split train|test] [--light K] [--out runs/data-preview.png]
            contact sheet of synthetic faces: rows people, columns the 13 poses
  generate  [--size 96] [--ids 200] [--seed 1] [--split train|test] [--lights 0,1,...] [--variants 1]
            [--cache-dir .cache/data]   render a synthetic set into the on-disk cache
  face      --id N --yaw DEG --out face.png [--size 32] [--seed 1] [--split test|train] [--light K]
            one synthetic face to try inference with: person N of the split (test: the
            held-out people the evaluation uses), yaw -90..90 in steps of 15; size 32 is
            the small model's (models/drgan-small)
  check     --manifest FILE [--size 96] [--skip-bad] [--allow-outside-paths] [--max-pixels N]
            load a real dataset and print its summary; image paths must stay inside
            the manifest's folder unless --allow-outside-paths`;

function int(name: string, v: number | undefined, dflt: number, min: number, max = 1e9): number {
  const x = v ?? dflt;
  if (!Number.isInteger(x) || x < min || x > max) {
    throw new UsageError(`--${name} must be an integer in ${min}..${max}, got ${x}`);
  }
  return x;
}

function split(v: string | undefined): Split {
  if (v === undefined || v === "train" || v === "test") return v ?? "train";
  throw new UsageError(`--split must be train or test, got '${v}'`);
}

export async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "help" || command === "--help") {
    console.log(USAGE);
    return;
  }
  if (command === "preview") {
    const a = parseArgs(rest, {
      numbers: ["size", "ids", "seed", "light"],
      strings: ["out", "split"],
      bools: ["debug"],
    });
    if (a.positional.length) throw new UsageError(`unexpected argument '${a.positional[0]}'`);
    const size = int("size", a.numbers.size, 96, 8, 512);
    const ids = int("ids", a.numbers.ids, 8, 1, 200);
    const seed = int("seed", a.numbers.seed, 1, 0, 2 ** 32 - 1);
    const light = a.numbers.light === undefined
      ? undefined
      : int("light", a.numbers.light, 0, 0, NUM_LIGHTS - 1);
    // Under runs/ unless told: nothing lands in the working folder by surprise.
    const out = a.strings.out ?? join("runs", "data-preview.png");
    const png = contactSheet({ seed, ids, size, split: split(a.strings.split), light });
    if (!a.strings.out) Deno.mkdirSync(dirname(out), { recursive: true });
    writeFileAtomic(out, png);
    console.log(`wrote ${out}: ${ids} people x 13 poses at ${size}x${size}`);
  } else if (command === "generate") {
    const a = parseArgs(rest, {
      numbers: ["size", "ids", "seed", "variants"],
      strings: ["split", "lights", "cache-dir"],
      bools: ["debug"],
    });
    if (a.positional.length) throw new UsageError(`unexpected argument '${a.positional[0]}'`);
    const lights = a.strings.lights?.split(",").map((t) => {
      const k = Number(t);
      if (t.trim() === "" || !Number.isInteger(k) || k < 0 || k >= NUM_LIGHTS) {
        throw new UsageError(`--lights takes indices in 0..${NUM_LIGHTS - 1}, got '${t}'`);
      }
      return k;
    });
    const t0 = performance.now();
    const { set, cached, key } = await loadSynthetic({
      seed: int("seed", a.numbers.seed, 1, 0, 2 ** 32 - 1),
      split: split(a.strings.split),
      identities: int("ids", a.numbers.ids, 200, 1, 100000),
      imageSize: int("size", a.numbers.size, 96, 8, 512),
      lights,
      variants: int("variants", a.numbers.variants, 1, 1, 1000),
    }, {
      cacheDir: a.strings["cache-dir"],
      progress: (d, n) => console.log(`rendered ${d}/${n}`),
    });
    const secs = (performance.now() - t0) / 1000;
    console.log(
      `${cached ? "already cached" : "cached"}: ${key} (${set.size} images, ` +
        `${set.numIdentities} people, ${secs.toFixed(1)} s)`,
    );
  } else if (command === "face") {
    const a = parseArgs(rest, {
      numbers: ["id", "yaw", "size", "seed", "light"],
      strings: ["out", "split"],
      bools: ["debug"],
    });
    if (a.positional.length) throw new UsageError(`unexpected argument '${a.positional[0]}'`);
    if (a.numbers.id === undefined) throw new UsageError("face needs --id N");
    if (!a.strings.out) throw new UsageError("face needs --out FILE.png");
    const yaws = Array.from({ length: NUM_POSES }, (_, p) => yawOfPose(p));
    const pose = a.numbers.yaw === undefined ? -1 : poseOfYaw(a.numbers.yaw);
    if (pose < 0 || yawOfPose(pose) !== a.numbers.yaw) {
      throw new UsageError(
        `--yaw must be one of the pose yaws ${yaws.join(", ")}, got ${a.numbers.yaw ?? "none"}`,
      );
    }
    const j = int("id", a.numbers.id, 0, 0, 1e6);
    const size = int("size", a.numbers.size, 32, 8, 512);
    const seed = int("seed", a.numbers.seed, 1, 0, 2 ** 32 - 1);
    const light = int("light", a.numbers.light, 0, 0, NUM_LIGHTS - 1);
    const sp = split(a.strings.split ?? "test");
    // As evaluate.ts renders them: the test split's variant 1 is the rank-1 probes and
    // gallery; the train split's variant 0 is what training sees.
    const id = identityNumber(sp, j);
    const chw = renderFace(
      identityFromSeed(seed, id),
      viewFor(seed, id, pose, light, sp === "test" ? 1 : 0),
      size,
    );
    await Deno.writeFile(a.strings.out, encodePNG(fromCHW(chw, size), size, size, 3));
    console.log(
      `wrote ${a.strings.out}: person ${j} of the ${sp} split, yaw ${a.numbers.yaw}, ` +
        `light ${light}, ${size}x${size}`,
    );
  } else if (command === "check") {
    const a = parseArgs(rest, {
      numbers: ["size", "max-pixels"],
      strings: ["manifest"],
      bools: ["skip-bad", "allow-outside-paths", "debug"],
    });
    if (a.positional.length) throw new UsageError(`unexpected argument '${a.positional[0]}'`);
    if (!a.strings.manifest) throw new UsageError("check needs --manifest FILE");
    const { summary } = await loadFolder(a.strings.manifest, {
      imageSize: int("size", a.numbers.size, 96, 8, 1024),
      skipBad: a.bools["skip-bad"],
      allowOutside: a.bools["allow-outside-paths"],
      maxPixels: maxPixelsFlag(a.numbers["max-pixels"]),
    });
    console.log(formatSummary(summary));
  } else {
    throw new UsageError(`unknown command '${command}'`);
  }
}

if (import.meta.main) await runMain(USAGE, main);
