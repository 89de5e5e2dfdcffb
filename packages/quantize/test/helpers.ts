// Shared helpers of the quantize tests (and of the acceptance matrix): run a scheme's pipeline on a
// model with in-memory samples, run ONNX bytes in onnxruntime-node, SQNR.
import { Backend, Dataset, silentProgress } from "@quanta/core";
import { cpuBackend } from "@quanta/backend-cpu";
import { type Model, onnxDialect } from "@quanta/ir";
import { exampleInputs } from "@quanta/models";
import type { Scheme } from "@quanta/schemes";
import type { Tensor } from "@quanta/tensor";
import { Effect, Layer, Stream } from "effect";
import * as ort from "onnxruntime-node";
import { ANNOTATIONS, type Annotations } from "../src/keys.js";
import type { Int4Format } from "../src/lower-onnx.js";
import { quantizationPipeline } from "../src/pipeline.js";


export type Feeds = Record<string, Tensor>;

/** The deterministic example inputs of a model for `seed` as Quanta tensors. */
export const feedsOf = (id: string, seed: number): Feeds => exampleInputs(id, seed) as unknown as Feeds;

/** Layers for a pipeline run: silent progress, the CPU backend, a Dataset of `samples`. */
export function servicesFor(samples: readonly Feeds[]) {
  return Layer.mergeAll(
    silentProgress,
    Layer.succeed(Backend, { name: "cpu", plan: (m: Model) => cpuBackend().plan(m) }),
    Layer.succeed(Dataset, { size: samples.length, samples: Stream.fromIterable(samples) }),
  );
}

export interface QuantizeRun {
  readonly model: Model;
  readonly annotations: Annotations;
  readonly warnings: readonly { pass: string; message: string }[];
}

/** Runs the standard pipeline of `scheme` on `model` (mutated) with `samples` as calibration data. */
export function quantize(model: Model, scheme: Scheme, samples: readonly Feeds[] = [], options: { int4Format?: Int4Format; format?: "qdq" | "qoperator"; biasCorrection?: boolean } = {}): Promise<QuantizeRun> {
  return Effect.runPromise(
    Effect.gen(function* () {
      // The standard passes (opset upgrades included), without bias correction unless asked.
      const p = yield* quantizationPipeline(scheme, { dialect: () => onnxDialect, ...options });
      const r = yield* p.run(model);
      return { model: r.model, annotations: r.data.need(ANNOTATIONS), warnings: r.warnings };
    }).pipe(Effect.provide(servicesFor(samples))),
  );
}

export type OrtOutputs = Record<string, { dims: readonly number[]; data: Float32Array }>;

/** Runs ONNX bytes (or a path) in onnxruntime-node on every sample; float32 outputs only. */
export async function runOrt(model: Uint8Array | string, samples: readonly Feeds[], level: "all" | "disabled" = "all"): Promise<OrtOutputs[]> {
  const session = await ort.InferenceSession.create(model as Uint8Array, { graphOptimizationLevel: level, intraOpNumThreads: 1, interOpNumThreads: 1 });
  try {
    const out: OrtOutputs[] = [];
    for (const s of samples) {
      const feeds = Object.fromEntries(Object.entries(s).map(([k, t]) => [k, new ort.Tensor(t.dtype as "float32", t.data as Float32Array, t.shape as number[])]));
      const r = await session.run(feeds);
      out.push(Object.fromEntries(Object.entries(r).map(([k, t]) => [k, { dims: [...t.dims], data: t.data as Float32Array }])));
    }
    return out;
  } finally {
    await session.release();
  }
}

/** SQNR in dB of `cand` against `ref`, accumulated over every output of every sample (Infinity when equal). */
export function sqnr(ref: readonly OrtOutputs[], cand: readonly OrtOutputs[]): number {
  let sig = 0;
  let noise = 0;
  ref.forEach((r, i) => {
    for (const [name, t] of Object.entries(r)) {
      const c = cand[i]![name]!;
      for (let j = 0; j < t.data.length; j++) {
        const x = t.data[j]!;
        const d = x - c.data[j]!;
        sig += x * x;
        noise += d * d;
      }
    }
  });
  if (Number.isNaN(noise)) return Number.NaN;
  return noise === 0 ? Number.POSITIVE_INFINITY : 10 * Math.log10(sig / noise);
}

/** SQNR of each output separately (worst first is the caller's business). */
export function sqnrPerOutput(ref: readonly OrtOutputs[], cand: readonly OrtOutputs[]): Record<string, number> {
  const names = Object.keys(ref[0] ?? {});
  return Object.fromEntries(names.map((n) => [n, sqnr(ref.map((r) => ({ [n]: r[n]! })), cand.map((c) => ({ [n]: c[n]! })))]));
}

/**
 * Fraction of positions where the candidate makes the same decision as the reference: the argmax over
 * the last axis (classifier / CTC outputs), or, with `threshold`, the same side of it (probability maps).
 */
export function agreement(ref: readonly OrtOutputs[], cand: readonly OrtOutputs[], name: string, threshold?: number): number {
  let same = 0;
  let total = 0;
  ref.forEach((r, s) => {
    const a = r[name]!;
    const b = cand[s]![name]!;
    if (threshold !== undefined) {
      for (let i = 0; i < a.data.length; i++) {
        if (a.data[i]! > threshold === b.data[i]! > threshold) same++;
        total++;
      }
      return;
    }
    const n = a.dims[a.dims.length - 1]!;
    for (let row = 0; row < a.data.length / n; row++) {
      let ia = 0;
      let ib = 0;
      for (let j = 1; j < n; j++) {
        if (a.data[row * n + j]! > a.data[row * n + ia]!) ia = j;
        if (b.data[row * n + j]! > b.data[row * n + ib]!) ib = j;
      }
      if (ia === ib) same++;
      total++;
    }
  });
  return total ? same / total : 1;
}
