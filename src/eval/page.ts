// eval.html: the evaluation of a model as tables and inline SVG (ROC curves), no
// scripts, no external assets.
import { Buffer } from "node:buffer";
import { yawOfPose } from "../data/pose.ts";
import type { ModelEvalResult } from "./evaluate.ts";
import { chart, CHART_CSS, type Point } from "./chart.ts";
import { esc, htmlPage, table } from "./html.ts";

/** Probe poses of the frontalisation picture: yaw -90, -45, 45, 90. */
export const SAMPLE_POSES = [0, 3, 9, 12];

/** Numbers as the tables show them: integers whole, the rest to 4 decimals. */
function cells(rows: (string | number)[][]): string[][] {
  return rows.map((r) =>
    r.map((v) => typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toFixed(4)) : v)
  );
}

export function renderEvalPage(
  record: { step: number | null; adapter: string; checkpoint: string; evaluated: string },
  r: ModelEvalResult,
  sample?: Uint8Array,
): string {
  const v = r.verification;
  const ff = v.frontalFrontal, fp = v.frontalProfile;
  const rocs = chart({
    id: "roc",
    title: "ROC",
    series: [
      [`features, frontal-frontal (AUC ${ff.features.auc.toFixed(3)})`, ff.features],
      [`features, frontal-profile (AUC ${fp.features.auc.toFixed(3)})`, fp.features],
      [`pixels, frontal-frontal (AUC ${ff.pixels.auc.toFixed(3)})`, ff.pixels],
      [`pixels, frontal-profile (AUC ${fp.pixels.auc.toFixed(3)})`, fp.pixels],
    ].map(([key, p]) => ({ key: key as string, points: roc(p as typeof ff.features) })),
    exact: { x: [0, 1], y: [0, 1] },
    xTitle: "false accept rate",
    yTitle: "true accept rate",
    diagonal: true,
    smoothing: 0,
    lastValues: false,
  });
  const yaws = r.rank1.perPose.map((p) => p.yaw);
  const at = (i: number) => yaws.length > 1 ? i / (yaws.length - 1) : 0.5;
  const perYaw = (f: (p: (typeof r.rank1.perPose)[number]) => number): Point[] =>
    r.rank1.perPose.map((p, i) => ({ step: at(i), value: f(p) }));
  const rank = chart({
    id: "rank1",
    title: `Rank-1 per probe yaw (gallery frontal, ${r.rank1.identities} identities)`,
    series: [
      { key: "features", points: perYaw((p) => p.features) },
      { key: "raw pixels", points: perYaw((p) => p.pixels) },
    ],
    exact: { x: [0, 1], y: [0, 1] },
    xTicks: yaws.map((y, i) => ({ at: at(i), label: String(y) })).filter((_, i) => i % 2 === 0),
    xTitle: "probe yaw (degrees)",
    yTitle: "rank-1",
    smoothing: 0,
    lastValues: false,
  });
  const vrow = (name: string, p: typeof ff.features) => [
    name,
    p.auc,
    p.eer,
    p.accuracy.mean,
    p.accuracy.std,
    p.threshold,
    p.pairs,
  ];
  const sections = [
    `<h2>Verification</h2><p class="muted">${esc(v.protocol)}. Decision threshold for ` +
    `verify: <b>${v.threshold.toFixed(4)}</b> (accuracy ${
      (100 * v.thresholdAccuracy).toFixed(1)
    }% on all pairs).</p>`,
    `<div class="charts">${rocs}${rank}</div>`,
    table(
      ["", "AUC", "EER", "accuracy", "± std", "threshold", "pairs"],
      cells([
        vrow("features, frontal-frontal", ff.features),
        vrow("pixels, frontal-frontal", ff.pixels),
        vrow("features, frontal-profile", fp.features),
        vrow("pixels, frontal-profile", fp.pixels),
      ]),
    ),
    `<h2>Rank-1 identification</h2>`,
    table(
      ["yaw", "features", "raw pixels"],
      cells([
        ...r.rank1.perPose.map((p) => [String(p.yaw), p.features, p.pixels]),
        ["mean", r.rank1.mean.features, r.rank1.mean.pixels],
      ]),
    ),
  ];
  if (r.frontalization) {
    const f = r.frontalization;
    sections.push(
      `<h2>Frontalisation</h2><p class="muted">${esc(f.metric)}.</p>`,
      table(
        [
          "yaw",
          "L1",
          "SSIM",
          "input L1",
          "input SSIM",
          "L1 from background",
          "input L1 from background",
          "identity kept (rank-1)",
        ],
        cells(
          [...f.perPose.map((p) => [String(p.yaw), p] as const), ["mean", f.mean] as const].map((
            [label, p],
          ) => [
            label,
            p.l1,
            p.ssim,
            p.inputL1,
            p.inputSsim,
            p.l1Background,
            p.inputL1Background,
            p.identityRank1,
          ]),
        ),
      ),
    );
    if (sample) {
      sections.push(
        `<figure class="card sample"><img alt="frontalisation samples" src="data:image/png;base64,${
          Buffer.from(sample).toString("base64")
        }"><figcaption>per row one held-out person; for each probe yaw (${
          SAMPLE_POSES.map(yawOfPose).join(", ")
        }): the input, the generated frontal view, and the true one (the input's scene at yaw ` +
          `0)</figcaption></figure>`,
      );
    }
  }
  if (r.multiImage) {
    sections.push(
      `<h2>Several images per person</h2><p class="muted">${esc(r.multiImage.protocol)}.</p>`,
      table(
        ["images", "confidence-weighted", "mean"],
        cells(r.multiImage.perN.map((x) => [x.n, x.confidence, x.mean])),
      ),
    );
  }
  return htmlPage(
    `Evaluation, step ${record.step ?? "?"}`,
    CSS + CHART_CSS,
    `<h1>Evaluation</h1>
<p class="muted">${esc(record.checkpoint)} (step ${record.step ?? "?"}), ${esc(record.adapter)}, ${
      esc(record.evaluated)
    }. Held-out synthetic identities.</p>
${sections.join("\n")}`,
  );
}

/** A ROC curve as chart points: x the false accept rate, y the true accept rate. */
function roc(p: { roc: { fpr: number[]; tpr: number[] } }): Point[] {
  return p.roc.fpr.map((x, i) => ({ step: x, value: p.roc.tpr[i] }));
}

const CSS = `
body { margin:0; background:#f4f6f9; color:#1c2430;
  font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif; }
main { max-width:1100px; margin:0 auto; padding:28px 24px 40px; }
h1 { font-size:26px; margin:0; } h2 { font-size:17px; margin:28px 0 10px; padding-bottom:6px;
  border-bottom:1px solid #dde3ea; } h3 { font-size:14px; margin:0 0 6px; }
.muted { color:#5d6b7a; }
.charts { display:grid; grid-template-columns:repeat(auto-fill,minmax(420px,1fr)); gap:14px; }
.card { background:#fff; border:1px solid #dde3ea; border-radius:10px; padding:14px 16px; margin:0; }
table { border-collapse:collapse; margin:8px 0 12px; font-size:13px; background:#fff; }
th, td { padding:5px 12px; border-bottom:1px solid #dde3ea; text-align:left; }
td.num { text-align:right; font-variant-numeric:tabular-nums; font-family:ui-monospace,monospace; }
.sample img { max-width:100%; image-rendering:pixelated; width:720px; }
figcaption { color:#5d6b7a; font-size:12px; margin-top:6px; }
`;
