import { equal, ok, rejects } from "node:assert/strict";
import { UsageError } from "../../src/cli/args.ts";
import { main } from "../../src/data/cli.ts";
import { decodePNG } from "../../src/data/png.ts";
import { makePNG } from "./helpers.ts";

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
