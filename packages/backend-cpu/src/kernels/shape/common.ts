// Helpers shared by the shape / data-movement kernels (not kernels themselves).
import type { Node } from "@quanta/ir";
import { type DType, type Tensor, size, strides, tensor } from "@quanta/tensor";
import type { Input, KernelFn, RunContext } from "../../kernel.js";
import { invalid } from "../util.js";

/**
 * Any storage seen as an indexable array. At run time the elements are numbers or bigints
 * (int64/uint64); data-movement code only copies them, so one static type serves every dtype.
 */
export type Arr = Float64Array;
export const arr = (t: Tensor): Arr => t.data as unknown as Arr;

/** Runs at least this long are copied with `set(subarray)` (a memcpy); shorter ones element by element. */
const RUN = 48;

/** Copies `n` contiguous elements. */
export function copyRun(src: Arr, s: number, dst: Arr, d: number, n: number): void {
  if (n >= RUN) dst.set(src.subarray(s, s + n), d);
  else for (let k = 0; k < n; k++) dst[d + k] = src[s + k]!;
}

/**
 * Strided N-d copy: for every index i of `shape`, dst[dOff + i·dStr] = src[sOff + i·sStr].
 * Strides may be 0 (broadcast) or negative. Dims are coalesced first; contiguous inner runs are
 * copied as runs, broadcast inner runs are filled.
 */
export function copyND(
  shape: readonly number[],
  src: Arr,
  sOff: number,
  sStr: readonly number[],
  dst: Arr,
  dOff: number,
  dStr: readonly number[],
): void {
  const dims: number[] = [];
  const ss: number[] = [];
  const ds: number[] = [];
  for (let i = 0; i < shape.length; i++) {
    const n = shape[i]!;
    if (n === 0) return;
    if (n === 1) continue;
    const k = dims.length - 1;
    // Merge with the previous (outer) dim when it steps exactly over this one in both arrays.
    if (k >= 0 && ss[k] === sStr[i]! * n && ds[k] === dStr[i]! * n) {
      dims[k] = dims[k]! * n;
      ss[k] = sStr[i]!;
      ds[k] = dStr[i]!;
    } else {
      dims.push(n);
      ss.push(sStr[i]!);
      ds.push(dStr[i]!);
    }
  }
  const r = dims.length;
  if (r === 0) {
    dst[dOff] = src[sOff]!;
    return;
  }
  // The two innermost dims run in nested loops; an odometer walks the outer ones.
  const n = dims[r - 1]!;
  const is = ss[r - 1]!;
  const id = ds[r - 1]!;
  const m = r > 1 ? dims[r - 2]! : 1;
  const ms = r > 1 ? ss[r - 2]! : 0;
  const md = r > 1 ? ds[r - 2]! : 0;
  const q = Math.max(r - 2, 0);
  let outer = 1;
  for (let i = 0; i < q; i++) outer *= dims[i]!;
  const ctr = new Array<number>(q).fill(0);
  let s = sOff;
  let d = dOff;
  for (let k = 0; k < outer; k++) {
    if (is === 1 && id === 1) for (let a = 0, sa = s, da = d; a < m; a++, sa += ms, da += md) copyRun(src, sa, dst, da, n);
    else if (is === 0 && id === 1) for (let a = 0, sa = s, da = d; a < m; a++, sa += ms, da += md) dst.fill(src[sa]!, da, da + n);
    else {
      for (let a = 0, sa = s, da = d; a < m; a++, sa += ms, da += md) {
        for (let j = 0, x = sa, y = da; j < n; j++, x += is, y += id) dst[y] = src[x]!;
      }
    }
    for (let i = q - 1; i >= 0; i--) {
      const c = ctr[i]! + 1;
      if (c < dims[i]!) {
        ctr[i] = c;
        s += ss[i]!;
        d += ds[i]!;
        break;
      }
      ctr[i] = 0;
      s -= ss[i]! * (dims[i]! - 1);
      d -= ds[i]! * (dims[i]! - 1);
    }
  }
}

const BLOCK = 32;

/** dst (C×R) = transpose of src (R×C), cache-blocked, four source rows at a time. */
function transpose2D(src: Arr, sOff: number, R: number, C: number, dst: Arr, dOff: number): void {
  for (let i0 = 0; i0 < R; i0 += BLOCK) {
    const i1 = Math.min(R, i0 + BLOCK);
    for (let j0 = 0; j0 < C; j0 += BLOCK) {
      const j1 = Math.min(C, j0 + BLOCK);
      let i = i0;
      for (; i + 4 <= i1; i += 4) {
        const s0 = sOff + i * C;
        const s1 = s0 + C;
        const s2 = s1 + C;
        const s3 = s2 + C;
        for (let j = j0; j < j1; j++) {
          const d = dOff + j * R + i;
          dst[d] = src[s0 + j]!;
          dst[d + 1] = src[s1 + j]!;
          dst[d + 2] = src[s2 + j]!;
          dst[d + 3] = src[s3 + j]!;
        }
      }
      for (; i < i1; i++) {
        const s = sOff + i * C;
        for (let j = j0; j < j1; j++) dst[dOff + j * R + i] = src[s + j]!;
      }
    }
  }
}

/**
 * Transposes `src` (row-major `shape`) by `perm` into contiguous `dst`. Dims of size 1 are dropped and
 * input dims that stay adjacent are merged, so NCHW<->NHWC become batched 2-D transposes (blocked);
 * everything else is a strided copy whose inner runs are copied as runs when the last dim stays last.
 */
export function transposeInto(src: Arr, shape: readonly number[], perm: readonly number[], dst: Arr): void {
  if (size(shape) === 0) return;
  // Coalesce: input dims of size > 1, renumbered compactly, in output order; a dim that follows its
  // input predecessor in the output merges with it.
  const dimsIn = shape.map((_, i) => i).filter((i) => shape[i] !== 1);
  const keep = perm.filter((p) => shape[p] !== 1).map((p) => dimsIn.indexOf(p));
  const groups: number[][] = [];
  for (const p of keep) {
    const last = groups[groups.length - 1];
    if (last && last[last.length - 1]! + 1 === p) last.push(p);
    else groups.push([p]);
  }
  // Each group is a merged input dim; order them by input position to get the coalesced input shape.
  const byInput = [...groups].sort((a, b) => a[0]! - b[0]!);
  const cshape = byInput.map((g) => g.reduce((n, p) => n * shape[dimsIn[p]!]!, 1));
  const cperm = groups.map((g) => byInput.indexOf(g));
  const r = cshape.length;
  if (r <= 1 || cperm.every((p, i) => p === i)) {
    copyRun(src, 0, dst, 0, size(shape));
    return;
  }
  if (r === 2) {
    transpose2D(src, 0, cshape[0]!, cshape[1]!, dst, 0);
    return;
  }
  if (r === 3 && cperm[0] === 0 && cperm[1] === 2 && cperm[2] === 1) {
    const [B, R, C] = cshape as [number, number, number];
    for (let b = 0; b < B; b++) transpose2D(src, b * R * C, R, C, dst, b * R * C);
    return;
  }
  const st = strides(cshape);
  copyND(
    cperm.map((p) => cshape[p]!),
    src,
    0,
    cperm.map((p) => st[p]!),
    dst,
    0,
    strides(cperm.map((p) => cshape[p]!)),
  );
}

/**
 * An integer tensor's values as numbers (int64/uint64 read as 32-bit halves: exact below 2^53,
 * and much faster than Number(bigint)); other dtypes are returned as they are stored.
 */
export function numsOf(t: Tensor): ArrayLike<number> {
  if (t.dtype === "int64" || t.dtype === "uint64") {
    const d = t.data as BigInt64Array;
    const n = d.length;
    const w = new Int32Array(d.buffer, d.byteOffset, 2 * n);
    const out = new Float64Array(n);
    if (t.dtype === "int64") for (let i = 0; i < n; i++) out[i] = w[2 * i + 1]! * 4294967296 + (w[2 * i]! >>> 0);
    else for (let i = 0; i < n; i++) out[i] = (w[2 * i + 1]! >>> 0) * 4294967296 + (w[2 * i]! >>> 0);
    return out;
  }
  return t.data as ArrayLike<number>;
}

/** An integer tensor's values as a plain array of numbers. */
export function nums(t: Tensor): number[] {
  return Array.from(numsOf(t), Number);
}

/** An int64 tensor's storage as 32-bit halves, for writing with `setI64`. */
export const i64Words = (t: Tensor<"int64">): Int32Array => new Int32Array(t.data.buffer, t.data.byteOffset, 2 * t.data.length);

/** Stores a safe integer as element `i` of int64 words (faster than BigInt()). */
export function setI64(w: Int32Array, i: number, v: number): void {
  const hi = Math.floor(v / 4294967296);
  w[2 * i] = (v - hi * 4294967296) | 0;
  w[2 * i + 1] = hi;
}

/** The first element of a tensor as a number. */
export function scalar(t: Tensor): number {
  if (t.data.length < 1) throw new Error(`expected a scalar, got an empty tensor of shape [${t.shape.join(",")}]`);
  return Number(t.data[0] as number | bigint);
}

/** Input `i`, which must be present. */
export function need(node: Node, inputs: readonly Input[], i: number): Tensor {
  const t = inputs[i];
  if (!t) throw invalid(node, `${node.op} needs input ${i}`);
  return t;
}

/** Product of dims [from, to). */
export function prod(shape: readonly number[], from = 0, to = shape.length): number {
  let n = 1;
  for (let i = from; i < to; i++) n *= shape[i]!;
  return n;
}

/** Normalises an axis for `rank`, throwing an InvalidNode naming the node. */
export function axisOf(node: Node, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) throw invalid(node, `axis ${axis} out of range for rank ${rank}`);
  return a;
}

export const is4 = (d: DType): d is "int4" | "uint4" => d === "int4" || d === "uint4";

/** Unpacks a 4-bit tensor to int8/uint8 (one element a byte), not from the pool. */
export function unpack4(t: Tensor): Tensor {
  const n = size(t.shape);
  const s = t.data as Uint8Array;
  if (t.dtype === "int4") {
    const o = new Int8Array(n);
    for (let i = 0; i < n; i++) {
      const b = s[i >> 1]!;
      o[i] = (((i & 1 ? b >> 4 : b) & 15) << 28) >> 28;
    }
    return { dtype: "int8", shape: [...t.shape], data: o };
  }
  const o = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const b = s[i >> 1]!;
    o[i] = (i & 1 ? b >> 4 : b) & 15;
  }
  return { dtype: "uint8", shape: [...t.shape], data: o };
}

/** Packs an int8/uint8 tensor into a pooled 4-bit tensor. */
export function pack4(t: Tensor, dtype: "int4" | "uint4", rt: RunContext): Tensor {
  const out = rt.alloc(dtype, t.shape);
  const o = out.data;
  const s = t.data as Uint8Array | Int8Array;
  const n = size(t.shape);
  for (let i = 0; i < n; i++) o[i >> 1] = o[i >> 1]! | ((s[i]! & 15) << ((i & 1) << 2));
  return out;
}

/**
 * Makes a data-movement kernel function nibble-aware: when an input is int4/uint4, inputs of that
 * type are unpacked to one byte an element, `fn` runs on them (allocating outside the pool), and
 * its int8/uint8 outputs are packed back into pooled 4-bit tensors.
 */
export function nibbles(fn: KernelFn): KernelFn {
  return (inputs, rt) => {
    let d4: "int4" | "uint4" | undefined;
    for (const t of inputs) if (t && is4(t.dtype)) d4 ??= t.dtype;
    if (!d4) return fn(inputs, rt);
    const wide = d4 === "int4" ? "int8" : "uint8";
    const un = inputs.map((t) => (t && t.dtype === d4 ? unpack4(t) : t));
    const tmp: RunContext = { alloc: (d, s) => tensor(d, s), runSubgraph: (p, i) => rt.runSubgraph(p, i) };
    return fn(un, tmp).map((o) => (o && o.dtype === wide ? pack4(o, d4, rt) : o));
  };
}

// ---- element encodings ----

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function f16ToNumber(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? Number.NaN : s * Number.POSITIVE_INFINITY;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

/** float -> IEEE half bits, round to nearest even. */
export function numberToF16(v: number): number {
  f32[0] = v;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const e = (x >>> 23) & 0xff;
  let m = x & 0x7fffff;
  if (e === 0xff) return sign | 0x7c00 | (m ? 0x200 : 0);
  let ex = e - 127 + 15;
  if (ex >= 31) return sign | 0x7c00;
  if (ex <= 0) {
    if (ex < -10) return sign;
    m |= 0x800000;
    const shift = 14 - ex;
    const half = 1 << (shift - 1);
    let r = m >> shift;
    const rem = m & ((1 << shift) - 1);
    if (rem > half || (rem === half && r & 1)) r++;
    return sign | r;
  }
  let r = m >> 13;
  const rem = m & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && r & 1)) {
    r++;
    if (r === 0x400) {
      r = 0;
      ex++;
      if (ex >= 31) return sign | 0x7c00;
    }
  }
  return sign | (ex << 10) | r;
}

export function bf16ToNumber(b: number): number {
  u32[0] = b << 16;
  return f32[0]!;
}

export function numberToBf16(v: number): number {
  f32[0] = v;
  const x = u32[0]!;
  if (Number.isNaN(v)) return ((x >>> 16) & 0x8000) | 0x7fc0;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

/** Stored value -> JS number/bigint with the value's meaning (float16/bfloat16 decoded). Not for fp8. */
export function decoder(d: DType): ((raw: number | bigint) => number | bigint) | undefined {
  if (d === "float16") return (r) => f16ToNumber(r as number);
  if (d === "bfloat16") return (r) => bf16ToNumber(r as number);
  if (d === "float8e4m3fn" || d === "float8e5m2" || is4(d)) return undefined;
  return (r) => r;
}

/** The stored representation of 1 for a dtype. */
export function oneOf(d: DType): number | bigint {
  switch (d) {
    case "float16":
      return 0x3c00;
    case "bfloat16":
      return 0x3f80;
    case "float8e4m3fn":
      return 0x38;
    case "float8e5m2":
      return 0x3c;
    case "int64":
    case "uint64":
      return 1n;
    default:
      return 1;
  }
}

/** Is a stored element non-zero (-0.0 counts as zero for the float formats)? */
export function nonZeroTest(d: DType): (raw: number | bigint) => boolean {
  switch (d) {
    case "float16":
    case "bfloat16":
      return (r) => ((r as number) & 0x7fff) !== 0;
    case "float8e4m3fn":
    case "float8e5m2":
      return (r) => ((r as number) & 0x7f) !== 0;
    case "int64":
    case "uint64":
      return (r) => r !== 0n;
    default:
      return (r) => r !== 0;
  }
}

/** ONNX TensorProto.DataType codes of the dtypes. */
const ONNX_CODES: Record<number, DType> = {
  1: "float32",
  2: "uint8",
  3: "int8",
  4: "uint16",
  5: "int16",
  6: "int32",
  7: "int64",
  9: "bool",
  10: "float16",
  11: "float64",
  12: "uint32",
  13: "uint64",
  16: "bfloat16",
  17: "float8e4m3fn",
  19: "float8e5m2",
  21: "uint4",
  22: "int4",
};
export const dtypeFromOnnx = (code: number): DType | undefined => ONNX_CODES[code];

/** Stores a JS number as an element of `d` (float16/bfloat16 encoded, bigint for 64-bit ints). */
export function encoder(d: DType): ((v: number) => number | bigint) | undefined {
  switch (d) {
    case "float16":
      return numberToF16;
    case "bfloat16":
      return numberToBf16;
    case "int64":
    case "uint64":
      return (v) => BigInt(Math.trunc(v));
    case "float8e4m3fn":
    case "float8e5m2":
    case "int4":
    case "uint4":
      return undefined;
    default:
      return (v) => v;
  }
}

// ---- index helpers ----

/** Index values as numbers, negative ones wrapped by `dim`, range-checked. */
export function indexValues(node: Node, t: Tensor, dim: number): Float64Array {
  const src = numsOf(t);
  const n = src.length;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let v = src[i]!;
    if (v < 0) v += dim;
    if (!(v >= 0 && v < dim)) throw invalid(node, `${node.op}: index ${src[i]} out of range [-${dim}, ${dim})`);
    out[i] = v;
  }
  return out;
}

/**
 * Offsets for element-wise indexing along `axis`: a tensor of `shape` (indices/updates) is walked
 * as rows of its last dim; `bases[row]` is the offset, in a tensor of strides `st`, of the row's
 * first element with the coordinate along `axis` left out; `step` moves one element along the row.
 */
export function rowOffsets(shape: readonly number[], st: readonly number[], axis: number): { bases: Float64Array; width: number; step: number } {
  const r = shape.length;
  const width = r > 0 ? shape[r - 1]! : 1;
  const rows = width === 0 ? 0 : size(shape) / width;
  const bases = new Float64Array(rows);
  const ctr = new Array<number>(Math.max(r - 1, 0)).fill(0);
  let base = 0;
  for (let row = 0; row < rows; row++) {
    bases[row] = base;
    for (let d = r - 2; d >= 0; d--) {
      const step = d === axis ? 0 : st[d]!;
      if (++ctr[d]! < shape[d]!) {
        base += step;
        break;
      }
      base -= step * (shape[d]! - 1);
      ctr[d] = 0;
    }
  }
  return { bases, width, step: r === 0 || axis === r - 1 ? 0 : st[r - 1]! };
}

/** Contiguous row-major strides (re-exported for the kernels of this folder). */
export { strides, size };
