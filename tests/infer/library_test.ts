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
    const r = await deno([
      "run",
      `--allow-read=${ROOT},${face}`,
      "--allow-env=XDG_RUNTIME_DIR,DRGAN_TUNE,DRGAN_TUNE_DIR,HOME,LOG_TOKENS,LOG_STREAM",
      script,
      model,
      face,
    ], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    const [n, norm] = r.stdout.trim().split(" ").map(Number);
    assert.equal(n, 80, r.stdout); // drgan-small's identity feature: 320 x width 0.25
    assert.ok(norm > 0 && Number.isFinite(norm), r.stdout);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
