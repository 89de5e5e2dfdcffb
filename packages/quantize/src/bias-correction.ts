// Bias correction (Nagel et al., "Data-Free Quantization Through Weight Equalization and Bias
// Correction", 2019, the empirical variant): rounding a weight shifts the mean of its layer's output by
// (W_q - W) * E[x] per output channel, and a deep network adds these shifts up. With the input means
// from calibration, the shift is subtracted from the layer's bias, so that on the calibration data each
// quantized layer's output has the float layer's mean (exactly for Conv/Gemm/MatMul given the same
// input; ConvTranspose takes each input channel's mean over the output grid).
import type { Pass } from "@quanta/core";
import { type Node, type Value, constantOf } from "@quanta/ir";
import { type Tensor, tensor } from "@quanta/tensor";
import { Effect } from "effect";
import { FLOAT16_BIAS, float16BiasFits } from "./annotate.js";
import { ANNOTATIONS, type Annotations, QPARAMS, QUANTIZED, type TensorAnnotation, type TensorQParams } from "./keys.js";
import { dropIfUnused } from "./lower-util.js";
import { dequantizeWeight, int32Bias } from "./qparams.js";
import { INPUT_MEANS, type InputMeans, meanToSpread } from "./statistics.js";

/**
 * Layers whose input mean is below this fraction of its spread are left alone: the mean of a zero-mean
 * signal (audio into an STFT conv) over the calibration data is noise, and a bias from it would only
 * move the near-silent outputs (openwakeword's melspectrogram loses 23 dB with it).
 */
export const MIN_MEAN_TO_SPREAD = 0.05;


/**
 * The output-mean shift of one layer, per output channel: sum of (W_q - W) times the input means laid
 * out as `statistics.ts` records them. Undefined when the shapes do not match what was recorded.
 */
export function meanShift(node: Node, w: Float32Array, wq: Float32Array, shape: readonly number[], m: InputMeans): Float64Array | undefined {
  const mean = (i: number) => m.sum[i]! / m.count;
  if (node.op === "Conv") {
    const co = shape[0]!;
    const cig = shape[1]!;
    let taps = 1;
    for (let i = 2; i < shape.length; i++) taps *= shape[i]!;
    const group = node.int("group", 1);
    if (m.sum.length !== cig * group * taps || co % group !== 0) return undefined;
    const cog = co / group;
    const out = new Float64Array(co);
    for (let o = 0; o < co; o++) {
      const base = Math.floor(o / cog) * cig * taps;
      let s = 0;
      for (let j = 0; j < cig * taps; j++) {
        const k = o * cig * taps + j;
        s += (wq[k]! - w[k]!) * mean(base + j);
      }
      out[o] = s;
    }
    return out;
  }
  if (node.op === "ConvTranspose") {
    // W: [C_in, C_out / group, taps...]; each input position reaches one output per tap, so an output
    // position sees on average taps / prod(strides) of them.
    const ci = shape[0]!;
    const cog = shape[1]!;
    let taps = 1;
    for (let i = 2; i < shape.length; i++) taps *= shape[i]!;
    const group = node.int("group", 1);
    let stride = 1;
    for (const s of node.ints("strides") ?? []) stride *= s;
    if (m.sum.length !== ci || ci % group !== 0) return undefined;
    const cig = ci / group;
    const out = new Float64Array(cog * group);
    for (let c = 0; c < ci; c++) {
      const g = Math.floor(c / cig);
      const mc = mean(c) / stride;
      for (let o = 0; o < cog; o++) {
        let s = 0;
        const base = (c * cog + o) * taps;
        for (let t = 0; t < taps; t++) s += wq[base + t]! - w[base + t]!;
        out[g * cog + o]! += s * mc;
      }
    }
    return out;
  }
  // Gemm / MatMul with a 2-D weight: [K, N], or [N, K] for Gemm transB = 1.
  const transB = node.op === "Gemm" && node.int("transB", 0) === 1;
  const k = transB ? shape[1]! : shape[0]!;
  const n = transB ? shape[0]! : shape[1]!;
  if (m.sum.length !== k) return undefined;
  const out = new Float64Array(n);
  for (let i = 0; i < k; i++) {
    const mi = mean(i);
    if (mi === 0) continue;
    for (let j = 0; j < n; j++) {
      const idx = transB ? j * k + i : i * n + j;
      out[j]! += (wq[idx]! - w[idx]!) * mi;
    }
  }
  if (node.op === "Gemm") {
    const alpha = node.float("alpha", 1);
    for (let j = 0; j < n; j++) out[j]! *= alpha;
  }
  return out;
}

/** The float values of a bias constant, one per output channel (a scalar is broadcast), or undefined. */
function biasValues(v: Value, n: number): Float32Array | undefined {
  const c = v.constant;
  if (c?.elem !== "float32") return undefined;
  const data = c.load().data as Float32Array;
  if (data.length === n) return Float32Array.from(data);
  if (data.length === 1) return new Float32Array(n).fill(data[0]!);
  return undefined;
}

/**
 * Whether the corrected bias of `node` is stored float16: the bias it replaces was (and still fits), or
 * a new bias meets the annotation pass's rule (`float16BiasFits`) for its weight's type.
 */
function halfBias(node: Node, old: Value | null, oldA: TensorAnnotation | undefined, ann: Annotations, values: Float32Array, blocks21: boolean): boolean {
  if (old && !(oldA?.kind === "weight" && oldA.spec.dtype === "float16")) return false;
  const wa = old ? undefined : node.inputs[1] ? ann.tensors.get(node.inputs[1]) : undefined;
  return float16BiasFits(node, wa?.kind === "weight" ? wa.spec.dtype : undefined, values, blocks21);
}

/**
 * Applies the correction of one node. Returns a message when the node could not take it, else undefined.
 * Biases the qparams pass made int32 are requantized at their scale; a Conv/ConvTranspose/Gemm without
 * a bias gets one (int32 in static mode); a MatMul's bias is the constant of the Add that alone reads
 * its output, when that constant stays float.
 */
function correctNode(node: Node, shift: Float64Array, ann: Annotations, qp: Map<Value, TensorQParams>, quantized: Map<Value, Tensor>, int32Biases: boolean, float16Biases = false, blocks21 = true): string | undefined {
  const g = node.graph;
  const n = shift.length;
  if (node.op === "MatMul") {
    const out = node.outputs[0];
    const add = out && out.uses.length === 1 && !g.outputs.includes(out) ? out.uses[0]!.node : undefined;
    if (add?.op !== "Add" || (add.domain !== "" && add.domain !== "ai.onnx")) return "no Add reads its output alone";
    const ci = add.inputs[0] === out ? 1 : 0;
    const c = add.inputs[ci];
    if (c?.constant?.elem !== "float32" || ann.tensors.has(c)) return "the following Add's other input is not a float constant";
    const shape = c.constant.shape;
    const len = shape.reduce((a, b) => a * b, 1);
    if (len !== n || shape[shape.length - 1] !== n) return "the following Add's constant is not one value per output feature";
    const b = Float32Array.from(c.constant.load().data as Float32Array);
    for (let j = 0; j < n; j++) b[j] = Math.fround(b[j]! - shift[j]!);
    add.setInput(ci, g.addConstant(`${c.name}_bc`, constantOf(tensor("float32", [...shape], b))));
    dropIfUnused(c);
    return undefined;
  }
  const bi = 2;
  // Gemm adds beta * C (a C added here is scaled by the node's beta too).
  const beta = node.op === "Gemm" ? node.float("beta", 1) : 1;
  if (beta === 0) return "Gemm with beta = 0";
  const old = node.inputs[bi] ?? null;
  let values: Float32Array;
  if (old) {
    const v = biasValues(old, n);
    if (!v) return "its bias is not a float constant of one value per output channel";
    values = v;
  } else values = new Float32Array(n);
  for (let c = 0; c < n; c++) values[c] = Math.fround(values[c]! - shift[c]! / beta);
  const nv = g.addConstant(`${old ? old.name : `${node.name || node.op}_bias`}_bc`, constantOf(tensor("float32", [n], values)));
  while (node.inputs.length <= bi) node.inputs.push(null);
  node.setInput(bi, nv);
  // Static mode: an int32 bias at scale s_input * s_weight, as the qparams pass makes it.
  const oldA = old ? ann.tensors.get(old) : undefined;
  const w = node.inputs[1]!;
  const wp = qp.get(w);
  const input = node.inputs[0];
  const ip = input ? qp.get(input) : undefined;
  const wantsInt32 = oldA?.kind === "bias" || (!old && int32Biases && ip !== undefined && ip.scale.length === 1);
  const ib = wantsInt32 && wp && ip && input && (wp.scale.length === 1 || wp.scale.length === n) ? int32Bias(values, ip.scale[0]!, wp.scale) : undefined;
  if (ib && input) {
    ann.tensors.set(nv, { kind: "bias", input, weight: w });
    qp.set(nv, ib.qparams);
    quantized.set(nv, ib.quantized);
  } else if (float16Biases && halfBias(node, old, oldA, ann, values, blocks21)) {
    // Weight-only with float16 biases: a float16 bias stays float16, and a new one is float16 too.
    ann.tensors.set(nv, { kind: "weight", spec: FLOAT16_BIAS, axis: 0 });
  }
  if (old && old.uses.length === 0) {
    ann.tensors.delete(old);
    qp.delete(old);
    quantized.delete(old);
    dropIfUnused(old);
  }
  return undefined;
}

/**
 * Bias-correction pass: after the weights are quantized (qparams), subtracts each layer's output-mean
 * shift (W_q - W) * E[x] from its bias, with E[x] from the calibration data (`input-means`, recorded by
 * calibrate in static mode and by input-statistics in weight-only mode). Warns once with the layers
 * it could not correct. `int32Biases` (the scheme's biasInt32): in static mode a bias the pass adds
 * to a layer without one is int32 at scale s_input * s_weight, as onnxruntime needs to fuse the layer.
 * `float16Biases` (weight-only `Scheme.float16Biases`): corrected and added biases stay float16.
 */
export const biasCorrectionPass = (options: { readonly int32Biases: boolean; readonly float16Biases?: boolean; readonly minMeanToSpread?: number }): Pass => ({
  name: "bias-correction",
  requires: ["annotations", "qparams", "input-means"],
  provides: ["bias-corrected"],
  hints: { "input-means": "bias correction needs calibration data: run calibrate (static) or input-statistics (weight-only) with a Dataset" },
  run: (model, ctx) =>
    Effect.gen(function* () {
      const ann = ctx.data.need(ANNOTATIONS);
      const qp = ctx.data.need(QPARAMS);
      const quantized = ctx.data.get(QUANTIZED) ?? new Map<Value, Tensor>();
      const means = ctx.data.need(INPUT_MEANS);
      const skipped: string[] = [];
      let corrected = 0;
      const minRatio = options.minMeanToSpread ?? MIN_MEAN_TO_SPREAD;
      for (const [node, m] of means) {
        if (meanToSpread(m) < minRatio) continue;
        const w = node.inputs[1];
        const q = w ? quantized.get(w) : undefined;
        const p = w ? qp.get(w) : undefined;
        if (!w?.constant || !q || !p || q.dtype === "int32") continue;
        const wf = w.constant.load().data as Float32Array;
        const shift = meanShift(node, wf, dequantizeWeight(q, p), w.constant.shape, m);
        if (!shift) {
          skipped.push(`${node.name || node.op} (shapes differ from the calibration data)`);
          continue;
        }
        const why = correctNode(node, shift, ann, qp, quantized, options.int32Biases, options.float16Biases, (model.opset("") ?? 0) >= 21);
        if (why) skipped.push(`${node.name || node.op} (${why})`);
        else corrected++;
      }
      if (skipped.length > 0) yield* ctx.warn(`bias correction left ${skipped.length} of ${corrected + skipped.length} layers as they are: ${skipped.slice(0, 5).join(", ")}${skipped.length > 5 ? ", ..." : ""}`);
      return model;
    }),
});

/** Bias correction with int32 biases for static layers (the presets' biasInt32). */
export const correctBias: Pass = biasCorrectionPass({ int32Biases: true });
