// eval.json as tables: the trainer's {step, adapter, rank1} or `deno task eval`'s
// ModelEvalResult (evaluate.ts), each known section as a table with the better of
// features and pixels marked; keys of other shapes go to renderValue.
import { esc, fmtInt, fmtNum, num, str, table } from "./html.ts";

type Obj = Record<string, unknown>;

const rows = (v: unknown): Obj[] | undefined =>
  Array.isArray(v) && v.length && v.every(isObject) ? v : undefined;

const pct = (v: unknown) =>
  typeof v === "number" && Number.isFinite(v) ? `${(100 * v).toFixed(1)}%` : "–";

const fix = (d: number) => (v: unknown) =>
  typeof v === "number" && Number.isFinite(v) ? v.toFixed(d) : "–";

const deg = (v: unknown) => `${typeof v === "number" ? v : "?"}°`;

/** Marks the better of two numbers (`lower`: smaller is better) with class "better". */
function pair(
  a: unknown,
  b: unknown,
  f: (v: unknown) => string,
  lower = false,
): [string, string][] {
  const ok = typeof a === "number" && typeof b === "number" && a !== b;
  const aWins = ok && (lower ? a < b : a > b);
  return [[f(a), aWins ? "better" : ""], [f(b), ok && !aWins ? "better" : ""]];
}

function rank1Table(r: Obj): string | undefined {
  const per = rows(r.perPose);
  if (!per) return undefined;
  const mean = isObject(r.mean) ? r.mean : undefined;
  const line = (label: string, p: Obj) => [label, ...pair(p.features, p.pixels, pct)];
  const n = num(r.identities);
  return `<h3 id="rank1">Rank-1 identification</h3><p class="muted">${
    n === undefined ? "" : `${fmtInt(n)} held-out identities; `
  }gallery: one frontal face each; probes: the other poses; bold: the better of the two</p>${
    table(["yaw", "features", "raw pixels"], [
      ...per.map((p) => line(deg(p.yaw), p)),
      ...(mean ? [line("mean", mean)] : []),
    ])
  }`;
}

function verificationTable(v: Obj): string | undefined {
  const protocols = Object.entries(v).filter(([, x]) =>
    isObject(x) && Object.values(x).some((y) => isObject(y) && "auc" in y)
  ) as [string, Obj][];
  if (!protocols.length) return undefined;
  const body: (string | [string, string])[][] = [];
  for (const [name, p] of protocols) {
    for (const [input, m] of Object.entries(p)) {
      if (!isObject(m)) continue;
      const acc = isObject(m.accuracy) ? m.accuracy : {};
      body.push([
        `${name.replace(/([a-z])([A-Z])/g, "$1–$2").toLowerCase()}, ${
          input === "pixels" ? "raw pixels" : input
        }`,
        m.pairs === undefined ? "–" : scalar(m.pairs),
        fix(3)(m.auc),
        fix(3)(m.eer),
        `${pct(acc.mean)}${typeof acc.std === "number" ? ` ± ${(100 * acc.std).toFixed(1)}` : ""}`,
        fix(3)(m.threshold),
      ]);
    }
  }
  const t = num(v.threshold), ta = num(v.thresholdAccuracy);
  return `<h3 id="verification">Verification</h3>${
    str(v.protocol) ? `<p class="muted">${esc(v.protocol as string)}</p>` : ""
  }${
    t !== undefined
      ? `<p>Calibrated threshold ${fix(3)(t)}${
        ta !== undefined ? `: ${pct(ta)} of all pairs right` : ""
      }</p>`
      : ""
  }${table(["protocol", "pairs", "AUC", "EER", "accuracy", "threshold"], body)}`;
}

function frontalizationTable(f: Obj): string | undefined {
  const per = rows(f.perPose);
  if (!per) return undefined;
  const mean = isObject(f.mean) ? f.mean : undefined;
  const all = mean ? [...per, mean] : per;
  const withId = all.some((p) => "identityRank1" in p);
  const withBg = all.some((p) => "l1Background" in p); // eval.json files before it lack it
  const line = (label: string, p: Obj) => {
    const [l1, inL1] = pair(p.l1, p.inputL1, fix(4), true);
    const [ss, inSs] = pair(p.ssim, p.inputSsim, fix(4));
    const [bg, inBg] = withBg ? pair(p.l1Background, p.inputL1Background, fix(4), true) : [];
    return [
      label,
      l1,
      inL1,
      ss,
      inSs,
      ...(withBg ? [bg, inBg] : []),
      ...(withId ? [pct(p.identityRank1)] : []),
    ];
  };
  return `<h3 id="frontalization">Frontalisation</h3><p class="muted">${
    str(f.metric) ? `${esc(f.metric as string)}. ` : ""
  }Bold: the better of generated and input (L1 lower, SSIM higher).</p>${
    table(
      [
        "yaw",
        "L1 generated",
        "L1 input",
        "SSIM generated",
        "SSIM input",
        ...(withBg ? ["L1 from background, generated", "L1 from background, input"] : []),
        ...(withId ? ["rank-1 of the frontalised face"] : []),
      ],
      [...per.map((p) => line(deg(p.yaw), p)), ...(mean ? [line("mean", mean)] : [])],
    )
  }`;
}

function multiImageTable(m: Obj): string | undefined {
  const per = rows(m.perN);
  if (!per) return undefined;
  return `<h3 id="multi-image">Several images per person</h3>${
    str(m.protocol) ? `<p class="muted">${esc(m.protocol as string)}</p>` : ""
  }${
    table(
      ["images", "confidence-weighted", "mean"],
      per.map((x) => [scalar(x.n), ...pair(x.confidence, x.mean, pct)]),
    )
  }`;
}

const EVAL_TABLES: [string, (v: Obj) => string | undefined][] = [
  ["rank1", rank1Table],
  ["verification", verificationTable],
  ["frontalization", frontalizationTable],
  ["multiImage", multiImageTable],
];

export function renderEval(v: unknown): string {
  if (!isObject(v)) return renderValue(v, 0);
  const rest: Obj = { ...v };
  delete rest.report; // the link above
  const tables: string[] = [];
  for (const [key, render] of EVAL_TABLES) {
    const html = isObject(v[key]) ? render(v[key] as Obj) : undefined;
    if (html === undefined) continue;
    tables.push(html);
    delete rest[key];
  }
  return (Object.keys(rest).length ? renderValue(rest, 0) : "") + tables.join("");
}

// Generic JSON as tables

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isScalar(v: unknown): boolean {
  return v === null || typeof v !== "object";
}

function scalar(v: unknown): string {
  if (typeof v === "number") return fmtNum(v);
  if (v === null) return "–";
  return String(v);
}

function cell(v: unknown): string {
  if (isScalar(v)) {
    return `<td class="${typeof v === "number" ? "num" : ""}">${esc(scalar(v))}</td>`;
  }
  if (Array.isArray(v) && v.every(isScalar)) {
    const shown = v.slice(0, 12).map(scalar).join(", ");
    return `<td>${esc(v.length > 12 ? `${shown}, … (${v.length})` : shown)}</td>`;
  }
  return `<td><code>${esc(JSON.stringify(v))}</code></td>`;
}

/** Renders any JSON value: objects of scalars as key/value tables, objects of such objects as matrices. */
function renderValue(v: unknown, depth: number): string {
  if (isScalar(v) || (Array.isArray(v) && v.every(isScalar))) {
    return `<table><tbody><tr>${cell(v)}</tr></tbody></table>`;
  }
  const rows: [string, unknown][] = Array.isArray(v)
    ? v.map((x, i) => [String(i), x])
    : Object.entries(v as Record<string, unknown>);
  const scalars = rows.filter(([, x]) => isScalar(x) || (Array.isArray(x) && x.every(isScalar)));
  const nested = rows.filter(([, x]) => !scalars.some(([, y]) => y === x));
  const out: string[] = [];
  if (scalars.length) {
    out.push(
      `<table class="kv"><tbody>${
        scalars.map(([k, x]) => `<tr><th>${esc(k)}</th>${cell(x)}</tr>`).join("")
      }</tbody></table>`,
    );
  }
  // Objects whose values are all flat records: one matrix, rows by key, columns by field.
  const flat = nested.filter(([, x]) => isObject(x) && Object.values(x).every(isScalar));
  if (flat.length >= 2 && flat.length === nested.length) {
    const cols = [...new Set(flat.flatMap(([, x]) => Object.keys(x as object)))];
    out.push(
      `<table class="matrix"><thead><tr><th></th>${
        cols.map((c) => `<th>${esc(c)}</th>`).join("")
      }</tr></thead><tbody>${
        flat.map(([k, x]) =>
          `<tr><th>${esc(k)}</th>${
            cols.map((c) =>
              c in (x as object) ? cell((x as Record<string, unknown>)[c]) : "<td></td>"
            )
              .join("")
          }</tr>`
        ).join("")
      }</tbody></table>`,
    );
  } else {
    const h = Math.min(6, depth + 4);
    for (const [k, x] of nested) {
      out.push(
        `<div class="nest"><h${h}>${esc(k)}</h${h}>${
          depth > 8 ? `<code>${esc(JSON.stringify(x))}</code>` : renderValue(x, depth + 1)
        }</div>`,
      );
    }
  }
  return out.join("");
}
