// Runs the eval: every task x preset x runtime, float model first, then each quantized model (and the
// known fix of a shortfall), comparing task decisions, scores and raw outputs with the float model.
import { readFileSync } from "node:fs";
import type { QuantizeOptions } from "@quanta/cli";
import { modelPath } from "@quanta/models";
import { type Comparison, type LayerError, type LayerSensitivity, type Preset, type Quantized, type RuntimeId, compareItems, median, perLayer, quantizeBytes, runnerFor, weightSensitivity } from "./harness.js";
import { FIXES, LIMITS, type Target, targetsFor } from "./targets.js";
import type { Feeds, ItemResult, Task } from "./types.js";

export interface Sizes {
  /** Evaluation items per task (clips, lines, pages). */
  readonly items: number;
  /** Calibration invocations per task. */
  readonly calibration: number;
  /** Fewer items in a slow runtime (Quanta's plain-JS CPU backend runs the OCR models 10-30x slower than onnxruntime). */
  readonly itemsIn?: Partial<Record<RuntimeId, number>>;
  /** Fewer calibration inputs for models whose calibration (Quanta's CPU backend, every tensor observed) is slow. */
  readonly calibrationOf?: Readonly<Record<string, number>>;
}

const DET = "ocr/ch_PP-OCRv4_det_infer";
const REC = "ocr/ch_PP-OCRv4_rec_infer";

export const SIZES = {
  ci: { items: 6, calibration: 64, itemsIn: { "quanta-cpu": 2 }, calibrationOf: { [DET]: 3, [REC]: 6, "ocr/ch_ppocr_mobile_v2.0_cls_infer": 8 } },
  full: { items: 24, calibration: 64, itemsIn: { "ort-web": 8, "quanta-cpu": 4 }, calibrationOf: { [DET]: 12, [REC]: 32, "ocr/ch_ppocr_mobile_v2.0_cls_infer": 32 } },
} as const satisfies Record<string, Sizes>;

const itemsIn = (s: Sizes, rt: RuntimeId) => Math.min(s.items, s.itemsIn?.[rt] ?? s.items);

export interface TargetResult {
  readonly metric: string;
  readonly bound: number;
  readonly value: number | null;
  readonly met: boolean;
}

export interface Row extends Omit<Comparison, "scatter"> {
  readonly model: string;
  readonly preset: string;
  /** "default" (the preset as a user gets it) or "fix" (with the known fix applied). */
  readonly variant: "default" | "fix";
  readonly runtime: RuntimeId;
  readonly decisionLabel: string;
  readonly sizeRatio: number | null;
  readonly sizeBytes: number | null;
  readonly msFloat: number | null;
  readonly msQuant: number | null;
  readonly quantizedNodes: number | null;
  readonly excluded: readonly string[];
  readonly options: Partial<QuantizeOptions>;
  readonly targets: readonly TargetResult[];
  readonly note?: string;
  readonly error?: string;
  readonly perLayer?: readonly LayerError[];
  /** Weight-only rows that miss a target: output SQNR with each layer's weight quantized alone, lowest first. */
  readonly sensitivity?: readonly LayerSensitivity[];
  readonly scatter?: { float: number[]; quant: number[] };
}

interface Variant {
  readonly variant: "default" | "fix";
  readonly options: QuantizeOptions;
  readonly changed: Partial<QuantizeOptions>;
  readonly note?: string;
}

export interface RunOptions {
  readonly sizes: Sizes;
  readonly presets: readonly Preset[];
  readonly runtimes: readonly RuntimeId[];
  /** Write quantized files here (optional). */
  readonly onQuantized?: (model: string, preset: string, variant: string, q: Quantized) => void;
  readonly log?: (line: string) => void;
  /** Per-layer report for rows that miss a target (default true; costs a Quanta CPU run with every tensor observed). */
  readonly diagnose?: boolean;
  /** Options changes to evaluate as extra "fix" variants of every preset (experiments; `--try '{"activations":"int16"}'`). */
  readonly tries?: readonly Partial<QuantizeOptions>[];
  /** Search an exclusion for rows that still miss a target (see `search`; needs `diagnose`). */
  readonly search?: boolean;
}

function evaluateTargets(targets: readonly Target[], row: Omit<Row, "targets">): TargetResult[] {
  return targets.map((t) => {
    const value = row[t.metric] as number | null;
    const met = value !== null && !Number.isNaN(value) && (t.metric === "sizeRatio" ? value <= t.bound : value >= t.bound);
    return { metric: t.metric, bound: t.bound, value, met };
  });
}

/** Runs one task with every preset and runtime. */
export async function evalTask(task: Task, o: RunOptions): Promise<Row[]> {
  const log = o.log ?? (() => {});
  const fp32 = readFileSync(modelPath(task.model));
  const calibration: Feeds[] = await task.calibration(o.sizes.calibrationOf?.[task.model] ?? o.sizes.calibration);
  const truth = task.truth ? await task.truth(o.sizes.items) : undefined;
  const floatItems = new Map<RuntimeId, ItemResult[]>();
  const floatMs = new Map<RuntimeId, number | null>();
  const rows: Row[] = [];
  for (const rt of o.runtimes) {
    const r = await runnerFor(rt, fp32);
    try {
      const items = await task.evaluate(r, itemsIn(o.sizes, rt));
      floatItems.set(rt, items);
      floatMs.set(rt, median(r.times));
      const c = compareItems(items, items, truth);
      rows.push({
        model: task.model,
        preset: "fp32",
        variant: "default",
        runtime: rt,
        decisionLabel: task.decisionLabel,
        agreeFloat: 1,
        agreeTruth: c.floatTruth,
        floatTruth: c.floatTruth,
        iou: null,
        scoreError: null,
        sqnr: null,
        sizeRatio: 1,
        sizeBytes: fp32.length,
        msFloat: median(r.times),
        msQuant: null,
        quantizedNodes: 0,
        excluded: [],
        options: {},
        targets: [],
      });
      log(`${task.model} fp32 ${rt}: ${items.length} items, vs truth ${fmtPct(c.floatTruth)}, ${fmtMs(median(r.times))}`);
    } finally {
      await r.release();
    }
  }
  /** Quantizes with one variant of a preset and evaluates it in every runtime. */
  const runVariant = async (p: Preset, v: Variant): Promise<Row[]> => {
    const out: Row[] = [];
    const base = { model: task.model, preset: p.id, variant: v.variant, decisionLabel: task.decisionLabel, excluded: [...(v.options.exclude ?? [])], options: v.changed };
      let q: Quantized;
      try {
        q = await quantizeBytes(fp32, v.options, calibration);
      } catch (e) {
        const error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
        log(`${task.model} ${p.id} ${v.variant}: quantization failed: ${error}`);
        for (const rt of o.runtimes) out.push(emptyRow(base, rt, error));
        return out;
      }
      o.onQuantized?.(task.model, p.id, v.variant, q);
      const targets = targetsFor(task.model, p.id);
      for (const rt of o.runtimes) {
        let row: Omit<Row, "targets">;
        try {
          const r = await runnerFor(rt, q.bytes);
          try {
            const items = await task.evaluate(r, itemsIn(o.sizes, rt));
            const c = compareItems(floatItems.get(rt)!, items, truth);
            row = {
              ...base,
              runtime: rt,
              agreeFloat: c.agreeFloat,
              agreeTruth: c.agreeTruth,
              floatTruth: c.floatTruth,
              iou: c.iou,
              scoreError: c.scoreError,
              sqnr: c.sqnr,
              sizeRatio: q.bytes.length / fp32.length,
              sizeBytes: q.bytes.length,
              msFloat: floatMs.get(rt) ?? null,
              msQuant: median(r.times),
              quantizedNodes: q.quantizedNodes,
              ...(v.note ? { note: v.note } : {}),
              scatter: c.scatter,
            };
          } finally {
            await r.release();
          }
        } catch (e) {
          row = emptyRow(base, rt, e instanceof Error ? `${e.name}: ${e.message}` : String(e));
        }
        const tr = evaluateTargets(targets, row);
        let full: Row = { ...row, targets: tr };
        // Where a target is missed, name the layers: per-layer SQNR on a few calibration samples (Quanta's backend).
        if (o.diagnose !== false && rt === o.runtimes[0] && tr.some(missedAccuracy) && !row.error) {
          try {
            full = { ...full, perLayer: perLayer(fp32, q.model, calibration.slice(0, 3)) };
            // Sensitivity ranks the default's layers (the search and the report read only those).
            if (v.variant === "default" && v.options.mode === "weight-only" && v.options.weights === "int8") full = { ...full, sensitivity: await weightSensitivity(fp32, q.model, calibration.slice(0, 3)) };
          } catch (e) {
            log(`  per-layer report failed: ${e instanceof Error ? e.message : e}`);
          }
        }
        out.push(full);
        log(
          `${task.model} ${p.id}${v.variant === "fix" ? " (fix)" : ""} ${rt}: agree ${fmtPct(full.agreeFloat)}, truth ${fmtPct(full.agreeTruth)}` +
            `${full.iou !== null ? `, IoU ${full.iou.toFixed(3)}` : ""}, SQNR ${fmtDb(full.sqnr)}, size ${fmtPct(full.sizeRatio)}, ${fmtMs(full.msFloat)} -> ${fmtMs(full.msQuant)}` +
            `${tr.length ? ` targets ${tr.map((t) => `${t.metric}${t.met ? " ok" : " MISSED"}`).join(", ")}` : ""}${full.error ? ` ERROR ${full.error}` : ""}`,
        );
      }
    return out;
  };
  /**
   * Per-layer search for a setting that fixes a shortfall, while the onnxruntime-node row misses a target.
   * Weight-only rows (which carry the weight sensitivity) keep the weights that cost the most noise per
   * byte at int16 (`--int16-weights`): each round removes enough of the summed per-layer noise to reach the SQNR
   * target with a margin that doubles every round. Other rows keep the quantized nodes with the largest
   * own loss (`drop`) in float, 2, 4, 8, 16 at a time.
   */
  const search = async (p: Preset, from: Variant, rowsOf: readonly Row[]): Promise<Row[]> => {
    let row = rowsOf.find((r) => r.runtime === "ort-node") ?? rowsOf[0];
    if (!row || row.error || !row.targets.some(missedAccuracy) || !row.perLayer) return [];
    if (row.sensitivity?.length) return searchInt16(p, from, row);
    const excluded = new Set(from.options.exclude ?? []);
    const base = excluded.size;
    let k = 2;
    for (let round = 0; round < 4 && row?.perLayer && row.targets.some(missedAccuracy); round++, k *= 2) {
      const add = row.perLayer.filter((l) => l.drop < 0 && !excluded.has(l.name)).slice(0, k).map((l) => l.name);
      if (add.length === 0) break;
      for (const l of add) excluded.add(l);
      const exclude = [...excluded];
      const v: Variant = {
        variant: "fix",
        options: { ...from.options, exclude },
        changed: { ...from.changed, exclude },
        note: `found by the per-layer search (round ${round + 1}): keeps the ${exclude.length - base} layers with the largest own loss in float`,
      };
      const r = await runVariant(p, v);
      row = r.find((x) => x.runtime === "ort-node") ?? r[0];
      if (!row?.targets.some(missedAccuracy) || round === 3) {
        log(`${task.model} ${p.id}: search ${row?.targets.some(missedAccuracy) ? "gave up at" : "found"} exclude ${JSON.stringify(exclude)}`);
        return r;
      }
    }
    return [];
  };
  const searchInt16 = async (p: Preset, from: Variant, first: Row): Promise<Row[]> => {
    const sens = first.sensitivity!;
    // Each layer's noise power relative to the signal, and the order that buys the most per byte.
    const noise = new Map(sens.map((l) => [l.name, 10 ** (-l.sqnr / 10)]));
    const order = [...sens].sort((a, b) => noise.get(b.name)! / b.elements - noise.get(a.name)! / a.elements);
    // Noise of the first k layers of `order`, k = 0..n.
    const removed = [0];
    for (const l of order) removed.push(removed.at(-1)! + noise.get(l.name)!);
    const prefix = (k: number) => removed[k]!;
    const total = prefix(order.length);
    const sqnrTarget = first.targets.find((t) => t.metric === "sqnr");
    const measured = first.sqnr ?? 0;
    // The fewest layers whose summed noise leaves `wanted` dB (noise adds across layers, roughly).
    const layersFor = (wanted: number) => {
      const keep = Math.min(1, 10 ** ((measured - wanted) / 10));
      let k = 0;
      while (k < order.length && total - prefix(k) > keep * total) k++;
      return Math.max(1, k);
    };
    const tries = new Map<number, Row[]>();
    const attempt = async (k: number, why: string) => {
      const int16Weights = order.slice(0, k).map((l) => l.name);
      const v: Variant = {
        variant: "fix",
        options: { ...from.options, int16Weights },
        changed: { ...from.changed, int16Weights },
        note: `found by the sensitivity search (${why}): the ${k} weights with the most output noise per byte at int16 (${((100 * prefix(k)) / total).toFixed(0)}% of the summed per-layer noise)`,
      };
      const r = await runVariant(p, v);
      tries.set(k, r);
      const row = r.find((x) => x.runtime === "ort-node") ?? r[0];
      return !!row && !row.error && !row.targets.some(missedAccuracy);
    };
    // Grow until the target holds (the prediction plus a margin of 0.5, 2, 4, 8 dB) ...
    let ok: number | undefined;
    let fail = 0;
    for (let round = 0, margin = 0.5; round < 4 && ok === undefined; round++, margin = 2 ** round) {
      const k = Math.max(fail + 1, layersFor((sqnrTarget ? sqnrTarget.bound : measured + 6) + margin));
      if (k > order.length) break;
      if (await attempt(k, `grow, round ${round + 1}`)) ok = k;
      else fail = k;
    }
    // ... then bisect down to the fewest that still meet it (two more runs at most).
    for (let round = 0; ok !== undefined && round < 2 && ok - fail > 1; round++) {
      const mid = Math.floor((ok + fail) / 2);
      if (await attempt(mid, "bisect")) ok = mid;
      else fail = mid;
    }
    const best = ok ?? Math.max(...tries.keys());
    const r = tries.get(best) ?? [];
    log(`${task.model} ${p.id}: search ${ok !== undefined ? "found" : "gave up at"} int16 ${JSON.stringify(order.slice(0, best).map((l) => l.name))}`);
    return r;
  };
  for (const p of o.presets) {
    const fix = FIXES[task.model]?.[p.id];
    const limit = LIMITS[task.model]?.[p.id];
    const variants: Variant[] = [{ variant: "default", options: p.options, changed: {}, ...(limit ? { note: `known limit: ${limit}` } : {}) }];
    if (fix) variants.push({ variant: "fix", options: { ...p.options, ...fix.options }, changed: fix.options, note: fix.why });
    for (const t of o.tries ?? []) variants.push({ variant: "fix", options: { ...p.options, ...t }, changed: t, note: `tried ${JSON.stringify(t)}` });
    let first: Row[] = [];
    for (const v of variants) {
      const r = await runVariant(p, v);
      if (v === variants[0]) first = r;
      rows.push(...r);
    }
    // The search starts from the preset as a user gets it (a recorded fix may trade speed, e.g. int16).
    if (o.search) rows.push(...(await search(p, variants[0]!, first)));
  }
  return rows;
}

/** A missed accuracy target (the searches trade size for accuracy, so a size miss alone is not theirs to fix). */
const missedAccuracy = (t: TargetResult) => !t.met && t.metric !== "sizeRatio";

function emptyRow(base: Pick<Row, "model" | "preset" | "variant" | "decisionLabel" | "excluded" | "options">, runtime: RuntimeId, error: string): Row {
  return {
    ...base,
    runtime,
    agreeFloat: null,
    agreeTruth: null,
    floatTruth: null,
    iou: null,
    scoreError: null,
    sqnr: null,
    sizeRatio: null,
    sizeBytes: null,
    msFloat: null,
    msQuant: null,
    quantizedNodes: null,
    targets: [],
    error,
  };
}

export const fmtPct = (x: number | null) => (x === null ? "-" : `${(100 * x).toFixed(1)}%`);
export const fmtMs = (x: number | null) => (x === null ? "-" : `${x.toFixed(2)} ms`);
export const fmtDb = (x: number | null) => (x === null ? "-" : x === Number.POSITIVE_INFINITY ? "inf" : `${x.toFixed(1)} dB`);
