// Dtype helpers of the elementwise kernels (not kernels themselves): float16 / bfloat16 / float8
// conversions (@quanta/tensor stores them as raw bits), and float views that let a kernel compute in a
// Float32Array / Float64Array whatever the float dtype.
import type { DType, Tensor } from "@quanta/tensor";
import type { RunContext } from "../../kernel.js";

export type FloatArray = Float32Array | Float64Array;
/** Storages whose elements are JS numbers (every dtype but int64/uint64 and the packed 4-bit types). */
export type NumArray = Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array;
export type BigArray = BigInt64Array | BigUint64Array;

export const isFloatDType = (d: DType): boolean => d === "float32" || d === "float64" || d === "float16" || d === "bfloat16";
export const isBigDType = (d: DType): boolean => d === "int64" || d === "uint64";
/** Dtypes stored as plain numbers with integer values (bool included). */
export const isIntDType = (d: DType): boolean =>
  d === "int8" || d === "uint8" || d === "int16" || d === "uint16" || d === "int32" || d === "uint32" || d === "bool";
export const isSignedDType = (d: DType): boolean => d === "int8" || d === "int16" || d === "int32" || d === "int64";

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const f64 = new Float64Array(1);
const u64hi = new Uint32Array(f64.buffer);

let halfTable: Float32Array | undefined;
/** float16 bits -> float32 value for every pattern (built once, 256 KiB). */
function halves(): Float32Array {
  if (halfTable) return halfTable;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const f = h & 0x3ff;
    t[h] = e === 0 ? s * f * 2 ** -24 : e === 31 ? (f ? Number.NaN : s * Number.POSITIVE_INFINITY) : s * (1 + f / 1024) * 2 ** (e - 15);
  }
  halfTable = t;
  return t;
}

/** float16 bits to a number. */
export const halfToNumber = (h: number): number => halves()[h & 0xffff]!;

/** float32 bits to float16 bits (round to nearest even, overflow to infinity, NaN kept quiet). */
export function f32BitsToHalf(b: number): number {
  const sign = (b >>> 16) & 0x8000;
  const e = (b >>> 23) & 0xff;
  let m = b & 0x7fffff;
  if (e === 0xff) return sign | 0x7c00 | (m ? 0x200 | (m >>> 13) : 0);
  const ex = e - 127 + 15;
  if (ex >= 31) return sign | 0x7c00;
  if (ex <= 0) {
    if (ex < -10) return sign;
    m |= 0x800000;
    const shift = 14 - ex;
    let h = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (ex << 10) | (m >>> 13);
  const rem = m & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++; // a carry into the exponent is right (up to infinity)
  return sign | h;
}

/** float32 bits to bfloat16 bits (round to nearest even, NaN kept quiet). */
export function f32BitsToBf16(b: number): number {
  if ((b & 0x7fffffff) > 0x7f800000) return ((b >>> 16) | 0x40) & 0xffff;
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

export const bf16ToNumber = (h: number): number => {
  u32[0] = (h & 0xffff) << 16;
  return f32[0]!;
};

/** Rounds x >= 0 to the nearest integer, ties to even. */
function rintPos(v: number): number {
  const f = Math.floor(v);
  const r = v - f;
  return r > 0.5 || (r === 0.5 && f % 2 !== 0) ? f + 1 : f;
}

/** floor(log2(a)) for a normal positive double. */
function exponentOf(a: number): number {
  f64[0] = a;
  return ((u64hi[1]! >>> 20) & 0x7ff) - 1023;
}

/**
 * |x| rounded (nearest even) to a binary format with `m` fraction bits and minimum normal exponent
 * `emin`, encoded as (exponent field << m) | fraction with exponent bias `bias`; no overflow handling
 * (the caller compares with its largest finite value). Used where the source is a double.
 */
function encodeMagnitude(a: number, m: number, emin: number, bias: number): number {
  if (a === 0) return 0;
  const e = a < 2 ** emin ? emin : exponentOf(a);
  const q = 2 ** (e - m);
  const k = rintPos(a / q); // integer significand, may carry into the next binade
  if (e === emin && k < 2 ** m) return k; // subnormal (or zero)
  const carry = k >= 2 ** (m + 1) ? 1 : 0;
  const frac = carry ? 0 : k - 2 ** m;
  return ((e + carry + bias) << m) | frac;
}

/** A number (double) to float16 bits, rounded once (nearest even); overflow to infinity. */
export function numberToHalf(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a >= 65520) return sign | 0x7c00;
  return sign | encodeMagnitude(a, 10, -14, 15);
}

/** A number (double) to bfloat16 bits, rounded once (nearest even); overflow to infinity. */
export function numberToBf16(x: number): number {
  if (Number.isNaN(x)) return 0x7fc0;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a >= (2 - 2 ** -8) * 2 ** 127) return sign | 0x7f80;
  return sign | encodeMagnitude(a, 7, -126, 127);
}

/** A number to float8 e4m3fn bits (no infinities; NaN 0x7f; max 448). */
export function numberToF8e4m3fn(x: number, saturate: boolean): number {
  if (Number.isNaN(x)) return 0x7f;
  const sign = x < 0 || Object.is(x, -0) ? 0x80 : 0;
  const a = Math.abs(x);
  if (a === Number.POSITIVE_INFINITY) return saturate ? sign | 0x7e : sign | 0x7f;
  const b = encodeMagnitude(a, 3, -6, 7);
  if (b > 0x7e) return saturate ? sign | 0x7e : sign | 0x7f;
  return sign | b;
}

/** A number to float8 e5m2 bits (infinity 0x7c; max 57344). */
export function numberToF8e5m2(x: number, saturate: boolean): number {
  if (Number.isNaN(x)) return 0x7f;
  const sign = x < 0 || Object.is(x, -0) ? 0x80 : 0;
  const a = Math.abs(x);
  if (a === Number.POSITIVE_INFINITY) return sign | 0x7c;
  const b = encodeMagnitude(a, 2, -14, 15);
  if (b > 0x7b) return saturate ? sign | 0x7b : sign | 0x7c;
  return sign | b;
}

export function f8e4m3fnToNumber(v: number): number {
  const s = v & 0x80 ? -1 : 1;
  const e = (v >> 3) & 0xf;
  const f = v & 7;
  if (e === 15 && f === 7) return Number.NaN;
  return e === 0 ? s * f * 2 ** -9 : s * (1 + f / 8) * 2 ** (e - 7);
}

export function f8e5m2ToNumber(v: number): number {
  const s = v & 0x80 ? -1 : 1;
  const e = (v >> 2) & 0x1f;
  const f = v & 3;
  if (e === 31) return f ? Number.NaN : s * Number.POSITIVE_INFINITY;
  return e === 0 ? s * f * 2 ** -16 : s * (1 + f / 4) * 2 ** (e - 15);
}

/** Decodes float16 bits into a Float32Array. */
export function decodeHalf(src: Uint16Array, out: Float32Array = new Float32Array(src.length)): Float32Array {
  const t = halves();
  for (let i = 0; i < src.length; i++) out[i] = t[src[i]!]!;
  return out;
}

/** Decodes bfloat16 bits into a Float32Array (a shift of the bits). */
export function decodeBf16(src: Uint16Array, out: Float32Array = new Float32Array(src.length)): Float32Array {
  const bits = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < src.length; i++) bits[i] = src[i]! << 16;
  return out;
}

/** Encodes float32 values into float16 / bfloat16 bits. */
export function encodeHalf(src: Float32Array, out: Uint16Array): void {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < src.length; i++) out[i] = f32BitsToHalf(bits[i]!);
}
export function encodeBf16(src: Float32Array, out: Uint16Array): void {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < src.length; i++) out[i] = f32BitsToBf16(bits[i]!);
}

/**
 * The values of a tensor as a float array to compute with: a view for float32/float64, float32 for
 * float16/bfloat16/float8, float64 for the integer dtypes (int64 beyond 2^53 loses precision).
 */
export function floatView(t: Tensor): FloatArray {
  const d = t.data;
  switch (t.dtype) {
    case "float32":
    case "float64":
      return d as FloatArray;
    case "float16":
      return decodeHalf(d as Uint16Array);
    case "bfloat16":
      return decodeBf16(d as Uint16Array);
    case "float8e4m3fn":
      return Float32Array.from(d as Uint8Array, f8e4m3fnToNumber);
    case "float8e5m2":
      return Float32Array.from(d as Uint8Array, f8e5m2ToNumber);
    case "int64":
    case "uint64":
      return Float64Array.from(d as BigArray, Number);
    default:
      return Float64Array.from(d as NumArray);
  }
}

/** An output computed in a float array and then committed to its dtype (float16/bfloat16 converted on commit). */
export interface FloatOut {
  readonly data: FloatArray;
  commit(): Tensor;
}

/** Allocates a float output of `dtype` (float32/float64/float16/bfloat16); compute into `.data`, then `commit()`. */
export function floatOut(rt: RunContext, dtype: DType, shape: readonly number[]): FloatOut {
  const t = rt.alloc(dtype, shape);
  if (dtype === "float32" || dtype === "float64") return { data: t.data as FloatArray, commit: () => t };
  const data = new Float32Array(t.data.length);
  return {
    data,
    commit() {
      if (dtype === "float16") encodeHalf(data, t.data as Uint16Array);
      else encodeBf16(data, t.data as Uint16Array);
      return t;
    },
  };
}
