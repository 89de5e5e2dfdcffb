// The eval harness: quantize a model with a preset (the same schemes and pipeline `quanta quantize`
// uses), run float and quantized models through a task in a runtime, and compare what the task decides.
import { cpuBackend } from "@quanta/backend-cpu";
import { type QuantizeOptions, compareOnSamples, schemeFor } from "@quanta/cli";
import { Backend, Dataset, silentProgress } from "@quanta/core";
import { type Model, type Node, type Value, attr, constantOf } from "@quanta/ir";
import { readOnnx, writeOnnx } from "@quanta/onnx";
import { ANNOTATIONS, quantizationPipeline } from "@quanta/quantize";
import { type Tensor, dequantizeLinear, f16ArrayToF32, tensor } from "@quanta/tensor";
import { Effect, Layer, Stream } from "effect";
import * as ortNode from "onnxruntime-node";
import * as ortWeb from "onnxruntime-web";
import type { Feeds, ItemResult, Outputs, Runner } from "./types.js";

ortWeb.env.wasm.numThreads = 1;
ortWeb.env.logLevel = "error";

/** A preset as `quanta quantize` options (the CLI's defaults otherwise). */
export interface Preset {
  readonly id: string;
  readonly label: string;
  readonly options: QuantizeOptions;
}

const DEFAULTS: QuantizeOptions = {
  mode: "static",
  weights: "int8",
  activations: "uint8",
  perChannel: true,
  method: "mse",
  format: "qdq",
  int4Format: "matmulnbits",
  exclude: [],
};

const preset = (id: string, label: string, o: Partial<QuantizeOptions>): Preset => ({ id, label, options: { ...DEFAULTS, ...o } });

/** Every preset the eval runs, in report order. */
export const PRESETS: readonly Preset[] = [
  preset("static-int8", "static int8 QDQ (`--calibration DIR`)", {}),
  preset("static-int8-qoperator", "static int8 QOperator (`--format qoperator`)", { format: "qoperator" }),
  preset("dynamic-int8", "dynamic int8 (`--mode dynamic`)", { mode: "dynamic" }),
  preset("weight-only-int8", "weight-only int8 (`--mode weight-only`)", { mode: "weight-only" }),
  preset("weight-only-int4", "weight-only int4, blocks of 32, MatMulNBits (`--weights int4`)", { mode: "weight-only", weights: "int4" }),
];

export const presetById = (id: string): Preset => {
  const p = PRESETS.find((x) => x.id === id);
  if (!p) throw new Error(`unknown preset ${id} (known: ${PRESETS.map((x) => x.id).join(", ")})`);
  return p;
};

export interface Quantized {
  readonly bytes: Uint8Array;
  readonly model: Model;
  readonly quantizedNodes: number;
  readonly seconds: number;
  readonly warnings: readonly string[];
}

/** Quantizes ONNX bytes with `options`, calibrating (static) on `calibration`; the input bytes are not touched. */
export async function quantizeBytes(fp32: Uint8Array, options: QuantizeOptions, calibration: readonly Feeds[]): Promise<Quantized> {
  const t0 = performance.now();
  const model = readOnnx(fp32);
  const scheme = schemeFor(options);
  const layer = Layer.mergeAll(
    silentProgress,
    Layer.succeed(Backend, { name: "cpu", plan: (m: Model) => cpuBackend().plan(m) }),
    Layer.succeed(Dataset, { size: calibration.length, samples: Stream.fromIterable(calibration as unknown as Record<string, Tensor>[]) }),
  );
  const r = await Effect.runPromise(
    Effect.gen(function* () {
      const p = yield* quantizationPipeline(scheme, { format: options.format, int4Format: options.int4Format, biasCorrection: (options.biasCorrection ?? true) && calibration.length > 0 });
      return yield* p.run(model);
    }).pipe(Effect.provide(layer)),
  );
  const ann = r.data.need(ANNOTATIONS);
  const bytes = writeOnnx(r.model);
  return {
    bytes,
    model: r.model,
    quantizedNodes: [...ann.nodes.values()].filter((d) => d.quantized).length,
    seconds: (performance.now() - t0) / 1000,
    warnings: r.warnings.map((w) => `${w.pass}: ${w.message}`),
  };
}

export type RuntimeId = "ort-node" | "ort-web" | "quanta-cpu";

/** A runner that records the wall time of every call. */
export interface TimedRunner extends Runner {
  readonly times: number[];
  release(): Promise<void>;
}

function timed(run: (f: Feeds) => Promise<Outputs>, release: () => Promise<void>): TimedRunner {
  const times: number[] = [];
  let calls = 0;
  return {
    times,
    release,
    async run(feeds) {
      const t = performance.now();
      const r = await run(feeds);
      calls++;
      // The first call warms the runtime up (wasm compilation, kernel packing): not timed.
      if (calls > 1) times.push(performance.now() - t);
      return r;
    },
  };
}

export type OrtLike = typeof ortNode;

/** An untimed Runner over an onnxruntime session (float32 outputs only), with its release. */
export async function ortSession(rt: OrtLike, model: Uint8Array): Promise<Runner & { release(): Promise<void> }> {
  const options = rt === (ortWeb as unknown as OrtLike) ? { executionProviders: ["wasm"] } : { intraOpNumThreads: 1, interOpNumThreads: 1 };
  const session = await rt.InferenceSession.create(model, options as ortNode.InferenceSession.SessionOptions);
  return {
    async run(feeds) {
      const f: Record<string, ortNode.Tensor> = {};
      for (const [k, t] of Object.entries(feeds)) f[k] = new rt.Tensor(t.dtype, t.data, t.shape as number[]) as ortNode.Tensor;
      const r = await session.run(f);
      const out: Record<string, { dims: readonly number[]; data: Float32Array }> = {};
      for (const [k, t] of Object.entries(r)) if (t.type === "float32") out[k] = { dims: [...t.dims], data: t.data as Float32Array };
      return out;
    },
    release: () => session.release(),
  };
}

async function ortRunner(rt: OrtLike, bytes: Uint8Array): Promise<TimedRunner> {
  const s = await ortSession(rt, bytes);
  return timed((feeds) => s.run(feeds), () => s.release());
}

function quantaRunner(bytes: Uint8Array): TimedRunner {
  const plan = cpuBackend().plan(readOnnx(bytes));
  return timed(
    async (feeds) => {
      const r = plan.run(feeds as unknown as Record<string, Tensor>);
      const out: Record<string, { dims: readonly number[]; data: Float32Array }> = {};
      for (const [k, t] of Object.entries(r)) if (t.dtype === "float32") out[k] = { dims: [...t.shape], data: t.data as Float32Array };
      return out;
    },
    async () => {},
  );
}

/** A runner for ONNX bytes in a runtime. */
export function runnerFor(runtime: RuntimeId, bytes: Uint8Array): Promise<TimedRunner> {
  if (runtime === "ort-node") return ortRunner(ortNode, bytes);
  if (runtime === "ort-web") return ortRunner(ortWeb as unknown as OrtLike, bytes);
  return Promise.resolve(quantaRunner(bytes));
}

export const median = (xs: readonly number[]): number | null => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
};

const flat = (d: ItemResult["decision"]): readonly (string | number | boolean)[] => (Array.isArray(d) ? d : [d as string | number | boolean]);

/** Share of decisions equal between two lists (per element for array decisions: per chunk / frame). */
export function agreement(a: readonly ItemResult["decision"][], b: readonly ItemResult["decision"][]): number | null {
  let same = 0;
  let total = 0;
  a.forEach((x, i) => {
    const fx = flat(x);
    const fy = flat(b[i]!);
    const n = Math.max(fx.length, fy.length);
    for (let j = 0; j < n; j++) {
      if (fx[j] === fy[j]) same++;
      total++;
    }
  });
  return total === 0 ? null : same / total;
}

export interface Comparison {
  readonly agreeFloat: number | null;
  readonly agreeTruth: number | null;
  readonly floatTruth: number | null;
  readonly iou: number | null;
  readonly scoreError: { mean: number; max: number } | null;
  readonly sqnr: number | null;
  readonly scatter: { float: number[]; quant: number[] };
}

/** Compares a candidate's item results with the float model's (and the truth, where known). */
export function compareItems(ref: readonly ItemResult[], cand: readonly ItemResult[], truth?: ReadonlyMap<string, ItemResult["decision"]>): Comparison {
  const agreeFloat = agreement(
    ref.map((r) => r.decision),
    cand.map((c) => c.decision),
  );
  let agreeTruth: number | null = null;
  let floatTruth: number | null = null;
  if (truth) {
    const known = cand.filter((c) => truth.has(c.id));
    const t = known.map((c) => truth.get(c.id)!);
    agreeTruth = agreement(
      t,
      known.map((c) => c.decision),
    );
    const knownRef = ref.filter((r) => truth.has(r.id));
    floatTruth = agreement(
      knownRef.map((r) => truth.get(r.id)!),
      knownRef.map((r) => r.decision),
    );
  }
  let inter = 0;
  let union = 0;
  let masks = false;
  let sig = 0;
  let noise = 0;
  let errSum = 0;
  let errMax = 0;
  let errN = 0;
  const pairs: [number, number][] = [];
  ref.forEach((r, i) => {
    const c = cand[i]!;
    if (r.mask && c.mask) {
      masks = true;
      for (let j = 0; j < r.mask.length; j++) {
        const a = r.mask[j]! !== 0;
        const b = c.mask[j]! !== 0;
        if (a && b) inter++;
        if (a || b) union++;
      }
    }
    const n = Math.min(r.raw.length, c.raw.length);
    for (let j = 0; j < n; j++) {
      const x = r.raw[j]!;
      const d = x - c.raw[j]!;
      sig += x * x;
      noise += d * d;
    }
    if (r.raw.length !== c.raw.length) noise = Number.NaN;
    const m = Math.min(r.scores.length, c.scores.length);
    for (let j = 0; j < m; j++) {
      const e = Math.abs(r.scores[j]! - c.scores[j]!);
      errSum += e;
      errN++;
      if (e > errMax || Number.isNaN(e)) errMax = e;
      pairs.push([r.scores[j]!, c.scores[j]!]);
    }
  });
  // Up to 400 evenly spaced points for the scatter plot (deterministic).
  const step = Math.max(1, Math.ceil(pairs.length / 400));
  const scatter = { float: [] as number[], quant: [] as number[] };
  for (let i = 0; i < pairs.length; i += step) {
    scatter.float.push(round6(pairs[i]![0]));
    scatter.quant.push(round6(pairs[i]![1]));
  }
  return {
    agreeFloat,
    agreeTruth,
    floatTruth,
    iou: masks ? (union === 0 ? 1 : inter / union) : null,
    scoreError: errN ? { mean: errSum / errN, max: errMax } : null,
    sqnr: sig === 0 && noise === 0 ? null : Number.isNaN(noise) ? Number.NaN : noise === 0 ? Number.POSITIVE_INFINITY : 10 * Math.log10(sig / noise),
    scatter,
  };
}

const round6 = (x: number) => Math.round(x * 1e6) / 1e6;

export interface LayerError {
  /** The float model's node producing the tensor. */
  readonly name: string;
  readonly op: string;
  /** SQNR (dB) of the node's output in the quantized model vs the float model: the error accumulated up to here. */
  readonly sqnr: number;
  /** This node's own share: its output SQNR less the worst SQNR of its float inputs (negative: the node loses that many dB). */
  readonly drop: number;
}

/**
 * Per-layer report (Quanta's CPU backend, every float tensor present in both models, the quantized
 * model's dequantized copy where there is one), from `compareOnSamples`: the error accumulates along
 * the graph, so layers are ordered by each node's own loss (`drop`: its SQNR less its worst input's).
 */
export function perLayer(fp32: Uint8Array, quantized: Model, samples: readonly Feeds[], limit = 30): LayerError[] {
  const c = compareOnSamples(readOnnx(fp32), quantized, { name: "cpu", plan: (m) => cpuBackend().plan(m) }, samples as unknown as Record<string, Tensor>[], { layers: true });
  return c.layers
    .filter((l) => Number.isFinite(l.sqnr))
    .slice(0, limit)
    .map((l) => ({ name: l.node || l.producer, op: l.op, sqnr: round2(l.sqnr), drop: round2(l.drop) }));
}

const round2 = (x: number) => Math.round(x * 100) / 100;

export interface LayerSensitivity {
  /** The node whose weight was quantized alone. */
  readonly name: string;
  readonly op: string;
  /** Output SQNR (dB) of the float model with only this layer's quantized weight (and corrected bias). */
  readonly sqnr: number;
  /** Elements of the weight (what keeping it at 16 bits costs: one more byte each). */
  readonly elements: number;
}

const WEIGHT_OPS = new Set(["Conv", "ConvTranspose", "Gemm", "MatMul"]);

/** A float32 constant's values, or those of a float16 constant behind Cast (`--float16-params`). */
function floatConstant(v: Value | null | undefined): Tensor<"float32"> | undefined {
  if (v?.constant?.elem === "float32") return v.constant.load() as Tensor<"float32">;
  const c = v?.producer;
  const h = c?.op === "Cast" && c.int("to", 0) === 1 ? c.inputs[0]?.constant : undefined;
  if (h?.elem !== "float16") return undefined;
  return tensor("float32", h.shape, f16ArrayToF32(h.load().data as Uint16Array));
}

/** The float values a DequantizeLinear of constants produces, or undefined when it is not one. */
function dequantizedConstant(dq: Node | undefined): Tensor<"float32"> | undefined {
  const sc = floatConstant(dq?.inputs[1]);
  if (dq?.op !== "DequantizeLinear" || !dq.inputs[0]?.constant || !sc) return undefined;
  const q = dq.inputs[0].constant.load();
  if (q.dtype !== "int8" && q.dtype !== "uint8" && q.dtype !== "int32") return undefined;
  const scale = sc.data;
  const z = dq.inputs[2]?.constant?.load();
  const zeroPoint = z ? Int32Array.from(z.data as ArrayLike<number>) : new Int32Array(scale.length);
  const axisA = dq.attributes.get("axis");
  const axis = scale.length > 1 ? (axisA?.type === "int" ? Number(axisA.value) : 1) : undefined;
  if (dq.attributes.has("block_size")) return undefined;
  return dequantizeLinear(q as Tensor<"int8">, { scale, zeroPoint, ...(axis !== undefined ? { axis: axis < 0 ? axis + q.shape.length : axis } : {}) });
}

/**
 * Sensitivity of a weight-only model, layer by layer: for each Conv/ConvTranspose/Gemm/MatMul whose
 * weight the quantized model dequantizes, the float model (after the same preprocessing: BatchNorm
 * folded) with only that layer's quantized weight and corrected bias, run in onnxruntime-node on
 * `samples`: output SQNR against the float model. The lowest first: the layers to keep in float.
 * Unlike the per-layer own loss, this finds small layers whose rounding the rest of the network
 * amplifies (PP-OCRv4 det's p2o.Conv.6, 48x48).
 */
export async function weightSensitivity(fp32: Uint8Array, quantized: Model, samples: readonly Feeds[]): Promise<LayerSensitivity[]> {
  const base = await quantizeBytes(fp32, { ...DEFAULTS, mode: "weight-only", exclude: ["*"], biasCorrection: false }, []);
  const ref = await ortSession(ortNode, base.bytes);
  const refOut: Outputs[] = [];
  try {
    for (const s of samples) refOut.push(await ref.run(s));
  } finally {
    await ref.release();
  }
  const out: LayerSensitivity[] = [];
  for (const n of quantized.graph.nodes) {
    if (!WEIGHT_OPS.has(n.op) || !n.name) continue;
    const w = dequantizedConstant(n.inputs[1]?.producer);
    if (!w) continue;
    const m = readOnnx(base.bytes);
    const f = m.graph.nodes.find((x) => x.name === n.name && x.op === n.op);
    if (!f?.inputs[1]?.constant) continue;
    const swap = (node: Node, i: number, name: string, t: Tensor) => {
      const old = node.inputs[i];
      while (node.inputs.length <= i) node.inputs.push(null);
      node.setInput(i, m.graph.addConstant(name, constantOf(t)));
      if (old?.constant && old.uses.length === 0 && m.graph.initializers.includes(old)) m.graph.removeValue(old);
    };
    swap(f, 1, `${n.name}_wq`, w);
    // The quantizer stores a Gemm's weight as [K, N] (transB 0): the swapped-in weight has that layout.
    if (n.op === "Gemm") f.attributes.set("transB", attr.int(n.int("transB", 0)));
    // The corrected bias: a float constant (weight-only), or the constant of the Add after a MatMul.
    const b = floatConstant(n.inputs[2]);
    if (b) swap(f, 2, `${n.name}_bq`, b);
    const qOut = n.outputs[0];
    const fOut = f.outputs[0];
    const qAdd = qOut && qOut.uses.length === 1 ? qOut.uses[0]!.node : undefined;
    const fAdd = fOut && fOut.uses.length === 1 ? fOut.uses[0]!.node : undefined;
    if (n.op === "MatMul" && qAdd?.op === "Add" && fAdd?.op === "Add") {
      const qi = qAdd.inputs[0] === qOut ? 1 : 0;
      const fi = fAdd.inputs[0] === fOut ? 1 : 0;
      const c = qAdd.inputs[qi]?.constant;
      if (c && fAdd.inputs[fi]?.constant) swap(fAdd, fi, `${n.name}_aq`, c.load());
    }
    const s = await ortSession(ortNode, writeOnnx(m));
    let sig = 0;
    let noise = 0;
    try {
      for (let i = 0; i < samples.length; i++) {
        const o = await s.run(samples[i]!);
        for (const [k, r] of Object.entries(refOut[i]!)) {
          const c = o[k]!.data;
          for (let j = 0; j < r.data.length; j++) {
            const d = r.data[j]! - c[j]!;
            sig += r.data[j]! * r.data[j]!;
            noise += d * d;
          }
        }
      }
    } finally {
      await s.release();
    }
    out.push({ name: n.name, op: n.op, sqnr: round2(noise === 0 ? 200 : 10 * Math.log10(sig / noise)), elements: w.data.length });
  }
  return out.sort((a, b) => a.sqnr - b.sqnr);
}
