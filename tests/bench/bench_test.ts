// `deno task bench --quick --only train` on a tiny variant: the harness runs, and
// results.json holds well-formed records next to a RESULTS.md. The full benchmark
// is not part of the tests (see bench/main.ts).
import assert from "node:assert/strict";
import { recordProblems } from "../../bench/record.ts";
import { deno, PERMS, sets } from "../commands.ts";

Deno.test("bench --quick --only train writes well-formed records", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bench-test-" });
  try {
    const tiny = sets(["size=16", "width=0.125", "Nd=5"]);
    const out = await deno([
      "run",
      ...PERMS,
      "--allow-run",
      "bench/main.ts",
      "--quick",
      "--only",
      "train",
      ...tiny,
      "--out",
      dir,
    ]);
    assert.equal(out.code, 0, `${out.stdout}\n${out.stderr}`);
    const records = JSON.parse(await Deno.readTextFile(`${dir}/results.json`));
    assert.deepEqual(recordProblems(records), []);
    const names = records.map((r: { name: string }) => r.name.replace(/ \[--set .*\]$/, ""));
    for (
      const want of [
        "train small (batch 16) iteration",
        "train small (batch 16) iteration, unfused",
        "train small (batch 16) effective GFLOP/s (estimate)",
        "train small (batch 16) dispatches per iteration",
        "train small (batch 16) GPU memory, planned",
        "train small (batch 16) GPU memory, unplanned",
      ]
    ) assert.ok(names.includes(want), `no record '${want}' in ${names.join(", ")}`);
    for (const r of records) {
      assert.match(r.name, /\[--set size=16 width=0\.125 Nd=5\]$/, "overridden graphs say so");
      assert.ok(r.value > 0, `${r.name}: ${r.value}`);
    }
    const md = await Deno.readTextFile(`${dir}/RESULTS.md`);
    assert.match(md, /## Training iteration/);
    assert.match(md, /llvmpipe|Adapter: /);
    // the shape check itself catches a bad record
    assert.notDeepEqual(recordProblems([{ ...records[0], value: "fast" }]), []);
    assert.notDeepEqual(recordProblems({}), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
