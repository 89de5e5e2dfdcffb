import type { ObserverName } from "@quanta/observers";

/** Element types a spec can quantize to. */
export type QuantTarget = "int8" | "uint8" | "int16" | "uint16" | "int4" | "uint4" | "float8e4m3fn" | "float16";

/** How many parameter sets a tensor gets. `axis` omitted: the op-traits channel axis of the weight. */
export type Granularity = { readonly kind: "tensor" } | { readonly kind: "axis"; readonly axis?: number } | { readonly kind: "block"; readonly blockSize: number; readonly axis?: number };

/** The formula family used to turn a range into scale and zero point (see @quanta/tensor's qparams). */
export type Convention = "onnxruntime" | "pytorch" | "tflite";

/**
 * How one tensor is quantized (a frozen record, like PT2E's QuantizationSpec): target type,
 * symmetric or not, narrow range ([-127,127] for int8), reduce_range, granularity, and the
 * observer that measures its range during calibration (weights are measured directly).
 */
export interface QuantSpec {
  readonly dtype: QuantTarget;
  readonly symmetric: boolean;
  readonly narrowRange: boolean;
  readonly reduceRange: boolean;
  readonly granularity: Granularity;
  readonly observer: { readonly name: ObserverName; readonly options?: Readonly<Record<string, unknown>> };
  readonly convention: Convention;
  /**
   * How the float scales are stored (weights; default float32). `float16`: each scale is rounded to
   * float16 before the weight is quantized with it (so dequantization is exact against the stored
   * scale) and the file holds float16 behind a Cast to float32, half the bytes; a tensor with a scale
   * outside float16's normal range [2^-14, 65504] keeps float32 scales.
   */
  readonly scaleDtype?: "float32" | "float16";
}

export type Mode = "static" | "dynamic" | "weight-only" | "float";

/** A scheme: what a quantizer does to a whole model. Plain data; presets are values of this type. */
export interface Scheme {
  readonly name: string;
  readonly mode: Mode;
  /** Weights (constant inputs named by the dialect's op traits). */
  readonly weights: QuantSpec;
  /** Activations (static mode only; dynamic mode quantizes them at run time as uint8). */
  readonly activations?: QuantSpec;
  /** Biases of quantized Conv/Gemm become int32 with scale = s_input * s_weight. */
  readonly biasInt32: boolean;
  /** Only these op types are quantized (default: every op the dialect marks quantizable). */
  readonly ops?: readonly string[];
  /** Nodes left in float: node names, op types or globs ("*attention*", "Conv_1?"). */
  readonly exclude: readonly string[];
  /** Per-tensor changes to the spec, by value name. */
  readonly overrides: Readonly<Record<string, Partial<QuantSpec>>>;
  /**
   * Mixed precision: nodes (names, op types or globs, as in `exclude`) whose weights are quantized to
   * int16 (symmetric, per channel) instead of the scheme's integer weight type. Twice the bytes of
   * int8 and about 48 dB less rounding noise: for the few layers that cost the most accuracy.
   */
  readonly int16Weights?: readonly string[];
  /**
   * Mixed precision, 4-bit weight schemes: nodes whose weights stay int8 (symmetric, per channel)
   * instead of 4-bit blocks: the layers whose rounding the rest of the network amplifies.
   */
  readonly int8Weights?: readonly string[];
  /**
   * Mixed precision, static mode: nodes whose activations (inputs and output) are quantized to int16
   * (symmetric, zero point 0) instead of the scheme's 8-bit activation type. Where an int8 and an int16
   * node share a tensor, int16 wins.
   */
  readonly int16Activations?: readonly string[];
  /**
   * 4-bit block-wise weight schemes: what weights with no axis long enough to block along (depthwise
   * 3x3 convs, a 3-channel stem conv) take: `int8` per channel (default: a scale per 9 or 27 weights
   * leaves little for 4 bits to save) or `4bit`, the scheme's 4-bit type per output channel (the
   * smallest file).
   */
  readonly unblockedWeights?: "int8" | "4bit";
  /**
   * Weight-only mode: the float32 biases of quantized Conv/ConvTranspose/Gemm layers that read them
   * alone are stored float16 behind a Cast to float32 (half their bytes, a relative error of at most
   * 2^-11 each); a bias with a value beyond float16's range keeps float32, and so does a 4-bit Gemm's
   * (MatMulNBits reads it as is) and a MatMul's following Add constant.
   */
  readonly float16Biases?: boolean;
}

/** Builds a spec with defaults filled in (frozen). */
export function spec(s: Partial<QuantSpec> & Pick<QuantSpec, "dtype">): QuantSpec {
  return Object.freeze({
    symmetric: false,
    narrowRange: false,
    reduceRange: false,
    granularity: { kind: "tensor" } as const,
    observer: { name: "minmax" as const },
    convention: "onnxruntime" as const,
    ...s,
  });
}

/** Integer range [qmin, qmax] of a spec (after narrow range / reduce range), for integer targets. */
export function qrange(s: QuantSpec): readonly [number, number] {
  const base: Record<string, [number, number]> = {
    int8: [-128, 127],
    uint8: [0, 255],
    int16: [-32768, 32767],
    uint16: [0, 65535],
    int4: [-8, 7],
    uint4: [0, 15],
  };
  const r = base[s.dtype];
  if (!r) throw new Error(`${s.dtype} has no integer range`);
  if (s.reduceRange) {
    if (s.dtype === "uint8") return [0, 127];
    if (s.dtype === "int8") return [-64, 64];
  }
  if (s.narrowRange && r[0] < 0) return [r[0] + 1, r[1]];
  return r;
}
