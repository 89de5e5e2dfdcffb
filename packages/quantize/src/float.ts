// float32 -> float16 and float32 -> float8 e4m3fn encoders (bit patterns, round to nearest, ties
// to even) and their decoders, for weights stored in a narrower float type.

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** Rounds `m >> shift` to nearest, ties to even (shift >= 1). */
function shiftRound(m: number, shift: number): number {
  if (shift > 31) return 0;
  const h = m >>> shift;
  const rem = m - h * 2 ** shift;
  const half = 2 ** (shift - 1);
  return rem > half || (rem === half && (h & 1) === 1) ? h + 1 : h;
}

/**
 * float32 -> IEEE binary16 bits. With `saturate` (the default), finite values beyond ±65504 become
 * ±65504 instead of infinity (weights must not turn into infinities); NaN stays NaN.
 */
export function floatToHalf(x: number, saturate = true): number {
  F32[0] = x;
  const b = U32[0]!;
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const mant = b & 0x7fffff;
  if (exp === 0xff) return mant ? 0x7e00 : sign | 0x7c00;
  const e = exp - 127 + 15;
  const overflow = sign | (saturate ? 0x7bff : 0x7c00);
  if (e >= 0x1f) return overflow;
  if (e >= 1) {
    const h = (e << 10) + shiftRound(mant, 13);
    // A carry out of the mantissa moves to the next binade (correct), up to infinity.
    return h >= 0x7c00 ? overflow : sign | h;
  }
  // Subnormal half: units of 2^-24.
  return sign | shiftRound(mant | 0x800000, 14 - e);
}

/** IEEE binary16 bits -> number. */
export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 0x1f) return m ? Number.NaN : s * Number.POSITIVE_INFINITY;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** Largest finite float8 e4m3fn value. */
export const E4M3FN_MAX = 448;

/**
 * float32 -> float8 e4m3fn bits (bias 7, no infinities, 0x7f/0xff are NaN). With `saturate` (ONNX's
 * default), values beyond ±448 become ±448; otherwise NaN.
 */
export function floatToE4M3FN(x: number, saturate = true): number {
  F32[0] = x;
  const b = U32[0]!;
  const sign = (b >>> 24) & 0x80;
  const exp = (b >>> 23) & 0xff;
  const mant = b & 0x7fffff;
  if (exp === 0xff) return mant || !saturate ? 0x7f | sign : 0x7e | sign;
  const overflow = saturate ? sign | 0x7e : sign | 0x7f;
  const e = exp - 127 + 7;
  if (e > 15) return overflow;
  if (e >= 1) {
    const h = (e << 3) + shiftRound(mant, 20);
    return h > 0x7e ? overflow : sign | h;
  }
  // Subnormals: units of 2^-9 (exp === 0, a float32 subnormal, rounds to zero).
  if (exp === 0) return sign;
  return sign | shiftRound(mant | 0x800000, 21 - e);
}

/** float8 e4m3fn bits -> number. */
export function e4m3fnToFloat(v: number): number {
  const s = v & 0x80 ? -1 : 1;
  const e = (v >> 3) & 0xf;
  const m = v & 7;
  if (e === 0xf && m === 7) return Number.NaN;
  if (e === 0) return s * m * 2 ** -9;
  return s * (1 + m / 8) * 2 ** (e - 7);
}

/** Encodes float32 values as float16 bits. */
export function toHalf(x: Float32Array): Uint16Array {
  const out = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = floatToHalf(x[i]!);
  return out;
}
