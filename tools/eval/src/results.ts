// Turns the harness rows into the report's results and writes the report files.
import { join } from "node:path";
import { type EvalResults, type EvalRow, sortRows, writeReport } from "./report/index.js";
import type { Row, Sizes } from "./run.js";

const ORT_VERSION = "1.30.0";

export function toResults(rows: readonly Row[], size: "ci" | "full", sizes: Sizes): EvalResults {
  return {
    generated: {
      size,
      items: sizes.items,
      calibration: sizes.calibration,
      node: process.version,
      ortVersion: ORT_VERSION,
      command: size === "ci" ? "npm run eval -- --size ci" : "npm run eval",
      notes: [
        `Items per runtime: ${sizes.items} in onnxruntime-node${Object.entries(sizes.itemsIn ?? {})
          .map(([rt, n]) => `, the first ${n} in ${rt}`)
          .join("")} (one flipped decision weighs more there). Calibration inputs: ${sizes.calibration}${Object.entries(sizes.calibrationOf ?? {})
          .map(([m, n]) => `, ${n} for ${m}`)
          .join("")}.`,
        "A decision: OCR recognition, the line's text (outer spaces trimmed); detection, the number of text boxes (IoU compares the binarised maps); direction classifier, the class; wake-word heads, fired on the clip; openwakeword's front ends, each of the six heads fired on the clip; VAD, speech per chunk.",
        "Targets: static int8 OCR recognition >= 95% same text, VAD and wake-word decisions >= 98%, detection IoU >= 0.9, text direction >= 98%, SQNR >= 20 dB; weight-only int8 SQNR >= 30 dB; size <= 30% of fp32 for the int8 presets and <= 18% for int4. A fix row applies the setting recorded in tools/eval/src/targets.ts (exclusions, int16 activations, int16 weights or activations on chosen layers (--int16-weights, --int16-activations), bias correction off).",
      ],
    },
    rows: sortRows(rows as unknown as EvalRow[]),
  };
}

/** Writes results.json, eval.md and eval.html to `out`, and eval.md / eval.html to `docs` when given. */
export async function writeAll(results: EvalResults, out: string, docs?: string): Promise<void> {
  await writeReport(results, { jsonPath: join(out, "results.json"), markdownPath: join(out, "eval.md"), htmlPath: join(out, "eval.html") });
  if (docs) await writeReport(results, { markdownPath: join(docs, "eval.md"), htmlPath: join(docs, "eval.html") });
}
