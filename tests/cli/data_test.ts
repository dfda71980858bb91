import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { UsageError } from "../../src/cli/args.ts";
import { main } from "../../src/cli/data.ts";
import { fromCHW } from "../../src/data/image.ts";
import { decodePNG } from "../../src/data/png.ts";
import { poseOfYaw } from "../../src/data/pose.ts";
import { heldOutFaces } from "../../src/eval/evaluate.ts";
import { makePNG } from "../data/helpers.ts";
import { command } from "../commands.ts";

async function quietly<T>(f: () => Promise<T>): Promise<string[]> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...a: unknown[]) => lines.push(a.join(" "));
  try {
    await f();
  } finally {
    console.log = log;
  }
  return lines;
}

Deno.test("data preview writes a contact sheet: people by 13 poses", async () => {
  const dir = await Deno.makeTempDir({ prefix: "drgan-cli-" });
  try {
    const out = `${dir}/sheet.png`;
    await quietly(() =>
      main(["preview", "--size", "16", "--ids", "2", "--seed", "3", "--out", out])
    );
    const img = decodePNG(await Deno.readFile(out));
    equal(img.width, 13 * 16 + 14 * 2);
    equal(img.height, 2 * 16 + 3 * 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("data check prints a summary; bad flags are usage errors", async () => {
  const dir = await Deno.makeTempDir({ prefix: "drgan-cli-" });
  try {
    await Deno.writeFile(`${dir}/a.png`, makePNG(4, 4, [1, 2, 3]));
    await Deno.writeTextFile(`${dir}/m.csv`, "a.png,1,6\nb.png,1,6\n");
    const lines = await quietly(() => main(["check", "--manifest", `${dir}/m.csv`, "--skip-bad"]));
    ok(lines.join("\n").includes("1 image of 1 identity"), lines.join("\n"));
    ok(lines.join("\n").includes("1 skipped of 2 lines"));
    await rejects(main(["preview", "--size", "abc"]), UsageError);
    await rejects(main(["preview", "--ids", "0"]), UsageError);
    await rejects(main(["check"]), UsageError);
    await rejects(main(["frobnicate"]), UsageError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("data face writes one held-out face, as the evaluation renders it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "drgan-cli-" });
  try {
    const out = `${dir}/face.png`;
    const lines = await quietly(() => main(["face", "--id", "3", "--yaw", "45", "--out", out]));
    deepEqual(lines, [`wrote ${out}: person 3 of the test split, yaw 45, light 0, 32x32`]);
    const img = decodePNG(await Deno.readFile(out));
    equal(img.width, 32);
    equal(img.height, 32);
    const expected = fromCHW(heldOutFaces(1, 4, 32)[3][poseOfYaw(45)], 32);
    deepEqual([...img.data], [...expected], "the evaluation's probe of person 3 at yaw 45");
    await quietly(() =>
      main(["face", "--id", "0", "--yaw", "-90", "--size", "16", "--split", "train", "--out", out])
    );
    equal(decodePNG(await Deno.readFile(out)).width, 16);
    await rejects(main(["face", "--yaw", "0", "--out", out]), /face needs --id N/);
    await rejects(main(["face", "--id", "1", "--yaw", "0"]), /face needs --out/);
    await rejects(
      main(["face", "--id", "1", "--yaw", "0", "--light", "99", "--out", out]),
      UsageError,
    );
    await rejects(
      main(["face", "--id", "1", "--yaw", "0", "--split", "dev", "--out", out]),
      UsageError,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("data face: a yaw that is not a pose exits 1 and lists the poses", async () => {
  const dir = await Deno.makeTempDir({ prefix: "drgan-cli-" });
  try {
    const o = await command(
      "data",
      ["face", "--id", "3", "--yaw", "40", "--out", `${dir}/face.png`],
      { perms: ["--allow-read", "--allow-write"] },
    );
    const err = o.stderr;
    equal(o.code, 1, err);
    ok(
      err.startsWith(
        "error: --yaw must be one of the pose yaws " +
          "-90, -75, -60, -45, -30, -15, 0, 15, 30, 45, 60, 75, 90, got 40\n",
      ),
      err,
    );
    deepEqual([...Deno.readDirSync(dir)], [], "nothing written");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
