// The three PaddleOCR tasks: text recognition (PP-OCRv4 rec), text detection (PP-OCRv4 det) and text
// line orientation (mobile v2.0 cls), on rendered text (see data.ts) with PaddleOCR's preprocessing
// (see preprocess.ts) and postprocessing (see decode.ts).
import type { Feeds, ItemResult, Outputs, Runner, Task } from "../types.js";
import { ctcDecode, dbBoxes } from "./decode.js";
import { type Purpose, renderClsLines, renderLines, renderPages } from "./data.js";
import { clsInput, detInput, recInput } from "./preprocess.js";

export const REC_MODEL = "ocr/ch_PP-OCRv4_rec_infer";
export const DET_MODEL = "ocr/ch_PP-OCRv4_det_infer";
export const CLS_MODEL = "ocr/ch_ppocr_mobile_v2.0_cls_infer";

const id = (prefix: string, i: number) => `${prefix}-${String(i).padStart(3, "0")}`;

/** The model's only output. */
function single(o: Outputs): { readonly dims: readonly number[]; readonly data: Float32Array } {
  const v = Object.values(o);
  if (v.length !== 1) throw new Error(`expected one output, got ${v.length}`);
  return v[0]!;
}

export const recFeeds = (purpose: Purpose, size: number): Feeds[] => renderLines("rec", purpose, size).map((l) => ({ x: recInput(l.image) }));
export const clsFeeds = (purpose: Purpose, size: number): Feeds[] => renderClsLines(purpose, size).map((l) => ({ x: clsInput(l.image) }));
export const detFeeds = (purpose: Purpose, size: number): Feeds[] => renderPages(purpose, size).map((p) => ({ x: detInput(p.image) }));

/**
 * PP-OCRv4 recogniser: one rendered line per item, decision = greedy CTC string without leading and
 * trailing spaces (the model often reads the margin as a space; a user trims it, and the truth has none),
 * truth = the text. Spaces inside the line count.
 */
export function recTask(): Task {
  return {
    model: REC_MODEL,
    decisionLabel: "text line string (CTC greedy decoding, outer spaces trimmed)",
    calibration: async (size) => recFeeds("calibration", size),
    async evaluate(runner: Runner, size: number): Promise<ItemResult[]> {
      const out: ItemResult[] = [];
      const feeds = recFeeds("eval", size);
      for (let i = 0; i < feeds.length; i++) {
        const o = single(await runner.run(feeds[i]!));
        const { text, stepMax } = ctcDecode(o.data, o.dims);
        out.push({ id: id("line", i), decision: text.trim(), scores: stepMax, raw: o.data });
      }
      return out;
    },
    truth: async (size) => new Map(renderLines("rec", "eval", size).map((l, i) => [id("line", i), l.item.text])),
  };
}

/** PP-OCRv4 detector: one rendered page per item, decision = number of DB text boxes, truth = lines placed. */
export function detTask(): Task {
  return {
    model: DET_MODEL,
    decisionLabel: "text boxes per page (DB, map > 0.3)",
    calibration: async (size) => detFeeds("calibration", size),
    async evaluate(runner: Runner, size: number): Promise<ItemResult[]> {
      const out: ItemResult[] = [];
      const feeds = detFeeds("eval", size);
      for (let i = 0; i < feeds.length; i++) {
        const o = single(await runner.run(feeds[i]!));
        const h = o.dims[2]!;
        const w = o.dims[3]!;
        const { mask, boxes } = dbBoxes(o.data, h, w);
        // Every 4th pixel of every 4th row: 1/16 of the map.
        const scores: number[] = [];
        for (let y = 0; y < h; y += 4) for (let x = 0; x < w; x += 4) scores.push(o.data[y * w + x]!);
        out.push({ id: id("page", i), decision: boxes.length, scores, raw: o.data, mask });
      }
      return out;
    },
    truth: async (size) => new Map(renderPages("eval", size).map((p, i) => [id("page", i), p.lines.length])),
  };
}

/** Mobile v2.0 direction classifier: rendered lines, odd ones turned 180 degrees; decision = argmax class. */
export function clsTask(): Task {
  return {
    model: CLS_MODEL,
    decisionLabel: "line orientation (0: 0 deg, 1: 180 deg)",
    calibration: async (size) => clsFeeds("calibration", size),
    async evaluate(runner: Runner, size: number): Promise<ItemResult[]> {
      const out: ItemResult[] = [];
      const feeds = clsFeeds("eval", size);
      for (let i = 0; i < feeds.length; i++) {
        const o = single(await runner.run(feeds[i]!));
        const p0 = o.data[0]!;
        const p1 = o.data[1]!;
        out.push({ id: id("cls", i), decision: p1 > p0 ? 1 : 0, scores: [p1], raw: o.data });
      }
      return out;
    },
    truth: async (size) => new Map(renderClsLines("eval", size).map((l, i) => [id("cls", i), l.label])),
  };
}
