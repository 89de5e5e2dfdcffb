import { f32BitsToF8e4m3fn, f32BitsToF8e5m2, f8e4m3fnTable, f8e5m2Table } from "./convert.js";
import { DTYPES, type Float8DType, type QuantDType, type Storage, allocate, byteLength } from "./dtype.js";
import { InvalidQuantParams, ShapeError } from "./errors.js";
import { type Tensor, size } from "./tensor.js";

/*
 * ONNX QuantizeLinear / DequantizeLinear (opset 21 semantics), bit-exact with onnxruntime's CPU kernels:
 *
 *   quantize:   q = saturate(round_half_even(float32(x / scale)) + zero_point)
 *   dequantize: y = float32(float32(q - zero_point) * scale)
 *
 * Exactness of the reciprocal. The kernels compute float32(x / s) as Math.fround(x * r) with
 * r = 1 / s rounded to a double, which avoids a division per element. This is always the same float32:
 * x and s have 24-bit significands, so the exact quotient x / s is never a float32 rounding midpoint
 * (a 25-bit odd significand) and lies at least 2^-49 (relative) away from every midpoint, while
 * x * r is within 2^-52 (relative) of x / s (two roundings of 2^-53 each). Both therefore round to
 * the same float32 (for results in float32's subnormal range both are far below 0.5 and quantize to
 * zero, and float8 maps them to ±0). test/quantize.test.ts checks it against a division-based
 * reference on millions of random values and constructed near-ties, and against onnxruntime.
 * The double product is never rounded half-to-even directly: that would differ from ONNX on values
 * whose float32 quotient is an exact tie (about 1 in 2^17 of random inputs near the int8 limits).
 *
 * Rounding: (v + 1.5 * 2^52) - 1.5 * 2^52 rounds a double with |v| < 2^51 to an integer, ties to
 * even; values are clamped to [qmin - zp, qmax - zp] first (integers, so clamp-then-round equals
 * round-then-clamp), which also keeps them in that range.
 *
 * NaN and Inf (integer outputs): NaN -> qmin, +Inf -> qmax, -Inf -> qmin, finite values saturate.
 * This is onnxruntime's vectorised (MLAS) path; see README "NaN and Inf" for the onnxruntime paths
 * that differ.
 */

/** Integer dtypes QuantizeLinear can produce here (int32: biases; onnxruntime has no int32 QuantizeLinear). */
export type QuantIntDType = QuantDType;

/** Every dtype quantizeLinear/dequantizeLinear handle: the integer ones and the two float8 formats. */
export type QuantOutputDType = QuantDType | Float8DType;

/**
 * Quantization parameters, one type for every granularity (as ONNX, the scale's length decides):
 * - per tensor: `scale` has one element (`axis` is then ignored);
 * - per axis: `scale` has `shape[axis]` elements;
 * - block-wise: `blockSize` set; `scale` is laid out like the input with dim `axis` replaced by
 *   ceil(shape[axis] / blockSize) (row-major), i.e. ONNX's block-wise scale tensor, flattened.
 * `axis` may be negative (counted from the end); as in ONNX it defaults to 1 when needed.
 * `zeroPoint` has the same length as `scale` (absent: all 0). Its values must fit the quantized dtype;
 * float8 targets need it absent or all 0. Scales are float32 (ONNX's float scale input).
 */
export interface QuantParams {
  readonly scale: Float32Array;
  readonly zeroPoint?: Int32Array;
  readonly axis?: number;
  readonly blockSize?: number;
}

/** Options of quantizeLinear. */
export interface QuantizeOptions {
  /** Float8 targets only: ONNX QuantizeLinear's `saturate` (default true): out-of-range values clamp instead of becoming NaN/Inf. */
  readonly saturate?: boolean;
}

const RNE = 6755399441055744; // 1.5 * 2^52

/** Clamps v to [lo, hi]; NaN gives lo (as onnxruntime's vectorised kernels: maxps returns its second operand for NaN). */
function clamp(v: number, lo: number, hi: number): number {
  // biome-ignore lint/complexity/useMathMinMax: NaN must give lo, Math.max would propagate it
  const w = v > lo ? v : lo;
  // biome-ignore lint/complexity/useMathMinMax: same clamp, upper bound
  return w < hi ? w : hi;
}

// ================================================================ per-dtype kernels, one scale

/**
 * Quantizes x[xOffset .. xOffset+n) with one scale and zero point into out[outOffset ..) as int8.
 * The same contract holds for every `quantize<DType>` kernel: `scale` is used as a float32, the
 * zero point as an integer of the target range, NaN -> qmin, ±Inf saturate.
 */
export function quantizeInt8(x: Float32Array, xOffset: number, n: number, scale: number, zeroPoint: number, out: Int8Array, outOffset: number): void {
  const r = 1 / Math.fround(scale);
  const lo = -128 - zeroPoint;
  const hi = 127 - zeroPoint;
  for (let i = 0; i < n; i++) {
    const v = Math.fround(x[xOffset + i]! * r);
    out[outOffset + i] = clamp(v, lo, hi) + RNE - RNE + zeroPoint;
  }
}

/** quantizeInt8's contract, uint8 output. */
export function quantizeUint8(x: Float32Array, xOffset: number, n: number, scale: number, zeroPoint: number, out: Uint8Array, outOffset: number): void {
  const r = 1 / Math.fround(scale);
  const lo = -zeroPoint;
  const hi = 255 - zeroPoint;
  for (let i = 0; i < n; i++) {
    const v = Math.fround(x[xOffset + i]! * r);
    out[outOffset + i] = clamp(v, lo, hi) + RNE - RNE + zeroPoint;
  }
}

/** quantizeInt8's contract, int16 output. */
export function quantizeInt16(x: Float32Array, xOffset: number, n: number, scale: number, zeroPoint: number, out: Int16Array, outOffset: number): void {
  const r = 1 / Math.fround(scale);
  const lo = -32768 - zeroPoint;
  const hi = 32767 - zeroPoint;
  for (let i = 0; i < n; i++) {
    const v = Math.fround(x[xOffset + i]! * r);
    out[outOffset + i] = clamp(v, lo, hi) + RNE - RNE + zeroPoint;
  }
}

/** quantizeInt8's contract, uint16 output. */
export function quantizeUint16(x: Float32Array, xOffset: number, n: number, scale: number, zeroPoint: number, out: Uint16Array, outOffset: number): void {
  const r = 1 / Math.fround(scale);
  const lo = -zeroPoint;
  const hi = 65535 - zeroPoint;
  for (let i = 0; i < n; i++) {
    const v = Math.fround(x[xOffset + i]! * r);
    out[outOffset + i] = clamp(v, lo, hi) + RNE - RNE + zeroPoint;
  }
}

/** quantizeInt8's contract, int32 output (biases; saturates to the int32 range). */
export function quantizeInt32(x: Float32Array, xOffset: number, n: number, scale: number, zeroPoint: number, out: Int32Array, outOffset: number): void {
  const r = 1 / Math.fround(scale);
  const lo = -2147483648 - zeroPoint;
  const hi = 2147483647 - zeroPoint;
  for (let i = 0; i < n; i++) {
    const v = Math.fround(x[xOffset + i]! * r);
    out[outOffset + i] = clamp(v, lo, hi) + RNE - RNE + zeroPoint;
  }
}

/** One 4-bit quantized value (the low 4 bits of the result are what gets stored). */
function q4(x: number, r: number, lo: number, hi: number, zp: number): number {
  const v = Math.fround(x * r);
  return clamp(v, lo, hi) + RNE - RNE + zp;
}

function quantize4(x: Float32Array, xOffset: number, n: number, r: number, lo: number, hi: number, zp: number, out: Uint8Array, outOffset: number): void {
  if (n <= 0) return;
  let i = 0;
  let e = outOffset;
  if (e & 1) {
    const j = e >> 1;
    out[j] = (out[j]! & 0x0f) | ((q4(x[xOffset]!, r, lo, hi, zp) & 0xf) << 4);
    i = 1;
    e++;
  }
  for (; i + 1 < n; i += 2, e += 2) {
    const a = q4(x[xOffset + i]!, r, lo, hi, zp);
    const b = q4(x[xOffset + i + 1]!, r, lo, hi, zp);
    out[e >> 1] = (a & 0xf) | ((b & 0xf) << 4);
  }
  if (i < n) {
    const j = e >> 1;
    out[j] = (out[j]! & 0xf0) | (q4(x[xOffset + i]!, r, lo, hi, zp) & 0xf);
  }
}

/**
 * quantizeInt8's contract, int4 output packed two per byte (low nibble first). `outOffset` counts
 * elements (nibbles); nibbles outside the written range are kept.
 */
export function quantizeInt4(x: Float32Array, xOffset: number, n: number, scale: number, zeroPoint: number, out: Uint8Array, outOffset: number): void {
  quantize4(x, xOffset, n, 1 / Math.fround(scale), -8 - zeroPoint, 7 - zeroPoint, zeroPoint, out, outOffset);
}

/** quantizeInt4's contract, uint4 output. */
export function quantizeUint4(x: Float32Array, xOffset: number, n: number, scale: number, zeroPoint: number, out: Uint8Array, outOffset: number): void {
  quantize4(x, xOffset, n, 1 / Math.fround(scale), -zeroPoint, 15 - zeroPoint, zeroPoint, out, outOffset);
}

const CHUNK = 2048;
const F32_CHUNK = new Float32Array(CHUNK);
const U32_CHUNK = new Uint32Array(F32_CHUNK.buffer);

/** Casts m float32 bit patterns to float8 codes at out[oo ..). */
function convertFloat8Chunk(bits: Uint32Array, m: number, dtype: Float8DType, saturate: boolean, out: Uint8Array, oo: number): void {
  if (dtype === "float8e4m3fn") for (let i = 0; i < m; i++) out[oo + i] = f32BitsToF8e4m3fn(bits[i]!, saturate);
  else for (let i = 0; i < m; i++) out[oo + i] = f32BitsToF8e5m2(bits[i]!, saturate);
}

/**
 * QuantizeLinear to float8e4m3fn (zero point 0): the float32 quotient x / scale cast with ONNX Cast
 * semantics (see f32BitsToF8e4m3fn): saturate (default) clamps to ±448, NaN -> 0x7F/0xFF.
 */
export function quantizeFloat8e4m3fn(x: Float32Array, xOffset: number, n: number, scale: number, out: Uint8Array, outOffset: number, saturate = true): void {
  const r = 1 / Math.fround(scale);
  for (let base = 0; base < n; base += CHUNK) {
    const m = Math.min(CHUNK, n - base);
    for (let i = 0; i < m; i++) F32_CHUNK[i] = x[xOffset + base + i]! * r;
    convertFloat8Chunk(U32_CHUNK, m, "float8e4m3fn", saturate, out, outOffset + base);
  }
}

/** quantizeFloat8e4m3fn's contract, float8e5m2 output (saturate clamps to ±57344, also ±Inf). */
export function quantizeFloat8e5m2(x: Float32Array, xOffset: number, n: number, scale: number, out: Uint8Array, outOffset: number, saturate = true): void {
  const r = 1 / Math.fround(scale);
  for (let base = 0; base < n; base += CHUNK) {
    const m = Math.min(CHUNK, n - base);
    for (let i = 0; i < m; i++) F32_CHUNK[i] = x[xOffset + base + i]! * r;
    convertFloat8Chunk(U32_CHUNK, m, "float8e5m2", saturate, out, outOffset + base);
  }
}

// ---------------------------------------------------------------- dequantize kernels, one scale

/**
 * Dequantizes q[qOffset .. qOffset+n) into out[outOffset ..) as float32((q - zeroPoint) * scale),
 * the product rounded once to float32 (as onnxruntime: float(q - zp) * scale in float32).
 */
export function dequantizeInt8(q: Int8Array, qOffset: number, n: number, scale: number, zeroPoint: number, out: Float32Array, outOffset: number): void {
  const s = Math.fround(scale);
  for (let i = 0; i < n; i++) out[outOffset + i] = (q[qOffset + i]! - zeroPoint) * s;
}

/** dequantizeInt8's contract, uint8 input. */
export function dequantizeUint8(q: Uint8Array, qOffset: number, n: number, scale: number, zeroPoint: number, out: Float32Array, outOffset: number): void {
  const s = Math.fround(scale);
  for (let i = 0; i < n; i++) out[outOffset + i] = (q[qOffset + i]! - zeroPoint) * s;
}

/** dequantizeInt8's contract, int16 input. */
export function dequantizeInt16(q: Int16Array, qOffset: number, n: number, scale: number, zeroPoint: number, out: Float32Array, outOffset: number): void {
  const s = Math.fround(scale);
  for (let i = 0; i < n; i++) out[outOffset + i] = (q[qOffset + i]! - zeroPoint) * s;
}

/** dequantizeInt8's contract, uint16 input. */
export function dequantizeUint16(q: Uint16Array, qOffset: number, n: number, scale: number, zeroPoint: number, out: Float32Array, outOffset: number): void {
  const s = Math.fround(scale);
  for (let i = 0; i < n; i++) out[outOffset + i] = (q[qOffset + i]! - zeroPoint) * s;
}

/**
 * dequantizeInt8's contract, int32 input: q - zeroPoint wraps around in int32 and is rounded to
 * float32 before the multiply, exactly as onnxruntime.
 */
export function dequantizeInt32(q: Int32Array, qOffset: number, n: number, scale: number, zeroPoint: number, out: Float32Array, outOffset: number): void {
  const s = Math.fround(scale);
  for (let i = 0; i < n; i++) out[outOffset + i] = Math.fround((q[qOffset + i]! - zeroPoint) | 0) * s;
}

/** dequantizeInt8's contract, packed int4 input; `qOffset` counts elements (nibbles). */
export function dequantizeInt4(q: Uint8Array, qOffset: number, n: number, scale: number, zeroPoint: number, out: Float32Array, outOffset: number): void {
  const s = Math.fround(scale);
  for (let i = 0, e = qOffset; i < n; i++, e++) out[outOffset + i] = ((((q[e >> 1]! >> ((e & 1) << 2)) & 0xf) ^ 8) - 8 - zeroPoint) * s;
}

/** dequantizeInt8's contract, packed uint4 input; `qOffset` counts elements (nibbles). */
export function dequantizeUint4(q: Uint8Array, qOffset: number, n: number, scale: number, zeroPoint: number, out: Float32Array, outOffset: number): void {
  const s = Math.fround(scale);
  for (let i = 0, e = qOffset; i < n; i++, e++) out[outOffset + i] = (((q[e >> 1]! >> ((e & 1) << 2)) & 0xf) - zeroPoint) * s;
}

/** DequantizeLinear from float8e4m3fn: float32(value * scale). */
export function dequantizeFloat8e4m3fn(q: Uint8Array, qOffset: number, n: number, scale: number, out: Float32Array, outOffset: number): void {
  const s = Math.fround(scale);
  const t = f8e4m3fnTable();
  for (let i = 0; i < n; i++) out[outOffset + i] = t[q[qOffset + i]!]! * s;
}

/** DequantizeLinear from float8e5m2: float32(value * scale). */
export function dequantizeFloat8e5m2(q: Uint8Array, qOffset: number, n: number, scale: number, out: Float32Array, outOffset: number): void {
  const s = Math.fround(scale);
  const t = f8e5m2Table();
  for (let i = 0; i < n; i++) out[outOffset + i] = t[q[qOffset + i]!]! * s;
}

// ================================================================ layouts

/** How a tensor's elements map to its quantization parameters. */
export interface QuantLayout {
  readonly mode: "tensor" | "axis" | "block";
  /** Elements before / along / after the quantization axis (tensor mode: 1, 1, n). */
  readonly outer: number;
  readonly dim: number;
  readonly inner: number;
  /** Block size (block mode), else 0. */
  readonly block: number;
  /** Number of parameters (scale length). */
  readonly params: number;
}

/**
 * Checks `p` against `shape` and returns the layout. Throws InvalidQuantParams when the scale or
 * zero point length, the axis or the block size do not fit.
 */
export function quantLayout(shape: readonly number[], p: QuantParams): QuantLayout {
  const n = size(shape);
  const ns = p.scale.length;
  if (p.zeroPoint && p.zeroPoint.length !== ns) throw new InvalidQuantParams(`zero point has ${p.zeroPoint.length} elements, scale has ${ns}`);
  if (ns === 1 && !p.blockSize) return { mode: "tensor", outer: 1, dim: 1, inner: n, block: 0, params: 1 };
  const rank = shape.length;
  const a = p.axis ?? 1;
  const axis = a < 0 ? a + rank : a;
  if (!Number.isInteger(axis) || axis < 0 || axis >= rank) throw new InvalidQuantParams(`axis ${a} is out of range for shape [${shape.join(",")}]`);
  const dim = shape[axis]!;
  let outer = 1;
  for (let i = 0; i < axis; i++) outer *= shape[i]!;
  let inner = 1;
  for (let i = axis + 1; i < rank; i++) inner *= shape[i]!;
  if (!p.blockSize) {
    if (ns !== dim) throw new InvalidQuantParams(`per-axis quantization along axis ${axis} of [${shape.join(",")}] needs ${dim} scales, got ${ns}`);
    return { mode: "axis", outer, dim, inner, block: 0, params: ns };
  }
  const b = p.blockSize;
  if (!Number.isSafeInteger(b) || b <= 0) throw new InvalidQuantParams(`block size must be a positive integer, got ${b}`);
  const want = outer * Math.ceil(dim / b) * inner;
  if (ns !== want) throw new InvalidQuantParams(`block-wise quantization (axis ${axis}, block ${b}) of [${shape.join(",")}] needs ${want} scales, got ${ns}`);
  return { mode: "block", outer, dim, inner, block: b, params: ns };
}

/** The ONNX shape of the scale / zero point tensors for a granularity: [] per tensor, [dim] per axis, the input shape with dim `axis` -> ceil(dim / blockSize) block-wise. */
export function quantParamShape(shape: readonly number[], g: { readonly axis?: number; readonly blockSize?: number } = {}): number[] {
  if (g.axis === undefined && !g.blockSize) return [];
  const a = g.axis ?? 1;
  const axis = a < 0 ? a + shape.length : a;
  if (!Number.isInteger(axis) || axis < 0 || axis >= shape.length) throw new ShapeError(`axis ${a} is out of range for shape [${shape.join(",")}]`);
  if (!g.blockSize) return [shape[axis]!];
  const s = [...shape];
  s[axis] = Math.ceil(shape[axis]! / g.blockSize);
  return s;
}

/** The float array holds at least size(shape) elements and the quantized storage enough elements (4-bit: bytes). */
function checkLengths(shape: readonly number[], floats: number, dtype: QuantOutputDType, stored: number): void {
  const n = size(shape);
  const need = DTYPES[dtype].bits === 4 ? (n + 1) >> 1 : n;
  if (floats < n || stored < need) throw new ShapeError(`shape [${shape.join(",")}] needs ${n} float32 values and ${need} ${dtype} storage elements, got ${floats} and ${stored}`);
}

function checkScales(scale: Float32Array): void {
  for (let i = 0; i < scale.length; i++) {
    const s = scale[i]!;
    if (!(Math.abs(s) > 0) || s === Number.POSITIVE_INFINITY || s === Number.NEGATIVE_INFINITY) throw new InvalidQuantParams(`scale[${i}] is ${s}: scales must be finite and non-zero`);
  }
}

function checkZeroPoints(zp: Int32Array | undefined, dtype: QuantOutputDType): void {
  if (!zp) return;
  const info = DTYPES[dtype];
  const float8 = info.kind === "float";
  const lo = float8 ? 0 : info.min;
  const hi = float8 ? 0 : info.max;
  for (let i = 0; i < zp.length; i++) {
    const z = zp[i]!;
    if (z < lo || z > hi) throw new InvalidQuantParams(float8 ? `float8 quantization needs zero points 0, got zeroPoint[${i}] = ${z}` : `zeroPoint[${i}] = ${z} is outside the ${dtype} range [${lo}, ${hi}]`);
  }
}

// ================================================================ per-element-parameter paths

type IntOut = Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array;
const I32_CHUNK = new Int32Array(CHUNK);

/** Quantizes n values where element i uses reciprocal rs[k0 + i] and zero point zp[k0 + i], into I32_CHUNK (n <= CHUNK). */
function quantizeVec(x: Float32Array, xo: number, n: number, rs: Float64Array, k0: number, zp: Int32Array | undefined, qmin: number, qmax: number): void {
  const o = I32_CHUNK;
  if (zp) {
    for (let i = 0; i < n; i++) {
      const z = zp[k0 + i]!;
      const lo = qmin - z;
      const hi = qmax - z;
      const v = Math.fround(x[xo + i]! * rs[k0 + i]!);
      o[i] = clamp(v, lo, hi) + RNE - RNE + z;
    }
  } else {
    for (let i = 0; i < n; i++) {
      const v = Math.fround(x[xo + i]! * rs[k0 + i]!);
      o[i] = clamp(v, qmin, qmax) + RNE - RNE;
    }
  }
}

function writeNibbles(src: Int32Array, n: number, out: Uint8Array, e: number): void {
  for (let i = 0; i < n; i++, e++) {
    const j = e >> 1;
    const sh = (e & 1) << 2;
    out[j] = (out[j]! & (0xf0 >> sh)) | ((src[i]! & 0xf) << sh);
  }
}

/** Elements i of a run use parameter k0 + i: quantize into `out` (any integer kind). */
function quantizeRunVec(x: Float32Array, xo: number, n: number, rs: Float64Array, k0: number, zp: Int32Array | undefined, dtype: QuantOutputDType, saturate: boolean, out: Storage, oo: number): void {
  if (dtype === "float8e4m3fn" || dtype === "float8e5m2") {
    for (let base = 0; base < n; base += CHUNK) {
      const m = Math.min(CHUNK, n - base);
      for (let i = 0; i < m; i++) F32_CHUNK[i] = x[xo + base + i]! * rs[k0 + base + i]!;
      convertFloat8Chunk(U32_CHUNK, m, dtype, saturate, out as Uint8Array, oo + base);
    }
    return;
  }
  const { min, max } = DTYPES[dtype];
  const nibbles = dtype === "int4" || dtype === "uint4";
  for (let base = 0; base < n; base += CHUNK) {
    const m = Math.min(CHUNK, n - base);
    quantizeVec(x, xo + base, m, rs, k0 + base, zp, min, max);
    if (nibbles) writeNibbles(I32_CHUNK, m, out as Uint8Array, oo + base);
    else (out as IntOut).set(I32_CHUNK.subarray(0, m), oo + base);
  }
}

// ================================================================ tensor level

type ScalarQuantKernel<O> = (x: Float32Array, xo: number, n: number, s: number, z: number, out: O, oo: number) => void;

function scalarQuantKernel(dtype: QuantOutputDType, saturate: boolean): ScalarQuantKernel<Storage> {
  switch (dtype) {
    case "int8":
      return quantizeInt8 as ScalarQuantKernel<Storage>;
    case "uint8":
      return quantizeUint8 as ScalarQuantKernel<Storage>;
    case "int16":
      return quantizeInt16 as ScalarQuantKernel<Storage>;
    case "uint16":
      return quantizeUint16 as ScalarQuantKernel<Storage>;
    case "int32":
      return quantizeInt32 as ScalarQuantKernel<Storage>;
    case "int4":
      return quantizeInt4 as ScalarQuantKernel<Storage>;
    case "uint4":
      return quantizeUint4 as ScalarQuantKernel<Storage>;
    case "float8e4m3fn":
      return ((x, xo, n, s, _z, out, oo) => quantizeFloat8e4m3fn(x, xo, n, s, out as Uint8Array, oo, saturate)) as ScalarQuantKernel<Storage>;
    case "float8e5m2":
      return ((x, xo, n, s, _z, out, oo) => quantizeFloat8e5m2(x, xo, n, s, out as Uint8Array, oo, saturate)) as ScalarQuantKernel<Storage>;
  }
}

function reciprocals(scale: Float32Array): Float64Array {
  const r = new Float64Array(scale.length);
  for (let i = 0; i < scale.length; i++) r[i] = 1 / scale[i]!;
  return r;
}

/**
 * Quantizes float32 `x` (row-major, `shape`) into preallocated `out` (storage of `dtype`, 4-bit
 * packed) for any granularity. The low-level engine behind quantizeLinear; parameters are checked
 * for shape only (use quantizeLinear for full validation).
 */
export function quantizeInto(x: Float32Array, shape: readonly number[], p: QuantParams, dtype: QuantOutputDType, out: Storage, options: QuantizeOptions = {}): void {
  const l = quantLayout(shape, p);
  checkLengths(shape, x.length, dtype, out.length);
  const saturate = options.saturate ?? true;
  const kernel = scalarQuantKernel(dtype, saturate);
  const { scale, zeroPoint: zp } = p;
  const { outer, dim, inner } = l;
  if (l.mode === "tensor") {
    kernel(x, 0, inner, scale[0]!, zp ? zp[0]! : 0, out, 0);
  } else if (l.mode === "axis") {
    if (inner === 1) {
      const rs = reciprocals(scale);
      for (let o = 0; o < outer; o++) quantizeRunVec(x, o * dim, dim, rs, 0, zp, dtype, saturate, out, o * dim);
    } else {
      for (let o = 0, x0 = 0; o < outer; o++) for (let d = 0; d < dim; d++, x0 += inner) kernel(x, x0, inner, scale[d]!, zp ? zp[d]! : 0, out, x0);
    }
  } else {
    const b = l.block;
    const nb = Math.ceil(dim / b);
    if (inner === 1) {
      for (let o = 0, k = 0; o < outer; o++) {
        for (let j = 0; j < nb; j++, k++) {
          const x0 = o * dim + j * b;
          kernel(x, x0, Math.min(b, dim - j * b), scale[k]!, zp ? zp[k]! : 0, out, x0);
        }
      }
    } else {
      const rs = reciprocals(scale);
      for (let o = 0, x0 = 0; o < outer; o++) {
        for (let d = 0; d < dim; d++, x0 += inner) quantizeRunVec(x, x0, inner, rs, (o * nb + Math.floor(d / b)) * inner, zp, dtype, saturate, out, x0);
      }
    }
  }
}

/**
 * ONNX QuantizeLinear of a float32 tensor to `dtype` (int8, uint8, int16, uint16, int4/uint4 packed,
 * int32 for biases, float8e4m3fn, float8e5m2), per tensor, per axis or block-wise, bit-exact with
 * onnxruntime. Throws InvalidQuantParams for parameters that do not fit the shape, zero points
 * outside the dtype (or non-zero for float8), and scales that are 0, NaN or infinite.
 */
export function quantizeLinear<D extends QuantOutputDType>(x: Tensor<"float32">, p: QuantParams, dtype: D, options: QuantizeOptions = {}): Tensor<D> {
  const n = size(x.shape);
  if (x.data.length !== n) throw new ShapeError(`tensor data holds ${x.data.length} elements, shape [${x.shape.join(",")}] needs ${n}`);
  checkScales(p.scale);
  checkZeroPoints(p.zeroPoint, dtype);
  const out = allocate(dtype, n);
  quantizeInto(x.data, x.shape, p, dtype, out, options);
  return { dtype, shape: [...x.shape], data: out };
}

// ---------------------------------------------------------------- dequantize

type ScalarDequantKernel = (q: Storage, qo: number, n: number, s: number, z: number, out: Float32Array, oo: number) => void;

function scalarDequantKernel(dtype: QuantOutputDType): ScalarDequantKernel {
  switch (dtype) {
    case "int8":
      return dequantizeInt8 as ScalarDequantKernel;
    case "uint8":
      return dequantizeUint8 as ScalarDequantKernel;
    case "int16":
      return dequantizeInt16 as ScalarDequantKernel;
    case "uint16":
      return dequantizeUint16 as ScalarDequantKernel;
    case "int32":
      return dequantizeInt32 as ScalarDequantKernel;
    case "int4":
      return dequantizeInt4 as ScalarDequantKernel;
    case "uint4":
      return dequantizeUint4 as ScalarDequantKernel;
    case "float8e4m3fn":
      return ((q, qo, n, s, _z, out, oo) => dequantizeFloat8e4m3fn(q as Uint8Array, qo, n, s, out, oo)) as ScalarDequantKernel;
    case "float8e5m2":
      return ((q, qo, n, s, _z, out, oo) => dequantizeFloat8e5m2(q as Uint8Array, qo, n, s, out, oo)) as ScalarDequantKernel;
  }
}

/** Loads n quantized values starting at element qo into I32_CHUNK (n <= CHUNK), float8 as float32 into F32_CHUNK. */
function loadChunk(q: Storage, dtype: QuantOutputDType, qo: number, n: number): void {
  switch (dtype) {
    case "int4": {
      const b = q as Uint8Array;
      for (let i = 0, e = qo; i < n; i++, e++) I32_CHUNK[i] = (((b[e >> 1]! >> ((e & 1) << 2)) & 0xf) ^ 8) - 8;
      return;
    }
    case "uint4": {
      const b = q as Uint8Array;
      for (let i = 0, e = qo; i < n; i++, e++) I32_CHUNK[i] = (b[e >> 1]! >> ((e & 1) << 2)) & 0xf;
      return;
    }
    case "float8e4m3fn":
    case "float8e5m2": {
      const t = dtype === "float8e4m3fn" ? f8e4m3fnTable() : f8e5m2Table();
      const b = q as Uint8Array;
      for (let i = 0; i < n; i++) F32_CHUNK[i] = t[b[qo + i]!]!;
      return;
    }
    default:
      I32_CHUNK.set((q as IntOut).subarray(qo, qo + n));
  }
}

/** Elements i of a run use scale[k0 + i] and zeroPoint[k0 + i]. */
function dequantizeRunVec(q: Storage, dtype: QuantOutputDType, qo: number, n: number, scale: Float32Array, k0: number, zp: Int32Array | undefined, out: Float32Array, oo: number): void {
  const float8 = dtype === "float8e4m3fn" || dtype === "float8e5m2";
  for (let base = 0; base < n; base += CHUNK) {
    const m = Math.min(CHUNK, n - base);
    loadChunk(q, dtype, qo + base, m);
    const k = k0 + base;
    const o = oo + base;
    if (float8) for (let i = 0; i < m; i++) out[o + i] = F32_CHUNK[i]! * scale[k + i]!;
    else if (zp) for (let i = 0; i < m; i++) out[o + i] = Math.fround((I32_CHUNK[i]! - zp[k + i]!) | 0) * scale[k + i]!;
    else for (let i = 0; i < m; i++) out[o + i] = Math.fround(I32_CHUNK[i]!) * scale[k + i]!;
  }
}

/** Dequantizes `q` (storage of `dtype`, 4-bit packed) of `shape` into preallocated float32 `out`, for any granularity. */
export function dequantizeInto(q: Storage, dtype: QuantOutputDType, shape: readonly number[], p: QuantParams, out: Float32Array): void {
  const l = quantLayout(shape, p);
  checkLengths(shape, out.length, dtype, q.length);
  const kernel = scalarDequantKernel(dtype);
  const { scale, zeroPoint: zp } = p;
  const { outer, dim, inner } = l;
  if (l.mode === "tensor") {
    kernel(q, 0, inner, scale[0]!, zp ? zp[0]! : 0, out, 0);
  } else if (l.mode === "axis") {
    if (inner === 1) {
      for (let o = 0; o < outer; o++) dequantizeRunVec(q, dtype, o * dim, dim, scale, 0, zp, out, o * dim);
    } else {
      for (let o = 0, x0 = 0; o < outer; o++) for (let d = 0; d < dim; d++, x0 += inner) kernel(q, x0, inner, scale[d]!, zp ? zp[d]! : 0, out, x0);
    }
  } else {
    const b = l.block;
    const nb = Math.ceil(dim / b);
    if (inner === 1) {
      for (let o = 0, k = 0; o < outer; o++) {
        for (let j = 0; j < nb; j++, k++) {
          const x0 = o * dim + j * b;
          kernel(q, x0, Math.min(b, dim - j * b), scale[k]!, zp ? zp[k]! : 0, out, x0);
        }
      }
    } else {
      for (let o = 0, x0 = 0; o < outer; o++) {
        for (let d = 0; d < dim; d++, x0 += inner) dequantizeRunVec(q, dtype, x0, inner, scale, (o * nb + Math.floor(d / b)) * inner, zp, out, x0);
      }
    }
  }
}

/**
 * ONNX DequantizeLinear: float32((q - zero_point) * scale) for every quantized dtype and granularity,
 * bit-exact with onnxruntime (int32: q - zero_point wraps in int32, as onnxruntime).
 */
export function dequantizeLinear(q: Tensor<QuantOutputDType>, p: QuantParams): Tensor<"float32"> {
  const n = size(q.shape);
  const want = byteLength(q.dtype, n);
  if (q.data.byteLength !== want) throw new ShapeError(`${q.dtype}[${q.shape.join(",")}] needs ${want} bytes, got ${q.data.byteLength}`);
  checkZeroPoints(p.zeroPoint, q.dtype);
  const out = new Float32Array(n);
  dequantizeInto(q.data, q.dtype, q.shape, p, out);
  return { dtype: "float32", shape: [...q.shape], data: out };
}

// ================================================================ custom ranges

/**
 * Quantizes into unpacked integers of a custom range [qmin, qmax] (e.g. [-127, 127] stored as int8,
 * or 4-bit values kept one per element before packing): q = clamp(round_half_even(float32(x / s)) + zp).
 * Same semantics as quantizeLinear otherwise (NaN -> qmin).
 */
export function quantizeValues(x: Float32Array, shape: readonly number[], p: QuantParams, qmin: number, qmax: number, out: IntOut): void {
  const l = quantLayout(shape, p);
  const { scale, zeroPoint: zp } = p;
  const rs = reciprocals(scale);
  const { outer, dim, inner } = l;
  const nb = l.mode === "block" ? Math.ceil(dim / l.block) : 0;
  for (let o = 0, x0 = 0; o < outer; o++) {
    for (let d = 0; d < dim; d++, x0 += inner) {
      const block = l.mode === "block";
      const k0 = block ? (o * nb + Math.floor(d / l.block)) * inner : l.mode === "axis" ? d : 0;
      for (let base = 0; base < inner; base += CHUNK) {
        const m = Math.min(CHUNK, inner - base);
        if (block) {
          quantizeVec(x, x0 + base, m, rs, k0 + base, zp, qmin, qmax);
        } else {
          const z = zp ? zp[k0]! : 0;
          const r = rs[k0]!;
          const lo = qmin - z;
          const hi = qmax - z;
          for (let i = 0; i < m; i++) {
            const v = Math.fround(x[x0 + base + i]! * r);
            I32_CHUNK[i] = clamp(v, lo, hi) + RNE - RNE + z;
          }
        }
        out.set(I32_CHUNK.subarray(0, m), x0 + base);
      }
    }
  }
}

// ================================================================ DynamicQuantizeLinear

/** Result of dynamicQuantizeLinear. */
export interface DynamicQuantized {
  readonly y: Tensor<"uint8">;
  readonly scale: number;
  readonly zeroPoint: number;
}

/**
 * ONNX DynamicQuantizeLinear (uint8), bit-exact with onnxruntime: the range [min(x), max(x)] is
 * widened to include 0; scale = float32((max - min) / 255), or 1 when max == min (all zeros,
 * as onnxruntime; the ONNX formula would divide by zero); zero point = round_half_even(clamp(
 * float32(0 - min / scale), 0, 255)); y = QuantizeLinear(x, scale, zero point).
 * NaN elements are ignored for the range (onnxruntime usually ignores them too, but its vectorised
 * min/max can let a NaN through into the scale depending on its position) and quantize to 0.
 * ±Inf elements give an infinite scale, as in onnxruntime.
 */
export function dynamicQuantizeLinear(x: Tensor<"float32">): DynamicQuantized {
  const d = x.data;
  const n = size(x.shape);
  let lo = 0;
  let hi = 0;
  for (let i = 0; i < n; i++) {
    const v = d[i]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const scale = hi === lo ? 1 : Math.fround(Math.fround(hi - lo) / 255);
  const izp = Math.fround(-lo / scale);
  // std::max(0.f, std::min(255.f, izp)) with std::min(a, b) = b < a ? b : a: NaN -> 255
  const zeroPoint = roundEven(Number.isNaN(izp) ? 255 : Math.max(0, Math.min(255, izp)));
  const y = new Uint8Array(n);
  quantizeUint8(d, 0, n, scale, zeroPoint, y, 0);
  return { y: { dtype: "uint8", shape: [...x.shape], data: y }, scale, zeroPoint };
}

function roundEven(v: number): number {
  return v + RNE - RNE;
}

// ================================================================ fused fast path

/*
 * Fused per-channel symmetric int8 (onnxruntime convention), for rows (axis 0) and columns (axis 1,
 * the last axis, as MatMul weights [K, N] are laid out). Three things make it fast while keeping the
 * result identical to computeQParamsPerChannel + quantizeLinear:
 *
 * - The absmax scans the float32 bit patterns: for non-negative floats the order of the bit patterns
 *   (as integers) is the order of the values, so max(bits & 0x7fffffff) is the bit pattern of
 *   max |x|, with four independent integer accumulators (no float compare chain). NaN patterns are
 *   above +Inf's (0x7f800000), so one compare after the scan tells whether a channel holds NaN or
 *   Inf; only then a NaN-skipping float scan runs (for that channel).
 * - No clamp. With absmax a and s = float32(2a / (qmax - qmin)), every |x| <= a has
 *   |float32(x / s)| <= 127 * (1 + 2^-23) (narrow, [-127, 127]) or 127.5 * (1 + 2^-23) ([-128, 127]),
 *   so round half to even gives at most 127 (narrow) and at most 128 / at least -128 otherwise: the
 *   narrow range needs no clamp at all, the full range only min(q, 127). When the scale falls back
 *   to 1 (a < 127 * FLT_MIN) every value rounds to 0. Channels holding NaN take the clamping loop
 *   (NaN -> qmin, as quantizeLinear).
 * - One add for the rounding: v + 1.5 * 2^52 is the double RNE + round_half_even(v) (|v| < 2^51),
 *   and RNE is a multiple of 2^32, so ToInt32(v + RNE), i.e. (v + RNE) | 0, is round_half_even(v)
 *   itself (V8 converts with a 64-bit cvttsd2si, no slow path); the subtraction of RNE is not needed.
 */

const FLT_MIN = 1.1754943508222875e-38;
const INF_BITS = 0x7f800000;
const BITS = new Int32Array(1);
const BITS_F32 = new Float32Array(BITS.buffer);

function checkMatrix(name: string, x: Float32Array, rows: number, cols: number, out: Int8Array, scales: Float32Array, nScales: number): void {
  if (!Number.isSafeInteger(rows) || !Number.isSafeInteger(cols) || rows < 0 || cols < 0) throw new ShapeError(`${name}: bad matrix shape [${rows}, ${cols}]`);
  if (x.length < rows * cols || out.length < rows * cols || scales.length < nScales) throw new ShapeError(`${name}: arrays too short for [${rows}, ${cols}]`);
}

/** The symmetric onnxruntime scale of absmax a (finite, float32) for qmax - qmin = dq: float32(2a / dq), or 1 when that is below FLT_MIN. */
function symmetricScale(a: number, dq: number): number {
  const s64 = (2 * a) / dq;
  return s64 < FLT_MIN ? 1 : Math.fround(s64);
}

/**
 * Per-row symmetric int8 quantization of a row-major [rows, cols] float32 matrix (per-channel weights
 * along axis 0), fused: per row, one scan for the absmax and one to quantize (the row is then in
 * cache). The parameters follow the onnxruntime convention (see computeQParams): scale =
 * float32(2 * absmax / (qmax - qmin)) with [qmin, qmax] = [-127, 127] (`narrow`, the default) or
 * [-128, 127]; an all-zero (or all-NaN) row gets scale 1; zero point 0. Writes the quantized values
 * into `out` and the scales into `scales` (`rows` of them).
 * The result is identical to quantizeLinear with those parameters (the reciprocal multiply is exact,
 * see the note at the top of this module; tested on millions of values and constructed ties).
 * NaN elements are ignored for the absmax and quantize to qmin, ±Inf give an infinite absmax
 * (throws InvalidQuantParams, as no finite scale exists; rows before it are already written).
 */
export function quantizeInt8SymmetricFast(x: Float32Array, rows: number, cols: number, out: Int8Array, scales: Float32Array, narrow = true): void {
  checkMatrix("quantizeInt8SymmetricFast", x, rows, cols, out, scales, rows);
  const xi = new Int32Array(x.buffer, x.byteOffset, rows * cols);
  const dq = narrow ? 254 : 255;
  const qmin = narrow ? -127 : -128;
  for (let r = 0, base = 0; r < rows; r++, base += cols) {
    const bits = absMaxBitsRun(xi, base, cols);
    if (bits < INF_BITS) {
      BITS[0] = bits;
      const s = symmetricScale(BITS_F32[0]!, dq);
      scales[r] = s;
      if (narrow) quantizeRunNoClamp(x, base, cols, 1 / s, out);
      else quantizeRunMax127(x, base, cols, 1 / s, out);
    } else {
      // NaN or Inf in this row
      const amax = absMaxRun(x, base, cols, 1);
      if (amax === Number.POSITIVE_INFINITY) throw new InvalidQuantParams(`row ${r} holds an infinite value: no finite scale`);
      const s = symmetricScale(amax, dq);
      scales[r] = s;
      quantizeRunClamped(x, base, cols, 1 / s, qmin, out);
    }
  }
}

/**
 * quantizeInt8SymmetricFast per column: a scale for each of the `cols` columns of a row-major
 * [rows, cols] float32 matrix, i.e. per-channel quantization along axis 1 (the last axis), as MatMul
 * weights [K, N] are quantized per output channel. Same parameters, NaN / Inf behaviour and
 * exactness as quantizeInt8SymmetricFast (equal to computeQParamsPerChannel of minMaxAlongAxis(x,
 * [rows, cols], 1) then quantizeLinear with axis 1). Two streaming passes: the column maxima of the
 * absolute values, row by row, then the quantization; `scales` needs `cols` elements and serves
 * as the accumulator of the first pass (its content is unspecified when this throws).
 */
export function quantizeInt8SymmetricFastColumns(x: Float32Array, rows: number, cols: number, out: Int8Array, scales: Float32Array, narrow = true): void {
  checkMatrix("quantizeInt8SymmetricFastColumns", x, rows, cols, out, scales, cols);
  const n = rows * cols;
  const xi = new Int32Array(x.buffer, x.byteOffset, n);
  // the column maxima of bits & 0x7fffffff, kept in the scales' own storage
  const m = new Int32Array(scales.buffer, scales.byteOffset, cols);
  columnAbsMaxBits(xi, rows, cols, m);
  const dq = narrow ? 254 : 255;
  const rcp = new Float64Array(cols);
  let clean = true;
  for (let j = 0; j < cols; j++) {
    let amax: number;
    if (m[j]! < INF_BITS) {
      amax = scales[j]!; // the same bits read as float32
    } else {
      clean = false;
      amax = absMaxRun(x, j, rows, cols);
      if (amax === Number.POSITIVE_INFINITY) throw new InvalidQuantParams(`column ${j} holds an infinite value: no finite scale`);
    }
    const s = symmetricScale(amax, dq);
    scales[j] = s;
    rcp[j] = 1 / s;
  }
  if (!clean) {
    const qmin = narrow ? -127 : -128;
    for (let b = 0; b < n; b += cols) for (let j = 0; j < cols; j++) out[b + j] = clamp(Math.fround(x[b + j]! * rcp[j]!), qmin, 127) + RNE - RNE;
  } else if (narrow) {
    quantizeColumnsNoClamp(x, rows, cols, rcp, out);
  } else {
    quantizeColumnsMax127(x, rows, cols, rcp, out);
  }
}

/** max(bits & 0x7fffffff) over a run of float32 bit patterns, four accumulators. */
function absMaxBitsRun(xi: Int32Array, start: number, n: number): number {
  let m0 = 0;
  let m1 = 0;
  let m2 = 0;
  let m3 = 0;
  let i = start;
  const end = start + n;
  for (const end4 = start + (n & ~3); i < end4; i += 4) {
    m0 = Math.max(m0, xi[i]! & 0x7fffffff);
    m1 = Math.max(m1, xi[i + 1]! & 0x7fffffff);
    m2 = Math.max(m2, xi[i + 2]! & 0x7fffffff);
    m3 = Math.max(m3, xi[i + 3]! & 0x7fffffff);
  }
  for (; i < end; i++) m0 = Math.max(m0, xi[i]! & 0x7fffffff);
  return Math.max(m0, m1, m2, m3);
}

/** m[j] = max over rows of bits & 0x7fffffff of column j, eight rows at a time (one load and store of m[j] per eight elements). */
function columnAbsMaxBits(xi: Int32Array, rows: number, cols: number, m: Int32Array): void {
  m.fill(0);
  const c2 = 2 * cols;
  const c3 = 3 * cols;
  const c4 = 4 * cols;
  const c5 = 5 * cols;
  const c6 = 6 * cols;
  const c7 = 7 * cols;
  let r = 0;
  let b = 0;
  for (; r + 7 < rows; r += 8, b += 8 * cols) {
    for (let j = 0; j < cols; j++) {
      const i = b + j;
      // one Math.max call: splitting it in two (const lo, hi) runs at a quarter of the speed in V8 12
      const v = Math.max(m[j]!, xi[i]! & 0x7fffffff, xi[i + cols]! & 0x7fffffff, xi[i + c2]! & 0x7fffffff, xi[i + c3]! & 0x7fffffff, xi[i + c4]! & 0x7fffffff, xi[i + c5]! & 0x7fffffff, xi[i + c6]! & 0x7fffffff, xi[i + c7]! & 0x7fffffff);
      m[j] = v;
    }
  }
  for (; r < rows; r++, b += cols) for (let j = 0; j < cols; j++) m[j] = Math.max(m[j]!, xi[b + j]! & 0x7fffffff);
}

/** max |x| over n elements start, start + stride, ..., NaN skipped (branch-free select). */
function absMaxRun(x: Float32Array, start: number, n: number, stride: number): number {
  let m = 0;
  for (let k = 0, i = start; k < n; k++, i += stride) {
    const a = Math.abs(x[i]!);
    // biome-ignore lint/complexity/useMathMinMax: NaN must be skipped, Math.max would propagate it
    m = a > m ? a : m;
  }
  return m;
}

/** out[i] = round_half_even(float32(x[i] * r)), for runs known to stay within [-127, 127] (no NaN); unrolled by four. */
function quantizeRunNoClamp(x: Float32Array, start: number, n: number, r: number, out: Int8Array): void {
  let i = start;
  const end = start + n;
  for (const end4 = start + (n & ~3); i < end4; i += 4) {
    out[i] = (Math.fround(x[i]! * r) + RNE) | 0;
    out[i + 1] = (Math.fround(x[i + 1]! * r) + RNE) | 0;
    out[i + 2] = (Math.fround(x[i + 2]! * r) + RNE) | 0;
    out[i + 3] = (Math.fround(x[i + 3]! * r) + RNE) | 0;
  }
  for (; i < end; i++) out[i] = (Math.fround(x[i]! * r) + RNE) | 0;
}

/** quantizeRunNoClamp for runs within [-128, 128] (no NaN): 128 saturates to 127. */
function quantizeRunMax127(x: Float32Array, start: number, n: number, r: number, out: Int8Array): void {
  let i = start;
  const end = start + n;
  for (const end4 = start + (n & ~3); i < end4; i += 4) {
    out[i] = Math.min((Math.fround(x[i]! * r) + RNE) | 0, 127);
    out[i + 1] = Math.min((Math.fround(x[i + 1]! * r) + RNE) | 0, 127);
    out[i + 2] = Math.min((Math.fround(x[i + 2]! * r) + RNE) | 0, 127);
    out[i + 3] = Math.min((Math.fround(x[i + 3]! * r) + RNE) | 0, 127);
  }
  for (; i < end; i++) out[i] = Math.min((Math.fround(x[i]! * r) + RNE) | 0, 127);
}

/** The general run: clamp to [qmin, 127] (NaN -> qmin), then round. */
function quantizeRunClamped(x: Float32Array, start: number, n: number, r: number, qmin: number, out: Int8Array): void {
  for (let i = start, end = start + n; i < end; i++) out[i] = clamp(Math.fround(x[i]! * r), qmin, 127) + RNE - RNE;
}

/** quantizeRunNoClamp with reciprocal rcp[j] for column j, four rows at a time (one rcp load per four elements). */
function quantizeColumnsNoClamp(x: Float32Array, rows: number, cols: number, rcp: Float64Array, out: Int8Array): void {
  const c2 = 2 * cols;
  const c3 = 3 * cols;
  let r = 0;
  let b = 0;
  for (; r + 3 < rows; r += 4, b += 4 * cols) {
    for (let j = 0; j < cols; j++) {
      const q = rcp[j]!;
      const i = b + j;
      out[i] = (Math.fround(x[i]! * q) + RNE) | 0;
      out[i + cols] = (Math.fround(x[i + cols]! * q) + RNE) | 0;
      out[i + c2] = (Math.fround(x[i + c2]! * q) + RNE) | 0;
      out[i + c3] = (Math.fround(x[i + c3]! * q) + RNE) | 0;
    }
  }
  for (; r < rows; r++, b += cols) for (let j = 0; j < cols; j++) out[b + j] = (Math.fround(x[b + j]! * rcp[j]!) + RNE) | 0;
}

/** quantizeColumnsNoClamp where 128 can occur ([-128, 127]): it saturates to 127. */
function quantizeColumnsMax127(x: Float32Array, rows: number, cols: number, rcp: Float64Array, out: Int8Array): void {
  const c2 = 2 * cols;
  const c3 = 3 * cols;
  let r = 0;
  let b = 0;
  for (; r + 3 < rows; r += 4, b += 4 * cols) {
    for (let j = 0; j < cols; j++) {
      const q = rcp[j]!;
      const i = b + j;
      out[i] = Math.min((Math.fround(x[i]! * q) + RNE) | 0, 127);
      out[i + cols] = Math.min((Math.fround(x[i + cols]! * q) + RNE) | 0, 127);
      out[i + c2] = Math.min((Math.fround(x[i + c2]! * q) + RNE) | 0, 127);
      out[i + c3] = Math.min((Math.fround(x[i + c3]! * q) + RNE) | 0, 127);
    }
  }
  for (; r < rows; r++, b += cols) for (let j = 0; j < cols; j++) out[b + j] = Math.min((Math.fround(x[b + j]! * rcp[j]!) + RNE) | 0, 127);
}
