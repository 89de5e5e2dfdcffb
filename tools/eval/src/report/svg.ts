// Inline SVG plots for the HTML report, generated as strings (no chart library): per-layer SQNR bars and
// float-vs-quantized score scatter plots. Coordinates have fixed decimals, so the output is deterministic.
import type { EvalLayer } from "./schema.js";

/** Escapes text for HTML / SVG element content and double- or single-quoted attribute values. */
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => (c === "&" ? "&amp;" : c === "<" ? "&lt;" : c === ">" ? "&gt;" : c === '"' ? "&quot;" : "&#39;"));
}

/** A coordinate: one decimal, no "-0". */
const n1 = (x: number): string => {
  const s = x.toFixed(1);
  return s === "-0.0" ? "0.0" : s;
};

/** Cuts a label to `max` characters (code points), ending in "…". */
export function truncate(s: string, max: number): string {
  const cps = Array.from(s);
  return cps.length <= max ? s : `${cps.slice(0, max - 1).join("")}…`;
}

/** Tick values: a 1 / 2 / 5 x 10^k step giving about `count` ticks within [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): { ticks: number[]; decimals: number } {
  const span = hi - lo;
  if (!(span > 0) || !Number.isFinite(span)) return { ticks: [lo], decimals: 2 };
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  const step = (f >= Math.sqrt(50) ? 10 : f >= Math.sqrt(10) ? 5 : f >= Math.sqrt(2) ? 2 : 1) * mag;
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  const ticks: number[] = [];
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++) {
    const t = Number((k * step).toFixed(decimals));
    ticks.push(Object.is(t, -0) ? 0 : t);
  }
  return { ticks, decimals };
}

const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif"';

export interface PerLayerPlotOptions {
  /** Data attributes of the <svg> (model, preset, runtime, ...): written as data-KEY="value". */
  readonly data: Readonly<Record<string, string>>;
  readonly title: string;
  /** Most bars drawn (default 30). */
  readonly limit?: number;
  /** The reference line (default 20 dB). */
  readonly reference?: number;
}

const dataAttrs = (data: Readonly<Record<string, string>>) =>
  Object.keys(data)
    .map((k) => ` data-${k}="${esc(data[k] ?? "")}"`)
    .join("");

const sqnrLabel = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : Number.isNaN(x) ? "nan" : x > 0 ? "inf" : "-inf");

/**
 * Horizontal bars of per-layer SQNR (dB), in the order given (the harness lists the worst layers first),
 * at most `limit`, with a dashed reference line. Bars below the reference are red, below reference + 10 amber.
 */
export function perLayerSvg(layers: readonly EvalLayer[], o: PerLayerPlotOptions): string {
  const shown = layers.slice(0, o.limit ?? 30);
  const ref = o.reference ?? 20;
  const W = 760;
  const labelW = 270;
  const valueW = 120;
  const top = 46;
  const barH = 14;
  const gap = 4;
  const bottom = 36;
  const plotW = W - labelW - valueW - 10;
  const H = top + shown.length * (barH + gap) + bottom;
  const finite = shown.map((l) => l.sqnr).filter((x) => Number.isFinite(x));
  const lo = Math.min(0, Math.floor(Math.min(0, ...finite) / 10) * 10);
  const hi = Math.max(ref + 20, Math.ceil(Math.max(0, ...finite) / 10) * 10);
  const x = (v: number) => labelW + ((Math.min(hi, Math.max(lo, v)) - lo) / (hi - lo)) * plotW;
  const parts: string[] = [];
  parts.push(
    `<svg class="plot per-layer" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(o.title)}"${dataAttrs(o.data)} ${FONT} font-size="11">`,
  );
  parts.push(`<title>${esc(o.title)}</title>`);
  parts.push(`<text x="4" y="16" font-size="13" font-weight="600" fill="#222">${esc(o.title)}</text>`);
  const { ticks } = niceTicks(lo, hi, 6);
  const axisY = top + shown.length * (barH + gap);
  for (const t of ticks) {
    const tx = n1(x(t));
    parts.push(`<line class="grid" x1="${tx}" y1="${top - 4}" x2="${tx}" y2="${axisY}" stroke="#e3e3e3"/>`);
    parts.push(`<text class="tick" x="${tx}" y="${axisY + 14}" text-anchor="middle" fill="#555">${t}</text>`);
  }
  parts.push(`<line class="axis" x1="${labelW}" y1="${axisY}" x2="${labelW + plotW}" y2="${axisY}" stroke="#888"/>`);
  parts.push(`<text class="axis-label" x="${n1(labelW + plotW / 2)}" y="${axisY + 30}" text-anchor="middle" fill="#333">SQNR (dB), quantized vs float tensor</text>`);
  shown.forEach((l, i) => {
    const y = top + i * (barH + gap);
    const v = l.sqnr;
    const x0 = x(0);
    const x1 = Number.isNaN(v) ? x0 : x(v);
    const fill = Number.isNaN(v) || v < ref ? "#d64541" : v < ref + 10 ? "#e8a33d" : "#4c9a5b";
    const name = `${l.name} (${l.op})`;
    parts.push(
      `<g class="layer"><title>${esc(name)}: ${sqnrLabel(v)} dB${l.drop !== undefined ? `, own drop ${sqnrLabel(l.drop)} dB` : ""}</title>` +
        `<text class="name" x="${labelW - 6}" y="${n1(y + barH - 3)}" text-anchor="end" fill="#222">${esc(truncate(l.name, 40))}</text>` +
        `<rect class="bar" data-name="${esc(l.name)}" data-sqnr="${sqnrLabel(v)}" x="${n1(Math.min(x0, x1))}" y="${y}" width="${n1(Math.max(1, Math.abs(x1 - x0)))}" height="${barH}" fill="${fill}"/>` +
        `<text class="value" x="${labelW + plotW + 6}" y="${n1(y + barH - 3)}" fill="#333">${sqnrLabel(v)} dB · ${esc(truncate(l.op, 14))}</text></g>`,
    );
  });
  const rx = n1(x(ref));
  parts.push(`<line class="reference" x1="${rx}" y1="${top - 8}" x2="${rx}" y2="${axisY}" stroke="#333" stroke-width="1.2" stroke-dasharray="4 3"/>`);
  parts.push(`<text class="reference-label" x="${rx}" y="${top - 11}" text-anchor="middle" fill="#333">${ref} dB</text>`);
  parts.push("</svg>");
  return parts.join("");
}

export interface ScatterPlotOptions {
  readonly data: Readonly<Record<string, string>>;
  readonly title: string;
  /** A second title line (smaller). */
  readonly subtitle?: string;
  /** Most points drawn (default 400; a longer series is subsampled with an even stride). */
  readonly limit?: number;
}

/** The points drawn: finite pairs, at most `limit` (even stride). */
export function scatterPoints(float: readonly number[], quant: readonly number[], limit = 400): [number, number][] {
  const pairs: [number, number][] = [];
  const n = Math.min(float.length, quant.length);
  for (let i = 0; i < n; i++) {
    const f = float[i]!;
    const q = quant[i]!;
    if (Number.isFinite(f) && Number.isFinite(q)) pairs.push([f, q]);
  }
  if (pairs.length <= limit) return pairs;
  const out: [number, number][] = [];
  for (let k = 0; k < limit; k++) out.push(pairs[Math.floor((k * pairs.length) / limit)]!);
  return out;
}

/** Float (x) vs quantized (y) scores with the y = x line, ticks and axis labels; both axes share one range. */
export function scatterSvg(float: readonly number[], quant: readonly number[], o: ScatterPlotOptions): string {
  const pts = scatterPoints(float, quant, o.limit ?? 400);
  const W = 320;
  const H = 332;
  const left = 52;
  const right = 14;
  const top = 42;
  const bottom = 44;
  const pw = W - left - right;
  const ph = H - top - bottom;
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const [f, q] of pts) {
    lo = Math.min(lo, f, q);
    hi = Math.max(hi, f, q);
  }
  if (!Number.isFinite(lo)) {
    lo = 0;
    hi = 1;
  }
  if (hi - lo < 1e-12) {
    const c = lo;
    const d = Math.max(Math.abs(c) * 0.05, 0.5);
    lo = c - d;
    hi = c + d;
  }
  const pad = (hi - lo) * 0.04;
  lo -= pad;
  hi += pad;
  const sx = (v: number) => left + ((v - lo) / (hi - lo)) * pw;
  const sy = (v: number) => top + ph - ((v - lo) / (hi - lo)) * ph;
  const parts: string[] = [];
  parts.push(
    `<svg class="plot scatter" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(o.title)}" data-points="${pts.length}"${dataAttrs(o.data)} ${FONT} font-size="10">`,
  );
  parts.push(`<title>${esc(o.title)}</title>`);
  parts.push(`<text class="title" x="${left}" y="16" font-size="12" font-weight="600" fill="#222">${esc(truncate(o.title, 40))}</text>`);
  if (o.subtitle) parts.push(`<text class="subtitle" x="${left}" y="31" fill="#555">${esc(truncate(o.subtitle, 48))}</text>`);
  parts.push(`<rect class="frame" x="${left}" y="${top}" width="${pw}" height="${ph}" fill="#fcfcfc" stroke="#888"/>`);
  const { ticks, decimals } = niceTicks(lo, hi, 5);
  for (const t of ticks) {
    const tx = n1(sx(t));
    const ty = n1(sy(t));
    const label = t.toFixed(decimals);
    parts.push(`<line class="grid" x1="${tx}" y1="${top}" x2="${tx}" y2="${top + ph}" stroke="#ececec"/>`);
    parts.push(`<line class="grid" x1="${left}" y1="${ty}" x2="${left + pw}" y2="${ty}" stroke="#ececec"/>`);
    parts.push(`<line class="tick" x1="${tx}" y1="${top + ph}" x2="${tx}" y2="${top + ph + 4}" stroke="#888"/>`);
    parts.push(`<line class="tick" x1="${left - 4}" y1="${ty}" x2="${left}" y2="${ty}" stroke="#888"/>`);
    parts.push(`<text class="tick-label x" x="${tx}" y="${top + ph + 15}" text-anchor="middle" fill="#555">${label}</text>`);
    parts.push(`<text class="tick-label y" x="${left - 6}" y="${n1(sy(t) + 3.5)}" text-anchor="end" fill="#555">${label}</text>`);
  }
  parts.push(
    `<line class="identity" x1="${n1(sx(lo))}" y1="${n1(sy(lo))}" x2="${n1(sx(hi))}" y2="${n1(sy(hi))}" stroke="#777" stroke-dasharray="5 3"><title>y = x</title></line>`,
  );
  parts.push(`<g class="points" fill="#2f6db5" fill-opacity="0.55">`);
  for (const [f, q] of pts) parts.push(`<circle class="pt" cx="${n1(sx(f))}" cy="${n1(sy(q))}" r="2.6"/>`);
  parts.push("</g>");
  parts.push(`<text class="axis-label" x="${n1(left + pw / 2)}" y="${H - 8}" text-anchor="middle" fill="#333">float score</text>`);
  parts.push(
    `<text class="axis-label" x="14" y="${n1(top + ph / 2)}" text-anchor="middle" fill="#333" transform="rotate(-90 14 ${n1(top + ph / 2)})">quantized score</text>`,
  );
  if (pts.length === 0) parts.push(`<text x="${n1(left + pw / 2)}" y="${n1(top + ph / 2)}" text-anchor="middle" fill="#888">no scores</text>`);
  parts.push("</svg>");
  return parts.join("");
}
