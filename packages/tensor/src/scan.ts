import { ShapeError } from "./errors.js";
import { quantParamShape } from "./quantize.js";
import { size } from "./tensor.js";

/** Min, max and NaN count of some values. NaN is skipped: with no other values, min = +Inf and max = -Inf. */
export interface MinMax {
  readonly min: number;
  readonly max: number;
  readonly nanCount: number;
}

/** Min and max of x[offset .. offset+length), NaN-aware (NaNs are counted and skipped). */
export function minMax(x: Float32Array, offset = 0, length: number = x.length - offset): MinMax {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  let nan = 0;
  for (let i = offset, end = offset + length; i < end; i++) {
    const v = x[i]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
    if (Number.isNaN(v)) nan++;
  }
  return { min: lo, max: hi, nanCount: nan };
}

/** Largest |x| over x[offset .. offset+length), NaN skipped (0 when there is nothing else). */
export function absMax(x: Float32Array, offset = 0, length: number = x.length - offset): number {
  let m = 0;
  for (let i = offset, end = offset + length; i < end; i++) {
    const a = Math.abs(x[i]!);
    // biome-ignore lint/complexity/useMathMinMax: NaN must be skipped, Math.max would propagate it
    m = a > m ? a : m;
  }
  return m;
}

/** Per-channel or per-block ranges, laid out like the quantization parameters (see QuantParams). */
export interface RangesAlongAxis {
  readonly min: Float32Array;
  readonly max: Float32Array;
  /** The ONNX shape of the parameter tensor ([dim] per axis, the input shape with dim `axis` -> ceil(dim / blockSize) block-wise). */
  readonly shape: number[];
  readonly nanCount: number;
}

interface Geometry {
  readonly outer: number;
  readonly dim: number;
  readonly inner: number;
  readonly nb: number;
  readonly count: number;
}

function geometry(x: Float32Array, shape: readonly number[], axis: number, blockSize?: number): Geometry {
  const n = size(shape);
  if (x.length < n) throw new ShapeError(`data holds ${x.length} elements, shape [${shape.join(",")}] needs ${n}`);
  const a = axis < 0 ? axis + shape.length : axis;
  if (!Number.isInteger(a) || a < 0 || a >= shape.length) throw new ShapeError(`axis ${axis} is out of range for shape [${shape.join(",")}]`);
  if (blockSize !== undefined && (!Number.isSafeInteger(blockSize) || blockSize <= 0)) throw new ShapeError(`block size must be a positive integer, got ${blockSize}`);
  const dim = shape[a]!;
  let outer = 1;
  for (let i = 0; i < a; i++) outer *= shape[i]!;
  let inner = 1;
  for (let i = a + 1; i < shape.length; i++) inner *= shape[i]!;
  const nb = blockSize ? Math.ceil(dim / blockSize) : dim;
  return { outer, dim, inner, nb, count: blockSize ? outer * nb * inner : dim };
}

/**
 * Min and max per index of `axis` (per channel), or per block of `blockSize` along `axis` (for each
 * index of the other axes), NaN skipped. Empty groups report (+Inf, -Inf).
 */
export function minMaxAlongAxis(x: Float32Array, shape: readonly number[], axis: number, blockSize?: number): RangesAlongAxis {
  const g = geometry(x, shape, axis, blockSize);
  const min = new Float32Array(g.count).fill(Number.POSITIVE_INFINITY);
  const max = new Float32Array(g.count).fill(Number.NEGATIVE_INFINITY);
  let nan = 0;
  const { outer, dim, inner, nb } = g;
  for (let o = 0, x0 = 0; o < outer; o++) {
    for (let d = 0; d < dim; d++, x0 += inner) {
      if (blockSize) {
        const k0 = (o * nb + Math.floor(d / blockSize)) * inner;
        for (let i = 0; i < inner; i++) {
          const v = x[x0 + i]!;
          if (v < min[k0 + i]!) min[k0 + i] = v;
          if (v > max[k0 + i]!) max[k0 + i] = v;
          if (Number.isNaN(v)) nan++;
        }
      } else {
        let lo = min[d]!;
        let hi = max[d]!;
        for (let i = 0; i < inner; i++) {
          const v = x[x0 + i]!;
          if (v < lo) lo = v;
          if (v > hi) hi = v;
          if (Number.isNaN(v)) nan++;
        }
        min[d] = lo;
        max[d] = hi;
      }
    }
  }
  return { min, max, shape: quantParamShape(shape, { axis, ...(blockSize ? { blockSize } : {}) }), nanCount: nan };
}

/** Largest |x| per index of `axis`, or per block of `blockSize` along `axis` (parameter layout), NaN skipped. */
export function absMaxAlongAxis(x: Float32Array, shape: readonly number[], axis: number, blockSize?: number): Float32Array {
  const g = geometry(x, shape, axis, blockSize);
  const m = new Float32Array(g.count);
  const { outer, dim, inner, nb } = g;
  for (let o = 0, x0 = 0; o < outer; o++) {
    for (let d = 0; d < dim; d++, x0 += inner) {
      if (blockSize) {
        const k0 = (o * nb + Math.floor(d / blockSize)) * inner;
        for (let i = 0; i < inner; i++) {
          const a = Math.abs(x[x0 + i]!);
          if (a > m[k0 + i]!) m[k0 + i] = a;
        }
      } else {
        let acc = m[d]!;
        for (let i = 0; i < inner; i++) {
          const a = Math.abs(x[x0 + i]!);
          // biome-ignore lint/complexity/useMathMinMax: NaN must be skipped, Math.max would propagate it
          acc = a > acc ? a : acc;
        }
        m[d] = acc;
      }
    }
  }
  return m;
}

/** NumPy-style broadcast of shapes (dims of 1 stretch). Throws ShapeError when they do not fit. */
export function broadcastShapes(...shapes: readonly (readonly number[])[]): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const j = rank - s.length + i;
      const d = s[i]!;
      const cur = out[j]!;
      if (d === cur || d === 1) continue;
      if (cur === 1) out[j] = d;
      else throw new ShapeError(`shapes ${shapes.map((x) => `[${x.join(",")}]`).join(", ")} do not broadcast (dim ${j}: ${cur} vs ${d})`);
    }
  }
  return out;
}
