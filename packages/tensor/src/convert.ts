import { DTYPES, type DType, type Storage, allocate } from "./dtype.js";
import { ShapeError } from "./errors.js";
import { type Tensor, size } from "./tensor.js";

/*
 * Conversions between float32 and the 16- and 8-bit float formats, on raw bit patterns, bit-exact
 * with onnxruntime's Cast (checked in test/convert.test.ts):
 * - float32 -> narrow: round to nearest, ties to even; subnormals of the target are produced;
 *   float32 subnormals are below every target's smallest subnormal except bfloat16's and become ±0
 *   (bfloat16 keeps them, rounded). The sign of zero is kept.
 * - NaN: float16 -> sign | 0x7E00, bfloat16 -> sign | 0x7FC0 (payload dropped, as onnxruntime);
 *   float8 -> sign | 0x7F.
 * - Scalar functions taking a JS number round it to float32 first (Math.fround), so a double may be
 *   rounded twice, exactly as onnxruntime's double -> float16 Cast does.
 */

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** The bits of a float32 (after rounding `x` to float32). */
export function f32Bits(x: number): number {
  F32[0] = x;
  return U32[0]!;
}

/** The float32 whose bits are `bits`. */
export function f32FromBits(bits: number): number {
  U32[0] = bits;
  return F32[0]!;
}

function checkLength(what: string, n: number, out: { length: number }): void {
  if (out.length < n) throw new ShapeError(`${what}: output holds ${out.length} elements, needs ${n}`);
}

/**
 * Rounds the magnitude bits `a` (float32 bits without sign, finite) to a float format with `m`
 * mantissa bits and exponent bias `bias`, half to even. Returns the magnitude code
 * (biased exponent << m | mantissa), which may exceed the format's largest finite code: the caller
 * decides what overflow means. Float32 subnormals give 0 (every target here except bfloat16 has a
 * larger smallest subnormal).
 */
function roundMagnitude(a: number, m: number, bias: number): number {
  const e = a >>> 23;
  const drop = 23 - m;
  const ex = e - 127 + bias;
  if (ex >= 1) {
    const q = (ex << m) | ((a & 0x7fffff) >>> drop);
    const rem = a & ((1 << drop) - 1);
    const half = 1 << (drop - 1);
    return rem > half || (rem === half && (q & 1) === 1) ? q + 1 : q;
  }
  if (e === 0) return 0;
  const sh = drop + 1 - ex;
  if (sh > 24) return 0;
  const sig = (a & 0x7fffff) | 0x800000;
  const q = sig >>> sh;
  const rem = sig & ((1 << sh) - 1);
  const half = 1 << (sh - 1);
  return rem > half || (rem === half && (q & 1) === 1) ? q + 1 : q;
}

// ---------------------------------------------------------------- float16

/** float32 bits -> IEEE float16 bits. Overflow gives ±Inf; NaN gives sign | 0x7E00. */
export function f32BitsToF16(b: number): number {
  const sign = (b >>> 16) & 0x8000;
  const a = b & 0x7fffffff;
  if (a >= 0x7f800000) return sign | (a === 0x7f800000 ? 0x7c00 : 0x7e00);
  const q = roundMagnitude(a, 10, 15);
  return sign | Math.min(q, 0x7c00);
}

/** number -> float16 bits (via float32). */
export const f32ToF16 = (x: number): number => f32BitsToF16(f32Bits(x));

/** float16 bits -> number (exact). */
export function f16ToF32(h: number): number {
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  const s = h & 0x8000 ? -1 : 1;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m === 0 ? s * Number.POSITIVE_INFINITY : Number.NaN;
  return s * (1024 + m) * 2 ** (e - 25);
}

let F16_LUT: Uint32Array | undefined;
/** float32 bits of every float16 pattern (NaN payloads shifted into place, as IEEE conversion does). */
function f16Lut(): Uint32Array {
  if (F16_LUT) return F16_LUT;
  const t = new Float32Array(65536);
  const u = new Uint32Array(t.buffer);
  for (let h = 0; h < 65536; h++) {
    if (((h >>> 10) & 0x1f) === 31 && (h & 0x3ff) !== 0) u[h] = ((h & 0x8000) << 16) | 0x7fc00000 | ((h & 0x3ff) << 13);
    else t[h] = f16ToF32(h);
  }
  F16_LUT = u;
  return u;
}

/** Float32Array -> float16 bits, into `out` (at least as long as `x`). */
export function f32ArrayToF16(x: Float32Array, out: Uint16Array = new Uint16Array(x.length)): Uint16Array {
  checkLength("f32ArrayToF16", x.length, out);
  const b = new Uint32Array(x.buffer, x.byteOffset, x.length);
  for (let i = 0; i < b.length; i++) out[i] = f32BitsToF16(b[i]!);
  return out;
}

/** float16 bits -> Float32Array, into `out` (exact). */
export function f16ArrayToF32(h: Uint16Array, out: Float32Array = new Float32Array(h.length)): Float32Array {
  checkLength("f16ArrayToF32", h.length, out);
  const lut = f16Lut();
  const o = new Uint32Array(out.buffer, out.byteOffset, h.length);
  for (let i = 0; i < h.length; i++) o[i] = lut[h[i]!]!;
  return out;
}

// ---------------------------------------------------------------- bfloat16

/** float32 bits -> bfloat16 bits (round to nearest even; NaN -> sign | 0x7FC0). */
export function f32BitsToBf16(b: number): number {
  if ((b & 0x7fffffff) > 0x7f800000) return ((b >>> 16) & 0x8000) | 0x7fc0;
  return ((b >>> 0) + 0x7fff + ((b >>> 16) & 1)) >>> 16;
}

/** number -> bfloat16 bits (via float32). */
export const f32ToBf16 = (x: number): number => f32BitsToBf16(f32Bits(x));

/** bfloat16 bits -> number (exact). */
export const bf16ToF32 = (h: number): number => f32FromBits((h & 0xffff) << 16);

/** Float32Array -> bfloat16 bits, into `out`. */
export function f32ArrayToBf16(x: Float32Array, out: Uint16Array = new Uint16Array(x.length)): Uint16Array {
  checkLength("f32ArrayToBf16", x.length, out);
  const b = new Uint32Array(x.buffer, x.byteOffset, x.length);
  for (let i = 0; i < b.length; i++) {
    const v = b[i]!;
    out[i] = (v & 0x7fffffff) > 0x7f800000 ? ((v >>> 16) & 0x8000) | 0x7fc0 : (v + 0x7fff + ((v >>> 16) & 1)) >>> 16;
  }
  return out;
}

/** bfloat16 bits -> Float32Array, into `out` (exact, NaN payloads kept). */
export function bf16ArrayToF32(h: Uint16Array, out: Float32Array = new Float32Array(h.length)): Float32Array {
  checkLength("bf16ArrayToF32", h.length, out);
  const o = new Uint32Array(out.buffer, out.byteOffset, h.length);
  for (let i = 0; i < h.length; i++) o[i] = h[i]! << 16;
  return out;
}

// ---------------------------------------------------------------- float8 e4m3fn

/**
 * float32 bits -> float8e4m3fn (1-4-3, bias 7, no infinities, NaN = S.1111.111, max ±448), as ONNX
 * Cast in onnxruntime:
 * - saturate (the default): ±Inf and values that round beyond ±448 give ±448;
 * - saturate = false: ±Inf and values that round beyond ±448 give NaN, except |x| in [480, 496),
 *   which gives ±448 (a quirk of onnxruntime's and the ONNX reference's conversion, reproduced);
 * - NaN -> 0x7F / 0xFF (sign kept).
 */
export function f32BitsToF8e4m3fn(b: number, saturate = true): number {
  const sign = (b >>> 24) & 0x80;
  const a = b & 0x7fffffff;
  if (a > 0x7f800000) return sign | 0x7f;
  if (a === 0x7f800000) return sign | (saturate ? 0x7e : 0x7f);
  const q = roundMagnitude(a, 3, 7);
  if (q < 0x7f) return sign | q;
  if (saturate || (a >= 0x43f00000 && a < 0x43f80000)) return sign | 0x7e;
  return sign | 0x7f;
}

/** number -> float8e4m3fn bits (via float32). */
export const f32ToF8e4m3fn = (x: number, saturate = true): number => f32BitsToF8e4m3fn(f32Bits(x), saturate);

/** float8e4m3fn bits -> number (exact). */
export function f8e4m3fnToF32(v: number): number {
  const e = (v >>> 3) & 0xf;
  const m = v & 7;
  const s = v & 0x80 ? -1 : 1;
  if (e === 15 && m === 7) return Number.NaN;
  if (e === 0) return s * m * 0.001953125; // 2^-9
  return s * (8 + m) * 2 ** (e - 10);
}

// ---------------------------------------------------------------- float8 e5m2

/**
 * float32 bits -> float8e5m2 (1-5-2, bias 15, IEEE-like with ±Inf, max ±57344), as ONNX Cast in
 * onnxruntime (and the ONNX Cast table):
 * - saturate (the default): ±Inf and values that round beyond ±57344 give ±57344 (Inf does not stay Inf);
 * - saturate = false: ±Inf stays ±Inf, |x| >= 65536 gives ±Inf, and |x| in [61440, 65536) gives NaN
 *   (onnxruntime's conversion ORs the infinity code into the largest finite code there; reproduced);
 * - NaN -> 0x7F / 0xFF (sign kept).
 */
export function f32BitsToF8e5m2(b: number, saturate = true): number {
  const sign = (b >>> 24) & 0x80;
  const a = b & 0x7fffffff;
  if (a > 0x7f800000) return sign | 0x7f;
  if (a === 0x7f800000) return sign | (saturate ? 0x7b : 0x7c);
  const q = roundMagnitude(a, 2, 15);
  if (q < 0x7c) return sign | q;
  if (saturate) return sign | 0x7b;
  return sign | (a < 0x47800000 ? 0x7f : 0x7c);
}

/** number -> float8e5m2 bits (via float32). */
export const f32ToF8e5m2 = (x: number, saturate = true): number => f32BitsToF8e5m2(f32Bits(x), saturate);

/** float8e5m2 bits -> number (exact). */
export function f8e5m2ToF32(v: number): number {
  const e = (v >>> 2) & 0x1f;
  const m = v & 3;
  const s = v & 0x80 ? -1 : 1;
  if (e === 31) return m === 0 ? s * Number.POSITIVE_INFINITY : Number.NaN;
  if (e === 0) return s * m * 1.52587890625e-5; // 2^-16
  return s * (4 + m) * 2 ** (e - 17);
}

let E4M3_LUT: Float32Array | undefined;
let E5M2_LUT: Float32Array | undefined;
/** A table of the 256 float32 values of a float8 format; NaN codes keep their sign (0x7FC00000 / 0xFFC00000). */
function f8Table(decode: (v: number) => number): Float32Array {
  const t = new Float32Array(256);
  const u = new Uint32Array(t.buffer);
  for (let i = 0; i < 256; i++) {
    const v = decode(i);
    if (Number.isNaN(v)) u[i] = i & 0x80 ? 0xffc00000 : 0x7fc00000;
    else t[i] = v;
  }
  return t;
}
/** The 256 float32 values of the float8e4m3fn codes (shared; do not modify). */
export function f8e4m3fnTable(): Float32Array {
  if (!E4M3_LUT) E4M3_LUT = f8Table(f8e4m3fnToF32);
  return E4M3_LUT;
}
/** The 256 float32 values of the float8e5m2 codes (shared; do not modify). */
export function f8e5m2Table(): Float32Array {
  if (!E5M2_LUT) E5M2_LUT = f8Table(f8e5m2ToF32);
  return E5M2_LUT;
}

/** Float32Array -> float8e4m3fn bits, into `out`. */
export function f32ArrayToF8e4m3fn(x: Float32Array, out: Uint8Array = new Uint8Array(x.length), saturate = true): Uint8Array {
  checkLength("f32ArrayToF8e4m3fn", x.length, out);
  const b = new Uint32Array(x.buffer, x.byteOffset, x.length);
  for (let i = 0; i < b.length; i++) out[i] = f32BitsToF8e4m3fn(b[i]!, saturate);
  return out;
}

/** Float32Array -> float8e5m2 bits, into `out`. */
export function f32ArrayToF8e5m2(x: Float32Array, out: Uint8Array = new Uint8Array(x.length), saturate = true): Uint8Array {
  checkLength("f32ArrayToF8e5m2", x.length, out);
  const b = new Uint32Array(x.buffer, x.byteOffset, x.length);
  for (let i = 0; i < b.length; i++) out[i] = f32BitsToF8e5m2(b[i]!, saturate);
  return out;
}

/** float8e4m3fn bits -> Float32Array, into `out` (exact; NaN codes give a quiet NaN of the same sign). */
export function f8e4m3fnArrayToF32(v: Uint8Array, out: Float32Array = new Float32Array(v.length)): Float32Array {
  checkLength("f8e4m3fnArrayToF32", v.length, out);
  const t = new Uint32Array(f8e4m3fnTable().buffer);
  const o = new Uint32Array(out.buffer, out.byteOffset, v.length);
  for (let i = 0; i < v.length; i++) o[i] = t[v[i]!]!;
  return out;
}

/** float8e5m2 bits -> Float32Array, into `out` (exact; NaN codes give a quiet NaN of the same sign). */
export function f8e5m2ArrayToF32(v: Uint8Array, out: Float32Array = new Float32Array(v.length)): Float32Array {
  checkLength("f8e5m2ArrayToF32", v.length, out);
  const t = new Uint32Array(f8e5m2Table().buffer);
  const o = new Uint32Array(out.buffer, out.byteOffset, v.length);
  for (let i = 0; i < v.length; i++) o[i] = t[v[i]!]!;
  return out;
}

// ---------------------------------------------------------------- 4-bit packing

/**
 * Packs one value per element into 4-bit storage, two per byte, LOW nibble first (element 2k in
 * bits 0-3 of byte k, element 2k+1 in bits 4-7). Only the low 4 bits of each value are used (so
 * int4 -1 and uint4 15 both pack as 0xF). An odd count leaves the high nibble of the last byte 0.
 * `out` must hold ceil(n / 2) bytes; it is fully written (no need to zero it).
 */
export function packInt4(values: ArrayLike<number>, out: Uint8Array = new Uint8Array((values.length + 1) >> 1)): Uint8Array {
  const n = values.length;
  checkLength("packInt4", (n + 1) >> 1, out);
  let j = 0;
  for (let i = 0; i + 1 < n; i += 2, j++) out[j] = (values[i]! & 0xf) | ((values[i + 1]! & 0xf) << 4);
  if (n & 1) out[j] = values[n - 1]! & 0xf;
  return out;
}

/** Unpacks `count` int4 values (sign-extended to -8..7) from packed storage. */
export function unpackInt4(packed: Uint8Array, count: number, out: Int8Array = new Int8Array(count)): Int8Array {
  checkLength("unpackInt4", count, out);
  if (packed.length < (count + 1) >> 1) throw new ShapeError(`unpackInt4: ${count} values need ${(count + 1) >> 1} bytes, got ${packed.length}`);
  const pairs = count >> 1;
  for (let j = 0, i = 0; j < pairs; j++, i += 2) {
    const b = packed[j]!;
    out[i] = ((b & 0xf) ^ 8) - 8;
    out[i + 1] = ((b >> 4) ^ 8) - 8;
  }
  if (count & 1) out[count - 1] = ((packed[pairs]! & 0xf) ^ 8) - 8;
  return out;
}

/** Unpacks `count` uint4 values (0..15) from packed storage. */
export function unpackUint4(packed: Uint8Array, count: number, out: Uint8Array = new Uint8Array(count)): Uint8Array {
  checkLength("unpackUint4", count, out);
  if (packed.length < (count + 1) >> 1) throw new ShapeError(`unpackUint4: ${count} values need ${(count + 1) >> 1} bytes, got ${packed.length}`);
  const pairs = count >> 1;
  for (let j = 0, i = 0; j < pairs; j++, i += 2) {
    const b = packed[j]!;
    out[i] = b & 0xf;
    out[i + 1] = b >> 4;
  }
  if (count & 1) out[count - 1] = packed[pairs]! & 0xf;
  return out;
}

/** Element `i` of packed int4 storage (-8..7). */
export const getInt4 = (packed: Uint8Array, i: number): number => ((((packed[i >> 1]! >> ((i & 1) << 2)) & 0xf) ^ 8) - 8);

/** Element `i` of packed uint4 storage (0..15). */
export const getUint4 = (packed: Uint8Array, i: number): number => (packed[i >> 1]! >> ((i & 1) << 2)) & 0xf;

/** Sets element `i` of packed 4-bit storage to the low 4 bits of `v` (the other nibble is kept). */
export function setNibble(packed: Uint8Array, i: number, v: number): void {
  const sh = (i & 1) << 2;
  const j = i >> 1;
  packed[j] = (packed[j]! & (0xf0 >> sh)) | ((v & 0xf) << sh);
}

// ---------------------------------------------------------------- Cast

/** Round half to even, exact for every double. */
export function roundHalfEven(x: number): number {
  if (Math.abs(x) < 2251799813685248) return x + 6755399441055744 - 6755399441055744; // |x| < 2^51: 1.5 * 2^52 trick
  if (Math.abs(x) >= 4503599627370496 || x === Math.floor(x)) return x; // already an integer, ±Inf or NaN
  const f = Math.floor(x);
  return f % 2 === 0 ? f : f + 1;
}

/** Round half away from zero (C's `round`). */
export function roundHalfAway(x: number): number {
  const t = Math.trunc(x);
  const f = x - t; // exact
  return f >= 0.5 ? t + 1 : f <= -0.5 ? t - 1 : t;
}

/** x86 cvttss2si/cvttsd2si: truncation to int32; NaN and out-of-range give INT32_MIN. */
function cvtt32(v: number): number {
  const t = Math.trunc(v);
  return t >= -2147483648 && t < 2147483648 ? t : -2147483648;
}

const TWO63 = 2 ** 63;

/** x86 64-bit truncation: NaN and out-of-range give INT64_MIN. */
function cvtt64(v: number): bigint {
  const t = Math.trunc(v);
  return t >= -TWO63 && t < TWO63 ? BigInt(t) : -(2n ** 63n);
}

/** A 64-bit integer rounded once to float32 (as C's int64 -> float conversion). */
function bigintToF32(b: bigint): number {
  const neg = b < 0n;
  const a = neg ? -b : b;
  if (a <= 9007199254740992n) return Math.fround(neg ? -Number(a) : Number(a));
  const bits = a.toString(2).length;
  const sh = BigInt(bits - 24);
  let m = a >> sh;
  const rem = a & ((1n << sh) - 1n);
  const half = 1n << (sh - 1n);
  if (rem > half || (rem === half && (m & 1n) === 1n)) m += 1n;
  const v = Math.fround(Number(m) * 2 ** (bits - 24));
  return neg ? -v : v;
}

/**
 * Element values as float64 (exact for every dtype except int64/uint64 beyond 2^53, which round to
 * nearest). 4-bit values are unpacked, float16/bfloat16/float8 decoded.
 */
export function toFloat64(t: Tensor): Float64Array {
  const n = size(t.shape);
  const out = new Float64Array(n);
  const d = t.data;
  switch (t.dtype) {
    case "float16": {
      const f = f16ArrayToF32(d as Uint16Array);
      out.set(f.subarray(0, n));
      break;
    }
    case "bfloat16":
      out.set(bf16ArrayToF32(d as Uint16Array).subarray(0, n));
      break;
    case "float8e4m3fn":
      out.set(f8e4m3fnArrayToF32(d as Uint8Array).subarray(0, n));
      break;
    case "float8e5m2":
      out.set(f8e5m2ArrayToF32(d as Uint8Array).subarray(0, n));
      break;
    case "int4":
      out.set(unpackInt4(d as Uint8Array, n));
      break;
    case "uint4":
      out.set(unpackUint4(d as Uint8Array, n));
      break;
    case "int64":
    case "uint64": {
      const s = d as BigInt64Array | BigUint64Array;
      for (let i = 0; i < n; i++) out[i] = Number(s[i]!);
      break;
    }
    default:
      out.set((d as Exclude<Storage, BigInt64Array | BigUint64Array>).subarray(0, n));
  }
  return out;
}

/** Options of {@link castTo}. */
export interface CastOptions {
  /** Float8 targets only: ONNX Cast's `saturate` (default true). */
  readonly saturate?: boolean;
}

const isFloatType = (d: DType) => DTYPES[d].kind === "float";

/**
 * ONNX Cast between any two dtypes, bit-exact with onnxruntime 1.30 on x86-64 (test/cast.test.ts
 * checks all 17 x 17 pairs against it). Float targets round to nearest even; double and integer
 * sources reach float16/bfloat16/float8 through float32 (two roundings, as onnxruntime; int64 ->
 * float32 rounds once); float8 targets follow `saturate`. Integer targets (ONNX leaves out-of-range
 * conversions undefined; these are onnxruntime's results):
 * - from float32/float64/float16/bfloat16: truncation toward zero, then two's-complement wrap-around
 *   to the target width (200.7 -> int8 -56). NaN, ±Inf and values whose truncation is outside int32
 *   (int64 for 64-bit targets) give INT_MIN, i.e. 0 for 8/16-bit targets (x86's conversion result).
 *   uint32/uint64 use x86's unsigned emulation (x >= 2^31: convert x - 2^31, flip the top bit), so
 *   +Inf -> 0 and NaN, -Inf -> 2^31 (2^63); float16 -> uint32 goes through int64 instead (NaN, ±Inf -> 0);
 * - from float8: NaN -> 0, ±Inf -> the target's max / min (uint4: 15 / 0, int4: 0), finite values as above;
 * - int4/uint4 from floats: round half away from zero, then keep the low 4 bits (7.5 -> int4 -8);
 * - from integers: two's-complement wrap-around (int32 200 -> int4 -8, 300 -> int8 44);
 * - bool: any non-zero value, NaN included, gives 1 (float8: any non-zero code, so -0 gives 1 too).
 */
export function castTo<D extends DType>(t: Tensor, dtype: D, options: CastOptions = {}): Tensor<D> {
  const n = size(t.shape);
  const shape = [...t.shape];
  const src = t.dtype;
  if (src === dtype) {
    const bytes = DTYPES[dtype].bits === 4 ? (n + 1) >> 1 : n;
    return { dtype, shape, data: t.data.slice(0, bytes) as Storage<D> };
  }
  const saturate = options.saturate ?? true;
  const out = allocate(dtype, n);
  if (src === "int64" || src === "uint64") {
    castFrom64(t.data as BigInt64Array | BigUint64Array, n, dtype, out, saturate);
    return { dtype, shape, data: out };
  }
  if (src === "bfloat16" && dtype === "float32") {
    bf16ArrayToF32((t.data as Uint16Array).subarray(0, n), out as Float32Array); // bit-exact, signalling NaNs included
    return { dtype, shape, data: out };
  }
  const v = toFloat64(t);
  const fromFloat = isFloatType(src);
  const fromFloat8 = src === "float8e4m3fn" || src === "float8e5m2";
  if (fromFloat8 && !isFloatType(dtype)) {
    castFloat8ToInt(t.data as Uint8Array, v, n, dtype, out);
    return { dtype, shape, data: out };
  }
  switch (dtype) {
    case "float64":
      (out as Float64Array).set(v);
      break;
    case "float32":
      (out as Float32Array).set(v);
      break;
    case "float16":
      f32ArrayToF16(Float32Array.from(v), out as Uint16Array);
      break;
    case "bfloat16":
      f32ArrayToBf16(Float32Array.from(v), out as Uint16Array);
      break;
    case "float8e4m3fn":
      f32ArrayToF8e4m3fn(Float32Array.from(v), out as Uint8Array, saturate);
      break;
    case "float8e5m2":
      f32ArrayToF8e5m2(Float32Array.from(v), out as Uint8Array, saturate);
      break;
    case "bool": {
      const o = out as Uint8Array;
      for (let i = 0; i < n; i++) o[i] = v[i] === 0 ? 0 : 1;
      break;
    }
    case "int4":
    case "uint4": {
      const tmp = new Int32Array(n);
      if (fromFloat) for (let i = 0; i < n; i++) tmp[i] = cvtt32(roundHalfAway(v[i]!));
      else tmp.set(v);
      packInt4(tmp, out as Uint8Array);
      break;
    }
    case "int64": {
      const o = out as BigInt64Array;
      if (fromFloat) for (let i = 0; i < n; i++) o[i] = cvtt64(v[i]!);
      else for (let i = 0; i < n; i++) o[i] = BigInt(v[i]!);
      break;
    }
    case "uint64": {
      const o = out as BigUint64Array;
      if (fromFloat) {
        for (let i = 0; i < n; i++) {
          const x = v[i]!;
          o[i] = BigInt.asUintN(64, x >= TWO63 ? cvtt64(x - TWO63) ^ -(2n ** 63n) : cvtt64(x));
        }
      } else for (let i = 0; i < n; i++) o[i] = BigInt.asUintN(64, BigInt(v[i]!));
      break;
    }
    case "uint32": {
      const o = out as Uint32Array;
      if (src === "float16") {
        for (let i = 0; i < n; i++) o[i] = Number(BigInt.asUintN(32, cvtt64(v[i]!))); // onnxruntime goes through int64 here
      } else if (fromFloat) {
        for (let i = 0; i < n; i++) {
          const x = v[i]!;
          o[i] = x >= 2147483648 ? cvtt32(x - 2147483648) ^ -2147483648 : cvtt32(x);
        }
      } else o.set(v);
      break;
    }
    default: {
      // int8, uint8, int16, uint16, int32: typed-array stores wrap modulo 2^bits, as C's narrowing does.
      const o = out as Int32Array;
      if (fromFloat) for (let i = 0; i < n; i++) o[i] = cvtt32(v[i]!);
      else o.set(v);
    }
  }
  return { dtype, shape, data: out };
}

/**
 * Float8 sources to integer targets, as onnxruntime: NaN -> 0, ±Inf -> the target's max / min
 * (int4: 0, uint4: 15 / 0), finite values as any float (truncate and wrap; 4-bit: round half away,
 * low nibble); bool: any non-zero code, -0 included, is true.
 */
function castFloat8ToInt(codes: Uint8Array, v: Float64Array, n: number, dtype: DType, out: Storage): void {
  const tmp = new Float64Array(n);
  const { min, max } = DTYPES[dtype];
  for (let i = 0; i < n; i++) {
    const x = v[i]!;
    tmp[i] = Number.isNaN(x) ? 0 : x;
  }
  if (dtype === "bool") {
    const o = out as Uint8Array;
    for (let i = 0; i < n; i++) o[i] = codes[i] === 0 ? 0 : 1;
    return;
  }
  const r = castTo({ dtype: "float64", shape: [n], data: tmp }, dtype);
  (out as Uint8Array).set(r.data as Uint8Array);
  if (dtype === "int4") return; // ±Inf -> 0 like other float sources
  for (let i = 0; i < n; i++) {
    const x = v[i]!;
    if (x !== Number.POSITIVE_INFINITY && x !== Number.NEGATIVE_INFINITY) continue;
    const lim = x > 0 ? max : min;
    if (dtype === "uint4") setNibbleValue(out as Uint8Array, i, lim);
    else if (dtype === "int64" || dtype === "uint64") (out as BigInt64Array)[i] = x > 0 ? (dtype === "int64" ? 2n ** 63n - 1n : 2n ** 64n - 1n) : dtype === "int64" ? -(2n ** 63n) : 0n;
    else (out as Int32Array)[i] = lim;
  }
}

function setNibbleValue(packed: Uint8Array, i: number, v: number): void {
  const sh = (i & 1) << 2;
  packed[i >> 1] = (packed[i >> 1]! & (0xf0 >> sh)) | ((v & 0xf) << sh);
}

function castFrom64(s: BigInt64Array | BigUint64Array, n: number, dtype: DType, out: Storage, saturate: boolean): void {
  if (isFloatType(dtype)) {
    if (dtype === "float64") {
      const o = out as Float64Array;
      for (let i = 0; i < n; i++) o[i] = Number(s[i]!);
      return;
    }
    const f = new Float32Array(n);
    for (let i = 0; i < n; i++) f[i] = bigintToF32(s[i]!);
    if (dtype === "float32") (out as Float32Array).set(f);
    else if (dtype === "float16") f32ArrayToF16(f, out as Uint16Array);
    else if (dtype === "bfloat16") f32ArrayToBf16(f, out as Uint16Array);
    else if (dtype === "float8e4m3fn") f32ArrayToF8e4m3fn(f, out as Uint8Array, saturate);
    else f32ArrayToF8e5m2(f, out as Uint8Array, saturate);
    return;
  }
  switch (dtype) {
    case "bool": {
      const o = out as Uint8Array;
      for (let i = 0; i < n; i++) o[i] = s[i] === 0n ? 0 : 1;
      return;
    }
    case "int4":
    case "uint4": {
      const tmp = new Uint8Array(n);
      for (let i = 0; i < n; i++) tmp[i] = Number(BigInt.asUintN(4, s[i]!));
      packInt4(tmp, out as Uint8Array);
      return;
    }
    case "int64": {
      const o = out as BigInt64Array;
      for (let i = 0; i < n; i++) o[i] = BigInt.asIntN(64, s[i]!);
      return;
    }
    case "uint64": {
      const o = out as BigUint64Array;
      for (let i = 0; i < n; i++) o[i] = BigInt.asUintN(64, s[i]!);
      return;
    }
    default: {
      const o = out as Uint32Array;
      for (let i = 0; i < n; i++) o[i] = Number(BigInt.asUintN(32, s[i]!)); // typed-array store wraps further
    }
  }
}
