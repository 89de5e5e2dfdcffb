import type { Pass } from "@quanta/core";
import { QuantaError, type Value, attr, constantOf } from "@quanta/ir";
import type { QuantSpec } from "@quanta/schemes";
import { type Tensor, computeQParams, f16ToF32, f32ToF16, dequantizeLinear, minMax, quantizeInt8SymmetricFast, quantizeInt8SymmetricFastColumns, quantizeLinear, roundHalfEven, tensor } from "@quanta/tensor";
import { Effect } from "effect";
import { ANNOTATIONS, QPARAMS, QUANTIZED, RANGES, type TensorQParams } from "./keys.js";
import { INPUT_MEANS, type InputMeans } from "./statistics.js";

type IntTarget = Exclude<QuantSpec["dtype"], "float16" | "float8e4m3fn">;
const isInt = (d: QuantSpec["dtype"]): d is IntTarget => d !== "float16" && d !== "float8e4m3fn";
const opts = (s: QuantSpec & { dtype: IntTarget }) => ({ dtype: s.dtype, symmetric: s.symmetric, narrowRange: s.narrowRange, reduceRange: s.reduceRange, convention: s.convention });

/**
 * Min and max of a weight per channel along `axis` (or per block of `blockSize` along `axis`, for each
 * index of the other axes), or over the whole tensor when `axis` is undefined.
 */
export function weightRanges(t: Tensor<"float32">, axis: number | undefined, blockSize?: number): { min: Float32Array; max: Float32Array; count: number } {
  const d = t.data;
  if (axis === undefined) {
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < d.length; i++) {
      const v = d[i]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    return { min: Float32Array.of(lo), max: Float32Array.of(hi), count: 1 };
  }
  const shape = t.shape;
  const n = shape[axis]!;
  let inner = 1;
  for (let i = axis + 1; i < shape.length; i++) inner *= shape[i]!;
  const outer = d.length / (n * inner);
  const groups = blockSize ? Math.ceil(n / blockSize) : n;
  // Parameter layout: input shape with dim `axis` replaced by `groups` (ONNX's block-wise scale shape).
  const count = blockSize ? outer * groups * inner : n;
  const min = new Float32Array(count).fill(Number.POSITIVE_INFINITY);
  const max = new Float32Array(count).fill(Number.NEGATIVE_INFINITY);
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < n; c++) {
      const g = blockSize ? (o * groups + Math.floor(c / blockSize)) * inner : c;
      const base = (o * n + c) * inner;
      for (let i = 0; i < inner; i++) {
        const v = d[base + i]!;
        const k = blockSize ? g + i : g;
        if (v < min[k]!) min[k] = v;
        if (v > max[k]!) max[k] = v;
      }
    }
  }
  return { min, max, count };
}

/** Scale and zero point of every (channel/block) range under a spec. */
function paramsFor(spec: QuantSpec & { dtype: IntTarget }, min: Float32Array, max: Float32Array): { scale: Float32Array; zeroPoint: Int32Array } {
  const scale = new Float32Array(min.length);
  const zeroPoint = new Int32Array(min.length);
  for (let i = 0; i < min.length; i++) {
    const p = computeQParams(min[i]!, max[i]!, opts(spec));
    scale[i] = p.scale;
    zeroPoint[i] = p.zeroPoint;
  }
  return { scale, zeroPoint };
}

const INT32_MAX = 2147483647;

/** A weight holds NaN or infinite values: no scale represents it (the model is left untouched). */
export class NonFiniteWeight extends QuantaError {
  readonly _tag = "NonFiniteWeight";
  constructor(
    readonly weight: string,
    readonly nan: number,
    readonly infinite: boolean,
  ) {
    super(`weight '${weight}' holds ${nan} NaN${infinite ? " and infinite" : ""} values: fix the model or exclude the node that reads it (--exclude)`);
  }
}

/** Smallest normal float16: a scale below it would lose bits (or become 0) as float16. */
const HALF_MIN_NORMAL = 2 ** -14;

/**
 * Rounds every scale to the nearest float16 in place (the weight is then quantized with the rounded
 * scales, so the stored float16 scale dequantizes it exactly) when all lie in float16's normal range;
 * a channel or block of zeros (any scale serves it) takes 1. Returns false, changing nothing, when a
 * scale lies outside that range. A scale made smaller by at most 2^-11 moves the range's end by at
 * most 127 * 2^-11 = 0.06 steps for int8 (nothing clips that did not); int16 weights keep float32
 * scales (annotate), where it would be 16 steps.
 */
function toHalfScales(scale: Float32Array, min: Float32Array, max: Float32Array): boolean {
  const zero = (i: number) => min[i] === 0 && max[i] === 0;
  for (let i = 0; i < scale.length; i++) if (!(scale[i]! >= HALF_MIN_NORMAL && scale[i]! <= 65504) && !zero(i)) return false;
  for (let i = 0; i < scale.length; i++) scale[i] = zero(i) ? 1 : f16ToF32(f32ToF16(scale[i]!));
  return true;
}

/**
 * Quantizes a float32 weight under `spec` per tensor (`axis` undefined), per channel along `axis`, or
 * per block. Per-channel symmetric int8 in onnxruntime's convention along the first axis (Conv, Gemm
 * with transB) or the last axis of a matrix (MatMul [K, N]) takes @quanta/tensor's fused kernels
 * (one scan for the ranges, one to quantize; bit-identical to the general path, which `fast: false`
 * forces). Expects finite values (the qparams pass rejects NaN / Inf weights with NonFiniteWeight).
 */
export function quantizeWeight(
  t: Tensor<"float32">,
  spec: QuantSpec & { dtype: IntTarget },
  axis: number | undefined,
  blockSize?: number,
  o: { fast?: boolean } = {},
): { qparams: TensorQParams; quantized: Tensor } {
  const rank = t.shape.length;
  const fused = o.fast !== false && spec.scaleDtype !== "float16" && spec.dtype === "int8" && spec.symmetric && !spec.reduceRange && spec.convention === "onnxruntime" && !blockSize && axis !== undefined && rank >= 2;
  if (fused && (axis === 0 || (axis === 1 && rank === 2))) {
    const rows = t.shape[0]!;
    const cols = t.data.length / rows;
    const n = axis === 0 ? rows : cols;
    const q = new Int8Array(t.data.length);
    const scale = new Float32Array(n);
    if (axis === 0) quantizeInt8SymmetricFast(t.data, rows, cols, q, scale, spec.narrowRange);
    else quantizeInt8SymmetricFastColumns(t.data, rows, cols, q, scale, spec.narrowRange);
    return { qparams: { dtype: "int8", scale, zeroPoint: new Int32Array(n), axis }, quantized: tensor("int8", t.shape, q) };
  }
  const r = weightRanges(t, axis, blockSize);
  const p = paramsFor(spec, r.min, r.max);
  const half = spec.scaleDtype === "float16" && toHalfScales(p.scale, r.min, r.max);
  const qparams: TensorQParams = { dtype: spec.dtype, ...p, ...(axis !== undefined ? { axis } : {}), ...(blockSize ? { blockSize } : {}), ...(half ? { scaleDtype: "float16" as const } : {}) };
  return { qparams, quantized: quantizeLinear(t, { scale: p.scale, zeroPoint: p.zeroPoint, ...(axis !== undefined ? { axis } : {}), ...(blockSize ? { blockSize } : {}) }, spec.dtype) };
}

/**
 * The input-channel axis of a weight whose reader multiplies it with the activation's channels, or
 * undefined: Conv with one group ([C_out, C_in, k...]: axis 1), MatMul [K, N] (axis 0), Gemm (K's axis).
 */
function inputAxis(node: import("@quanta/ir").Node, rank: number): number | undefined {
  if (node.op === "Conv" && rank >= 3 && node.int("group", 1) === 1) return 1;
  if (node.op === "MatMul" && rank === 2) return 0;
  if (node.op === "Gemm" && rank === 2) return node.int("transB", 0) === 1 ? 1 : 0;
  return undefined;
}

/**
 * Output error energy of a quantized weight for inputs of per-channel energy `energy` (E[x_c^2], the
 * diagonal of E[x x^T]): sum of (W_q - W)^2 * E[x_c^2] over the input channel c of each element.
 */
function weightedError(w: Float32Array, q: Tensor, p: TensorQParams, shape: readonly number[], inAxis: number, energy: Float64Array): number {
  const deq = dequantizeWeight(q, p);
  let inner = 1;
  for (let i = inAxis + 1; i < shape.length; i++) inner *= shape[i]!;
  const n = shape[inAxis]!;
  let e = 0;
  for (let i = 0; i < w.length; i++) {
    const d = deq[i]! - w[i]!;
    e += d * d * energy[Math.floor(i / inner) % n]!;
  }
  return e;
}

/**
 * Weight-only mode with calibration data: per-channel scales along the input channels instead of the
 * output channels where that makes the layer's output error (weighted by each input channel's energy)
 * smaller. A layer whose inputs have a few loud channels gets fine steps on the weights those channels
 * multiply (what SmoothQuant moves into the weights; in weight-only mode the DequantizeLinear axis is
 * free). Returns the chosen quantization, or undefined to keep the annotated axis.
 */
function inputAwareAxis(t: Tensor<"float32">, spec: QuantSpec & { dtype: IntTarget }, axis: number, node: import("@quanta/ir").Node, m: InputMeans): { qparams: TensorQParams; quantized: Tensor } | undefined {
  const inAxis = inputAxis(node, t.shape.length);
  if (inAxis === undefined || inAxis === axis || m.channelSumSq.length !== t.shape[inAxis]) return undefined;
  const energy = m.channelSumSq.map((v) => v / m.elements);
  const a = quantizeWeight(t, spec, axis);
  const b = quantizeWeight(t, spec, inAxis);
  return weightedError(t.data, b.quantized, b.qparams, t.shape, inAxis, energy) < weightedError(t.data, a.quantized, a.qparams, t.shape, inAxis, energy) ? b : undefined;
}

/**
 * Weight-only mode with calibration data, block-wise weights: blocks along the output channels (a
 * scale per input channel and block of outputs) instead of along the reduction axis where that makes
 * the layer's output error, weighted by each input channel's energy, smaller: the block analogue of
 * `inputAwareAxis`, for layers whose inputs have a few loud channels. 8-bit 2-D weights (MatMul, Gemm)
 * and single-group Convs (4-bit MatMul weights stay blocked along K, as MatMulNBits stores them);
 * undefined keeps the annotated blocks.
 */
function inputAwareBlocks(t: Tensor<"float32">, spec: QuantSpec & { dtype: IntTarget }, axis: number, blockSize: number, node: import("@quanta/ir").Node, m: InputMeans): { qparams: TensorQParams; quantized: Tensor } | undefined {
  const rank = t.shape.length;
  const inAxis = inputAxis(node, rank);
  if (inAxis === undefined || inAxis !== axis || m.channelSumSq.length !== t.shape[inAxis]) return undefined;
  const outAxis = rank === 2 ? 1 - inAxis : 0;
  if (t.shape[outAxis]! < blockSize) return undefined;
  const energy = m.channelSumSq.map((v) => v / m.elements);
  const a = quantizeWeight(t, spec, axis, blockSize);
  const b = quantizeWeight(t, spec, outAxis, blockSize);
  return weightedError(t.data, b.quantized, b.qparams, t.shape, inAxis, energy) < weightedError(t.data, a.quantized, a.qparams, t.shape, inAxis, energy) ? b : undefined;
}

/**
 * A Gemm with transB = 1 whose weight takes per-input-channel scales ([N, K], axis 1) is rewritten to
 * transB = 0 with the weight stored [K, N] (the constant replaced, the node's only reader), so that
 * the DequantizeLinear runs along axis 0: onnxruntime's per-axis DequantizeLinear is several times
 * slower along the last axis (openwakeword's heads: 0.10 -> 0.55 ms per run). Returns whether it did.
 */
function transposeGemm(v: Value, t: Tensor<"float32">, node: import("@quanta/ir").Node): boolean {
  if (node.op !== "Gemm" || node.int("transB", 0) !== 1 || t.shape.length !== 2 || node.inputs[1] !== v) return false;
  const [n, k] = [t.shape[0]!, t.shape[1]!];
  const d = new Float32Array(n * k);
  for (let i = 0; i < n; i++) for (let j = 0; j < k; j++) d[j * n + i] = t.data[i * k + j]!;
  v.constant = constantOf(tensor("float32", [k, n], d));
  if (v.type) v.type = { ...v.type, shape: [k, n] };
  node.attributes.set("transB", attr.int(0));
  return true;
}

/**
 * A bias as int32 with zero point 0 and scale s_input * s_weight[c], as onnxruntime's QLinearConv/QDQ
 * Conv read it: one scale when the weight has one (a per-tensor bias needs no per-channel copy of
 * it), else one per channel; undefined when a value does not fit int32 or a scale is 0.
 */
export function int32Bias(b: Float32Array, inputScale: number, weightScale: Float32Array): { qparams: TensorQParams; quantized: Tensor } | undefined {
  const n = b.length;
  const perChannel = weightScale.length !== 1;
  const scale = new Float32Array(perChannel ? n : 1);
  for (let c = 0; c < scale.length; c++) scale[c] = Math.fround(inputScale * weightScale[c]!);
  const q = new Int32Array(n);
  for (let c = 0; c < n; c++) {
    const s = scale[perChannel ? c : 0]!;
    const x = roundHalfEven(Math.fround(b[c]! / s));
    if (!Number.isFinite(x) || Math.abs(x) > INT32_MAX || s === 0) return undefined;
    q[c] = x;
  }
  const qparams: TensorQParams = perChannel ? { dtype: "int32", scale, zeroPoint: new Int32Array(n), axis: 0 } : { dtype: "int32", scale, zeroPoint: new Int32Array(1) };
  return { qparams, quantized: tensor("int32", [n], q) };
}

/** A quantized weight dequantized (what a DequantizeLinear of it gives). */
export function dequantizeWeight(q: Tensor, p: TensorQParams): Float32Array {
  return dequantizeLinear(q as Tensor<"int8">, {
    scale: p.scale,
    zeroPoint: p.zeroPoint,
    ...(p.axis !== undefined ? { axis: p.axis } : {}),
    ...(p.blockSize ? { blockSize: p.blockSize } : {}),
  }).data;
}

/**
 * QParams pass: activation parameters from calibrated ranges (shared ones copied), weights quantized
 * per tensor/channel/block from their own values, biases to int32 with scale = s_input * s_weight.
 */
export const qparams: Pass = {
  name: "qparams",
  requires: ["annotations", "ranges"],
  provides: ["qparams"],
  hints: { ranges: "static quantization needs activation ranges: run the calibrate pass (with a Dataset) after annotate" },
  run: (model, ctx) =>
    Effect.gen(function* () {
      const ann = ctx.data.need(ANNOTATIONS);
      const ranges = ctx.data.get(RANGES);
      // Weight-only mode with calibration data (input means but no activation ranges): the weight's
      // reader, to pick its per-channel axis from the input's channel energies.
      const means = ranges === undefined ? ctx.data.get(INPUT_MEANS) : undefined;
      const readerOf = new Map<Value, { node: import("@quanta/ir").Node; m: InputMeans }>();
      if (means) for (const [node, m] of means) if (node.inputs[1]) readerOf.set(node.inputs[1], { node, m });
      const out = new Map<Value, TensorQParams>();
      const quantized = new Map<Value, Tensor>();
      for (const [v, a] of ann.tensors) {
        if ((a.kind === "activation" || a.kind === "weight") && !isInt(a.spec.dtype)) continue; // float targets: see the fp16 pass
        if (a.kind === "activation") {
          const r = ranges?.get(v);
          if (!r) continue; // dynamic / weight-only: no calibrated range
          const p = computeQParams(r.min, r.max, opts(a.spec as QuantSpec & { dtype: IntTarget }));
          out.set(v, { dtype: a.spec.dtype, scale: Float32Array.of(p.scale), zeroPoint: Int32Array.of(p.zeroPoint) });
        } else if (a.kind === "weight") {
          const t = v.constant!.load() as Tensor<"float32">;
          const g = a.spec.granularity;
          const axis = g.kind === "tensor" ? undefined : a.axis;
          const blockSize = g.kind === "block" ? g.blockSize : undefined;
          const r = minMax(t.data);
          const infinite = r.min === Number.NEGATIVE_INFINITY || r.max === Number.POSITIVE_INFINITY;
          if (r.nanCount || infinite) return yield* Effect.fail(new NonFiniteWeight(v.name, r.nanCount, infinite));
          const reader = readerOf.get(v);
          const spec = a.spec as QuantSpec & { dtype: IntTarget };
          const chosen =
            reader && axis !== undefined && v.uses.length === 1
              ? g.kind === "axis"
                ? inputAwareAxis(t, spec, axis, reader.node, reader.m)
                : blockSize && spec.dtype !== "int4" && spec.dtype !== "uint4"
                  ? inputAwareBlocks(t, spec, axis, blockSize, reader.node, reader.m)
                  : undefined
              : undefined;
          let w = chosen ?? quantizeWeight(t, spec, axis, blockSize);
          if (chosen && reader && g.kind === "axis" && transposeGemm(v, t, reader.node)) w = quantizeWeight(v.constant!.load() as Tensor<"float32">, spec, 0);
          out.set(v, w.qparams);
          quantized.set(v, w.quantized);
        }
      }
      for (const [v, a] of ann.tensors) {
        if (a.kind === "shared") {
          const p = out.get(a.with);
          if (p) out.set(v, p);
        }
      }
      for (const [v, a] of ann.tensors) {
        if (a.kind !== "bias") continue;
        const si = out.get(a.input);
        let sw = out.get(a.weight);
        if (!si || !sw) continue;
        const b = v.constant!.load().data as Float32Array;
        const perChannel = sw.scale.length !== 1;
        if (perChannel && sw.scale.length !== b.length) continue;
        // As onnxruntime does: where s_input * s_weight is too small for the bias to fit int32, raise the
        // weight scale of that channel (and requantize the weight) instead of leaving the bias in float.
        let raised = false;
        const wscale = Float32Array.from(sw.scale);
        for (let c = 0; c < b.length; c++) {
          const k = perChannel ? c : 0;
          const need = Math.abs(b[c]!) / (si.scale[0]! * (INT32_MAX - 1024));
          if (Number.isFinite(need) && need > wscale[k]!) {
            wscale[k] = Math.fround(need * 1.0001);
            raised = true;
          }
        }
        if (raised && isInt(sw.dtype as QuantSpec["dtype"]) && sw.dtype !== "int32" && a.weight.constant) {
          sw = { ...sw, scale: wscale };
          out.set(a.weight, sw);
          const t = a.weight.constant.load() as Tensor<"float32">;
          quantized.set(a.weight, quantizeLinear(t, { scale: sw.scale, zeroPoint: sw.zeroPoint, ...(sw.axis !== undefined ? { axis: sw.axis } : {}), ...(sw.blockSize ? { blockSize: sw.blockSize } : {}) }, sw.dtype as IntTarget));
          yield* ctx.warn(`raised the weight scale of '${a.weight.name}' so that bias '${v.name}' fits int32`);
        }
        const ib = int32Bias(b, si.scale[0]!, sw.scale);
        if (!ib) {
          yield* ctx.warn(`bias '${v.name}' does not fit int32 at scale s_input*s_weight: kept in float`);
          continue;
        }
        out.set(v, ib.qparams);
        quantized.set(v, ib.quantized);
      }
      ctx.data.set(QPARAMS, out);
      ctx.data.set(QUANTIZED, quantized);
      return model;
    }),
};
