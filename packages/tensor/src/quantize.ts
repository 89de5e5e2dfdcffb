import { DTYPES, type Storage, allocate } from "./dtype.js";
import { type Tensor, size } from "./tensor.js";

/** Integer dtypes QuantizeLinear can produce (int32: biases). */
export type QuantIntDType = "int8" | "uint8" | "int16" | "uint16" | "int32" | "int4" | "uint4";

/**
 * Quantization parameters. `scale` has one entry (per tensor), `shape[axis]` entries (per axis), or
 * the input's shape with dim `axis` replaced by ceil(dim / blockSize) entries (block-wise, row-major).
 * `zeroPoint` has the same length as `scale` (absent: 0).
 */
export interface QuantParams {
  readonly scale: Float32Array;
  readonly zeroPoint?: Int32Array;
  readonly axis?: number;
  readonly blockSize?: number;
}

const RNE_MAGIC = 6755399441055744; // 1.5 * 2^52

/** Round half to even, exact for every double. */
export function roundHalfEven(x: number): number {
  if (Math.abs(x) < 2251799813685248) return x + RNE_MAGIC - RNE_MAGIC;
  if (Math.abs(x) >= 4503599627370496 || x === Math.floor(x)) return x;
  const f = Math.floor(x);
  return f % 2 === 0 ? f : f + 1;
}

/** Clamp with NaN mapped to the lower bound (what onnxruntime's MLAS kernels do). */
function clampLow(v: number, a: number, b: number): number {
  // biome-ignore lint/complexity/useMathMinMax: NaN must map to the lower bound
  const w = v > a ? v : a;
  // biome-ignore lint/complexity/useMathMinMax: same clamp, upper bound
  return w < b ? w : b;
}

interface Layout {
  readonly outer: number;
  readonly dim: number;
  readonly inner: number;
  readonly block: number;
  readonly mode: "tensor" | "axis" | "block";
}

function layout(shape: readonly number[], p: QuantParams): Layout {
  const n = size(shape);
  if (p.axis === undefined || p.scale.length === 1 && !p.blockSize) {
    if (p.scale.length !== 1) throw new RangeError(`per-tensor quantization needs one scale, got ${p.scale.length}`);
    return { outer: 1, dim: 1, inner: n, block: 0, mode: "tensor" };
  }
  const axis = p.axis < 0 ? p.axis + shape.length : p.axis;
  if (axis < 0 || axis >= shape.length) throw new RangeError(`axis ${p.axis} out of range for rank ${shape.length}`);
  const dim = shape[axis]!;
  const outer = size(shape.slice(0, axis));
  const inner = size(shape.slice(axis + 1));
  if (!p.blockSize) {
    if (p.scale.length !== dim) throw new RangeError(`per-axis quantization needs ${dim} scales, got ${p.scale.length}`);
    return { outer, dim, inner, block: 0, mode: "axis" };
  }
  const want = outer * Math.ceil(dim / p.blockSize) * inner;
  if (p.scale.length !== want) throw new RangeError(`block-wise quantization needs ${want} scales, got ${p.scale.length}`);
  return { outer, dim, inner, block: p.blockSize, mode: "block" };
}

/** Calls run(xOff, n, pOff, pStep) for every run of elements sharing a parameter pattern. */
function forRuns(l: Layout, run: (xOff: number, n: number, pOff: number, pStep: number) => void): void {
  if (l.mode === "tensor") return run(0, l.inner, 0, 0);
  const nb = l.mode === "block" ? Math.ceil(l.dim / l.block) : 0;
  let x = 0;
  for (let o = 0; o < l.outer; o++) {
    for (let d = 0; d < l.dim; d++, x += l.inner) {
      if (l.mode === "axis") run(x, l.inner, d, 0);
      else run(x, l.inner, (o * nb + Math.floor(d / l.block)) * l.inner, 1);
    }
  }
}

/**
 * Quantizes float32 values into integers of [qmin, qmax] exactly as onnxruntime's QuantizeLinear:
 * q = saturate(round_half_even(float32(x / scale)) + zero_point); NaN gives qmin. Writes `out[i]` for
 * each element (for 4-bit types `out` holds one value per element; pack with `packInt4`).
 */
export function quantizeValues(x: Float32Array, shape: readonly number[], p: QuantParams, qmin: number, qmax: number, out: Int32Array | Int8Array | Uint8Array | Int16Array | Uint16Array): void {
  const l = layout(shape, p);
  const { scale, zeroPoint: zp } = p;
  forRuns(l, (xOff, n, pOff, pStep) => {
    if (pStep === 0) {
      const s = scale[pOff]!;
      const z = zp ? zp[pOff]! : 0;
      const a = qmin - z;
      const b = qmax - z;
      for (let i = 0; i < n; i++) out[xOff + i] = roundHalfEven(clampLow(Math.fround(x[xOff + i]! / s), a, b)) + z;
      return;
    }
    for (let i = 0, k = pOff; i < n; i++, k += pStep) {
      const z = zp ? zp[k]! : 0;
      out[xOff + i] = roundHalfEven(clampLow(Math.fround(x[xOff + i]! / scale[k]!), qmin - z, qmax - z)) + z;
    }
  });
}

/** Packs one value per element into 4-bit storage, two per byte, low nibble first. */
export function packInt4(values: ArrayLike<number>, out = new Uint8Array(Math.ceil(values.length / 2))): Uint8Array {
  out.fill(0);
  for (let i = 0; i < values.length; i++) out[i >> 1]! |= (values[i]! & 0xf) << ((i & 1) << 2);
  return out;
}

/** Unpacks 4-bit storage into one value per element (sign-extended for int4). */
export function unpackInt4(packed: Uint8Array, count: number, signed: boolean, out = new Int8Array(count)): Int8Array {
  for (let i = 0; i < count; i++) {
    const v = (packed[i >> 1]! >> ((i & 1) << 2)) & 0xf;
    out[i] = signed ? (v ^ 8) - 8 : v;
  }
  return out;
}

/** ONNX QuantizeLinear on a float32 tensor (per tensor, per axis or block-wise), bit-exact with onnxruntime. */
export function quantizeLinear<D extends QuantIntDType>(x: Tensor<"float32">, p: QuantParams, dtype: D): Tensor<D> {
  const info = DTYPES[dtype];
  const n = size(x.shape);
  if (dtype === "int4" || dtype === "uint4") {
    const tmp = new Int8Array(n);
    quantizeValues(x.data, x.shape, p, info.min, info.max, tmp);
    return { dtype, shape: [...x.shape], data: packInt4(tmp) as Storage<D> };
  }
  const out = allocate(dtype, n) as Int32Array;
  quantizeValues(x.data, x.shape, p, info.min, info.max, out);
  return { dtype, shape: [...x.shape], data: out as unknown as Storage<D> };
}

/** ONNX DequantizeLinear: float32((q - zero_point) * scale) for any integer dtype and granularity. */
export function dequantizeLinear(q: Tensor<QuantIntDType>, p: QuantParams): Tensor<"float32"> {
  const n = size(q.shape);
  const vals = q.dtype === "int4" || q.dtype === "uint4" ? unpackInt4(q.data as Uint8Array, n, q.dtype === "int4") : (q.data as Int32Array);
  const out = new Float32Array(n);
  const { scale, zeroPoint: zp } = p;
  forRuns(layout(q.shape, p), (xOff, len, pOff, pStep) => {
    for (let i = 0, k = pOff; i < len; i++, k += pStep) out[xOff + i] = Math.fround((vals[xOff + i]! - (zp ? zp[k]! : 0)) * scale[k]!);
  });
  return { dtype: "float32", shape: [...q.shape], data: out };
}
