// Variadic elementwise ops (Max, Min, Sum, Mean) and Where, with numpy broadcasting across all inputs.
import type { Tensor } from "@quanta/tensor";
import type { Input, Kernel } from "../../kernel.js";
import { invalid, unsupported } from "../util.js";
import { type Loop2, mapBig2, mapNum2, runLoop2 } from "./binary.js";
import { broadcastAll, forEachRow } from "./broadcast.js";
import { type BigArray, type NumArray, floatOut, floatView, isBigDType, isFloatDType } from "./dtypes.js";

type NumFn = (a: number, b: number) => number;
type BigFn = (a: bigint, b: bigint) => bigint;

const copyLoop: Loop2 = (a, ai, sa, _b, _bi, _sb, o, oi, n) => {
  for (const e = oi + n; oi < e; oi++, ai += sa) o[oi] = a[ai]!;
};

interface VariadicSpec {
  readonly op: string;
  readonly float: Loop2;
  readonly int?: NumFn;
  readonly big?: BigFn;
  readonly mean?: boolean;
}

function variadicKernel(s: VariadicSpec): Kernel {
  return {
    op: s.op,
    prepare(node, ctx) {
      return (inputs, rt) => {
        const xs = inputs.filter((t): t is Tensor => t !== undefined);
        const x0 = xs[0];
        if (!x0) throw invalid(node, `${s.op} needs at least one input`);
        const d = x0.dtype;
        for (const x of xs) if (x.dtype !== d) throw invalid(node, `${s.op} inputs must share one type (${d}, ${x.dtype})`);
        const shapes = xs.map((x) => x.shape);
        const shape = broadcastAll(shapes);
        if (isFloatDType(d)) {
          const out = floatOut(rt, d, shape);
          const o = out.data;
          const v0 = floatView(x0);
          runLoop2(copyLoop, v0, x0.shape, v0, x0.shape, o, shape);
          for (let k = 1; k < xs.length; k++) runLoop2(s.float, o, shape, floatView(xs[k]!), xs[k]!.shape, o, shape);
          if (s.mean && xs.length > 1) {
            const c = xs.length;
            for (let i = 0; i < o.length; i++) o[i] = o[i]! / c;
          }
          return [out.commit()];
        }
        const bad = d === "bool" || d === "int4" || d === "uint4" || d.startsWith("float8");
        const o = rt.alloc(d, shape);
        if (isBigDType(d)) {
          if (!s.big || bad) throw unsupported(node, ctx, `${s.op} on ${d}`);
          const f = s.big;
          const od = o.data as BigArray;
          mapBig2((a) => a, x0.data as BigArray, x0.shape, x0.data as BigArray, x0.shape, od, shape);
          for (let k = 1; k < xs.length; k++) mapBig2(f, od, shape, xs[k]!.data as BigArray, xs[k]!.shape, od, shape);
          return [o];
        }
        if (!s.int || bad) throw unsupported(node, ctx, `${s.op} on ${d}`);
        const f = s.int;
        const od = o.data as NumArray;
        mapNum2((a) => a, x0.data as NumArray, x0.shape, x0.data as NumArray, x0.shape, od, shape);
        for (let k = 1; k < xs.length; k++) mapNum2(f, od, shape, xs[k]!.data as NumArray, xs[k]!.shape, od, shape);
        return [o];
      };
    },
  };
}

/** Max: NaN propagates (numpy.maximum). */
export const Max = variadicKernel({
  op: "Max",
  float: (a, ai, sa, b, bi, sb, o, oi, n) => {
    for (const e = oi + n; oi < e; oi++, ai += sa, bi += sb) o[oi] = Math.max(a[ai]!, b[bi]!);
  },
  int: Math.max,
  // biome-ignore lint/complexity/useMathMinMax: bigints
  big: (a, b) => (a > b ? a : b),
});
/** Min: NaN propagates (numpy.minimum). */
export const Min = variadicKernel({
  op: "Min",
  float: (a, ai, sa, b, bi, sb, o, oi, n) => {
    for (const e = oi + n; oi < e; oi++, ai += sa, bi += sb) o[oi] = Math.min(a[ai]!, b[bi]!);
  },
  int: Math.min,
  // biome-ignore lint/complexity/useMathMinMax: bigints
  big: (a, b) => (a < b ? a : b),
});
const sumLoop: Loop2 = (a, ai, sa, b, bi, sb, o, oi, n) => {
  for (const e = oi + n; oi < e; oi++, ai += sa, bi += sb) o[oi] = a[ai]! + b[bi]!;
};
/** Sum: floats (ONNX), integers too (wrapping). */
export const Sum = variadicKernel({ op: "Sum", float: sumLoop, int: (a, b) => a + b, big: (a, b) => a + b });
/** Mean: floats only (ONNX). float32 sums accumulate in float32, as onnxruntime does. */
export const Mean = variadicKernel({ op: "Mean", float: sumLoop, mean: true });

type IntView = Int8Array | Int16Array | Int32Array;
/** The storage of a 1-, 2- or 4-byte dtype as signed integers of that width (for bit selects). */
function intView(t: Tensor): IntView | undefined {
  const d = t.data;
  if (d instanceof BigInt64Array || d instanceof BigUint64Array || d instanceof Float64Array) return undefined;
  switch (d.BYTES_PER_ELEMENT) {
    case 1:
      return new Int8Array(d.buffer, d.byteOffset, d.length);
    case 2:
      return new Int16Array(d.buffer, d.byteOffset, d.length);
    default:
      return new Int32Array(d.buffer, d.byteOffset, d.length);
  }
}

/**
 * Where(cond, X, Y): X where cond else Y, three-way broadcast, any dtype (elements copied as stored).
 * Dtypes of 1, 2 or 4 bytes select bits with a mask instead of a branch (a random condition makes a
 * branch mispredict half the time).
 */
export const Where: Kernel = {
  op: "Where",
  prepare(node, ctx) {
    const off = new Int32Array(3);
    const step = new Int32Array(3);
    return (inputs: readonly Input[], rt) => {
      const [c, x, y] = inputs;
      if (!c || !x || !y) throw invalid(node, "Where needs condition, X and Y");
      if (c.dtype !== "bool") throw invalid(node, `Where condition must be bool, got ${c.dtype}`);
      if (x.dtype !== y.dtype) throw invalid(node, `Where X and Y types differ (${x.dtype}, ${y.dtype})`);
      if (x.dtype === "int4" || x.dtype === "uint4") throw unsupported(node, ctx, `Where on ${x.dtype}`);
      const shapes = [c.shape, x.shape, y.shape];
      const shape = broadcastAll(shapes);
      const o = rt.alloc(x.dtype, shape);
      const cd = c.data as Uint8Array;
      const xi = intView(x);
      const yi = intView(y);
      const oi = intView(o);
      if (xi && yi && oi) {
        forEachRow(shapes, shape, off, step, (oo, n) => {
          const s0 = step[0]!;
          const s1 = step[1]!;
          const s2 = step[2]!;
          for (let k = 0, i = off[0]!, j = off[1]!, l = off[2]!; k < n; k++, i += s0, j += s1, l += s2) {
            const m = -Number(cd[i] !== 0);
            oi[oo + k] = (xi[j]! & m) | (yi[l]! & ~m);
          }
        });
        return [o];
      }
      const xd = x.data as unknown as ArrayLike<unknown>;
      const yd = y.data as unknown as ArrayLike<unknown>;
      const od = o.data as unknown as unknown[];
      forEachRow(shapes, shape, off, step, (oo, n) => {
        const s0 = step[0]!;
        const s1 = step[1]!;
        const s2 = step[2]!;
        for (let k = 0, i = off[0]!, j = off[1]!, l = off[2]!; k < n; k++, i += s0, j += s1, l += s2) od[oo + k] = cd[i] ? xd[j] : yd[l];
      });
      return [o];
    };
  },
};
