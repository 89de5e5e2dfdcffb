import { type QuantSpec, type Scheme, spec } from "./spec.js";

const perChannelInt8 = spec({ dtype: "int8", symmetric: true, narrowRange: true, granularity: { kind: "axis" } });

const make = (s: Omit<Scheme, "exclude" | "overrides" | "biasInt32"> & Partial<Pick<Scheme, "exclude" | "overrides" | "biasInt32">>): Scheme =>
  Object.freeze({ exclude: [], overrides: {}, biasInt32: s.mode === "static", ...s });

/**
 * Static int8 (QDQ): weights int8 symmetric per channel ([-127,127], zero point 0), activations
 * asymmetric uint8 (or int8) with ranges from `observer` (MinMax by default, as onnxruntime).
 */
export function int8Static(activations: "uint8" | "int8" = "uint8", observer: QuantSpec["observer"]["name"] = "minmax"): Scheme {
  return make({ name: `int8-static-${activations}`, mode: "static", weights: perChannelInt8, activations: spec({ dtype: activations, observer: { name: observer } }) });
}

/** a16w8: int16 activations (symmetric, zero point 0) with int8 per-channel weights. */
export function a16w8(observer: QuantSpec["observer"]["name"] = "minmax"): Scheme {
  return make({ name: "a16w8", mode: "static", weights: perChannelInt8, activations: spec({ dtype: "int16", symmetric: true, narrowRange: true, observer: { name: observer } }) });
}

/** Dynamic int8: weights int8 per channel; activations quantized at run time (DynamicQuantizeLinear, uint8); LSTM/GRU weights stored int8 behind DequantizeLinear. */
export function dynamicInt8(): Scheme {
  return make({ name: "dynamic-int8", mode: "dynamic", weights: perChannelInt8, ops: ["MatMul", "Gemm", "Conv", "LSTM", "GRU"] });
}

/**
 * Weight-only int8, per channel; activations stay float (DequantizeLinear in front of each weight).
 * With `blockSize`, a scale per block of that many weights along the reduction axis instead (the axes
 * int4 blocks along; opset-21 DequantizeLinear): 2-8 dB more weight SQNR on the layers with outlier
 * weights, for one float scale per block (+3% of the file at 128, +6% at 64). Weights with no axis of
 * 16 or more keep one scale per channel.
 */
export function weightOnlyInt8(blockSize?: number): Scheme {
  if (blockSize === undefined) return make({ name: "weight-only-int8", mode: "weight-only", weights: perChannelInt8 });
  return make({ name: `weight-only-int8-b${blockSize}`, mode: "weight-only", weights: spec({ dtype: "int8", symmetric: true, narrowRange: true, granularity: { kind: "block", blockSize } }) });
}

/**
 * Weight-only 4-bit, block-wise along the reduction axis: MatMul/Gemm weights (MatMulNBits or opset-21
 * DequantizeLinear), Conv weights along their input channels (or a long 1-D kernel), LSTM/GRU weights
 * along their input axis (opset-21 DequantizeLinear); weights with no axis of 16 or more (depthwise 3x3
 * convs) keep int8 per channel.
 */
export function weightOnlyInt4(blockSize: 32 | 64 | 128 = 32, dtype: "int4" | "uint4" = "int4"): Scheme {
  return make({
    name: `weight-only-${dtype}-b${blockSize}`,
    mode: "weight-only",
    weights: spec({ dtype, symmetric: dtype === "int4", granularity: { kind: "block", blockSize } }),
    ops: ["MatMul", "Gemm", "Conv", "LSTM", "GRU"],
  });
}

/** float16 weights (and float16 compute where the format allows), no calibration. */
export function fp16(): Scheme {
  return make({ name: "fp16", mode: "float", weights: spec({ dtype: "float16", symmetric: true }) });
}

/** float8 e4m3fn QDQ (opset 19+): per-tensor scales, zero point 0. */
export function fp8e4m3(): Scheme {
  return make({
    name: "fp8-e4m3",
    mode: "static",
    weights: spec({ dtype: "float8e4m3fn", symmetric: true }),
    activations: spec({ dtype: "float8e4m3fn", symmetric: true }),
    biasInt32: false,
  });
}

/** Returns a copy of `s` with extra exclusions, per-tensor overrides and int16-weight / int8-weight / int16-activation nodes. */
export function withChanges(
  s: Scheme,
  changes: { exclude?: readonly string[]; overrides?: Scheme["overrides"]; int16Weights?: readonly string[]; int8Weights?: readonly string[]; int16Activations?: readonly string[]; name?: string },
): Scheme {
  const int16Weights = [...(s.int16Weights ?? []), ...(changes.int16Weights ?? [])];
  const int8Weights = [...(s.int8Weights ?? []), ...(changes.int8Weights ?? [])];
  const int16Activations = [...(s.int16Activations ?? []), ...(changes.int16Activations ?? [])];
  return Object.freeze({
    ...s,
    name: changes.name ?? s.name,
    exclude: [...s.exclude, ...(changes.exclude ?? [])],
    overrides: { ...s.overrides, ...(changes.overrides ?? {}) },
    ...(int16Weights.length ? { int16Weights } : {}),
    ...(int8Weights.length ? { int8Weights } : {}),
    ...(int16Activations.length ? { int16Activations } : {}),
  });
}

/**
 * A weight-only scheme whose float parameters are stored float16: the weights' scales (each rounded
 * before the weight is quantized with it) and the biases of the quantized layers, each behind a Cast
 * to float32. Half their bytes, at a relative error of at most 2^-11 per value: on a small conv net
 * (PP-OCR cls, 0.58 MB) the scales and biases are a quarter of an int4 file.
 */
export function withFloat16Params(s: Scheme): Scheme {
  if (s.mode !== "weight-only") throw new Error(`float16 parameters apply to weight-only schemes, not ${s.mode} (${s.name})`);
  if (s.weights.dtype === "float16" || s.weights.dtype === "float8e4m3fn") throw new Error(`float16 parameters apply to integer weights, not ${s.weights.dtype} (${s.name})`);
  return Object.freeze({ ...s, name: `${s.name}+fp16-params`, weights: Object.freeze({ ...s.weights, scaleDtype: "float16" as const }), float16Biases: true });
}

export const PRESETS = { int8Static, a16w8, dynamicInt8, weightOnlyInt8, weightOnlyInt4, fp16, fp8e4m3 } as const;
