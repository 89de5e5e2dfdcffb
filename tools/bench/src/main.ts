// npm run bench [-- --filter REGEX --seconds S --backend cpu --no-models --no-matmul --json FILE]
// Prints, for each real model and the matmul shapes of performance.md, the median ms per inference of
// onnxruntime-node, onnxruntime-web (wasm) and Quanta's backend in the same run, and the ratios.
import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { cpuBackend } from "@quanta/backend-cpu";
import { ONNX_MODELS, exampleInputs } from "@quanta/models";
import { readOnnx } from "@quanta/onnx";
import type { Tensor } from "@quanta/tensor";
import * as ortNode from "onnxruntime-node";
import * as ortWeb from "onnxruntime-web";
import { type Case, matmulCases } from "./models.js";

const { values } = parseArgs({
  options: {
    filter: { type: "string" },
    seconds: { type: "string", default: "1.5" },
    "no-models": { type: "boolean" },
    "no-matmul": { type: "boolean" },
    json: { type: "string" },
  },
});
const budget = Number(values.seconds) * 1000;
ortWeb.env.wasm.numThreads = 1;
ortWeb.env.logLevel = "error";

async function time(run: () => unknown | Promise<unknown>): Promise<number> {
  await run();
  await run();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < 5 || (performance.now() - start < budget && times.length < 200)) {
    const t0 = performance.now();
    await run();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[times.length >> 1]!;
}

type Row = { case: string; ortNode?: number; ortWeb?: number; quanta?: number; note?: string };

async function bench(c: Case): Promise<Row> {
  const row: Row = { case: c.name };
  const nodeFeeds = Object.fromEntries(Object.entries(c.feeds).map(([k, v]) => [k, new ortNode.Tensor(v.dtype, v.data, v.shape)]));
  const webFeeds = Object.fromEntries(Object.entries(c.feeds).map(([k, v]) => [k, new ortWeb.Tensor(v.dtype, v.data, v.shape)]));
  try {
    const s = await ortNode.InferenceSession.create(c.bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
    row.ortNode = await time(() => s.run(nodeFeeds));
  } catch (e) {
    row.note = `ort-node: ${(e as Error).message.slice(0, 60)}`;
  }
  try {
    const s = await ortWeb.InferenceSession.create(c.bytes, { executionProviders: ["wasm"] });
    row.ortWeb = await time(() => s.run(webFeeds));
  } catch (e) {
    row.note = `${row.note ? `${row.note}; ` : ""}ort-web: ${(e as Error).message.slice(0, 60)}`;
  }
  try {
    const plan = cpuBackend().plan(readOnnx(c.bytes));
    const feeds = c.feeds as unknown as Record<string, Tensor>;
    row.quanta = await time(() => plan.run(feeds));
  } catch (e) {
    row.note = `${row.note ? `${row.note}; ` : ""}quanta: ${(e as Error).message.slice(0, 90)}`;
  }
  return row;
}

const cases: Case[] = [];
if (!values["no-models"]) {
  for (const m of ONNX_MODELS) cases.push({ name: m.id, bytes: readFileSync(m.path), feeds: exampleInputs(m.id) as Case["feeds"] });
}
if (!values["no-matmul"]) cases.push(...matmulCases());
const filter = values.filter ? new RegExp(values.filter) : undefined;
const rows: Row[] = [];
const f = (x?: number) => (x === undefined ? "-" : x < 10 ? x.toFixed(2) : x.toFixed(1));
const r = (a?: number, b?: number) => (a === undefined || b === undefined ? "-" : `${(a / b).toFixed(2)}x`);
console.log("median ms per inference, 1 thread each; ratio = quanta / runtime (lower is better)");
console.log(`${"case".padEnd(42)} ${"ort-node".padStart(9)} ${"ort-web".padStart(9)} ${"quanta-cpu".padStart(10)} ${"vs node".padStart(8)} ${"vs web".padStart(8)}`);
for (const c of cases) {
  if (filter && !filter.test(c.name)) continue;
  const row = await bench(c);
  rows.push(row);
  console.log(`${row.case.padEnd(42)} ${f(row.ortNode).padStart(9)} ${f(row.ortWeb).padStart(9)} ${f(row.quanta).padStart(10)} ${r(row.quanta, row.ortNode).padStart(8)} ${r(row.quanta, row.ortWeb).padStart(8)}${row.note ? `  (${row.note})` : ""}`);
}
if (values.json) writeFileSync(values.json, JSON.stringify(rows, null, 1));
