import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { Model } from "@quanta/ir";
import { decodeTensorProto, readOnnx } from "@quanta/onnx";
import { type DType, type Tensor, size } from "@quanta/tensor";

export const DEFAULT_DATA = "/usr/share/libonnx-testdata/data/node";

/** What the runner needs of a backend. */
export interface ConformanceBackend {
  readonly name: string;
  supports(node: { op: string; domain: string }, opset: number): boolean;
  plan(model: Model): { run(feeds: Record<string, Tensor>): Record<string, Tensor> | Promise<Record<string, Tensor>> };
}

/** Per-backend exclusions: test name -> reason. */
export interface BackendConfig {
  readonly exclude: Readonly<Record<string, string>>;
}

export type Outcome = { test: string; status: "passed" } | { test: string; status: "failed"; reason: string } | { test: string; status: "skipped"; reason: string };

export interface RunSummary {
  readonly outcomes: readonly Outcome[];
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
}

/** Tests in the data folder (sorted), optionally filtered. */
export function listTests(dataDir: string, filter?: RegExp): string[] {
  if (!existsSync(dataDir)) throw new Error(`ONNX test data not found at ${dataDir} (apt-get install libonnx-testdata)`);
  return readdirSync(dataDir)
    .filter((d) => d.startsWith("test_") && existsSync(join(dataDir, d, "model.onnx")))
    .filter((d) => !filter || filter.test(d))
    .sort();
}

const opsetOf = (m: Model, domain: string) => m.opset(domain === "ai.onnx" ? "" : domain) ?? 1;

/** Runs one test directory. */
export async function runTest(dir: string, test: string, backend: ConformanceBackend, config: BackendConfig): Promise<Outcome> {
  if (config.exclude[test]) return { test, status: "skipped", reason: `excluded: ${config.exclude[test]}` };
  let model: Model;
  try {
    model = readOnnx(readFileSync(join(dir, test, "model.onnx")), { source: test });
  } catch (e) {
    return { test, status: "skipped", reason: `model not readable: ${(e as Error).message}` };
  }
  const missing = new Set<string>();
  for (const g of model.allGraphs()) {
    for (const n of g.nodes) if (!backend.supports(n, opsetOf(model, n.domain))) missing.add(`${n.domain ? `${n.domain}::` : ""}${n.op}-${opsetOf(model, n.domain)}`);
  }
  if (missing.size > 0) return { test, status: "skipped", reason: `unsupported op ${[...missing].join(", ")}` };
  const inputs = model.graph.inputs.filter((v) => !v.constant);
  const sets = readdirSync(join(dir, test))
    .filter((d) => d.startsWith("test_data_set_"))
    .sort();
  if (sets.length === 0) return { test, status: "skipped", reason: "no test data set" };
  let plan: ReturnType<ConformanceBackend["plan"]>;
  try {
    plan = backend.plan(model);
  } catch (e) {
    return { test, status: "failed", reason: `plan: ${(e as Error).message}` };
  }
  for (const set of sets) {
    const sdir = join(dir, test, set);
    const feeds: Record<string, Tensor> = {};
    const expected: Tensor[] = [];
    try {
      for (const [i, v] of inputs.entries()) {
        const f = join(sdir, `input_${i}.pb`);
        if (!existsSync(f)) continue; // optional input left out
        feeds[v.name] = decodeTensorProto(readFileSync(f), f).tensor;
      }
      for (let i = 0; existsSync(join(sdir, `output_${i}.pb`)); i++) expected.push(decodeTensorProto(readFileSync(join(sdir, `output_${i}.pb`))).tensor);
    } catch (e) {
      return { test, status: "skipped", reason: `test data is not plain tensors (sequence/optional/map): ${(e as Error).message.slice(0, 80)}` };
    }
    let got: Record<string, Tensor>;
    try {
      got = await plan.run(feeds);
    } catch (e) {
      return { test, status: "failed", reason: `${set}: ${(e as Error).message}` };
    }
    for (const [i, want] of expected.entries()) {
      const v = model.graph.outputs[i];
      const t = v && got[v.name];
      if (!t) return { test, status: "failed", reason: `${set}: output ${i} missing` };
      const diff = compare(t, want);
      if (diff) return { test, status: "failed", reason: `${set}: output ${i} ('${v.name}'): ${diff}` };
    }
  }
  return { test, status: "passed" };
}

/** Runs every test; calls `report` as each finishes. */
export async function runAll(dir: string, tests: readonly string[], backend: ConformanceBackend, config: BackendConfig, report?: (o: Outcome) => void): Promise<RunSummary> {
  const outcomes: Outcome[] = [];
  for (const t of tests) {
    const o = await runTest(dir, t, backend, config);
    outcomes.push(o);
    report?.(o);
  }
  return {
    outcomes,
    passed: outcomes.filter((o) => o.status === "passed").length,
    failed: outcomes.filter((o) => o.status === "failed").length,
    skipped: outcomes.filter((o) => o.status === "skipped").length,
  };
}

const FLOATS = new Set<DType>(["float32", "float64", "float16", "bfloat16"]);

/** ONNX backend-test comparison: floats with rtol 1e-3 / atol 1e-7 (NaN equals NaN), everything else exact. Returns a reason or "". */
export function compare(got: Tensor, want: Tensor): string {
  if (got.dtype !== want.dtype) return `dtype ${got.dtype}, expected ${want.dtype}`;
  if (got.shape.length !== want.shape.length || got.shape.some((d, i) => d !== want.shape[i])) return `shape [${got.shape.join(",")}], expected [${want.shape.join(",")}]`;
  const n = size(want.shape);
  const float = FLOATS.has(want.dtype);
  const g = float ? asF64(got) : null;
  const w = float ? asF64(want) : null;
  let worst = "";
  let bad = 0;
  for (let i = 0; i < (want.dtype === "int4" || want.dtype === "uint4" ? want.data.length : n); i++) {
    if (float) {
      const a = g![i]!;
      const b = w![i]!;
      if (Number.isNaN(a) && Number.isNaN(b)) continue;
      if (a === b) continue;
      if (!(Math.abs(a - b) <= 1e-7 + 1e-3 * Math.abs(b))) {
        if (!bad++) worst = `at ${i}: ${a} vs ${b}`;
      }
    } else if (got.data[i] !== want.data[i]) {
      if (!bad++) worst = `at ${i}: ${got.data[i]} vs ${want.data[i]}`;
    }
  }
  return bad ? `${bad} of ${n} values differ (first ${worst})` : "";
}

function asF64(t: Tensor): Float64Array {
  const d = t.data;
  if (t.dtype === "float16") return Float64Array.from(d as Uint16Array, h16);
  if (t.dtype === "bfloat16") return Float64Array.from(d as Uint16Array, (b) => new Float32Array(new Uint32Array([b << 16]).buffer)[0]!);
  return Float64Array.from(d as Float32Array);
}

function h16(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? Number.NaN : s * Number.POSITIVE_INFINITY;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}
