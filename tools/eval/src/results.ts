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
    },
    rows: sortRows(rows as unknown as EvalRow[]),
  };
}

/** Writes results.json, eval.md and eval.html to `out`, and eval.md / eval.html to `docs` when given. */
export async function writeAll(results: EvalResults, out: string, docs?: string): Promise<void> {
  await writeReport(results, { jsonPath: join(out, "results.json"), markdownPath: join(out, "eval.md"), htmlPath: join(out, "eval.html") });
  if (docs) await writeReport(results, { markdownPath: join(docs, "eval.md"), htmlPath: join(docs, "eval.html") });
}
