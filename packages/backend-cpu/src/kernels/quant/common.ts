// Shared pure helpers of the quantized kernels: rounding that matches onnxruntime (float32 arithmetic,
// round half to even), zero point / scale readers, 4-bit packing, float16 and float8 conversions, a
// correctly rounded float32 fused multiply-add and numpy matmul shape rules.
import type { Node } from "@quanta/ir";
import { DTYPES, type DType, type Tensor, size } from "@quanta/tensor";
import { invalid } from "../util.js";

export const fround = Math.fround;

const RNE_MAGIC = 6755399441055744; // 1.5 * 2^52

/** Round half to even (nearbyint in the default rounding mode), for every double. */
export function rne(x: number): number {
  if (Math.abs(x) < 2251799813685248) return x + RNE_MAGIC - RNE_MAGIC; // |x| < 2^51: the sum's ulp is 1
  if (Math.abs(x) >= 4503599627370496 || x === Math.floor(x)) return x; // integers (and infinities, NaN)
  const f = Math.floor(x); // 2^51 <= |x| < 2^52: x is f + 0.5
  return f % 2 === 0 ? f : f + 1;
}

/** Clamps v to [a, b]; NaN gives a, as x86 MAXPS/MINPS clamping does in onnxruntime's kernels. */
export function clampLow(v: number, a: number, b: number): number {
  // biome-ignore lint/complexity/useMathMinMax: NaN must map to the lower bound
  const w = v > a ? v : a;
  // biome-ignore lint/complexity/useMathMinMax: same clamp, upper bound
  return w < b ? w : b;
}

/** Integer dtypes that quantized values can have, with their ranges. */
export type QInt = "int8" | "uint8" | "int16" | "uint16" | "int32" | "int4" | "uint4";

export const isQInt = (d: DType): d is QInt =>
  d === "int8" || d === "uint8" || d === "int16" || d === "uint16" || d === "int32" || d === "int4" || d === "uint4";

export const isFloat8 = (d: DType): d is "float8e4m3fn" | "float8e5m2" => d === "float8e4m3fn" || d === "float8e5m2";

export const qmin = (d: DType): number => DTYPES[d].min;
export const qmax = (d: DType): number => DTYPES[d].max;

/** Element i of a packed 4-bit tensor (low nibble first), signed or not. */
export function nibble(data: Uint8Array, i: number, signed: boolean): number {
  const v = (data[i >> 1]! >> ((i & 1) << 2)) & 15;
  return signed ? (v << 28) >> 28 : v;
}

/** Integer values of an integer tensor (any int dtype up to 32 bits, 4-bit unpacked; int64 narrowed). */
export function intValues(t: Tensor): Int32Array {
  const n = size(t.shape);
  const out = new Int32Array(n);
  if (t.dtype === "int4" || t.dtype === "uint4") {
    const d = t.data as Uint8Array;
    const s = t.dtype === "int4";
    for (let i = 0; i < n; i++) out[i] = nibble(d, i, s);
    return out;
  }
  const d = t.data;
  if (d instanceof BigInt64Array || d instanceof BigUint64Array) {
    for (let i = 0; i < n; i++) out[i] = Number(d[i]!);
    return out;
  }
  for (let i = 0; i < n; i++) out[i] = (d as Int32Array)[i]!;
  return out;
}

// ---- float16 / bfloat16 ------------------------------------------------------------------------------------

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const i32 = new Int32Array(f32.buffer);

/** Bits of a float32 value. */
export function f32Bits(x: number): number {
  f32[0] = x;
  return u32[0]!;
}

// float16 / bfloat16 conversions are @quanta/tensor's (round to nearest even, tested exhaustively against onnxruntime).
import { bf16ToF32 as bf16ToFloat, f16ToF32 as halfToFloat, f32ToBf16 as floatToBf16, f32ToF16 as floatToHalf } from "@quanta/tensor";
export { bf16ToFloat, floatToBf16, floatToHalf, halfToFloat };

/** Values of a float tensor (float32, float16, bfloat16, float64) as float32 numbers. */
export function floatValues(t: Tensor): Float32Array {
  const n = size(t.shape);
  switch (t.dtype) {
    case "float32":
      return t.data as Float32Array;
    case "float64":
      return Float32Array.from(t.data as Float64Array);
    case "float16": {
      const d = t.data as Uint16Array;
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = halfToFloat(d[i]!);
      return out;
    }
    case "bfloat16": {
      const d = t.data as Uint16Array;
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = bf16ToFloat(d[i]!);
      return out;
    }
    default:
      throw new Error(`expected a float tensor, got ${t.dtype}`);
  }
}

/** Writes float32 values into a float tensor's storage (float32, float16, bfloat16). */
export function storeFloats(dtype: DType, out: Tensor["data"], src: Float32Array): void {
  const n = src.length;
  if (dtype === "float32") (out as Float32Array).set(src);
  else if (dtype === "float16") for (let i = 0; i < n; i++) (out as Uint16Array)[i] = floatToHalf(src[i]!);
  else if (dtype === "bfloat16") for (let i = 0; i < n; i++) (out as Uint16Array)[i] = floatToBf16(src[i]!);
  else if (dtype === "float64") (out as Float64Array).set(src);
  else throw new Error(`cannot store floats as ${dtype}`);
}

// ---- float8 ------------------------------------------------------------------------------------------------

function f8Table(e4m3: boolean): Float32Array {
  const t = new Float32Array(256);
  for (let b = 0; b < 256; b++) {
    const s = b & 0x80 ? -1 : 1;
    const v = b & 0x7f;
    if (e4m3) {
      const e = v >> 3;
      const m = v & 7;
      t[b] = v === 0x7f ? Number.NaN : e === 0 ? s * m * 2 ** -9 : s * (8 + m) * 2 ** (e - 10);
    } else {
      const e = v >> 2;
      const m = v & 3;
      t[b] = e === 31 ? (m ? Number.NaN : s * Number.POSITIVE_INFINITY) : e === 0 ? s * m * 2 ** -16 : s * (4 + m) * 2 ** (e - 17);
    }
  }
  return t;
}

/** Decoding tables: float value of every float8 bit pattern. */
export const F8E4M3FN = f8Table(true);
export const F8E5M2 = f8Table(false);

/** float32 value to float8e4m3fn bits, round to nearest even; `saturate` clamps to ±448, else NaN. */
export function floatToF8E4M3FN(x: number, saturate: boolean): number {
  const b = f32Bits(x);
  const sign = (b >>> 24) & 0x80;
  if ((b & 0x7f800000) === 0x7f800000) return b & 0x7fffff ? sign | 0x7f : sign | (saturate ? 0x7e : 0x7f);
  const a = Math.abs(x);
  let code: number;
  if (a < 0.015625) code = rne(a * 512); // subnormal range, step 2^-9 (8 is the smallest normal)
  else {
    const E = ((b >>> 23) & 0xff) - 127;
    if (E > 8) return sign | (saturate ? 0x7e : 0x7f);
    const m = b & 0x7fffff;
    code = ((E + 7) << 3) | (m >>> 20);
    const rem = m & 0xfffff;
    if (rem > 0x80000 || (rem === 0x80000 && code & 1)) code++;
    if (code > 0x7e) return sign | (saturate ? 0x7e : 0x7f);
  }
  return sign | code;
}

/** float32 value to float8e5m2 bits, round to nearest even; `saturate` clamps to ±57344, else infinity. */
export function floatToF8E5M2(x: number, saturate: boolean): number {
  const b = f32Bits(x);
  const sign = (b >>> 24) & 0x80;
  if ((b & 0x7f800000) === 0x7f800000) return b & 0x7fffff ? sign | 0x7f : sign | (saturate ? 0x7b : 0x7c);
  const a = Math.abs(x);
  let code: number;
  if (a < 6.103515625e-5) code = rne(a * 65536); // subnormal range, step 2^-16
  else {
    const E = ((b >>> 23) & 0xff) - 127;
    if (E > 15) return sign | (saturate ? 0x7b : 0x7c);
    const m = b & 0x7fffff;
    code = ((E + 15) << 2) | (m >>> 21);
    const rem = m & 0x1fffff;
    if (rem > 0x100000 || (rem === 0x100000 && code & 1)) code++;
    if (code > 0x7b) return sign | (saturate ? 0x7b : 0x7c);
  }
  return sign | code;
}

// ---- float32 fused multiply-add ------------------------------------------------------------------------------

function f32Neighbor(r: number, up: boolean): number {
  if (r === 0) return up ? 1.401298464324817e-45 : -1.401298464324817e-45;
  f32[0] = r;
  i32[0] = i32[0]! + ((r > 0) === up ? 1 : -1);
  return f32[0]!;
}

/**
 * fmaf(a, b, c) for float32 values: a*b + c rounded once to float32 (what an FMA instruction gives).
 * a*b is exact in double; the double sum can only mislead the final rounding when it lands exactly
 * on a float32 midpoint, which the two-sum error term resolves.
 */
export function fmaF32(a: number, b: number, c: number): number {
  const p = a * b;
  const s = p + c;
  const r = fround(s);
  if (r === s) return r;
  const bb = s - p;
  const e = p - (s - bb) + (c - bb);
  if (e === 0) return r;
  const other = f32Neighbor(r, s > r);
  if ((r + other) / 2 !== s) return r;
  return e > 0 === other > r ? other : r;
}

// ---- attributes and inputs ---------------------------------------------------------------------------------

/** A one-element tensor's value as a number (float or int). */
export function scalarOf(node: Node, t: Tensor, what: string): number {
  if (size(t.shape) !== 1) throw invalid(node, `${what} must have one element, got shape [${t.shape.join(",")}]`);
  if (t.dtype === "float32" || t.dtype === "float16" || t.dtype === "bfloat16" || t.dtype === "float64") return floatValues(t)[0]!;
  return intValues(t)[0]!;
}

/** A scale tensor's values as float32 (throws for non-float types). */
export function scalesOf(node: Node, t: Tensor, what: string): Float32Array {
  if (t.dtype !== "float32" && t.dtype !== "float16" && t.dtype !== "bfloat16") throw invalid(node, `${what} must be float, got ${t.dtype}`);
  return floatValues(t);
}

// ---- numpy matmul shapes -----------------------------------------------------------------------------------

export interface MatMulShape {
  readonly M: number;
  readonly K: number;
  readonly N: number;
  /** Output shape. */
  readonly out: number[];
  /** Number of matrices in the output batch. */
  readonly batch: number;
  /** For each output batch index, the batch index into A and B (broadcast). */
  readonly aIndex: Int32Array;
  readonly bIndex: Int32Array;
}

/** numpy.matmul shape rules (1-D operands promoted and their dims dropped from the output). */
export function matmulShape(a: readonly number[], b: readonly number[]): MatMulShape {
  if (a.length === 0 || b.length === 0) throw new Error("MatMul operands must have rank >= 1");
  const aS = a.length === 1 ? [1, a[0]!] : [...a];
  const bS = b.length === 1 ? [b[0]!, 1] : [...b];
  const M = aS[aS.length - 2]!;
  const K = aS[aS.length - 1]!;
  const K2 = bS[bS.length - 2]!;
  const N = bS[bS.length - 1]!;
  if (K !== K2) throw new Error(`MatMul inner dims differ: [${a.join(",")}] x [${b.join(",")}]`);
  const aB = aS.slice(0, -2);
  const bB = bS.slice(0, -2);
  const nb = Math.max(aB.length, bB.length);
  const batchShape: number[] = [];
  for (let i = 0; i < nb; i++) {
    const da = aB[aB.length - nb + i] ?? 1;
    const db = bB[bB.length - nb + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new Error(`MatMul batch dims do not broadcast: [${a.join(",")}] x [${b.join(",")}]`);
    batchShape.push(da === 1 ? db : da);
  }
  const batch = size(batchShape);
  const aIndex = new Int32Array(batch);
  const bIndex = new Int32Array(batch);
  const idx = new Array<number>(nb).fill(0);
  for (let t = 0; t < batch; t++) {
    let ia = 0;
    let ib = 0;
    for (let i = 0; i < nb; i++) {
      const da = aB[aB.length - nb + i] ?? 1;
      const db = bB[bB.length - nb + i] ?? 1;
      ia = ia * da + (da === 1 ? 0 : idx[i]!);
      ib = ib * db + (db === 1 ? 0 : idx[i]!);
    }
    aIndex[t] = ia;
    bIndex[t] = ib;
    for (let i = nb - 1; i >= 0; i--) {
      if (++idx[i]! < batchShape[i]!) break;
      idx[i] = 0;
    }
  }
  const out = [...batchShape];
  if (a.length > 1) out.push(M);
  if (b.length > 1) out.push(N);
  return { M, K, N, out, batch, aIndex, bIndex };
}
