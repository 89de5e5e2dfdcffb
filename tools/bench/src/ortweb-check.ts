// Runs the quantized models written by packages/quantize's acceptance test (QUANTA_RESULTS_DIR=DIR) in
// onnxruntime-web (wasm, 1 thread) and onnxruntime-node, checks they load and run with the float model's
// output names and shapes, and prints a Markdown table with both SQNRs (vs the float model in the same
// runtime, on the same held-out example inputs) and the file size ratio.
//
//   cd packages/quantize && QUANTA_RESULTS_DIR=../../out/quantize-acceptance pnpm exec vitest run test/models.test.ts
//   node --conditions=@quanta/source --import tsx tools/bench/src/ortweb-check.ts out/quantize-acceptance
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { exampleInputs, modelPath } from "@quanta/models";
import * as ortNode from "onnxruntime-node";
import * as ortWeb from "onnxruntime-web";

ortWeb.env.wasm.numThreads = 1;
ortWeb.env.logLevel = "error";

interface Result {
  model: string;
  mode: string;
  exclude: string[];
  calibration: number;
  quantizedNodes: number;
  sqnrAll: number | string;
  sqnrDisabled: number | string;
  perOutput: Record<string, number | string>;
  decision?: number;
  ratio: number;
  file?: string;
}

type Outputs = Record<string, { dims: readonly number[]; data: Float32Array }>;
type Runtime = typeof ortNode | typeof ortWeb;

const dir = process.argv[2];
if (!dir) {
  console.error("usage: ortweb-check.ts DIR (the QUANTA_RESULTS_DIR of packages/quantize's models.test.ts)");
  process.exit(2);
}
const { heldOut, results } = JSON.parse(readFileSync(join(dir, "results.json"), "utf8")) as { heldOut: number[]; results: Result[] };

async function run(rt: Runtime, bytes: Uint8Array, id: string): Promise<Outputs[]> {
  const options = rt === ortWeb ? { executionProviders: ["wasm"] } : { intraOpNumThreads: 1, interOpNumThreads: 1 };
  const session = await (rt.InferenceSession as typeof ortNode.InferenceSession).create(bytes, options as ortNode.InferenceSession.SessionOptions);
  const out: Outputs[] = [];
  for (const seed of heldOut) {
    const feeds: Record<string, ortNode.Tensor> = {};
    for (const [k, t] of Object.entries(exampleInputs(id, seed))) feeds[k] = new rt.Tensor(t.dtype, t.data, t.shape) as ortNode.Tensor;
    const r = await session.run(feeds);
    out.push(Object.fromEntries(Object.entries(r).map(([k, t]) => [k, { dims: [...t.dims], data: t.data as Float32Array }])));
  }
  await session.release();
  return out;
}

function sqnr(ref: Outputs[], cand: Outputs[]): number {
  let sig = 0;
  let noise = 0;
  ref.forEach((r, i) => {
    for (const [name, t] of Object.entries(r)) {
      const c = cand[i]![name]!;
      if (!c || c.data.length !== t.data.length) throw new Error(`output ${name} differs in shape`);
      for (let j = 0; j < t.data.length; j++) {
        sig += t.data[j]! ** 2;
        noise += (t.data[j]! - c.data[j]!) ** 2;
      }
    }
  });
  return noise === 0 ? Number.POSITIVE_INFINITY : 10 * Math.log10(sig / noise);
}

const db = (x: number | string) => (x === "Infinity" || x === Number.POSITIVE_INFINITY ? "inf" : Number(x).toFixed(1));
const refs = new Map<string, { node: Outputs[]; web: Outputs[] }>();
const rows: string[] = [];
let failures = 0;
for (const r of results) {
  if (!r.file) continue;
  let ref = refs.get(r.model);
  if (!ref) {
    const bytes = readFileSync(modelPath(r.model));
    ref = { node: await run(ortNode, bytes, r.model), web: await run(ortWeb, bytes, r.model) };
    refs.set(r.model, ref);
  }
  const bytes = readFileSync(join(dir, r.file));
  let web = "failed";
  let node = "failed";
  try {
    const got = await run(ortWeb, bytes, r.model);
    if (Object.keys(got[0]!).sort().join() !== Object.keys(ref.web[0]!).sort().join()) throw new Error("output names differ");
    web = db(sqnr(ref.web, got));
  } catch (e) {
    failures++;
    web = `failed: ${(e as Error).message.slice(0, 80)}`;
  }
  try {
    node = db(sqnr(ref.node, await run(ortNode, bytes, r.model)));
  } catch (e) {
    failures++;
    node = `failed: ${(e as Error).message.slice(0, 80)}`;
  }
  const outs = Object.entries(r.perOutput).map(([k, v]) => `${k.length > 16 ? `${k.slice(0, 14)}…` : k} ${db(v)}`).join(", ");
  rows.push(
    `| ${r.model} | ${r.mode} | ${r.exclude.length ? r.exclude.map((x) => `\`${x}\``).join(" ") : "-"} | ${r.calibration || "-"} | ${r.quantizedNodes} | ${node} | ${db(r.sqnrDisabled)} | ${web} | ${outs} | ${r.decision === undefined ? "-" : `${(r.decision * 100).toFixed(1)}%`} | ${(r.ratio * 100).toFixed(1)}% |`,
  );
}
console.log("| model | mode | excluded | calib. samples | quantized nodes | SQNR ort-node (opt. all) | SQNR ort-node (opt. disabled) | SQNR ort-web wasm | per output (node, disabled) | decision agreement | size vs fp32 |");
console.log("|---|---|---|---|---|---|---|---|---|---|---|");
for (const row of rows) console.log(row);
if (failures) {
  console.error(`${failures} file(s) failed to load or run`);
  process.exit(1);
}
