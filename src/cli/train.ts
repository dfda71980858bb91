// `deno task train GRAPH.yaml`: trains a GAN composition on the built-in data (or a
// manifest), writing runs/<name>/ with config, metrics, samples, checkpoints, report.
import { basename, join } from "node:path";
import { loadModel } from "../lang/model.ts";
import { parseOverride } from "../lang/files.ts";
import { openGpu } from "../engine/device.ts";
import { compileAside } from "../engine/compile_aside.ts";
import { targetFor } from "../tune/target.ts";
import { trainingPlan } from "../train/plan.ts";
import { Trainer } from "../train/trainer.ts";
import { trainingConfig } from "../train/config.ts";
import { loadCheckpoint, saveCheckpoint } from "../train/checkpoint.ts";
import { initFrom, initSource } from "../train/init_from.ts";
import { gridRgba, Sampler, samplesPlan } from "../train/samples.ts";
import { openTrainData } from "../train/data.ts";
import { removeStaleTemps, truncateMetrics } from "../train/run_log.ts";
import { writeReport } from "../eval/report.ts";
import { evalSummary, evaluateRun } from "../eval/run.ts";
import { evaluateRank1, FeatureExtractor, featurePlan, heldOutFaces } from "../eval/evaluate.ts";
import { encodePNG } from "../data/png.ts";
import { writeFileAtomic } from "../formats/atomic.ts";
import { exists } from "../util/fs.ts";
import {
  checkpointPath,
  latestCheckpoint,
  listCheckpoints,
  readRunConfig,
  requireCheckpoint,
} from "../infer/run_folder.ts";
import { launchedSize, localSize, type Mpi, openMpi } from "../parallel/mpi.ts";
import { DataPool, defaultWorkers } from "../train/data_pool.ts";
import { broadcastState, shardOf } from "../parallel/replicas.ts";
import { formatDuration, Progress } from "./progress.ts";
import { maxPixelsFlag, parseArgs, runMain, UsageError, UserError } from "./args.ts";

const USAGE = `usage: deno task train GRAPH.yaml [--set NAME=VALUE ...] [--name NAME] [--runs DIR]
  [--resume RUN_DIR | --init RUN_OR_MODEL] [--steps N] [--max-minutes M] [--manifest CSV] [--skip-bad]
  [--allow-outside-paths] [--max-pixels N] [--data-workers N] [--debug]
  --data-workers N: threads that render batches and decode images (default: the cores
  left after the main thread; 0 = all on the main thread)
  --init starts from another run's or model's parameters (fine-tuning): same-named
  tensors are copied, the optimiser and step start afresh (docs/training.md)
  --manifest reads a folder of images (docs/data.md); their paths must stay inside the
  manifest's folder unless --allow-outside-paths
  mpirun -np N deno task train ... trains N data-parallel replicas (docs/scale-out.md)`;

/** Set when mpirun started this process: a failing rank then aborts the whole job. */
let mpi: Mpi | undefined;

runMain(USAGE, async (argv) => {
  if (launchedSize() > 1) mpi = openMpi();
  const comm = mpi;
  // Rank 0 alone writes the run folder and speaks; the other ranks train in silence.
  const lead = (comm?.rank ?? 0) === 0;
  const say = lead ? (line: string) => console.error(line) : () => {};
  const args = parseArgs(argv, {
    strings: ["name", "runs", "resume", "init", "manifest"],
    numbers: ["steps", "max-minutes", "max-pixels", "data-workers"],
    bools: ["debug", "skip-bad", "allow-outside-paths"],
    multi: ["set"],
  });
  let graph = args.positional[0];
  const resume = args.strings.resume;
  if (resume && args.strings.init) {
    throw new UsageError("--init starts a new run; --resume continues one: give one of them");
  }
  // Checked before anything is written or compiled.
  const init = args.strings.init && initSource(args.strings.init);
  let overrides = args.multi.set;
  if (resume) {
    // A resumed run uses the graph and overrides it was started with.
    const saved = readRunConfig(resume);
    if (graph && graph !== saved.graph) {
      throw new UsageError(`${resume} was trained with ${saved.graph}, not ${graph}`);
    }
    graph = saved.graph;
    overrides = [...saved.overrides, ...overrides];
    args.strings.manifest ??= saved.manifest;
    args.bools["skip-bad"] ||= saved.skipBad ?? false;
    args.bools["allow-outside-paths"] ||= saved.allowOutside ?? false;
    args.numbers["max-pixels"] ??= saved.maxPixels;
  }
  if (!graph || args.positional.length > 1) throw new UsageError("expected one graph file");
  const model = loadModel(graph, overrides.map(parseOverride));
  const cfg = trainingConfig(model);
  if (args.numbers.steps !== undefined) {
    if (!Number.isInteger(args.numbers.steps) || args.numbers.steps < 1) {
      throw new UsageError("--steps expects a positive integer");
    }
    cfg.steps = args.numbers.steps;
  }
  const maxMinutes = args.numbers["max-minutes"];
  if (maxMinutes !== undefined && !(maxMinutes > 0)) {
    throw new UsageError("--max-minutes must be > 0");
  }

  // Data first: a bad manifest fails before anything is written.
  const shard = comm ? shardOf(cfg.batch, cfg.group, comm) : undefined;
  const workers = args.numbers["data-workers"] ?? defaultWorkers(localSize());
  if (!Number.isInteger(workers) || workers < 0) {
    throw new UsageError("--data-workers expects a whole number >= 0");
  }
  const pool = workers > 0 ? DataPool.start(workers) : undefined;
  let data = await openTrainData(model, cfg, {
    manifest: args.strings.manifest,
    skipBad: args.bools["skip-bad"],
    allowOutside: args.bools["allow-outside-paths"],
    maxPixels: maxPixelsFlag(args.numbers["max-pixels"]),
    shard,
    readMany: pool?.readMany,
  });
  // Synthetic batches render in the pool; a folder's are crops of decoded images, made
  // here, as are scenes at other poses (target_image), which a worker cannot hand back.
  const scenes = model.step!.inputs.some((i) => i.name === "target_image");
  if (pool && !args.strings.manifest && !scenes) {
    const spec = { graph, overrides, options: {} };
    data = await pool.serve(spec, data, shard ?? { from: 0, to: cfg.batch });
  } else pool?.close();
  const wanted = join(args.strings.runs ?? "runs", args.strings.name ?? model.name);
  const runDir = resume ??
    freshRunDir(args.strings.runs ?? "runs", args.strings.name ?? model.name);
  if (!resume && runDir !== wanted) {
    say(`${wanted} exists (resume it with --resume ${wanted}); this run writes ${runDir}`);
  }

  const gpu = await openGpu();
  const target = targetFor(gpu);
  const started = Date.now();
  say(`training ${model.name} on ${gpu.description}; run folder ${runDir}`);
  say(`data: ${data.describe}`);
  if (comm) {
    say(
      `${comm.size} data-parallel ranks (${comm.library}), ${cfg.batch / comm.size} of each ` +
        `batch of ${cfg.batch} per rank; gradients summed by MPI_Allreduce`,
    );
  }
  say(
    Object.keys(target.blocks).length
      ? `conv kernels: ${
        Object.keys(target.blocks).length
      } choices measured on this adapter by deno task tune`
      : `conv kernels: the cost model's picks (\`deno task tune ${graph} --train\` ` +
        `measures the candidates on this adapter)`,
  );
  const plan = trainingPlan(model, cfg, { target, batch: shard && shard.to - shard.from });
  // Sample grids need a decoder; an encoder-only graph (a baseline) has none.
  const hasDecoder = lead && model.networks.some((n) => n.name === "decoder");
  const samples = hasDecoder ? samplesPlan(model, Math.min(4, cfg.batch), target) : undefined;
  const features = lead ? featurePlan(model, 13, target) : undefined;
  const aside = compileAside(
    gpu,
    plan.kernels,
    [samples, features].flatMap((p) => p?.kernels ?? []),
  );
  const trainer = await Trainer.create(gpu, plan, model, cfg, { comm });
  const sampler = samples ? await Sampler.create(gpu, samples, trainer.shared) : undefined;
  const faces = data.sampleFaces(sampler?.faces ?? 0);
  const extractor = features
    ? await FeatureExtractor.create(gpu, features, trainer.shared)
    : undefined;
  const size = Number(model.step!.inputs.find((i) => i.name === "image")!.shape[2]);
  const heldOut = heldOutFaces(cfg.seed, cfg.eval.identities, size);
  // Fresh or resumed, the other ranks start as copies of rank 0 (broadcastState below).
  if (lead && resume) {
    const last = requireCheckpoint(runDir);
    loadCheckpoint(trainer, last);
    console.error(`resumed from ${last} at step ${trainer.step}`);
    // What a killed run wrote after that checkpoint would repeat or linger.
    const dropped = truncateMetrics(runDir, trainer.step);
    const stale = removeStaleTemps(runDir);
    if (dropped || stale.length) {
      console.error(
        `dropped ${dropped} metrics lines after step ${trainer.step} and ` +
          `${stale.length} half-written files left by the interrupted run`,
      );
    }
  } else if (lead) {
    if (init) {
      const s = initFrom(trainer, init);
      say(
        `started from ${init}: ${s.copied} tensors` +
          (s.extended.length ? `; leading rows only: ${s.extended.join(", ")}` : "") +
          (s.fresh.length ? `; fresh from the seed: ${s.fresh.join(", ")}` : ""),
      );
    }
    // The folder is made only now that set-up is done: interrupting the set-up (a minute
    // of pipeline compiles on a cold machine) leaves nothing behind to resume.
    Deno.mkdirSync(join(runDir, "samples"), { recursive: true });
    Deno.mkdirSync(join(runDir, "checkpoints"), { recursive: true });
    writeJson(join(runDir, "config.json"), {
      graph,
      name: basename(runDir),
      adapter: gpu.description,
      started: new Date(started).toISOString(),
      overrides,
      init,
      manifest: args.strings.manifest,
      skipBad: args.bools["skip-bad"],
      allowOutside: args.bools["allow-outside-paths"],
      maxPixels: args.numbers["max-pixels"],
      params: model.params,
      training: { ...cfg, step: undefined },
      data: data.describe,
      ranks: comm?.size,
    });
  }
  if (comm) await broadcastState(trainer, comm);

  let stop: string | undefined;
  // Ranks stop together: a reason found on one is agreed at the next metrics step.
  let pending: string | undefined;
  const onInt = () => comm ? (pending = "interrupted") : (stop = "interrupted");
  Deno.addSignalListener("SIGINT", onInt);
  const metricsFile = lead
    ? Deno.openSync(join(runDir, "metrics.jsonl"), { append: true, create: true })
    : undefined;
  const progress = new Progress({
    total: cfg.steps,
    label: "train",
    out: lead ? undefined : { isTerminal: () => false, writeSync: (b) => b.length },
  });
  const t0 = performance.now(), step0 = trainer.step;
  let lastGood: string | undefined = latestCheckpoint(runDir);
  let warned = false;

  const checkpoint = async () => {
    if (!lead) return;
    const path = checkpointPath(runDir, trainer.step);
    await saveCheckpoint(trainer, path);
    lastGood = path;
    for (const old of listCheckpoints(runDir).slice(0, -cfg.keep_checkpoints)) {
      Deno.removeSync(old);
    }
  };
  const sample = async () => {
    if (!sampler) return;
    const rotated = await sampler.rotate(faces);
    const g = gridRgba(faces, rotated, sampler.faces, sampler.poses, sampler.size);
    const png = encodePNG(g.rgba, g.width, g.height, 4);
    const name = `step-${String(trainer.step).padStart(7, "0")}.png`;
    writeFileAtomic(join(runDir, "samples", name), png);
    writeFileAtomic(join(runDir, "samples", "latest.png"), png);
  };

  const evaluate = async () => {
    if (!extractor || !metricsFile) return;
    const r = await evaluateRank1(extractor, heldOut);
    const record = { step: trainer.step, adapter: gpu.description, rank1: r };
    writeJson(join(runDir, "eval.json"), record);
    const line = {
      step: trainer.step,
      rank1_features: r.mean.features,
      rank1_pixels: r.mean.pixels,
    };
    metricsFile.writeSync(new TextEncoder().encode(JSON.stringify(line) + "\n"));
    return r;
  };

  while (trainer.step < cfg.steps && !stop) {
    const batch = await data.batch(trainer.step);
    const { dUpdated } = comm ? await trainer.iterateReduced(batch) : trainer.iterate(batch);
    const s = trainer.step;
    // Metrics also right before a checkpoint, so a diverged state is never saved as good.
    if (s % cfg.log_every === 0 || s === cfg.steps || s % cfg.checkpoint_every === 0) {
      const m = await trainer.metrics();
      const elapsed = (performance.now() - t0) / 1000;
      const rate = (s - step0) / elapsed;
      const bad = Object.entries(m).find(([, v]) => !Number.isFinite(v));
      const record = {
        step: s,
        time: (Date.now() - started) / 1000,
        ...m,
        d_updates: trainer.d.updates,
        g_updates: trainer.g.updates,
        d_updated: dUpdated ? 1 : 0,
        steps_per_s: rate,
      };
      metricsFile?.writeSync(new TextEncoder().encode(JSON.stringify(record) + "\n"));
      if (bad) {
        stop = `${bad[0]} became ${bad[1]} at step ${s}`;
        break;
      }
      progress.update(s, {
        D: m.d_loss,
        G: m.g_loss,
        ...(m.d_strength === undefined ? {} : { "D acc": m.d_strength }),
      });
      if (!warned && s - step0 >= cfg.log_every) {
        warned = true;
        const eta = (cfg.steps - s) / rate;
        if (gpu.description.includes("[software]") && eta > 3600) {
          say(
            `\nwarning: ${formatDuration(eta)} to go on the software adapter; ` +
              (size > 32
                ? `try graphs/drgan-small.yaml or a GPU`
                : `--max-minutes M stops earlier`),
          );
        }
      }
      if (maxMinutes !== undefined && elapsed > maxMinutes * 60) {
        if (comm) pending ??= "time limit reached";
        else stop = "time limit reached";
      }
      if (comm) stop = agreeStop(comm, pending);
    }
    if (lead && s % cfg.sample_every === 0) {
      await sample();
      writeReport(runDir);
    }
    if (s % cfg.checkpoint_every === 0) await checkpoint();
    if (s % cfg.eval.every === 0) await evaluate();
  }
  Deno.removeSignalListener("SIGINT", onInt);
  pool?.close();
  await aside?.stop();
  if (!lead || !metricsFile) {
    // Rank 0 says why the job stopped and writes the rest.
    comm?.finalize();
    return;
  }
  if (stop && stop !== "interrupted" && stop !== "time limit reached") {
    metricsFile.close();
    progress.finish();
    writeReport(runDir);
    throw new UserError(
      `stopped: ${stop}; the last good checkpoint is ${lastGood ?? "none (no checkpoint yet)"}`,
    );
  }
  await checkpoint();
  await sample();
  progress.finish(
    `${stop ? `${stop}: ` : ""}step ${trainer.step} of ${cfg.steps}; ` +
      `checkpoint in ${runDir}/checkpoints`,
  );
  // The full evaluation of the final checkpoint (what `deno task eval` does): rank-1 per
  // pose for features and pixels, verification, and frontalisation against the input.
  const { result, seconds } = await evaluateRun({
    run: runDir,
    log: (line) => console.error(line),
    report: false, // written below, with the evaluation's metrics line
    gpu,
    target,
  });
  const r = result.rank1;
  const line = { step: trainer.step, rank1_features: r.mean.features, rank1_pixels: r.mean.pixels };
  metricsFile.writeSync(new TextEncoder().encode(JSON.stringify(line) + "\n"));
  metricsFile.close();
  writeReport(runDir);
  console.log(evalSummary(result, seconds));
  console.error(`wrote ${runDir}/report.html and eval.html (resume with --resume ${runDir})`);
  comm?.finalize();
}, (code) => mpi && mpi.size > 1 ? mpi.abort(code) : Deno.exit(code));

/** The stop reason all ranks agree on at a metrics step: any rank's reason stops them all. */
function agreeStop(comm: Mpi, pending: string | undefined): string | undefined {
  const v = Float32Array.of(pending === "interrupted" ? 1 : 0, pending ? 1 : 0);
  comm.allreduceSum(v);
  return v[0] ? "interrupted" : v[1] ? "time limit reached" : undefined;
}

function freshRunDir(root: string, name: string): string {
  if (!/^[\w.-]+$/.test(name)) {
    throw new UsageError(`--name may use letters, digits, '.', '-', '_'`);
  }
  for (let i = 1;; i++) {
    const dir = join(root, i === 1 ? name : `${name}-${i}`);
    if (!exists(dir)) return dir;
  }
}

function writeJson(path: string, value: unknown) {
  writeFileAtomic(path, JSON.stringify(value, null, 2) + "\n");
}
