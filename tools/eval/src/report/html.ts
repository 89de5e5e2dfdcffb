// The HTML report: one self-contained offline page (inline CSS, inline SVG plots, a tiny optional script;
// a Content-Security-Policy forbids every network load).
import {
  DASH,
  type ModelGroup,
  fmtBytes,
  fixChanges,
  fmtDb,
  fmtFixEffect,
  fmtIou,
  fmtMs,
  fmtPct,
  fmtScoreError,
  fmtSize,
  fmtSpeed,
  fmtSuggestionEffect,
  fmtTarget,
  fmtTruth,
  groupByModel,
  presetLabel,
  shortfalls,
  speedUp,
  targetMark,
  variantOf,
} from "./format.js";
import { type EvalResults, type EvalRow, isShortfall } from "./schema.js";
import { esc, perLayerSvg, scatterSvg } from "./svg.js";

const CSS = `
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; padding: 16px 24px 48px; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d1d1f; background: #fff; }
h1 { font-size: 22px; margin: 0 0 6px; }
h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
code { font: 12px/1.3 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: #f3f3f5; padding: 0 3px; border-radius: 3px; }
.generated, .legend { color: #444; max-width: 1100px; }
nav#filter { margin: 8px 0; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; font-size: 12.5px; }
th, td { padding: 3px 6px; border-bottom: 1px solid #eee; text-align: left; vertical-align: top; white-space: nowrap; }
thead th { position: sticky; top: 0; background: #f7f7f9; border-bottom: 2px solid #ccc; }
tbody.model { border-top: 2px solid #bbb; }
th.model-name { background: #fafafa; min-width: 150px; max-width: 220px; white-space: normal; overflow-wrap: anywhere; }
th.model-name .decision { font-weight: normal; color: #666; font-size: 11.5px; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.excluded { white-space: normal; min-width: 90px; max-width: 200px; overflow-wrap: anywhere; }
tr.fp32 td { color: #555; background: #fbfbfb; }
tr.fix td { background: #f2f8f2; }
tr.shortfall td { background: #fdf1f0; }
tr.error td { background: #fbe9e9; }
td.target { text-align: center; font-weight: 600; }
td.target.met { color: #2e7d32; }
td.target.missed, td.target.failed { color: #c62828; }
.plots { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
svg.plot { background: #fff; border: 1px solid #e2e2e2; border-radius: 4px; max-width: 100%; height: auto; }
article.shortfall { border-left: 4px solid #d64541; padding: 2px 12px; margin: 12px 0; background: #fffafa; }
table.layers td, table.layers th { font-size: 12px; }
.muted { color: #777; }
`;

const SCRIPT = `(function () {
  var nav = document.getElementById("filter");
  var sel = document.getElementById("model-filter");
  if (!nav || !sel) return;
  nav.hidden = false;
  sel.addEventListener("change", function () {
    var m = sel.value;
    var els = document.querySelectorAll(".filterable");
    for (var i = 0; i < els.length; i++) els[i].hidden = m !== "" && els[i].getAttribute("data-model") !== m;
  });
})();`;

const code = (s: string) => `<code>${esc(s)}</code>`;

const dataOf = (r: EvalRow): Record<string, string> => ({ model: r.model, preset: r.preset, variant: variantOf(r), runtime: r.runtime });

const attrs = (d: Record<string, string>) =>
  Object.keys(d)
    .map((k) => ` data-${k}="${esc(d[k] ?? "")}"`)
    .join("");

function rowClass(r: EvalRow): string {
  const c = ["row"];
  if (r.preset === "fp32") c.push("fp32");
  if (variantOf(r) === "fix") c.push("fix");
  if (r.error) c.push("error");
  else if (isShortfall(r)) c.push("shortfall");
  return c.join(" ");
}

const numCell = (cls: string, text: string, value?: number | null) =>
  `<td class="num ${cls}"${value !== undefined && value !== null ? ` data-value="${esc(Number.isFinite(value) ? String(value) : fmtDb(value))}"` : ""}>${esc(text)}</td>`;

function targetCell(r: EvalRow): string {
  const mark = targetMark(r);
  const ts = r.targets ?? [];
  const cls = r.error ? "failed" : ts.length === 0 ? "none" : mark === "✓" ? "met" : "missed";
  const title = r.error ? r.error : ts.map((t) => `${t.met ? "✓" : "✗"} ${fmtTarget(t)}`).join("; ");
  return `<td class="target ${cls}"${title ? ` title="${esc(title)}"` : ""}>${esc(mark)}</td>`;
}

function tableRow(r: EvalRow, first: ModelGroup | null): string {
  const quant = r.preset !== "fp32";
  const cells: string[] = [];
  if (first)
    cells.push(
      `<th class="model-name" scope="rowgroup" rowspan="${first.rows.length}">${esc(first.model)}<div class="decision">${esc(first.decisionLabel)}</div></th>`,
    );
  cells.push(`<td class="preset">${esc(presetLabel(r))}</td>`);
  cells.push(`<td class="runtime">${esc(r.runtime)}</td>`);
  cells.push(numCell("agree-float", quant ? fmtPct(r.agreeFloat) : DASH, quant ? r.agreeFloat : null));
  cells.push(numCell("truth", fmtTruth(r), r.agreeTruth));
  cells.push(numCell("iou", fmtIou(r.iou), r.iou));
  cells.push(numCell("score-error", fmtScoreError(r.scoreError), r.scoreError?.mean));
  cells.push(numCell("sqnr", fmtDb(r.sqnr), r.sqnr));
  cells.push(
    `<td class="num size"${r.sizeBytes !== null ? ` title="${esc(fmtBytes(r.sizeBytes))}"` : ""}>${esc(quant ? fmtSize(r) : fmtBytes(r.sizeBytes))}</td>`,
  );
  cells.push(numCell("ms", quant ? `${fmtMs(r.msFloat)} / ${fmtMs(r.msQuant)}` : fmtMs(r.msFloat), quant ? r.msQuant : r.msFloat));
  cells.push(numCell("speed", quant ? fmtSpeed(speedUp(r)) : DASH, quant ? speedUp(r) : null));
  cells.push(`<td class="excluded">${r.excluded.length ? r.excluded.map(code).join(", ") : DASH}</td>`);
  cells.push(targetCell(r));
  return `<tr class="${rowClass(r)}"${attrs(dataOf(r))}>${cells.join("")}</tr>`;
}

const HEAD = [
  "model",
  "preset",
  "runtime",
  "agree w/ float",
  "vs truth (float → quant)",
  "IoU",
  "score error mean / max",
  "SQNR (dB)",
  "size",
  "ms float / quant",
  "speed-up",
  "excluded",
  "target",
];

function table(groups: readonly ModelGroup[]): string {
  const out: string[] = [];
  out.push(`<div class="table-wrap"><table id="results"><thead><tr>${HEAD.map((h) => `<th scope="col">${esc(h)}</th>`).join("")}</tr></thead>`);
  for (const g of groups) {
    out.push(`<tbody class="model filterable" data-model="${esc(g.model)}">`);
    g.rows.forEach((r, i) => {
      out.push(tableRow(r, i === 0 ? g : null));
    });
    out.push("</tbody>");
  }
  out.push("</table></div>");
  return out.join("\n");
}

function shortfallSection(results: EvalResults): string {
  const sf = shortfalls(results);
  const out: string[] = [`<section id="shortfalls"><h2>Shortfalls</h2>`];
  if (sf.length === 0) out.push(`<p class="muted">Every acceptance target is met.</p>`);
  for (const s of sf) {
    out.push(`<article class="shortfall filterable"${attrs({ model: s.model, preset: s.preset })}>`);
    out.push(`<h3>${esc(s.model)} · ${esc(s.preset)}</h3><ul>`);
    for (const r of s.rows) {
      const missed = (r.targets ?? []).filter((t) => !t.met).map(fmtTarget);
      out.push(`<li>${esc(r.runtime)}: missed ${esc(missed.join(", "))}</li>`);
    }
    out.push("</ul>");
    if (s.note) out.push(`<p class="note">Why / fix: ${esc(s.note)}</p>`);
    const layers = s.perLayer ?? [];
    if (layers.length) {
      out.push(`<p>Worst layers: ${layers
        .slice(0, 5)
        .map((l) => `${code(l.name)} (${esc(l.op)}, ${esc(fmtDb(l.sqnr))} dB)`)
        .join(", ")}${layers.length > 5 ? ", … (chart below)" : ""}.</p>`);
    }
    const sens = s.sensitivity ?? [];
    if (sens.length) {
      out.push(`<p>Most sensitive weights (output SQNR with only that layer's weight quantized): ${sens
        .slice(0, 5)
        .map((l) => `${code(l.name)} (${esc(l.op)}, ${esc(fmtDb(l.sqnr))} dB)`)
        .join(", ")}.</p>`);
    }
    if (s.fixes.length === 0 && s.suggestions.length === 0) out.push(`<p class="muted">No measured fix yet.</p>`);
    for (const { row, fix } of s.fixes) {
      out.push(`<p class="fix">Fix (measured, ${esc(row.runtime)}): ${fixChanges(row, fix, code, code)}: ${esc(fmtFixEffect(row, fix))}.</p>`);
    }
    for (const { row, suggestion } of s.suggestions) {
      out.push(
        `<p class="suggestion">Suggestion (measured, ${esc(row.runtime)}): exclude ${suggestion.exclude.length ? suggestion.exclude.map(code).join(", ") : DASH}: ${esc(fmtSuggestionEffect(row, suggestion))}.${suggestion.note ? ` (${esc(suggestion.note)})` : ""}</p>`,
      );
    }
    out.push("</article>");
  }
  out.push("</section>");
  return out.join("\n");
}

function modelSection(g: ModelGroup, index: number): string {
  const out: string[] = [];
  out.push(`<section class="model-plots filterable" id="model-${index}" data-model="${esc(g.model)}">`);
  out.push(`<h2>${esc(g.model)}</h2>`);
  out.push(`<p>Decision: ${esc(g.decisionLabel)}; metric: ${esc(g.metric)}.</p>`);
  out.push(`<h3>Per-layer SQNR</h3>`);
  const withLayers = g.rows.filter((r) => r.perLayer && r.perLayer.length > 0);
  if (withLayers.length === 0) out.push(`<p class="muted">No per-layer data (measured where a target is missed).</p>`);
  else {
    out.push(`<div class="plots">`);
    for (const r of withLayers) {
      const layers = r.perLayer ?? [];
      const shown = Math.min(30, layers.length);
      out.push(
        perLayerSvg(layers, {
          data: dataOf(r),
          title: `${presetLabel(r)} · ${r.runtime}: ${shown === layers.length ? `${shown} layers` : `worst ${shown} of ${layers.length} layers`}`,
        }),
      );
    }
    out.push("</div>");
  }
  out.push(`<h3>Scores: float vs quantized</h3>`);
  // One plot per preset and variant: the first runtime (report order) that has scores.
  const seen = new Set<string>();
  const scatters: string[] = [];
  for (const r of g.rows) {
    if (r.preset === "fp32" || !r.scatter) continue;
    const k = `${r.preset}\u0000${variantOf(r)}`;
    if (seen.has(k)) continue;
    seen.add(k);
    const n = Math.min(r.scatter.float.length, r.scatter.quant.length);
    const err = r.scoreError ? `, |Δ| mean ${fmtScoreError(r.scoreError).replace(" / ", ", max ")}` : "";
    scatters.push(
      scatterSvg(r.scatter.float, r.scatter.quant, { data: dataOf(r), title: `${presetLabel(r)} · ${r.runtime}`, subtitle: `${n} scores${err}` }),
    );
  }
  if (scatters.length === 0) out.push(`<p class="muted">No scores.</p>`);
  else out.push(`<div class="plots">${scatters.join("\n")}</div>`);
  out.push("</section>");
  return out.join("\n");
}

/** The HTML page: self-contained (no network), deterministic. */
export function renderHtml(results: EvalResults): string {
  const g = results.generated;
  const groups = groupByModel(results);
  const out: string[] = [];
  out.push("<!doctype html>");
  out.push(`<html lang="en"><head><meta charset="utf-8">`);
  out.push(
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">`,
  );
  out.push(`<meta name="viewport" content="width=device-width, initial-scale=1">`);
  out.push("<title>Quanta eval: accuracy on real tasks</title>");
  out.push(`<style>${CSS}</style></head><body>`);
  out.push("<header><h1>Accuracy on real tasks</h1>");
  out.push(
    `<p class="generated" id="generated" data-size="${esc(g.size)}">Generated by ${code(g.command ?? "npm run eval")} (size ${code(g.size)}${g.size === "ci" ? ", the CI size" : ""}: ` +
      `${g.items} evaluation item${g.items === 1 ? "" : "s"} per model${g.calibration !== undefined ? `, ${g.calibration} calibration input${g.calibration === 1 ? "" : "s"}` : ""}; ` +
      `Node ${esc(g.node)}, onnxruntime ${esc(g.ortVersion)}).</p>`,
  );
  for (const n of g.notes ?? []) out.push(`<p class="note">${esc(n)}</p>`);
  out.push(
    `<p class="legend">Each quantized model is compared with the float model on the same data in the same runtime. <b>agree w/ float</b>: share of decisions equal to the float model's; ` +
      `<b>vs truth</b>: float and quantized model vs the ground truth; <b>score error</b>: |score quantized − score float|; <b>SQNR</b>: raw outputs vs float (dB); ` +
      `<b>size</b>: quantized / fp32 file; <b>speed-up</b>: float ms / quantized ms (median per item); <b>target</b>: ✓ met, ✗ missed (hover for the targets; see <a href="#shortfalls">shortfalls</a>).</p>`,
  );
  out.push(
    `<nav id="filter" hidden><label>Model: <select id="model-filter"><option value="">all models</option>${groups
      .map((x) => `<option value="${esc(x.model)}">${esc(x.model)}</option>`)
      .join("")}</select></label></nav></header>`,
  );
  out.push("<main>");
  out.push(groups.length ? table(groups) : `<p class="muted">No results.</p>`);
  out.push(shortfallSection(results));
  groups.forEach((x, i) => {
    out.push(modelSection(x, i));
  });
  out.push("</main>");
  out.push(`<script>${SCRIPT}</script>`);
  out.push("</body></html>");
  return `${out.join("\n")}\n`;
}
