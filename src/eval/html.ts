// The pieces both HTML pages (report.html, eval.html) are made of: escaping, number
// formats, one table shape and the page shell. Static pages: no scripts, no external
// assets.

export function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

export function str(v: unknown): string | undefined {
  return typeof v === "string" && v ? v : undefined;
}

export function num(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

export function fmtInt(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

export function fmtNum(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (Number.isInteger(v) && a < 1e6) return v.toLocaleString("en-US");
  if (a === 0) return "0";
  if (a >= 1e6 || a < 1e-3) return v.toExponential(2);
  return String(Number(v.toPrecision(4)));
}

export function formatHms(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "–";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  if (h >= 24) return `${Math.floor(h / 24)}d ${h % 24}h ${m}m`;
  if (h > 0) return `${h}h ${String(m).padStart(2, "0")}m`;
  if (m > 0) return `${m}m ${String(sec).padStart(2, "0")}s`;
  return `${sec}s`;
}

export function formatDate(iso: string | undefined): string | undefined {
  if (!iso) return undefined;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toISOString().replace("T", " ").slice(0, 16) + " UTC";
}

/** A table; a cell is text (escaped here) or [text, class]. */
export function table(
  head: string[],
  body: (string | [string, string])[][],
  cls = "matrix",
): string {
  const td = (c: string | [string, string]) =>
    typeof c === "string" || !c[1]
      ? `<td class="num">${esc(typeof c === "string" ? c : c[0])}</td>`
      : `<td class="num ${c[1]}">${esc(c[0])}</td>`;
  return `<table class="${cls}"><thead><tr>${
    head.map((h) => `<th>${esc(h)}</th>`).join("")
  }</tr></thead><tbody>${
    body.map((r, i) =>
      `<tr${i === body.length - 1 && r[0] === "mean" ? ` class="mean"` : ""}><th>${
        esc(String(r[0]))
      }</th>${r.slice(1).map(td).join("")}</tr>`
    ).join("")
  }</tbody></table>`;
}

/** A whole page: `body` inside <main>, `css` inline. */
export function htmlPage(title: string, css: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${css}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}
