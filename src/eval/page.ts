// eval.html: the evaluation of a model as tables and inline SVG (ROC curves), no
// scripts, no external assets.
import { Buffer } from "node:buffer";
import { yawOfPose } from "../data/pose.ts";
import type { ModelEvalResult } from "./evaluate.ts";

/** Probe poses of the frontalisation picture: yaw -90, -45, 45, 90. */
export const SAMPLE_POSES = [0, 3, 9, 12];

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
}

const COLORS = ["#2f6db5", "#d9822b", "#8a96a3", "#b5b9bf"];

/** A square plot of curves in [0, 1] x [0, 1]. */
function plot(
  curves: { label: string; x: number[]; y: number[]; dash?: string }[],
  xTitle: string,
  yTitle: string,
  diagonal: boolean,
  xTicks?: { at: number; label: string }[],
): string {
  const W = 380, H = 320, L = 46, R = 12, T = 12, B = 40;
  const sx = (x: number) => L + x * (W - L - R), sy = (y: number) => H - B - y * (H - T - B);
  const parts: string[] = [];
  for (let i = 0; i <= 5; i++) {
    const v = i / 5;
    parts.push(
      `<line class="grid" x1="${L}" x2="${W - R}" y1="${sy(v)}" y2="${sy(v)}"/>`,
      `<text class="tick" x="${L - 6}" y="${sy(v) + 4}" text-anchor="end">${v.toFixed(1)}</text>`,
    );
    if (!xTicks) {
      parts.push(
        `<line class="grid" y1="${T}" y2="${H - B}" x1="${sx(v)}" x2="${sx(v)}"/>`,
        `<text class="tick" y="${H - B + 16}" x="${sx(v)}" text-anchor="middle">${
          v.toFixed(1)
        }</text>`,
      );
    }
  }
  for (const t of xTicks ?? []) {
    parts.push(
      `<text class="tick" y="${H - B + 16}" x="${sx(t.at)}" text-anchor="middle">${
        esc(t.label)
      }</text>`,
    );
  }
  parts.push(
    `<line class="axis" x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}"/>`,
    `<line class="axis" x1="${L}" x2="${L}" y1="${T}" y2="${H - B}"/>`,
    `<text class="axis-title" x="${(L + W - R) / 2}" y="${H - 6}" text-anchor="middle">${
      esc(xTitle)
    }</text>`,
    `<text class="axis-title" transform="translate(12 ${(T + H - B) / 2}) rotate(-90)" ` +
      `text-anchor="middle">${esc(yTitle)}</text>`,
  );
  if (diagonal) {
    parts.push(
      `<line class="ref" x1="${sx(0)}" y1="${sy(0)}" x2="${sx(1)}" y2="${sy(1)}"/>`,
    );
  }
  curves.forEach((c, i) => {
    const d = c.x.map((x, k) => `${k ? "L" : "M"}${sx(x).toFixed(1)},${sy(c.y[k]).toFixed(1)}`)
      .join("");
    parts.push(
      `<path class="line" d="${d}" stroke="${COLORS[i % COLORS.length]}"${
        c.dash ? ` stroke-dasharray="${c.dash}"` : ""
      }><title>${esc(c.label)}</title></path>`,
    );
  });
  const legend = curves.map((c, i) =>
    `<span class="item"><i style="background:${COLORS[i % COLORS.length]}"></i>${
      esc(c.label)
    }</span>`
  ).join("");
  return `<svg viewBox="0 0 ${W} ${H}" role="img">${
    parts.join("")
  }</svg><div class="legend">${legend}</div>`;
}

function table(head: string[], rows: (string | number)[][]): string {
  const cell = (v: string | number) =>
    typeof v === "number"
      ? `<td class="num">${Number.isInteger(v) ? v : v.toFixed(4)}</td>`
      : `<td>${esc(v)}</td>`;
  return `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join("")}</tr></thead>` +
    `<tbody>${rows.map((r) => `<tr>${r.map(cell).join("")}</tr>`).join("")}</tbody></table>`;
}

export function renderEvalPage(
  record: { step: number | null; adapter: string; checkpoint: string; evaluated: string },
  r: ModelEvalResult,
  sample?: Uint8Array,
): string {
  const v = r.verification;
  const ff = v.frontalFrontal, fp = v.frontalProfile;
  const rocs = plot(
    [
      {
        label: `features, frontal-frontal (AUC ${ff.features.auc.toFixed(3)})`,
        ...xy(ff.features),
      },
      {
        label: `features, frontal-profile (AUC ${fp.features.auc.toFixed(3)})`,
        ...xy(fp.features),
      },
      { label: `pixels, frontal-frontal (AUC ${ff.pixels.auc.toFixed(3)})`, ...xy(ff.pixels) },
      { label: `pixels, frontal-profile (AUC ${fp.pixels.auc.toFixed(3)})`, ...xy(fp.pixels) },
    ],
    "false accept rate",
    "true accept rate",
    true,
  );
  const yaws = r.rank1.perPose.map((p) => p.yaw);
  const at = (i: number) => yaws.length > 1 ? i / (yaws.length - 1) : 0.5;
  const rank = plot(
    [
      {
        label: "features",
        x: yaws.map((_, i) => at(i)),
        y: r.rank1.perPose.map((p) => p.features),
      },
      {
        label: "raw pixels",
        x: yaws.map((_, i) => at(i)),
        y: r.rank1.perPose.map((p) => p.pixels),
      },
    ],
    "probe yaw (degrees)",
    "rank-1",
    false,
    yaws.map((y, i) => ({ at: at(i), label: String(y) })).filter((_, i) => i % 2 === 0),
  );
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
    `<div class="charts"><figure class="card"><h3>ROC</h3>${rocs}</figure>` +
    `<figure class="card"><h3>Rank-1 per probe yaw (gallery frontal, ${r.rank1.identities} ` +
    `identities)</h3>${rank}</figure></div>`,
    table(["", "AUC", "EER", "accuracy", "± std", "threshold", "pairs"], [
      vrow("features, frontal-frontal", ff.features),
      vrow("pixels, frontal-frontal", ff.pixels),
      vrow("features, frontal-profile", fp.features),
      vrow("pixels, frontal-profile", fp.pixels),
    ]),
    `<h2>Rank-1 identification</h2>`,
    table(
      ["yaw", "features", "raw pixels"],
      [
        ...r.rank1.perPose.map((p) => [String(p.yaw), p.features, p.pixels]),
        ["mean", r.rank1.mean.features, r.rank1.mean.pixels],
      ],
    ),
  ];
  if (r.frontalization) {
    const f = r.frontalization;
    sections.push(
      `<h2>Frontalisation</h2><p class="muted">${esc(f.metric)}.</p>`,
      table(
        ["yaw", "L1", "SSIM", "input L1", "input SSIM", "identity kept (rank-1)"],
        [
          ...f.perPose.map((
            p,
          ) => [String(p.yaw), p.l1, p.ssim, p.inputL1, p.inputSsim, p.identityRank1]),
          ["mean", f.mean.l1, f.mean.ssim, f.mean.inputL1, f.mean.inputSsim, f.mean.identityRank1],
        ],
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
        r.multiImage.perN.map((x) => [x.n, x.confidence, x.mean]),
      ),
    );
  }
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Evaluation, step ${record.step ?? "?"}</title><style>${CSS}</style></head><body><main>
<h1>Evaluation</h1>
<p class="muted">${esc(record.checkpoint)} (step ${record.step ?? "?"}), ${esc(record.adapter)}, ${
    esc(record.evaluated)
  }. Held-out synthetic identities.</p>
${sections.join("\n")}
</main></body></html>
`;
}

function xy(p: { roc: { fpr: number[]; tpr: number[] } }) {
  return { x: p.roc.fpr, y: p.roc.tpr };
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
svg { display:block; width:100%; height:auto; }
svg .grid { stroke:#edf0f4; } svg .axis { stroke:#9aa6b2; }
svg .tick { font-size:11px; fill:#5d6b7a; } svg .axis-title { font-size:11px; fill:#8794a1; }
svg .line { fill:none; stroke-width:1.8; } svg .ref { stroke:#3a4450; stroke-dasharray:5 4; }
.legend { display:flex; flex-wrap:wrap; gap:4px 16px; margin-top:6px; font-size:12.5px; }
.legend .item { display:inline-flex; align-items:center; gap:6px; }
.legend i { width:14px; height:3px; display:inline-block; }
table { border-collapse:collapse; margin:8px 0 12px; font-size:13px; background:#fff; }
th, td { padding:5px 12px; border-bottom:1px solid #dde3ea; text-align:left; }
td.num { text-align:right; font-variant-numeric:tabular-nums; font-family:ui-monospace,monospace; }
.sample img { max-width:100%; image-rendering:pixelated; width:720px; }
figcaption { color:#5d6b7a; font-size:12px; margin-top:6px; }
`;
