import { Backend, Dataset, type ProgressEvent, progressTo } from "@quanta/core";
import { type Model, type Node, type QuantaError, type Value, describe } from "@quanta/ir";
import { ANNOTATIONS, type Int4Format, quantizationPipeline } from "@quanta/quantize";
import { PRESETS, type Scheme, spec, withChanges, withFloat16Params } from "@quanta/schemes";
import type { Tensor } from "@quanta/tensor";
import { Effect, Layer, Stream } from "effect";
import { type QuantizedCopy, dequantizeCopy, quantizedCopies } from "./copies.js";
import { listSamples } from "./dataset.js";
import { UsageError } from "./errors.js";
import { MetricAccumulator, type OutputMetrics } from "./metrics.js";
import type { RunBackend } from "./run.js";

export interface QuantizeOptions {
  readonly mode: "static" | "dynamic" | "weight-only";
  readonly weights: "int8" | "uint8" | "int4" | "uint4" | "fp16" | "fp8";
  readonly activations: "uint8" | "int8" | "int16";
  readonly perChannel: boolean;
  /** Block size of int4 weights (default 32) and, when given, of block-wise int8 weights (weight-only mode). */
  readonly blockSize?: number;
  readonly method: "minmax" | "ema" | "percentile" | "entropy" | "mse";
  readonly format: "qdq" | "qoperator";
  readonly int4Format: Int4Format;
  readonly exclude: readonly string[];
  /**
   * Mixed precision: nodes (names, op types or globs) whose weights are quantized to int16 per channel
   * instead (static and weight-only modes with integer weights): near-float accuracy for the few
   * layers that cost the most, at twice their int8 size.
   */
  readonly int16Weights?: readonly string[];
  /**
   * Mixed precision, int4/uint4 weights: nodes (names, op types or globs) whose weights stay int8 per
   * channel instead of 4-bit blocks.
   */
  readonly int8Weights?: readonly string[];
  /**
   * Mixed precision: nodes whose activations (inputs and output) are quantized to int16 (symmetric)
   * instead of the scheme's 8-bit type (static mode). With `--format qoperator` those nodes stay in QDQ
   * form (QLinear operators have no int16 form) and the rest become QLinear operators.
   */
  readonly int16Activations?: readonly string[];
  /**
   * Bias correction with the calibration data (static and weight-only int8/int4): each layer's
   * output-mean shift from weight rounding is taken out of its bias. Default: on whenever there is
   * calibration data (`--no-bias-correction` turns it off).
   */
  readonly biasCorrection?: boolean;
  /**
   * Weight-only integer weights: their scales and the quantized layers' biases stored float16 (each
   * behind a Cast to float32): half their bytes at a relative error of at most 2^-11 per value.
   */
  readonly float16Params?: boolean;
  /**
   * `--weights int4|uint4`: what weights with no axis long enough to block along take (depthwise 3x3
   * convs, a 3-channel stem): int8 per channel (default) or 4-bit per channel.
   */
  readonly unblockedWeights?: "int8" | "4bit";
}

/** Weight-only float8 e4m3fn: the fp8 preset's weights, activations left in float. */
function fp8WeightOnly(): Scheme {
  const { activations: _, ...rest } = PRESETS.fp8e4m3();
  return Object.freeze({ ...rest, name: "fp8-e4m3-weight-only", mode: "weight-only" as const });
}

/** The scheme for command-line options (the defaults give the best accuracy without thought). */
export function schemeFor(o: QuantizeOptions): Scheme {
  if (o.format === "qoperator") {
    if (o.mode !== "static" || o.weights !== "int8") throw new UsageError("--format qoperator writes static int8 models (QLinearConv, QLinearMatMul...): use it with --calibration DIR and --weights int8");
    if (o.activations === "int16") throw new UsageError("--format qoperator needs 8-bit activations: QLinear operators have no int16 form (use --format qdq)");
  }
  if (o.blockSize !== undefined && o.mode !== "weight-only")
    throw new UsageError(`--block-size applies to weight-only mode (int4, or block-wise int8 weights): ${o.mode} mode quantizes weights per channel, as the integer operators it feeds read them`);
  if (o.blockSize !== undefined && (o.weights === "fp16" || o.weights === "fp8")) throw new UsageError(`--block-size applies to integer weights (int4, uint4, int8), not --weights ${o.weights}`);
  let s: Scheme;
  if (o.weights === "fp16" || o.weights === "fp8") {
    if (o.mode === "dynamic") throw new UsageError(`--weights ${o.weights} has no dynamic mode (use --mode weight-only, or --calibration DIR for float8 activations too)`);
    // float16 needs no calibration (a --calibration folder only measures the result); float8 activations do.
    s = o.weights === "fp16" ? PRESETS.fp16() : o.mode === "static" ? PRESETS.fp8e4m3() : fp8WeightOnly();
    if (o.int16Weights?.length) throw new UsageError(`--int16-weights applies to integer weights, not --weights ${o.weights}`);
    if (o.int8Weights?.length) throw new UsageError(`--int8-weights applies to --weights int4 or uint4, not --weights ${o.weights}`);
    if (o.int16Activations?.length) throw new UsageError(`--int16-activations applies to static integer schemes, not --weights ${o.weights}`);
    if (o.float16Params) throw new UsageError(`--float16-params applies to integer weights (their scales and biases), not --weights ${o.weights}`);
    if (o.unblockedWeights !== undefined) throw new UsageError(`--unblocked-weights applies to --weights int4 or uint4, not --weights ${o.weights}`);
    return withChanges(s, { exclude: o.exclude });
  }
  if (o.mode === "static") {
    if (o.weights !== "int8") throw new UsageError(`static mode quantizes weights to int8, not ${o.weights}`);
    s = o.activations === "int16" ? PRESETS.a16w8(o.method) : PRESETS.int8Static(o.activations, o.method);
  } else if (o.mode === "weight-only") {
    if (o.blockSize !== undefined && ![16, 32, 64, 128, 256].includes(o.blockSize)) throw new UsageError(`--block-size must be a power of two from 16 to 256, got ${o.blockSize}`);
    if (o.weights === "int4" || o.weights === "uint4") {
      if (!o.perChannel) throw new UsageError(`--per-tensor does not apply to --weights ${o.weights}: 4-bit weights take a scale per block (--block-size N)`);
      s = PRESETS.weightOnlyInt4((o.blockSize ?? 32) as 32, o.weights);
    }
    else if (o.weights === "int8") {
      if (o.blockSize !== undefined && !o.perChannel) throw new UsageError("--block-size and --per-tensor contradict each other: pick one granularity");
      s = PRESETS.weightOnlyInt8(o.blockSize);
    }
    else throw new UsageError(`weight-only mode supports --weights int8, int4, uint4, fp16 or fp8 (got ${o.weights})`);
  } else {
    if (o.weights !== "int8" && o.weights !== "uint8") throw new UsageError(`dynamic mode quantizes weights to int8 or uint8, not ${o.weights}`);
    if (o.activations !== "uint8") throw new UsageError("dynamic mode quantizes activations to uint8 at run time (DynamicQuantizeLinear): drop --activations");
    s = PRESETS.dynamicInt8();
    // uint8 weights: asymmetric, as onnxruntime's quantize_dynamic does for QUInt8.
    if (o.weights === "uint8") s = { ...s, name: "dynamic-uint8", weights: spec({ dtype: "uint8", granularity: { kind: "axis" } }) };
  }
  if (!o.perChannel && s.weights.granularity.kind === "axis") s = { ...s, weights: { ...s.weights, granularity: { kind: "tensor" } } };
  if (o.int16Weights?.length && o.mode === "dynamic") throw new UsageError("--int16-weights needs --mode static or weight-only: MatMulInteger and ConvInteger take 8-bit weights only");
  if (o.int8Weights?.length && o.weights !== "int4" && o.weights !== "uint4") throw new UsageError(`--int8-weights keeps chosen layers at int8 under --weights int4 or uint4; with --weights ${o.weights} every layer is 8-bit already`);
  if (o.int16Activations?.length && o.mode !== "static") throw new UsageError("--int16-activations needs static mode (--calibration DIR): other modes leave activations float or quantize them at run time");
  if (o.unblockedWeights !== undefined && o.weights !== "int4" && o.weights !== "uint4") throw new UsageError(`--unblocked-weights chooses what int4/uint4 schemes do with weights they cannot block; --weights ${o.weights} blocks nothing`);
  if (o.unblockedWeights === "4bit") s = { ...s, name: `${s.name}+unblocked-4bit`, unblockedWeights: o.unblockedWeights };
  if (o.float16Params) {
    if (o.mode !== "weight-only")
      throw new UsageError(`--float16-params needs --mode weight-only: ${o.mode} mode's integer operators (and onnxruntime's fusions of them) read float32 scales and ${o.mode === "static" ? "int32" : "float32"} biases`);
    s = withFloat16Params(s);
  }
  return withChanges(s, {
    exclude: o.exclude,
    ...(o.int16Weights?.length ? { int16Weights: o.int16Weights } : {}),
    ...(o.int8Weights?.length ? { int8Weights: o.int8Weights } : {}),
    ...(o.int16Activations?.length ? { int16Activations: o.int16Activations } : {}),
  });
}

const backendLayer = (b: RunBackend) => Layer.succeed(Backend, { name: b.name, plan: (m: Model) => b.plan(m) });

/** A Dataset streaming the samples of a data folder (loaded one at a time). */
export function datasetLayer(dir: string, model: Model, ids?: readonly string[]): Layer.Layer<Dataset, QuantaError> {
  return Layer.effect(
    Dataset,
    Effect.try({
      try: () => {
        const data = listSamples(dir, model.graph.inputs.filter((v) => !v.constant));
        const use = ids ?? data.ids;
        return {
          size: use.length,
          samples: Stream.fromIterable(use).pipe(Stream.mapEffect((id) => Effect.try({ try: () => data.load(id).feeds, catch: (e) => e as QuantaError }))),
        };
      },
      catch: (e) => e as QuantaError,
    }),
  );
}

export interface QuantizeResult {
  readonly model: Model;
  readonly scheme: Scheme;
  readonly warnings: readonly { pass: string; message: string }[];
  readonly quantizedNodes: number;
  readonly floatNodes: readonly { node: string; reason: string }[];
}

/** Runs the standard pipeline for the options on `model` (mutated and returned). */
export function quantizeModel(
  model: Model,
  options: QuantizeOptions,
  services: { backend: RunBackend; calibration?: string; calibrationIds?: readonly string[] },
  onProgress: (e: ProgressEvent) => void,
): Effect.Effect<QuantizeResult, QuantaError> {
  return Effect.gen(function* () {
    const scheme = yield* Effect.try({ try: () => schemeFor(options), catch: (e) => e as QuantaError });
    if (scheme.mode === "static" && !services.calibration) return yield* Effect.fail(new UsageError("static quantization needs --calibration DIR (or use --mode weight-only)"));
    const p = yield* quantizationPipeline(scheme, { int4Format: options.int4Format, format: options.format, biasCorrection: (options.biasCorrection ?? true) && !!services.calibration });
    const layer = Layer.mergeAll(
      progressTo(onProgress),
      backendLayer(services.backend),
      services.calibration ? datasetLayer(services.calibration, model, services.calibrationIds) : Layer.succeed(Dataset, { size: 0, samples: Stream.empty }),
    );
    const r = yield* p.run(model).pipe(Effect.provide(layer));
    const ann = r.data.need(ANNOTATIONS);
    const floatNodes = [...ann.nodes].filter(([, d]) => !d.quantized).map(([n, d]) => ({ node: describe(n), reason: d.reason ?? "" }));
    return { model: r.model, scheme, warnings: r.warnings, quantizedNodes: [...ann.nodes.values()].filter((d) => d.quantized).length, floatNodes };
  });
}

export interface Comparison {
  readonly samples: number;
  readonly outputs: readonly ({ name: string } & OutputMetrics)[];
  /**
   * Per-layer error of the tensors present in both models (the candidate's dequantized copy where there
   * is one), the layers that hurt first: sorted by each producing node's own loss, then by SQNR.
   */
  readonly layers: readonly LayerComparison[];
}

export interface LayerComparison {
  /** The tensor (the reference model's value name). */
  readonly name: string;
  /** Its producing node, described ("Conv 'conv1'"). */
  readonly producer: string;
  /** The producing node's name (what `quanta quantize --exclude` takes) and op. */
  readonly node: string;
  readonly op: string;
  /** SQNR (dB) of the tensor, candidate vs reference: the error accumulated up to here. */
  readonly sqnr: number;
  /**
   * The node's own loss (dB, <= 0): its SQNR less the worst SQNR of its inputs, inputs better than
   * 40 dB (or exact graph inputs) counting as 40 dB. An input folded away in the candidate (a Conv
   * before a folded BatchNormalization) takes the worst error of its own producer's inputs.
   */
  readonly drop: number;
}

/** Own loss of every compared tensor's producer (see LayerComparison.drop), sorted: worst first. */
function rankLayers(ref: Model, sq: ReadonlyMap<string, number>): LayerComparison[] {
  const producer = new Map<string, Node>();
  for (const g of ref.allGraphs()) for (const n of g.nodes) for (const o of n.outputs) if (o) producer.set(o.name, n);
  const memo = new Map<string, number>();
  const errorOf = (v: Value, depth = 0): number => {
    const known = sq.get(v.name);
    if (known !== undefined) return known;
    const m = memo.get(v.name);
    if (m !== undefined) return m;
    const p = producer.get(v.name);
    let e = Number.POSITIVE_INFINITY;
    if (p && depth < 64) for (const i of p.inputs) if (i && !i.constant) e = Math.min(e, errorOf(i, depth + 1));
    memo.set(v.name, e);
    return e;
  };
  const out: LayerComparison[] = [];
  for (const [name, s] of sq) {
    const n = producer.get(name);
    if (!n) continue;
    let worstIn = Number.POSITIVE_INFINITY;
    for (const i of n.inputs) if (i && !i.constant) worstIn = Math.min(worstIn, errorOf(i));
    const drop = Number.isFinite(s) ? Math.min(0, s - Math.min(worstIn, 40)) : 0;
    out.push({ name, producer: describe(n), node: n.name, op: n.op, sqnr: s, drop });
  }
  return out.sort((a, b) => a.drop - b.drop || a.sqnr - b.sqnr || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Runs both models on the samples of a data folder and compares outputs (and, with `layers`, every matching intermediate tensor). */
export function compareModels(ref: Model, cand: Model, backend: RunBackend, dataDir: string, options: { layers?: boolean; ids?: readonly string[] } = {}): Comparison {
  const data = listSamples(dataDir, ref.graph.inputs.filter((v) => !v.constant));
  const ids = options.ids ?? data.ids;
  const samples = { *[Symbol.iterator]() { for (const id of ids) yield data.load(id).feeds; } };
  return compareOnSamples(ref, cand, backend, samples, options);
}

/**
 * Runs both models on in-memory samples (iterated once, one at a time) and compares outputs and, with
 * `layers`, every intermediate float tensor present in both models (the candidate's quantized copy,
 * dequantized, where there is one: `quantizedCopies`), worst first.
 */
export function compareOnSamples(ref: Model, cand: Model, backend: RunBackend, samples: Iterable<Record<string, Tensor>>, options: { layers?: boolean } = {}): Comparison {
  const rp = backend.plan(ref);
  const cp = backend.plan(cand);
  const outs = new Map<string, MetricAccumulator>();
  const layers = new Map<string, MetricAccumulator>();
  // The candidate's quantized tensors that stand for reference tensors are dequantized as they are seen.
  const copies = quantizedCopies(ref, cand);
  const byCandName = new Map([...copies.values()].filter((c) => c.kind === "quantized").map((c) => [c.name, c]));
  const run = (plan: ReturnType<RunBackend["plan"]>, feeds: Record<string, Tensor>, keep: boolean, quantized: ReadonlyMap<string, QuantizedCopy & { kind: "quantized" }>) => {
    const seen = new Map<string, Tensor>();
    const onValue = (n: string, t: Tensor) => {
      if (t.dtype === "float32") seen.set(n, { ...t, data: (t.data as Float32Array).slice() });
      else {
        const c = quantized.get(n);
        const d = c ? dequantizeCopy(t, c) : undefined;
        if (d) seen.set(n, d);
      }
    };
    const r = (plan as unknown as { run(f: Record<string, Tensor>, o?: object): Record<string, Tensor> }).run(feeds, keep ? { observe: "all", onValue } : {});
    return { out: r, seen };
  };
  let count = 0;
  for (const feeds of samples) {
    count++;
    const a = run(rp, feeds, !!options.layers, new Map());
    const b = run(cp, feeds, !!options.layers, byCandName);
    for (const [name, t] of Object.entries(a.out)) {
      const c = b.out[name];
      if (!c) continue;
      let m = outs.get(name);
      if (!m) outs.set(name, (m = new MetricAccumulator()));
      m.add(t, c);
    }
    if (options.layers) {
      for (const [name, t] of a.seen) {
        // A tensor the candidate holds quantized is compared through its copy only (never the float value before it).
        const copy = copies.get(name);
        const c = copy !== undefined ? b.seen.get(copy.name) : b.seen.get(name);
        if (!c || c.data.length !== t.data.length || c.shape.length !== t.shape.length || c.shape.some((d, i) => d !== t.shape[i])) continue;
        let m = layers.get(name);
        if (!m) layers.set(name, (m = new MetricAccumulator()));
        m.add(t, c);
      }
    }
  }
  return {
    samples: count,
    outputs: [...outs].map(([name, m]) => ({ name, ...m.result() })),
    layers: rankLayers(ref, new Map([...layers].map(([name, m]) => [name, m.result().sqnr]))),
  };
}
