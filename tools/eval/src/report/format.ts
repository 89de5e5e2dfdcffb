// Number formats and derived data shared by the Markdown and HTML reports (fixed decimals: deterministic).
import { type EvalResults, type EvalRow, type EvalTarget, isShortfall, sortRows } from "./schema.js";

export const DASH = "-";

const finite = (x: number) => Number.isFinite(x);

function nonFinite(x: number): string {
  return Number.isNaN(x) ? "nan" : x > 0 ? "inf" : "-inf";
}

/** 0.9234 -> "92.3%". */
export const fmtPct = (x: number | null | undefined): string => (x === null || x === undefined ? DASH : finite(x) ? `${(100 * x).toFixed(1)}%` : nonFinite(x));

/** SQNR in dB, one decimal; Infinity -> "inf". */
export const fmtDb = (x: number | null | undefined): string => (x === null || x === undefined ? DASH : finite(x) ? x.toFixed(1) : nonFinite(x));

export const fmtIou = (x: number | null | undefined): string => (x === null || x === undefined ? DASH : finite(x) ? x.toFixed(3) : nonFinite(x));

export const fmtMs = (x: number | null | undefined): string => (x === null || x === undefined ? DASH : finite(x) ? x.toFixed(2) : nonFinite(x));

/** A score error: 4 decimals, or 2 significant digits in exponent form below 1e-4. */
export function fmtErr(x: number): string {
  if (!finite(x)) return nonFinite(x);
  if (x === 0) return "0";
  return Math.abs(x) < 1e-4 ? x.toExponential(1) : x.toFixed(4);
}

export const fmtScoreError = (e: EvalRow["scoreError"]): string => (e ? `${fmtErr(e.mean)} / ${fmtErr(e.max)}` : DASH);

export function fmtBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !finite(n)) return DASH;
  if (n < 1000) return `${n} B`;
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} kB`;
  return `${(n / 1e6).toFixed(2)} MB`;
}

/** msFloat / msQuant: above 1 the quantized model is faster. */
export function speedUp(r: EvalRow): number | null {
  if (r.msFloat === null || r.msQuant === null || !(r.msQuant > 0) || !finite(r.msFloat)) return null;
  return r.msFloat / r.msQuant;
}

export const fmtSpeed = (x: number | null): string => (x === null ? DASH : `${x.toFixed(2)}x`);

/** Float -> quantized agreement with the ground truth: "96.7% → 93.3%". */
export function fmtTruth(r: EvalRow): string {
  if (r.agreeTruth === null && r.floatTruth === null) return DASH;
  if (r.preset === "fp32") return fmtPct(r.floatTruth ?? r.agreeTruth);
  return `${fmtPct(r.floatTruth)} → ${fmtPct(r.agreeTruth)}`;
}

export const fmtSize = (r: EvalRow): string => fmtPct(r.sizeRatio);

const METRIC_NAMES: Readonly<Record<string, string>> = {
  agreeFloat: "agree w/ float",
  agreeTruth: "vs truth",
  floatTruth: "float vs truth",
  iou: "IoU",
  sqnr: "SQNR",
  sizeRatio: "size",
};

export const metricName = (m: string): string => METRIC_NAMES[m] ?? m;

/** A value of a target metric in that metric's format. */
export function fmtMetric(metric: string, v: number | null): string {
  switch (metric) {
    case "agreeFloat":
    case "agreeTruth":
    case "floatTruth":
    case "sizeRatio":
      return fmtPct(v);
    case "iou":
      return fmtIou(v);
    case "sqnr":
      return v === null ? DASH : `${fmtDb(v)} dB`;
    default:
      return v === null ? DASH : finite(v) ? String(Number(v.toPrecision(4))) : nonFinite(v);
  }
}

const boundOp = (t: EvalTarget) => (t.metric === "sizeRatio" ? "≤" : "≥");

/** "SQNR ≥ 20.0 dB" ("size ≤ 30.0%"). */
export const fmtBound = (t: EvalTarget): string => `${metricName(t.metric)} ${boundOp(t)} ${fmtMetric(t.metric, t.bound)}`;

/** "SQNR 14.2 dB (target ≥ 20.0 dB)". */
export const fmtTarget = (t: EvalTarget): string =>
  `${metricName(t.metric)} ${fmtMetric(t.metric, t.value)} (target ${boundOp(t)} ${fmtMetric(t.metric, t.bound)})`;

/** "✓", "✗" or "-" (no target; "error" when the row failed). */
export function targetMark(r: EvalRow): string {
  if (r.error) return "error";
  const ts = r.targets ?? [];
  if (ts.length === 0) return DASH;
  return ts.every((t) => t.met) ? "✓" : "✗";
}

export const variantOf = (r: EvalRow): "default" | "fix" => r.variant ?? "default";

/** The preset as shown: "static-int8", "static-int8 + fix", "static-int8 + fix (activations int16)" (options other than the exclusions, which have their own column). */
export const presetLabel = (r: EvalRow): string => {
  if (variantOf(r) !== "fix") return r.preset;
  const changed = Object.entries(r.options ?? {})
    .filter(([k]) => k !== "exclude")
    .map(([k, v]) =>
      k === "int16Weights" && Array.isArray(v)
        ? `int16 weights on ${v.length} layer${v.length === 1 ? "" : "s"}`
        : k === "int16Activations" && Array.isArray(v)
          ? `int16 activations on ${v.length} layer${v.length === 1 ? "" : "s"}`
          : k === "blockSize"
            ? `blocks of ${String(v)}`
            : k === "perChannel" && v === false
              ? "per-tensor weights"
              : k === "float16Params" && v === true
                ? "float16 scales and biases"
                : k === "unblockedWeights" && v === "4bit"
                  ? "4-bit depthwise weights"
                  : `${k} ${String(v)}`,
    )
    .sort();
  return changed.length ? `${r.preset} + fix (${changed.join(", ")})` : `${r.preset} + fix`;
};

/**
 * What a fix changes against its default row: the layers it keeps in float, the layers whose weights
 * it keeps at int16 (mixed precision), and any other option (as JSON); `code`/`text` format for the target.
 */
export function fixChanges(row: EvalRow, fix: EvalRow, code: (s: string) => string, text: (s: string) => string): string {
  const ex = fix.excluded.filter((x) => !row.excluded.includes(x));
  const { exclude: _, int16Weights, int16Activations, blockSize, perChannel, float16Params, unblockedWeights, ...rest } = (fix.options ?? {}) as Record<string, unknown>;
  const parts: string[] = [];
  if (typeof blockSize === "number") parts.push(`${code(`--block-size ${blockSize}`)}`);
  if (unblockedWeights === "4bit") parts.push(`4-bit per-channel weights where no axis can be blocked (${code("--unblocked-weights 4bit")})`);
  else if (unblockedWeights !== undefined) rest.unblockedWeights = unblockedWeights;
  if (float16Params === true) parts.push(`float16 scales and biases (${code("--float16-params")})`);
  else if (float16Params !== undefined) rest.float16Params = float16Params;
  if (perChannel === false) parts.push(`per-tensor weight scales (${code("--per-tensor")})`);
  else if (perChannel !== undefined) rest.perChannel = perChannel;
  if (ex.length) parts.push(`exclude ${ex.map(code).join(", ")}`);
  if (Array.isArray(int16Weights) && int16Weights.length) parts.push(`int16 weights (${code("--int16-weights")}) on ${int16Weights.map((x) => code(String(x))).join(", ")}`);
  if (Array.isArray(int16Activations) && int16Activations.length) parts.push(`int16 activations (${code("--int16-activations")}) on ${int16Activations.map((x) => code(String(x))).join(", ")}`);
  if (Object.keys(rest).length) parts.push(text(JSON.stringify(rest)));
  return parts.length ? parts.join(" + ") : text("{}");
}

export const DEFAULT_METRIC = "decision agrees with float";

/** A model's rows (report order), grouped. */
export interface ModelGroup {
  readonly model: string;
  readonly decisionLabel: string;
  readonly metric: string;
  readonly rows: readonly EvalRow[];
}

export function groupByModel(results: EvalResults): ModelGroup[] {
  const out: ModelGroup[] = [];
  for (const r of sortRows(results.rows)) {
    const last = out[out.length - 1];
    if (last && last.model === r.model) (last.rows as EvalRow[]).push(r);
    else out.push({ model: r.model, decisionLabel: r.decisionLabel, metric: r.metric ?? DEFAULT_METRIC, rows: [r] });
  }
  return out;
}

/** A missed target of a preset (default variant), with what the report knows about fixing it. */
export interface Shortfall {
  readonly model: string;
  readonly preset: string;
  /** The rows (one per runtime) that miss a target. */
  readonly rows: readonly EvalRow[];
  /** Per-layer SQNR of the first of those that has one. */
  readonly perLayer: EvalRow["perLayer"];
  /** Weight sensitivity of the first of those that has one. */
  readonly sensitivity: EvalRow["sensitivity"];
  readonly note: string | undefined;
  /** Measured fixes: each missing row's fix-variant row (same runtime), where there is one. */
  readonly fixes: readonly { readonly row: EvalRow; readonly fix: EvalRow }[];
  /** A suggestion carried on the rows themselves. */
  readonly suggestions: readonly { readonly row: EvalRow; readonly suggestion: NonNullable<EvalRow["suggestion"]> }[];
}

export function shortfalls(results: EvalResults): Shortfall[] {
  const rows = sortRows(results.rows);
  const out: Shortfall[] = [];
  const byKey = new Map<string, EvalRow[]>();
  for (const r of rows) {
    if (variantOf(r) !== "default" || !isShortfall(r)) continue;
    const k = `${r.model}\u0000${r.preset}`;
    const list = byKey.get(k);
    if (list) list.push(r);
    else byKey.set(k, [r]);
  }
  for (const missing of byKey.values()) {
    const first = missing[0]!;
    const fixes: { row: EvalRow; fix: EvalRow }[] = [];
    for (const m of missing) {
      const fix = rows.find((x) => variantOf(x) === "fix" && x.model === m.model && x.preset === m.preset && x.runtime === m.runtime);
      if (fix) fixes.push({ row: m, fix });
    }
    const suggestions = missing.flatMap((row) => (row.suggestion ? [{ row, suggestion: row.suggestion }] : []));
    out.push({
      model: first.model,
      preset: first.preset,
      rows: missing,
      perLayer: missing.find((m) => m.perLayer && m.perLayer.length > 0)?.perLayer,
      sensitivity: missing.find((m) => m.sensitivity && m.sensitivity.length > 0)?.sensitivity,
      note: missing.find((m) => m.note)?.note ?? fixes.find((f) => f.fix.note)?.fix.note,
      fixes,
      suggestions,
    });
  }
  return out;
}

/** "agree w/ float 92.0% → 99.0%, SQNR 14.2 → 25.1 dB, targets met ✓" for a fix row vs the row it fixes. */
export function fmtFixEffect(row: EvalRow, fix: EvalRow): string {
  const parts: string[] = [];
  if (row.agreeFloat !== null || fix.agreeFloat !== null) parts.push(`agree w/ float ${fmtPct(row.agreeFloat)} → ${fmtPct(fix.agreeFloat)}`);
  if ((row.iou ?? null) !== null || (fix.iou ?? null) !== null) parts.push(`IoU ${fmtIou(row.iou)} → ${fmtIou(fix.iou)}`);
  if (row.sqnr !== null || fix.sqnr !== null) parts.push(`SQNR ${fmtDb(row.sqnr)} → ${fmtDb(fix.sqnr)} dB`);
  if (row.sizeRatio !== null && fix.sizeRatio !== null) parts.push(`size ${fmtPct(row.sizeRatio)} → ${fmtPct(fix.sizeRatio)}`);
  if (fix.error) parts.push(`error: ${fix.error}`);
  else if ((fix.targets ?? []).length > 0) parts.push(`targets ${targetMark(fix) === "✓" ? "met ✓" : "still missed ✗"}`);
  return parts.join(", ");
}

/** The same for a suggestion carried on the row. */
export function fmtSuggestionEffect(row: EvalRow, s: NonNullable<EvalRow["suggestion"]>): string {
  const parts: string[] = [];
  if (row.agreeFloat !== null || s.agreeFloat !== null) parts.push(`agree w/ float ${fmtPct(row.agreeFloat)} → ${fmtPct(s.agreeFloat)}`);
  if (s.iou !== undefined && s.iou !== null) parts.push(`IoU ${fmtIou(row.iou)} → ${fmtIou(s.iou)}`);
  if (row.sqnr !== null || s.sqnr !== null) parts.push(`SQNR ${fmtDb(row.sqnr)} → ${fmtDb(s.sqnr)} dB`);
  if (s.met !== undefined) parts.push(`targets ${s.met ? "met ✓" : "still missed ✗"}`);
  return parts.join(", ");
}
