// The eval at CI size: every model x preset, quantized with the same pipeline as `quanta quantize`, run
// in onnxruntime-node, onnxruntime-web and Quanta's CPU backend on realistic data (espeak-ng speech,
// rendered text). Asserts that every quantized file loads and runs in every runtime, that static int8
// (with the model's recorded fix where it has one) reaches the task targets, and that weight-only int8
// reaches 30 dB — except the shortfalls listed below, each with its reason (docs/eval.md has the figures).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { modelPath } from "@quanta/models";
import { afterAll, describe, expect, it } from "vitest";
import { audioTasks } from "../src/audio/index.js";
import { PRESETS, presetById, quantizeBytes } from "../src/harness.js";
import { ocrTasks } from "../src/ocr/index.js";
import { renderMarkdown } from "../src/report/index.js";
import { toResults, writeAll } from "../src/results.js";
import { type Row, SIZES, evalTask } from "../src/run.js";
import { FIXES } from "../src/targets.js";

/** Targets a model misses at CI size even with its fix, and why (model|preset|metric). */
const KNOWN: Record<string, string> = {
  // a16w8 with 16 int16 weights: 21.3 dB with 12 calibration pages (full size, docs/eval.md); CI calibrates on 3
  // pages (det's calibration runs every tensor through Quanta's CPU backend) and gets ~13 dB. IoU target met.
  "ocr/ch_PP-OCRv4_det_infer|static-int8|sqnr": "3 calibration pages at CI size (21.3 dB with 12 at full size); IoU target met",
};

const tasks = [...audioTasks(), ...ocrTasks()];
const rows: Row[] = [];

afterAll(async () => {
  if (rows.length) await writeAll(toResults(rows, "ci", SIZES.ci), join(import.meta.dirname, "..", "out", "ci"));
});

describe("eval at CI size", () => {
  it("quantizing twice gives byte-identical files", async () => {
    const t = tasks.find((x) => x.model === "openwakeword/alexa_v0.1")!;
    const cal = await t.calibration(8);
    const fp32 = readFileSync(modelPath(t.model));
    const a = await quantizeBytes(fp32, presetById("static-int8").options, cal);
    const b = await quantizeBytes(fp32, presetById("static-int8").options, await t.calibration(8));
    expect(Buffer.from(a.bytes).equals(Buffer.from(b.bytes))).toBe(true);
  }, 60_000);

  for (const task of tasks) {
    it(`${task.model}: every preset loads and runs in every runtime and reaches its targets`, async () => {
      const r = await evalTask(task, { sizes: SIZES.ci, presets: PRESETS, runtimes: ["ort-node", "ort-web", "quanta-cpu"], diagnose: false });
      rows.push(...r);
      for (const row of r) {
        expect(row.error, `${row.model} ${row.preset} ${row.variant} ${row.runtime}`).toBeUndefined();
        expect(row.agreeFloat, `${row.model} ${row.preset} ${row.runtime}`).not.toBeNull();
      }
      // The same quantized file gives the same decisions in onnxruntime-node and onnxruntime-web.
      for (const p of PRESETS) {
        const node = r.find((x) => x.preset === p.id && x.variant === "default" && x.runtime === "ort-node")!;
        const web = r.find((x) => x.preset === p.id && x.variant === "default" && x.runtime === "ort-web")!;
        expect(Math.abs(node.agreeFloat! - web.agreeFloat!), `${task.model} ${p.id}: ort-node vs ort-web`).toBeLessThanOrEqual(0.1);
      }
      for (const preset of ["static-int8", "weight-only-int8"]) {
        const variant = FIXES[task.model]?.[preset] ? "fix" : "default";
        const row = r.find((x) => x.preset === preset && x.variant === variant && x.runtime === "ort-node")!;
        for (const t of row.targets) {
          const known = KNOWN[`${task.model}|${preset}|${t.metric}`];
          if (known) continue;
          // At CI size a VAD model makes a few hundred decisions, openwakeword's front ends only 36 (6 clips x
          // 6 heads): one flip is 2.8%. CI allows one flip there; the full run (docs/eval.md) has the stated targets.
          if (t.metric === "agreeFloat" && t.value !== null && task.model.startsWith("openwakeword/")) {
            expect(t.value, `${task.model} ${preset} (${variant}) agreement`).toBeGreaterThanOrEqual(Math.min(t.bound, 1 - 1 / (6 * 6)) - 1e-9);
            continue;
          }
          expect(t.met, `${task.model} ${preset} (${variant}) ${t.metric} = ${t.value} vs ${t.bound}`).toBe(true);
        }
      }
    }, 900_000);
  }

  it("renders the CI report", () => {
    const md = renderMarkdown(toResults(rows, "ci", SIZES.ci));
    for (const t of tasks) expect(md).toContain(t.model);
  });
});
