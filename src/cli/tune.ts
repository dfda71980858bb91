// `deno task tune GRAPH.yaml`: measures the register blocks of every conv kernel the
// graph's plans use on this machine's adapter and caches the fastest; every later
// plan built on the same adapter uses them (src/tune/cache.ts).
import { loadModel } from "../lang/model.ts";
import { parseOverride } from "../lang/files.ts";
import { buildProgram } from "../plan/program.ts";
import type { Model } from "../lang/ir.ts";
import {
  type ConvChoices,
  type ConvGeom,
  type ConvKernel,
  isTile,
  TILE_CANDIDATES,
} from "../ops/conv/mod.ts";
import { softwareTarget, type Target } from "../plan/target.ts";
import { trainingConfig } from "../train/config.ts";
import { trainingPlan } from "../train/plan.ts";
import { openGpu } from "../engine/device.ts";
import { tunedTarget } from "../tune/target.ts";
import { describeGeom, formatBlock, tuneKernel, type TuneResult } from "../tune/autotune.ts";
import {
  adapterKey,
  geomKey,
  loadCache,
  type MergeChoice,
  saveCache,
  tuneCacheDir,
} from "../tune/cache.ts";
import { measureMerging } from "../tune/merge.ts";
import { parseArgs, runMain, UsageError, UserError } from "./args.ts";

const USAGE =
  `usage: deno task tune GRAPH.yaml [--train] [--batch N] [--top K] [--set NAME=VALUE ...]
  [--debug]
  times the cost model's K best register blocks (default 4) and the workgroup-memory
  tiles (ops/conv/tiled.ts) of every conv kernel of the graph's inference plans (batch
  --batch, default 1), or with --train of its training step (batch from the graph's
  training section), and caches the fastest for this adapter in
  $DRGAN_TUNE_CACHE, else $XDG_CACHE_HOME/drgan-webgpu/tune or ~/.cache/drgan-webgpu/tune
  (DRGAN_TUNE=off: measure, use and write no cache). With --train it also times a
  training iteration with different kernels merged into one dispatch and without`;

interface Use {
  kind: ConvKernel;
  geom: ConvGeom;
  /** how many kernels of the plans have this geometry */
  uses: number;
}

/**
 * Every (kernel, geometry) the graph's plans ask the conv planner for: the
 * geometries do not depend on the target, only which block each gets.
 */
function collect(model: Model, train: boolean, batch: number | undefined): Use[] {
  const seen = new Map<string, Use>();
  const target: Target & ConvChoices = {
    ...softwareTarget(),
    onChoose: (kind: ConvKernel, geom: ConvGeom) => {
      const k = geomKey(kind, geom);
      const u = seen.get(k);
      if (u) u.uses++;
      else seen.set(k, { kind, geom: { ...geom }, uses: 1 });
    },
  };
  if (!train) {
    for (const net of model.networks) {
      buildProgram(net, { batch: batch ?? 1, training: false, target });
    }
  } else {
    const cfg = trainingConfig(model);
    trainingPlan(model, cfg, { target, batch });
  }
  return [...seen.values()];
}

const ms = (v: number) => `${v.toFixed(v < 10 ? 2 : 1)} ms`;

/** How the best workgroup-memory tile did, when a register block won. */
function tileNote(r: TuneResult): string {
  if (isTile(r.block)) return "";
  const tiles = r.candidates.filter((c) => isTile(c.block) && Number.isFinite(c.ms));
  if (!tiles.length) return "";
  const timed = tiles.filter((c) => !c.screened);
  if (!timed.length) return "; tiles over 4x slower at their first run";
  const pick = r.candidates.find((c) => c.block === r.block)?.ms ?? r.ms;
  return `; best tile ${(Math.min(...timed.map((c) => c.ms)) / pick).toFixed(1)}x slower`;
}

runMain(USAGE, async (argv) => {
  const args = parseArgs(argv, {
    numbers: ["batch", "top"],
    multi: ["set"],
    bools: ["debug", "train"],
  });
  if (args.positional.length !== 1) throw new UsageError("expected one graph file");
  const { batch, top = 4 } = args.numbers;
  if (batch !== undefined && (!Number.isInteger(batch) || batch < 1)) {
    throw new UsageError("--batch must be a positive integer");
  }
  if (!Number.isInteger(top) || top < 1 || top > 16) {
    throw new UsageError("--top must be an integer from 1 to 16");
  }
  const model = loadModel(args.positional[0], args.multi.set.map(parseOverride));
  const uses = collect(model, args.bools.train, batch);
  if (!uses.length) throw new UserError(`${args.positional[0]}: the plans have no conv kernels`);

  const gpu = await openGpu();
  // Candidates ranked by this adapter's cost model, before any measurement.
  const base = tunedTarget(gpu);
  console.log(
    `tuning ${uses.length} conv kernels on ${gpu.description}: ${top} register blocks and ` +
      `${TILE_CANDIDATES.length} workgroup-memory tiles each`,
  );
  const results: [Use, TuneResult][] = [];
  const started = performance.now();
  for (const [i, u] of uses.entries()) {
    const r = await tuneKernel(gpu.device, u.kind, u.geom, { top, costs: base.conv });
    results.push([u, r]);
    const speedup = r.modelMs / r.ms;
    console.log(
      `${i + 1}/${uses.length} ${u.kind.padEnd(7)} ${describeGeom(u.kind, u.geom)}` +
        `${u.uses > 1 ? ` (x${u.uses})` : ""}: ${formatBlock(r.block)} ${ms(r.ms)}` +
        (r.block === r.model
          ? " (the model's pick)"
          : `, ${speedup.toFixed(2)}x the model's pick`) +
        tileNote(r),
    );
  }

  // Per use in the plans: a geometry used by several layers counts as often.
  const total = (f: (r: TuneResult) => number) =>
    results.reduce((s, [u, r]) => s + u.uses * f(r), 0);
  const modelMs = total((r) => r.modelMs), tunedMs = total((r) => r.ms);
  const changed = results.filter(([, r]) => r.block !== r.model).length;
  const tiled = results.filter(([, r]) => isTile(r.block)).length;
  console.log(
    `\nall ${results.reduce((s, [u]) => s + u.uses, 0)} conv kernels of the plans: ` +
      `model's picks ${ms(modelMs)}, tuned ${ms(tunedMs)} (${(modelMs / tunedMs).toFixed(2)}x); ` +
      `${changed} of ${results.length} choices changed (${tiled} to workgroup-memory tiles); ` +
      `tuning took ` +
      `${((performance.now() - started) / 1000).toFixed(0)} s`,
  );

  // With the tuned blocks in place: does merging different kernels pay on this adapter?
  let merge: MergeChoice | undefined;
  if (args.bools.train) {
    const dir = tuneCacheDir();
    const blocks = Object.fromEntries(results.map(([u, r]) => [geomKey(u.kind, u.geom), r.block]));
    merge = await measureMerging(gpu, model, { ...base, blocks }, batch);
    console.log(
      `training iteration: merging copies of one kernel ${ms(merge.sameMs)}, merging ` +
        `different kernels too ${ms(merge.mixedMs)}: ${
          merge.mixed ? "merge different kernels" : "merge only copies of one kernel"
        }${dir ? "" : " (not cached)"}`,
    );
  }

  const dir = tuneCacheDir();
  if (!dir) console.log("not cached: DRGAN_TUNE=off (or no cache folder known)");
  else {
    const key = adapterKey(gpu.adapter.info);
    const cache = loadCache(dir, key);
    for (const [u, r] of results) {
      cache.entries[geomKey(u.kind, u.geom)] = {
        kind: u.kind,
        block: r.block,
        model: r.model,
        ms: r.ms,
        modelMs: r.modelMs,
      };
    }
    if (merge) cache.merge = merge;
    cache.target = tunedTarget(gpu, cache);
    console.log(`cached in ${saveCache(dir, cache)} (a target file: check --target)`);
  }

  const bad = results.flatMap(([u, r]) =>
    r.mismatches.map((m) =>
      `  ${u.kind} ${describeGeom(u.kind, u.geom)}: ${formatBlock(m.block)} differs from ` +
      `${formatBlock(r.model)} by ${m.err.toExponential(2)}`
    )
  );
  if (bad.length) {
    throw new UserError(
      `${bad.length} candidate blocks computed a different result (a kernel generator bug; ` +
        `they were not chosen):\n${bad.join("\n")}`,
    );
  }
});
