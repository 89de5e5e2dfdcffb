// The results the eval harness fills and the report renders (docs/eval.md, the HTML page, the JSON file).
//
// Plain JSON-serialisable data, no timestamps (the same run gives the same bytes). Non-finite numbers
// (an SQNR of Infinity when quantized and float outputs are identical) do not survive JSON.stringify:
// `resultsToJson` writes them as the strings "inf" / "-inf" / "nan" and `resultsFromJson` reads them back.

export type RuntimeId = "ort-node" | "ort-web" | "quanta-cpu";

/** How the run was made: everything the intro line shows. No dates: the output must be deterministic. */
export interface EvalGenerated {
  /** "ci": the few items CI runs; "full": the full set. */
  readonly size: "ci" | "full";
  /** Evaluation items per model (clips, lines, pages). */
  readonly items: number;
  /** Calibration invocations per model. */
  readonly calibration?: number;
  /** Node version (process.version). */
  readonly node: string;
  /** onnxruntime-node / onnxruntime-web version. */
  readonly ortVersion: string;
  /** The command that produced the results (default `npm run eval`). */
  readonly command?: string;
  /** Further lines for the intro (items per runtime, calibration sizes, ...), shown as given. */
  readonly notes?: readonly string[];
  readonly date?: never;
}

/** One acceptance target of a row, evaluated. For `sizeRatio` the bound is a maximum, for every other metric a minimum. */
export interface EvalTarget {
  /** A numeric field of the row: "agreeFloat" | "agreeTruth" | "iou" | "sqnr" | "sizeRatio" ... */
  readonly metric: string;
  readonly bound: number;
  /** The row's value of `metric` (null: not measured, counts as missed). */
  readonly value: number | null;
  readonly met: boolean;
}

/** Per-layer error: one float tensor of the quantized model vs the float model's. */
export interface EvalLayer {
  /** The float model's node producing the tensor. */
  readonly name: string;
  readonly op: string;
  /** SQNR (dB) of the node's output, quantized vs float (may be Infinity). */
  readonly sqnr: number;
  /** The node's own share: its SQNR less its worst input's (<= 0; optional). */
  readonly drop?: number;
}

/** A setting that fixes a shortfall, measured (alternatively the harness adds a `variant: "fix"` row). */
export interface EvalSuggestion {
  readonly exclude: readonly string[];
  readonly agreeFloat: number | null;
  readonly sqnr: number | null;
  readonly iou?: number | null;
  /** Whether every target of the row is met with the suggestion. */
  readonly met?: boolean;
  readonly note?: string;
}

export interface EvalRow {
  /** The model id of @quanta/models ("ocr/ch_PP-OCRv4_rec_infer"). */
  readonly model: string;
  /** "fp32" (the float model itself) | "static-int8" | "static-int8-qoperator" | "dynamic-int8" | "weight-only-int8" | "weight-only-int4" | "fp16" ... */
  readonly preset: string;
  /** "default": the preset as a user gets it; "fix": with the known fix of a shortfall applied (see `excluded`, `note`). Default "default". */
  readonly variant?: "default" | "fix";
  readonly runtime: RuntimeId;
  /** What a decision is ("text line string", "speech per 32 ms chunk", ...). */
  readonly decisionLabel: string;
  /** Name of the headline task metric ("same text as float"); default "decision agrees with float". */
  readonly metric?: string;
  /** Share of items (or chunks / frames) whose decision equals the float model's, in [0, 1]. */
  readonly agreeFloat: number | null;
  /** Quantized model vs ground truth, in [0, 1]. */
  readonly agreeTruth: number | null;
  /** Float model vs ground truth (same data), for context. */
  readonly floatTruth: number | null;
  /** Detection map IoU vs the float model's map. */
  readonly iou?: number | null;
  /** |score_q - score_f| over all scores. */
  readonly scoreError: { readonly mean: number; readonly max: number } | null;
  /** SQNR (dB) of the raw outputs vs float; Infinity allowed (shown "inf"). */
  readonly sqnr: number | null;
  /** Quantized file size / fp32 file size. */
  readonly sizeRatio: number | null;
  readonly sizeBytes: number | null;
  /** Median inference time per item (ms) of the float and the quantized model in this runtime. */
  readonly msFloat: number | null;
  readonly msQuant: number | null;
  /** Nodes the preset quantized (informational). */
  readonly quantizedNodes?: number | null;
  /** Nodes kept in float (`--exclude`). */
  readonly excluded: readonly string[];
  /** The quantize options changed from the preset (the fix's), informational. */
  readonly options?: Readonly<Record<string, unknown>>;
  /** Acceptance targets, evaluated; a row with a missed target is a shortfall. */
  readonly targets?: readonly EvalTarget[];
  /** What fixes a shortfall (or why the fix works, on a "fix" row). */
  readonly note?: string;
  /** Quantization or inference failed: the message. */
  readonly error?: string;
  /** Per-layer SQNR, worst first (at most ~30). */
  readonly perLayer?: readonly EvalLayer[];
  /** Weight-only shortfalls: output SQNR with each layer's weight quantized alone (the rest float), lowest first. */
  readonly sensitivity?: readonly { readonly name: string; readonly op: string; readonly sqnr: number; readonly elements?: number }[];
  /** Subsample (<= 400 points) of float vs quantized scores, same length. */
  readonly scatter?: { readonly float: readonly number[]; readonly quant: readonly number[] };
  /** The setting that fixes a shortfall, measured. */
  readonly suggestion?: EvalSuggestion;
}

export interface EvalResults {
  readonly generated: EvalGenerated;
  readonly rows: readonly EvalRow[];
}

/** Preset order of the report; unknown presets follow, alphabetically. */
export const PRESET_ORDER: readonly string[] = [
  "fp32",
  "fp16",
  "static-int8",
  "static-int8-qoperator",
  "dynamic-int8",
  "weight-only-int8",
  "weight-only-int4",
];

export const RUNTIME_ORDER: readonly string[] = ["ort-node", "ort-web", "quanta-cpu"];

const rank = (order: readonly string[], x: string) => {
  const i = order.indexOf(x);
  return i < 0 ? order.length : i;
};

const cmpStr = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Report order: model, preset (PRESET_ORDER), default before fix, runtime (RUNTIME_ORDER). */
export function compareRows(a: EvalRow, b: EvalRow): number {
  return (
    cmpStr(a.model, b.model) ||
    rank(PRESET_ORDER, a.preset) - rank(PRESET_ORDER, b.preset) ||
    cmpStr(a.preset, b.preset) ||
    (a.variant === "fix" ? 1 : 0) - (b.variant === "fix" ? 1 : 0) ||
    rank(RUNTIME_ORDER, a.runtime) - rank(RUNTIME_ORDER, b.runtime) ||
    cmpStr(a.runtime, b.runtime) ||
    cmpStr(a.excluded.join("\n"), b.excluded.join("\n"))
  );
}

/** The rows in report order (a copy). */
export const sortRows = (rows: readonly EvalRow[]): EvalRow[] => [...rows].sort(compareRows);

/** Whether a row misses a target. */
export const isShortfall = (r: EvalRow): boolean => (r.targets ?? []).some((t) => !t.met);

/** JSON.stringify replacer: non-finite numbers as "inf" / "-inf" / "nan". */
export function nonFiniteReplacer(_key: string, value: unknown): unknown {
  if (typeof value === "number" && !Number.isFinite(value)) return Number.isNaN(value) ? "nan" : value > 0 ? "inf" : "-inf";
  return value;
}

/** The results as JSON (rows in report order, non-finite numbers as strings, 2-space indent, trailing newline). */
export function resultsToJson(results: EvalResults): string {
  return `${JSON.stringify({ generated: results.generated, rows: sortRows(results.rows) }, nonFiniteReplacer, 2)}\n`;
}

/** A number written by `nonFiniteReplacer` back to a number. */
export function decodeNumber(x: unknown): number {
  if (typeof x === "number") return x;
  if (x === "inf" || x === "Infinity") return Number.POSITIVE_INFINITY;
  if (x === "-inf" || x === "-Infinity") return Number.NEGATIVE_INFINITY;
  if (x === "nan" || x === "NaN") return Number.NaN;
  throw new Error(`not a number: ${JSON.stringify(x)}`);
}

const decodeNullable = (x: unknown): number | null => (x === null || x === undefined ? null : decodeNumber(x));

type Json = Record<string, unknown>;

const isObj = (x: unknown): x is Json => typeof x === "object" && x !== null && !Array.isArray(x);

/** Reads `resultsToJson` output back (the numeric fields that may be non-finite are decoded; names are left alone, even "inf"). */
export function resultsFromJson(text: string): EvalResults {
  const parsed: unknown = JSON.parse(text);
  if (!isObj(parsed) || !isObj(parsed.generated) || !Array.isArray(parsed.rows)) throw new Error("not eval results: expected { generated, rows }");
  const rows = parsed.rows.map((r: unknown): EvalRow => {
    if (!isObj(r)) throw new Error("not eval results: a row is not an object");
    const o: Json = { ...r };
    for (const k of ["agreeFloat", "agreeTruth", "floatTruth", "iou", "sqnr", "sizeRatio", "sizeBytes", "msFloat", "msQuant", "quantizedNodes"]) {
      if (k in o) o[k] = decodeNullable(o[k]);
    }
    if (isObj(o.scoreError)) o.scoreError = { mean: decodeNumber(o.scoreError.mean), max: decodeNumber(o.scoreError.max) };
    if (Array.isArray(o.targets))
      o.targets = o.targets.map((t: unknown) => (isObj(t) ? { ...t, bound: decodeNumber(t.bound), value: decodeNullable(t.value) } : t));
    if (Array.isArray(o.perLayer))
      o.perLayer = o.perLayer.map((l: unknown) =>
        isObj(l) ? { ...l, sqnr: decodeNumber(l.sqnr), ...("drop" in l ? { drop: decodeNumber(l.drop) } : {}) } : l,
      );
    if (Array.isArray(o.sensitivity)) o.sensitivity = o.sensitivity.map((l: unknown) => (isObj(l) ? { ...l, sqnr: decodeNumber(l.sqnr) } : l));
    if (isObj(o.scatter)) {
      const s = o.scatter;
      o.scatter = { float: (Array.isArray(s.float) ? s.float : []).map(decodeNumber), quant: (Array.isArray(s.quant) ? s.quant : []).map(decodeNumber) };
    }
    if (isObj(o.suggestion)) {
      const s = o.suggestion;
      o.suggestion = { ...s, agreeFloat: decodeNullable(s.agreeFloat), sqnr: decodeNullable(s.sqnr), ...("iou" in s ? { iou: decodeNullable(s.iou) } : {}) };
    }
    return o as unknown as EvalRow;
  });
  return { generated: parsed.generated as unknown as EvalGenerated, rows };
}
