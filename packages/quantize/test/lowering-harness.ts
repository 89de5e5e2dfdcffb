// Shared by the lower-*.test.ts files: runs the standard pipeline on a real model with our CPU
// backend as the calibration backend, writes it, and runs the result in onnxruntime-node and in
// our backend on held-out example inputs.
import { cpuBackend } from "@quanta/backend-cpu";
import { Backend, Dataset, silentProgress } from "@quanta/core";
import type { Model } from "@quanta/ir";
import { exampleInputs, modelPath } from "@quanta/models";
import { writeOnnx } from "@quanta/onnx";
import { readOnnxFile } from "@quanta/onnx/node";
import type { Scheme } from "@quanta/schemes";
import type { Tensor } from "@quanta/tensor";
import { Effect, Layer, Stream } from "effect";
import * as ort from "onnxruntime-node";
import { type LoweringOptions, quantizationPipeline } from "../src/index.js";

export type Feeds = Record<string, Tensor>;

/** Example inputs of a model as Quanta tensors. */
export function feedsOf(id: string, seed: number): Feeds {
  const out: Feeds = {};
  for (const [name, t] of Object.entries(exampleInputs(id, seed))) out[name] = { dtype: t.dtype, shape: [...t.shape], data: t.data } as Tensor;
  return out;
}

export const backend = cpuBackend();

/** The standard pipeline for `scheme` on `model` (mutated), calibrating on `samples`, as an Effect. */
export function quantizeEffect(model: Model, scheme: Scheme, options: LoweringOptions, samples: readonly Feeds[]) {
  const layer = Layer.mergeAll(
    silentProgress,
    Layer.succeed(Backend, { name: "cpu", plan: (m: Model) => backend.plan(m) }),
    Layer.succeed(Dataset, { size: samples.length, samples: Stream.fromIterable(samples) }),
  );
  return Effect.flatMap(quantizationPipeline(scheme, options), (p) => p.run(model)).pipe(Effect.provide(layer));
}

/** Runs the standard pipeline for `scheme` on `model` (mutated), calibrating on `samples`. */
export function quantizeWith(model: Model, scheme: Scheme, options: LoweringOptions, samples: readonly Feeds[]) {
  return Effect.runPromise(quantizeEffect(model, scheme, options, samples));
}

/** Reads a real model and quantizes it (calibrating on the example inputs of `calibSeeds`). */
export function quantizeReal(id: string, scheme: Scheme, options: LoweringOptions = {}, calibSeeds: readonly number[] = CALIBRATION) {
  return quantizeWith(readOnnxFile(modelPath(id)), scheme, options, calibSeeds.map((s) => feedsOf(id, s)));
}

/** Seeds of the calibration samples, and of the held-out samples that measure the results. */
export const CALIBRATION = [1, 2, 3, 4, 5, 6, 7, 8];
export const HELD_OUT = Array.from({ length: 16 }, (_, i) => 101 + i);

/** The float model's bytes (written by us: byte-identical to the file) and its onnxruntime outputs on the held-out samples. */
export async function floatReference(id: string) {
  const bytes = writeOnnx(readOnnxFile(modelPath(id)));
  return { bytes, outputs: await runOrt(bytes, HELD_OUT.map((s) => feedsOf(id, s))) };
}

export interface Measured {
  /** SQNR (dB) of the quantized model in onnxruntime against the float model in onnxruntime, over all held-out samples. */
  readonly sqnr: number;
  /** SQNR (dB) of our backend's outputs against onnxruntime's, both on the quantized model. */
  readonly agreement: number;
  /** Largest |ours - onnxruntime| on the quantized model. */
  readonly maxDiff: number;
  /** Written size / float model size. */
  readonly ratio: number;
}

/** Writes a quantized model, runs it in onnxruntime and on our backend on the held-out samples, and compares. */
export async function measure(id: string, model: Model, reference: { bytes: Uint8Array; outputs: Record<string, Float32Array>[] }, ortOptions: ort.InferenceSession.SessionOptions = {}): Promise<Measured> {
  const bytes = writeOnnx(model);
  const feeds = HELD_OUT.map((s) => feedsOf(id, s));
  const q = await runOrt(bytes, feeds, ortOptions);
  const ours = feeds.map((f) => runCpu(model, f));
  let sq = Number.POSITIVE_INFINITY;
  let agreement = Number.POSITIVE_INFINITY;
  let maxDiff = 0;
  for (const name of Object.keys(reference.outputs[0]!)) {
    const R = concat(reference.outputs, name);
    const Q = concat(q, name);
    const O = concat(ours, name);
    sq = Math.min(sq, sqnr(R, Q));
    agreement = Math.min(agreement, sqnr(Q, O));
    maxDiff = Math.max(maxDiff, maxAbsDiff(Q, O));
  }
  const m = { sqnr: sq, agreement, maxDiff, ratio: bytes.length / reference.bytes.length };
  if (process.env.QUANTA_REPORT) console.log(`${id}: SQNR ${m.sqnr.toFixed(2)} dB, ours vs onnxruntime ${m.agreement.toFixed(1)} dB (max ${m.maxDiff.toExponential(2)}), size ${(m.ratio * 100).toFixed(1)}%`);
  return m;
}

/** The float model's outputs on our backend. */
export function runCpu(model: Model, feeds: Feeds): Record<string, Float32Array> {
  const r = backend.plan(model).run(feeds);
  const out: Record<string, Float32Array> = {};
  for (const [k, t] of Object.entries(r)) out[k] = Float32Array.from(t.data as Float32Array);
  return out;
}

/** Runs ONNX bytes in onnxruntime-node (default graph optimizations unless `options` says otherwise, one thread). */
export async function runOrt(bytes: Uint8Array, feeds: readonly Feeds[], options: ort.InferenceSession.SessionOptions = {}): Promise<Record<string, Float32Array>[]> {
  const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1, ...options });
  try {
    const outs: Record<string, Float32Array>[] = [];
    for (const f of feeds) {
      const inputs: Record<string, ort.Tensor> = {};
      for (const [k, t] of Object.entries(f)) inputs[k] = new ort.Tensor(t.dtype as "float32", t.data as Float32Array, [...t.shape]);
      const r = await s.run(inputs);
      const o: Record<string, Float32Array> = {};
      for (const name of s.outputNames) o[name] = Float32Array.from(r[name]!.data as Float32Array);
      outs.push(o);
    }
    return outs;
  } finally {
    await s.release();
  }
}

/** Signal-to-quantization-noise ratio in dB of `test` against `ref` (Infinity when equal). */
export function sqnr(ref: ArrayLike<number>, test: ArrayLike<number>): number {
  let s = 0;
  let n = 0;
  for (let i = 0; i < ref.length; i++) {
    s += ref[i]! * ref[i]!;
    n += (ref[i]! - test[i]!) ** 2;
  }
  return n === 0 ? Number.POSITIVE_INFINITY : 10 * Math.log10(s / n);
}

/** Concatenates the named output over several runs. */
export function concat(runs: readonly Record<string, Float32Array>[], name: string): Float32Array {
  const parts = runs.map((r) => r[name]!);
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

/** Op histogram of the main graph. */
export function ops(model: Model): Record<string, number> {
  const h: Record<string, number> = {};
  for (const n of model.graph.nodes) h[n.op] = (h[n.op] ?? 0) + 1;
  return h;
}

export { writeOnnx };
