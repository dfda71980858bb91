// The library as a script outside the repository uses it: an import of mod.ts by path
// (no deno.json of ours in sight), run with narrow permissions, computing the
// features of one face with the shipped small model.
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { deno } from "../commands.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

Deno.test("library: a script outside the repository imports mod.ts by path", async () => {
  const dir = await Deno.makeTempDir({ prefix: "drgan-user-" });
  try {
    const face = join(dir, "face.png");
    const made = await deno([
      "run",
      "--allow-read",
      "--allow-write",
      join(ROOT, "src/cli/data.ts"),
      "face",
      "--id",
      "3",
      "--yaw",
      "30",
      "--out",
      face,
    ]);
    assert.equal(made.code, 0, made.stderr);
    const script = join(dir, "features.ts");
    Deno.writeTextFileSync(
      script,
      `import { FaceModel, loadImage } from ${
        JSON.stringify(new URL("mod.ts", `file://${ROOT}`).href)
      };
const m = await FaceModel.load({ run: Deno.args[0] });
const [f] = await m.features([loadImage(Deno.args[1], m.size)]);
console.log(f.length, Math.hypot(...f).toFixed(3));
`,
    );
    const model = join(ROOT, "models/drgan-small");
    const run = (file: string) =>
      deno([
        "run",
        `--allow-read=${ROOT},${face},${dir}`,
        "--allow-env=XDG_RUNTIME_DIR,DRGAN_TUNE,DRGAN_TUNE_DIR,HOME,LOG_TOKENS,LOG_STREAM",
        file,
        model,
        face,
      ], { cwd: dir });
    const r = await run(script);
    assert.equal(r.code, 0, r.stderr);
    const [n, norm] = r.stdout.trim().split(" ").map(Number);
    assert.equal(n, 80, r.stdout); // drgan-small's identity feature: 320 x width 0.25
    assert.ok(norm > 0 && Number.isFinite(norm), r.stdout);

    // The library bundled into one file (deno task bundle:lib) does the same.
    const lib = join(dir, "drgan.js");
    const built = await deno(["bundle", "--platform", "deno", "-o", lib, join(ROOT, "mod.ts")]);
    assert.equal(built.code, 0, built.stderr);
    const bundled = join(dir, "features_bundled.ts");
    Deno.writeTextFileSync(
      bundled,
      Deno.readTextFileSync(script).replace(/from "[^"]+"/, `from "./drgan.js"`),
    );
    const b = await run(bundled);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(b.stdout, r.stdout, "the bundle computes the same feature");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
