// Realistic-text eval tasks for the PaddleOCR models of @quanta/models.
import type { Task } from "../types.js";
import { clsTask, detTask, recTask } from "./tasks.js";

export { ctcDecode, dbBoxes, dictionary } from "./decode.js";
export { cjkFont, renderClsLines, renderLines, renderPages } from "./data.js";
export { CALIBRATION_LINES, EVAL_LINES } from "./lines.js";
export { clsInput, detInput, recInput } from "./preprocess.js";
export { CLS_MODEL, DET_MODEL, REC_MODEL, clsTask, detTask, recTask } from "./tasks.js";

/** One task per PaddleOCR model: rec (PP-OCRv4), det (PP-OCRv4), cls (mobile v2.0). */
export function ocrTasks(): Task[] {
  return [recTask(), detTask(), clsTask()];
}
