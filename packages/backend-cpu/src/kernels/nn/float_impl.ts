// Float dtype helpers for the nn kernels: float16/bfloat16 conversions (@quanta/tensor stores them as raw
// bits) and read/write views that let a kernel compute in Float32Array / Float64Array for any float dtype.
import type { DType, Tensor } from "@quanta/tensor";
import type { RunContext } from "../../kernel.js";

export type FloatArray = Float32Array | Float64Array;


// float16 / bfloat16 conversions are @quanta/tensor's (round to nearest even, tested exhaustively against onnxruntime).
import { bf16ToF32 as bf16ToFloat, f16ToF32 as halfToFloat, f32ToBf16 as floatToBf16, f32ToF16 as floatToHalf } from "@quanta/tensor";
export { bf16ToFloat, floatToBf16, floatToHalf, halfToFloat };

export const isFloatDType = (d: DType): boolean => d === "float32" || d === "float64" || d === "float16" || d === "bfloat16";

/** The values of a float tensor as a Float32Array/Float64Array (a view for float32/float64, a converted copy otherwise). */
export function floatData(t: Tensor): FloatArray {
  switch (t.dtype) {
    case "float32":
    case "float64":
      return t.data as FloatArray;
    case "float16": {
      const s = t.data as Uint16Array;
      const o = new Float32Array(s.length);
      for (let i = 0; i < s.length; i++) o[i] = halfToFloat(s[i]!);
      return o;
    }
    case "bfloat16": {
      const s = t.data as Uint16Array;
      const o = new Float32Array(s.length);
      for (let i = 0; i < s.length; i++) o[i] = bf16ToFloat(s[i]!);
      return o;
    }
    default: {
      const s = t.data;
      const o = new Float64Array(s.length);
      for (let i = 0; i < s.length; i++) o[i] = Number(s[i]!);
      return o;
    }
  }
}

/** The values of a float tensor as float32 (a view when already float32). */
export function f32Data(t: Tensor): Float32Array {
  if (t.dtype === "float32") return t.data as Float32Array;
  const d = floatData(t);
  return d instanceof Float32Array ? d : Float32Array.from(d);
}

/** An output being computed in a float array, committed into a tensor of `dtype` (float16/bfloat16 converted on commit). */
export interface FloatOut {
  readonly tensor: Tensor;
  readonly data: FloatArray;
  /** Writes `data` into `tensor` when they differ (float16/bfloat16); returns the tensor. */
  commit(): Tensor;
}

/** Allocates a float output; compute into `.data`, then `commit()`. */
export function floatOut(rt: RunContext, dtype: DType, shape: readonly number[]): FloatOut {
  const t = rt.alloc(dtype, shape);
  if (dtype === "float32" || dtype === "float64") return { tensor: t, data: t.data as FloatArray, commit: () => t };
  const data = new Float32Array(t.data.length);
  return {
    tensor: t,
    data,
    commit() {
      writeFloats(t, data);
      return t;
    },
  };
}

/** Writes numbers into a float (or integer) tensor's storage with the dtype's conversion. */
export function writeFloats(t: Tensor, src: ArrayLike<number>): void {
  const d = t.data;
  const n = src.length;
  switch (t.dtype) {
    case "float16":
      for (let i = 0; i < n; i++) d[i] = floatToHalf(src[i]!);
      return;
    case "bfloat16":
      for (let i = 0; i < n; i++) d[i] = floatToBf16(src[i]!);
      return;
    case "int64":
    case "uint64":
      for (let i = 0; i < n; i++) (d as BigInt64Array)[i] = BigInt(Math.trunc(src[i]!));
      return;
    default:
      for (let i = 0; i < n; i++) (d as Float32Array)[i] = src[i]!;
  }
}

/**
 * A float32 result converted to a tensor of `dtype` (returned as is when `dtype` is float32); the
 * float32 tensor, from `rt.alloc`, is released once converted.
 */
export function f32Tensor(rt: RunContext, dtype: DType, src: Tensor<"float32">): Tensor {
  if (dtype === "float32") return src;
  const t = rt.alloc(dtype, src.shape);
  writeFloats(t, src.data);
  rt.release?.(src);
  return t;
}
