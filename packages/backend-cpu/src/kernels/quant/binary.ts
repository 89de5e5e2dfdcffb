// com.microsoft QLinearAdd and QLinearMul with onnxruntime's arithmetic (x86-64, AVX2 build).
//
// onnxruntime walks the broadcast output in spans (its Broadcaster): in each span an input is either
// contiguous or one repeated value, and the span kernels round differently, so the spans are
// reproduced exactly here.
//   QLinearAdd (8-bit, MlasQLinearAddKernelAvx2, FMA):  rX = sX/sC, rY = sY/sC,
//     fixed = zC - fma(rX, zX, rY*zY); repeated Y: fixed = fma(y, rY, fixed), out = fma(x, rX, fixed);
//     both spans: out = fma(x, rX, fma(y, rY, fixed)). When A repeats, B plays X (onnxruntime swaps them).
//     Rounded half to even, saturated.
//   QLinearMul (SSE2 kernel): out = round(float((a-zA)*(b-zB)) * (sA*sB/sC) + zC), saturated.
import type { Node } from "@quanta/ir";
import { type DType, type Tensor, size } from "@quanta/tensor";
import type { Input, Kernel } from "../../kernel.js";
import { broadcastShapes, invalid } from "../util.js";
import { fmaF32, fround, qmax, qmin, rne, scalarOf } from "./common.js";

/** onnxruntime's span structure for broadcasting `a` against `b` (a port of its Broadcaster). */
export interface Spans {
  readonly out: number[];
  readonly span: number;
  /** Input 0 (resp. 1) is one repeated value within each span. */
  readonly scalar0: boolean;
  readonly scalar1: boolean;
}

class Iter {
  readonly deltas: number[] = [];
  readonly counts: number[] = [];
  count = 1;
  init(axis: number, largest: number): void {
    this.deltas.push(axis > 1 ? 1 : 0);
    this.counts.push(largest);
    this.count *= axis;
  }
  append(axis: number, largest: number): void {
    const last = this.deltas[this.deltas.length - 1]!;
    if (axis > 1) {
      if (last <= 0) {
        this.deltas.push(this.count);
        this.counts.push(1);
      }
    } else if (last > 0) {
      this.deltas.push(-this.count);
      this.counts.push(1);
    }
    this.counts[this.counts.length - 1]! *= largest;
    this.count *= axis;
  }
}

export function ortSpans(s1: readonly number[], s2: readonly number[]): Spans {
  const out = broadcastShapes(s1, s2);
  const it1 = new Iter();
  const it2 = new Iter();
  const nmax = Math.max(s1.length, s2.length);
  const nmin = Math.min(s1.length, s2.length);
  let index = 0;
  let i1 = s1.length;
  let i2 = s2.length;
  if (nmin === 0) {
    if (s1.length === 0) {
      if (s2.length === 0) {
        it1.init(1, 1);
        it2.init(1, 1);
      } else {
        const axis = s2[--i2]!;
        it1.init(1, axis);
        it2.init(axis, axis);
      }
    } else {
      const axis = s1[--i1]!;
      it1.init(axis, axis);
      it2.init(1, axis);
    }
    index++;
  } else {
    for (; index < nmin; index++) {
      const a1 = s1[--i1]!;
      const a2 = s2[--i2]!;
      const largest = Math.max(a1, a2);
      const smallest = Math.min(a1, a2);
      const dim = smallest === 0 ? smallest : largest;
      if (dim <= 1 && index + 1 < nmin) continue;
      it1.init(a1, dim);
      it2.init(a2, dim);
      index++;
      break;
    }
  }
  for (; index < nmin; index++) {
    const a1 = s1[--i1]!;
    const a2 = s2[--i2]!;
    const largest = Math.max(a1, a2);
    const smallest = Math.min(a1, a2);
    const dim = smallest === 0 ? smallest : largest;
    if (largest === 1) continue;
    it1.append(a1, dim);
    it2.append(a2, dim);
  }
  for (; index < nmax; index++) {
    if (nmax === s2.length) {
      const axis = s2[--i2]!;
      it1.append(1, axis);
      it2.append(axis, axis);
    } else {
      const axis = s1[--i1]!;
      it1.append(axis, axis);
      it2.append(1, axis);
    }
  }
  return { out, span: Math.min(it1.counts[0]!, it2.counts[0]!), scalar0: it1.deltas[0] === 0, scalar1: it2.deltas[0] === 0 };
}

/** Flat index into a tensor of `shape` (broadcast to `out`) for output flat index `o`. */
function broadcastIndex(o: number, out: readonly number[], shape: readonly number[]): number {
  let idx = 0;
  let stride = 1;
  const off = out.length - shape.length;
  for (let d = out.length - 1; d >= 0; d--) {
    const od = out[d]!;
    const pos = o % od;
    o = (o - pos) / od;
    const sd = d - off;
    if (sd >= 0) {
      const dim = shape[sd]!;
      if (dim !== 1) idx += pos * stride;
      stride *= dim;
    }
  }
  return idx;
}

interface QParams {
  readonly sA: number;
  readonly zA: number;
  readonly sB: number;
  readonly zB: number;
  readonly sC: number;
  readonly zC: number;
}

function params(node: Node, inputs: readonly Input[]): QParams {
  const num = (i: number, what: string, dflt: number): number => {
    const t = inputs[i];
    return t ? scalarOf(node, t, what) : dflt;
  };
  return {
    sA: fround(num(1, "A_scale", Number.NaN)),
    zA: num(2, "A_zero_point", 0),
    sB: fround(num(4, "B_scale", Number.NaN)),
    zB: num(5, "B_zero_point", 0),
    sC: fround(num(6, "C_scale", Number.NaN)),
    zC: num(7, "C_zero_point", 0),
  };
}

type Q8 = Uint8Array | Int8Array;

/** The AVX2 add kernel over one span: X contiguous, Y contiguous or (scalarY) one value. */
function addSpan8(
  X: Q8,
  xo: number,
  rX: number,
  Y: Q8,
  yo: number,
  rY: number,
  scalarY: boolean,
  fixed: number,
  out: Q8,
  oo: number,
  n: number,
  lo: number,
  hi: number,
): void {
  if (scalarY) {
    const f = fmaF32(Y[yo]!, rY, fixed);
    for (let i = 0; i < n; i++) {
      out[oo + i] = Math.min(Math.max(rne(fmaF32(X[xo + i]!, rX, f)), lo), hi);
    }
    return;
  }
  for (let i = 0; i < n; i++) {
    out[oo + i] = Math.min(Math.max(rne(fmaF32(X[xo + i]!, rX, fmaF32(Y[yo + i]!, rY, fixed))), lo), hi);
  }
}

function checkTypes(node: Node, a: Tensor, b: Tensor, c: Input, allowed: readonly DType[]): DType {
  if (a.dtype !== b.dtype) throw invalid(node, `${node.op} inputs must have one type, got ${a.dtype} and ${b.dtype}`);
  if (!allowed.includes(a.dtype)) throw invalid(node, `${node.op} does not support ${a.dtype}`);
  if (c && c.dtype !== a.dtype) throw invalid(node, `C_zero_point type ${c.dtype} differs from ${a.dtype}`);
  return a.dtype;
}

/** Visits spans: `f(o, aOff, bOff, n)` with the output offset and the inputs' offsets of each span. */
function forSpans(sp: Spans, aShape: readonly number[], bShape: readonly number[], f: (o: number, ao: number, bo: number, n: number) => void): void {
  const total = size(sp.out);
  const span = sp.span;
  if (total === 0) return;
  for (let o = 0; o < total; o += span) f(o, broadcastIndex(o, sp.out, aShape), broadcastIndex(o, sp.out, bShape), span);
}

export const QLinearAdd: Kernel = {
  op: "QLinearAdd",
  domain: "com.microsoft",
  prepare(node) {
    return (inputs, rt) => {
      const a = inputs[0] as Tensor;
      const b = inputs[3] as Tensor;
      const dt = checkTypes(node, a, b, inputs[7], ["uint8", "int8"]);
      const p = params(node, inputs);
      const sp = ortSpans(a.shape, b.shape);
      const y = rt.alloc(dt, sp.out);
      const lo = qmin(dt);
      const hi = qmax(dt);
      const A = a.data as Q8;
      const B = b.data as Q8;
      const Y = y.data as Q8;
      const rAC = fround(p.sA / p.sC);
      const rBC = fround(p.sB / p.sC);
      if (sp.scalar0) {
        // onnxruntime passes B as the span input and A as the repeated one.
        const fixed = fround(p.zC - fmaF32(rBC, p.zB, fround(rAC * p.zA)));
        forSpans(sp, a.shape, b.shape, (o, ao, bo, n) => addSpan8(B, bo, rBC, A, ao, rAC, true, fixed, Y, o, n, lo, hi));
      } else {
        const fixed = fround(p.zC - fmaF32(rAC, p.zA, fround(rBC * p.zB)));
        const sc = sp.scalar1;
        forSpans(sp, a.shape, b.shape, (o, ao, bo, n) => addSpan8(A, ao, rAC, B, bo, rBC, sc, fixed, Y, o, n, lo, hi));
      }
      return [y];
    };
  },
};

export const QLinearMul: Kernel = {
  op: "QLinearMul",
  domain: "com.microsoft",
  prepare(node) {
    return (inputs, rt) => {
      const a = inputs[0] as Tensor;
      const b = inputs[3] as Tensor;
      const dt = checkTypes(node, a, b, inputs[7], ["uint8", "int8"]);
      const p = params(node, inputs);
      const sp = ortSpans(a.shape, b.shape);
      const y = rt.alloc(dt, sp.out);
      const lo = qmin(dt);
      const hi = qmax(dt);
      const A = a.data as Q8;
      const B = b.data as Q8;
      const Y = y.data as Q8;
      const ratio = fround(fround(p.sA * p.sB) / p.sC);
      const zA = p.zA;
      const zB = p.zB;
      const zC = p.zC;
      const s0 = sp.scalar0;
      const s1 = sp.scalar1;
      forSpans(sp, a.shape, b.shape, (o, ao, bo, n) => {
        for (let i = 0; i < n; i++) {
          const prod = (A[s0 ? ao : ao + i]! - zA) * (B[s1 ? bo : bo + i]! - zB);
          Y[o + i] = Math.min(Math.max(rne(fround(fround(prod * ratio) + zC)), lo), hi);
        }
      });
      return [y];
    };
  },
};

