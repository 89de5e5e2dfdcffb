import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cpuBackend } from "@quanta/backend-cpu";
import type { Model } from "@quanta/ir";
import type { Tensor } from "@quanta/tensor";
import { listSamples, safeName } from "./dataset.js";
import { encodeNpy } from "./npy.js";

/** A backend the CLI can run models on. The CLI is given a list of these; nothing registers itself. */
export interface RunBackend {
  readonly name: string;
  plan(model: Model): { run(feeds: Record<string, Tensor>): Record<string, Tensor> };
}

export const DEFAULT_BACKENDS: readonly RunBackend[] = [{ name: "cpu", plan: (m) => cpuBackend().plan(m) }];

/** Writes a file atomically (temporary name in the same folder, then rename). */
export function writeAtomic(path: string, bytes: Uint8Array): void {
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2, 8)}.tmp`;
  try {
    writeFileSync(tmp, bytes, { flag: "wx" });
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** Runs every sample of `dataDir` and writes `outDir/<sample>/<output>.npy`. Returns the sample count. */
export function runSamples(model: Model, backend: RunBackend, dataDir: string, outDir: string, onSample?: (id: string, ms: number) => void): number {
  const plan = backend.plan(model);
  const inputs = model.graph.inputs.filter((v) => !v.constant);
  const data = listSamples(dataDir, inputs);
  for (const id of data.ids) {
    const sample = data.load(id);
    const t0 = performance.now();
    const outs = plan.run(sample.feeds);
    const ms = performance.now() - t0;
    const dir = join(outDir, safeName(sample.id));
    mkdirSync(dir, { recursive: true });
    for (const [name, t] of Object.entries(outs)) writeAtomic(join(dir, `${safeName(name)}.npy`), encodeNpy(t));
    onSample?.(sample.id, ms);
  }
  return data.ids.length;
}

export interface BenchResult {
  readonly backend: string;
  readonly sample: string;
  readonly runs: number;
  readonly warmup: number;
  readonly median_ms: number;
  readonly min_ms: number;
  readonly max_ms: number;
}

/** Times inference of the first sample after warm-up. */
export function benchSamples(model: Model, backend: RunBackend, dataDir: string, runs: number, warmup: number): BenchResult {
  const plan = backend.plan(model);
  const data = listSamples(dataDir, model.graph.inputs.filter((v) => !v.constant));
  const sample = data.load(data.ids[0]!);
  for (let i = 0; i < warmup; i++) plan.run(sample.feeds);
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    plan.run(sample.feeds);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const mid = times.length >> 1;
  const median = times.length % 2 ? times[mid]! : (times[mid - 1]! + times[mid]!) / 2;
  return { backend: backend.name, sample: sample.id, runs, warmup, median_ms: median, min_ms: times[0]!, max_ms: times[times.length - 1]! };
}
