// npm run eval [-- --size ci|full] [--models SUBSTR,...] [--presets ID,...] [--runtimes ort-node,ort-web,quanta-cpu]
//              [--out DIR] [--docs] [--try JSON]... [--search] [--no-diagnose] [--write-models]
//              [--render-only] (re-render the report from DIR/results.json)
//              [--merge] (replace only the rows of the models and presets run now in DIR/results.json)
//
// Generates realistic data (espeak-ng speech through the models' own front ends, text rendered with
// ImageMagick + DejaVu fonts with PaddleOCR's preprocessing), quantizes every model with every preset,
// runs float and quantized models in onnxruntime-node, onnxruntime-web and Quanta's CPU backend, and
// writes results.json, eval.md and eval.html to --out (default out/eval); with --docs also to
// docs/eval.md and docs/eval.html.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { QuantizeOptions } from "@quanta/cli";
import { audioTasks } from "./audio/index.js";
import { PRESETS, type RuntimeId, presetById } from "./harness.js";
import { ocrTasks } from "./ocr/index.js";
import { resultsFromJson } from "./report/index.js";
import { toResults, writeAll } from "./results.js";
import { type Row, SIZES, evalTask } from "./run.js";

const { values } = parseArgs({
  options: {
    size: { type: "string", default: "full" },
    models: { type: "string" },
    presets: { type: "string" },
    runtimes: { type: "string", default: "ort-node,ort-web,quanta-cpu" },
    out: { type: "string", default: "out/eval" },
    docs: { type: "boolean", default: false },
    "write-models": { type: "boolean", default: false },
    try: { type: "string", multiple: true },
    "no-diagnose": { type: "boolean", default: false },
    search: { type: "boolean", default: false },
    "render-only": { type: "boolean", default: false },
    merge: { type: "boolean", default: false },
  },
});

const root = new URL("../../..", import.meta.url).pathname;
const size = values.size === "ci" ? "ci" : "full";
const sizes = SIZES[size];
const filters = values.models?.split(",").filter(Boolean) ?? [];
const tasks = [...audioTasks(), ...ocrTasks()].filter((t) => filters.length === 0 || filters.some((f) => t.model.includes(f)));
const presets = values.presets ? values.presets.split(",").map(presetById) : PRESETS;
const runtimes = values.runtimes!.split(",").map((r) => {
  if (r !== "ort-node" && r !== "ort-web" && r !== "quanta-cpu") throw new Error(`unknown runtime ${r}`);
  return r as RuntimeId;
});
const out = resolve(process.cwd(), values.out!);
mkdirSync(out, { recursive: true });

if (values["render-only"]) {
  // Re-render the report from an earlier run's results.json (after a change to the report code).
  const earlier = resultsFromJson(readFileSync(join(out, "results.json"), "utf8"));
  await writeAll(toResults(earlier.rows as unknown as Row[], size, sizes), out, values.docs ? join(root, "docs") : undefined);
  console.log(`eval: re-rendered ${earlier.rows.length} rows from ${join(out, "results.json")}`);
  process.exit(0);
}

console.log(`eval: ${tasks.length} models x ${presets.length} presets x ${runtimes.join(", ")}; ${sizes.items} items, ${sizes.calibration} calibration inputs per model (${size})`);
const t0 = performance.now();
const rows: Row[] = [];
for (const task of tasks) {
  rows.push(
    ...(await evalTask(task, {
      sizes,
      presets,
      runtimes,
      log: (l) => console.log(l),
      diagnose: !values["no-diagnose"],
      search: values.search,
      tries: (values.try ?? []).map((t) => JSON.parse(t) as Partial<QuantizeOptions>),
      onQuantized: values["write-models"]
        ? (model, preset, variant, q) => {
            const dir = join(out, "models");
            mkdirSync(dir, { recursive: true });
            writeFileSync(join(dir, `${model.replace(/\//g, "__")}.${preset}${variant === "fix" ? ".fix" : ""}.onnx`), q.bytes);
          }
        : undefined,
    })),
  );
}
// --merge: keep the other rows of DIR/results.json (rerun a few models or presets, report them all):
// a rerun model's rows of the presets that ran (and its fp32 rows) are replaced, the rest kept.
if (values.merge) {
  const ran = new Set(tasks.map((t) => t.model));
  const ranPresets = new Set(["fp32", ...presets.map((p) => p.id)]);
  const earlier = resultsFromJson(readFileSync(join(out, "results.json"), "utf8"));
  rows.push(...(earlier.rows as unknown as Row[]).filter((r) => !ran.has(r.model) || !ranPresets.has(r.preset)));
}
const results = toResults(rows, size, sizes);
await writeAll(results, out, values.docs ? join(root, "docs") : undefined);
console.log(`eval: ${rows.length} rows in ${((performance.now() - t0) / 1000).toFixed(0)} s; report in ${out}${values.docs ? " and docs/" : ""}`);
