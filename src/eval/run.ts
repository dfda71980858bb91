// src/eval, beside the pipeline (it drives FaceModel from src/infer): held-out
// evaluation (evaluate.ts) and the pages a person reads, report.html of a run
// (report.ts with chart.ts, html.ts, eval_tables.ts, run_files.ts) and eval.html
// (page.ts).
//
// The whole evaluation of a run folder: held-out rank-1 per probe pose against raw
// pixels, CFP-style verification, frontalisation and, for multi-image graphs, fusing
// n = 1..6 images. Writes eval.json and eval.html where it is told (training: its run
// folder, and refreshes report.html there; `deno task eval`: --out, never the model
// folder unless named). `deno task eval` and the end of `deno task train` both run it.
import { join } from "node:path";
import { evaluateModel, frontalTruth, heldOutFaces, type ModelEvalResult } from "./evaluate.ts";
import { renderEvalPage, SAMPLE_POSES } from "./page.ts";
import { FaceModel, imagesToPNG, resolveModel } from "../infer/mod.ts";
import type { Gpu } from "../engine/device.ts";
import type { Target } from "../plan/target.ts";
import { writeFileAtomic } from "../formats/atomic.ts";
import { trainingConfig } from "../train/config.ts";
import { writeReport } from "./report.ts";

export interface EvalRunOptions {
  run: string;
  /** folder for eval.json and eval.html (default: the run folder) */
  out?: string;
  graph?: string;
  checkpoint?: string;
  set?: string[];
  /** held-out identities (default: the graph's training.eval.identities) */
  identities?: number;
  /**
   * draw the held-out faces under this seed instead of the training seed: other
   * identities, a validation set for choosing settings without the test identities
   */
  seed?: number;
  folds?: number;
  maxImages?: number;
  batch?: number;
  /** progress lines */
  log?: (line: string) => void;
  /** refresh report.html (default true; a caller about to write it itself says false) */
  report?: boolean;
  /** the command's device and the target to compile for (default: a device of its own) */
  gpu?: Gpu;
  target?: Target;
}

export async function evaluateRun(
  opts: EvalRunOptions,
): Promise<{ result: ModelEvalResult; seconds: number }> {
  const log = opts.log ?? (() => {});
  const { run } = opts;
  const r = resolveModel({ run, graph: opts.graph, checkpoint: opts.checkpoint, set: opts.set });
  let seed = 1, defaultIds = 40;
  try {
    const cfg = trainingConfig(r.model);
    seed = cfg.seed;
    defaultIds = cfg.eval.identities;
  } catch {
    // a graph without a training section: the defaults
  }
  const N = opts.identities ?? Math.max(2, defaultIds);
  seed = opts.seed ?? seed;
  const model = await FaceModel.fromResolved(r, {
    batch: opts.batch ?? 13,
    gpu: opts.gpu,
    target: opts.target,
    compileAside: true,
  });
  log(
    `evaluating ${r.checkpoint} (step ${r.step ?? "?"}) on ${N} held-out identities, ` +
      `${model.gpu.description}`,
  );
  const t0 = performance.now();
  const result = await evaluateModel(model, {
    seed,
    identities: N,
    folds: opts.folds ?? 10,
    maxImages: model.multi ? opts.maxImages ?? 6 : 0,
    stage: (what) => log(`  ${what}...`),
  });
  const seconds = (performance.now() - t0) / 1000;
  const record = {
    step: r.step ?? null,
    adapter: model.gpu.description,
    checkpoint: r.checkpoint,
    evaluated: new Date().toISOString(),
    seconds: Number(seconds.toFixed(1)),
    seed,
    fusion: model.multi ? "confidence" : "mean",
    report: "eval.html",
    ...result,
  };
  // A small picture of frontalisation: per identity and probe yaw, the input, the
  // generated frontal view and the true one (the input's scene at yaw 0).
  let sample: Uint8Array | undefined;
  if (r.decoder) {
    const faces = heldOutFaces(seed, Math.min(4, N), model.size);
    const out = await model.frontalize(faces.flatMap((row) => SAMPLE_POSES.map((p) => row[p])));
    sample = imagesToPNG(
      faces.map((row, j) =>
        SAMPLE_POSES.flatMap((p, k) => [
          row[p],
          out[j * SAMPLE_POSES.length + k],
          frontalTruth(seed, j, p, model.size),
        ])
      ),
      model.size,
    );
  }
  const out = opts.out ?? run;
  Deno.mkdirSync(out, { recursive: true });
  writeFileAtomic(join(out, "eval.json"), JSON.stringify(record, null, 2) + "\n");
  writeFileAtomic(join(out, "eval.html"), renderEvalPage(record, result, sample));
  if (opts.report !== false && out === run) {
    try {
      writeReport(run);
    } catch (e) {
      log(`note: report.html not refreshed (${(e as Error).message})`);
    }
  }
  await model.destroy();
  return { result, seconds };
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

/** The evaluation in a few lines for the terminal. */
export function evalSummary(r: ModelEvalResult, seconds: number): string {
  const v = r.verification;
  const line = (name: string, p: typeof v.frontalFrontal) =>
    `  ${name}: AUC ${p.features.auc.toFixed(3)} (pixels ${p.pixels.auc.toFixed(3)}), ` +
    `EER ${pct(p.features.eer)}, accuracy ${pct(p.features.accuracy.mean)} ` +
    `± ${pct(p.features.accuracy.std)} over ${p.features.accuracy.folds} folds ` +
    `(${p.features.pairs} pairs)`;
  const out = [
    `rank-1 (${r.rank1.identities} identities, gallery frontal): features ` +
    `${pct(r.rank1.mean.features)}, raw pixels ${pct(r.rank1.mean.pixels)}`,
    `  per yaw (features / pixels): ` +
    r.rank1.perPose.map((p) => `${p.yaw} ${pct(p.features)}/${pct(p.pixels)}`).join(", "),
    `verification (threshold ${v.threshold.toFixed(4)}, accuracy ${pct(v.thresholdAccuracy)} ` +
    `on all pairs):`,
    line("frontal-frontal", v.frontalFrontal),
    line("frontal-profile", v.frontalProfile),
  ];
  if (r.frontalization) {
    const m = r.frontalization.mean;
    out.push(
      `frontalisation: L1 ${m.l1.toFixed(4)}, SSIM ${m.ssim.toFixed(3)} ` +
        `(input as is: L1 ${m.inputL1.toFixed(4)}, SSIM ${m.inputSsim.toFixed(3)}); ` +
        `identity kept (re-encoded rank-1) ${pct(m.identityRank1)}; of the L1, ` +
        `${m.l1Background.toFixed(4)} is background (input: ${m.inputL1Background.toFixed(4)})`,
      `  per yaw (L1 vs input, SSIM vs input, identity): ` +
        r.frontalization.perPose.map((p) =>
          `${p.yaw} ${p.l1.toFixed(3)}/${p.inputL1.toFixed(3)} ` +
          `${p.ssim.toFixed(2)}/${p.inputSsim.toFixed(2)} ${pct(p.identityRank1)}`
        ).join(", "),
    );
  }
  if (r.multiImage) {
    out.push(
      `multi-image rank-1, n = 1..${r.multiImage.perN.length}: confidence ` +
        r.multiImage.perN.map((x) => pct(x.confidence)).join(" ") + "; mean " +
        r.multiImage.perN.map((x) => pct(x.mean)).join(" "),
    );
  }
  out.push(`(${seconds.toFixed(1)} s)`);
  return out.join("\n");
}
