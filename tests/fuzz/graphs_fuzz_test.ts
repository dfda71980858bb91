// Fuzzing `check`: every shipped graph, mutated (lines lost, doubled, swapped, values
// replaced by hostile ones), goes through what `deno task check --stage plan` does:
// load, validate, compose, infer shapes, compile each network. Each case must end in
// success or a located GraphError (any other exception is an "internal error" for the
// user), within a time bound. Fixed seed; FUZZ_RUNS=N cases per graph for more.
import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { fc } from "../deps.ts";
import { GraphError } from "../../src/lang/diagnostics.ts";
import { loadModel } from "../../src/lang/model.ts";
import { batchUnit } from "../../src/ops/dim.ts";
import { compile } from "../../src/plan/plan.ts";
import { softwareTarget } from "../../src/plan/target.ts";
import { UserError } from "../../src/errors.ts";
import { mutatedText, runs, SEED } from "./mutate.ts";

const GRAPHS = "graphs";
const CASE_SECONDS = 10;

function yamlFiles(dir: string): string[] {
  return [...Deno.readDirSync(dir)].flatMap((e) =>
    e.isDirectory
      ? yamlFiles(join(dir, e.name))
      : e.name.endsWith(".yaml")
      ? [join(dir, e.name)]
      : []
  ).sort();
}

function copyTree(from: string, to: string): void {
  Deno.mkdirSync(to, { recursive: true });
  for (const e of Deno.readDirSync(from)) {
    if (e.isDirectory) copyTree(join(from, e.name), join(to, e.name));
    else Deno.copyFileSync(join(from, e.name), join(to, e.name));
  }
}

/** What `check --stage plan` does with a graph; throws what it throws. */
function checkPlan(path: string): void {
  const model = loadModel(path);
  const target = softwareTarget();
  for (const net of model.networks) {
    const unit = batchUnit([...net.shapes.values()].flat());
    // a mutated size can ask for a plan no machine holds: the plan stage must say so
    compile(net, { batch: unit, training: false, fuse: true, target });
  }
}

/** Why an outcome is not acceptable, or undefined when it is. */
function verdict(e: unknown): string | undefined {
  if (e === undefined) return undefined;
  if (e instanceof GraphError) {
    const unlocated = e.diagnostics.filter((d) => !d.loc.file || d.loc.file === "<unknown>");
    return unlocated.length ? `unlocated: ${unlocated[0].message}` : undefined;
  }
  if (e instanceof UserError) return undefined;
  return `internal error: ${(e as Error)?.stack ?? e}`;
}

const dir = Deno.makeTempDirSync({ prefix: "fuzz-graphs-" });
copyTree(GRAPHS, dir);
const files = yamlFiles(GRAPHS);

for (const file of files) {
  const rel = relative(GRAPHS, file);
  const original = Deno.readTextFileSync(file);
  // Paper-scale graphs compile slowly on a CPU: fewer cases, same properties.
  const n = runs(/^drgan\.yaml$|^(encoder|decoder|discriminator)\.yaml$/.test(rel) ? 3 : 8);
  Deno.test(`fuzz check: mutations of graphs/${rel}`, () => {
    const path = join(dir, rel);
    try {
      fc.assert(
        fc.property(mutatedText(original), (text) => {
          Deno.writeTextFileSync(path, text);
          const t0 = performance.now();
          let err: unknown;
          try {
            checkPlan(join(dir, rel));
          } catch (e) {
            err = e;
          }
          const s = (performance.now() - t0) / 1000;
          const why = verdict(err);
          if (why) throw new Error(`${why}\n--- mutated ${rel} ---\n${text}`);
          assert.ok(s < CASE_SECONDS, `${s.toFixed(1)} s for one case of ${rel}`);
        }),
        { numRuns: n, seed: SEED, endOnFailure: true },
      );
    } finally {
      Deno.writeTextFileSync(path, original);
    }
  });
}

Deno.test("fuzz check: the mutations change the files", () => {
  const text = Deno.readTextFileSync(join(GRAPHS, "drgan-small.yaml"));
  const samples = fc.sample(mutatedText(text), { numRuns: 20, seed: SEED });
  assert.ok(samples.filter((s) => s !== text).length >= 15);
});

globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
