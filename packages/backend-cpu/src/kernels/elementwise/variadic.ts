// Variadic elementwise ops (Max, Min, Sum, Mean) and Where, with numpy broadcasting.
import type { Tensor } from "@quanta/tensor";
import type { Input, Kernel } from "../../kernel.js";
import { floatData, floatOut, isFloatDType } from "../nn/float_impl.js";
import { invalid } from "../util.js";
import { broadcastAll, broadcastIndex, forEachRow2, num } from "./broadcast.js";

// biome-ignore lint/suspicious/noExplicitAny: number and bigint storages share the element functions
type Fn = (a: any, b: any) => any;

function variadic(op: string, f: Fn, mean = false): Kernel {
  return {
    op,
    prepare(node) {
      return (inputs, rt) => {
        const xs = inputs.filter((t): t is Tensor => t !== undefined);
        if (xs.length === 0) throw invalid(node, `${op} needs at least one input`);
        const d = xs[0]!.dtype;
        if (xs.some((x) => x.dtype !== d)) throw invalid(node, `${op} inputs must share one type`);
        const shape = broadcastAll(xs.map((x) => x.shape));
        const float = isFloatDType(d);
        const out = float ? floatOut(rt, d, shape) : undefined;
        const o = out ? (out.data as unknown as Float64Array) : num(rt.alloc(d, shape) as Tensor);
        const first = float ? floatData(xs[0]!) : num(xs[0]!);
        const idx = broadcastIndex(xs[0]!.shape, shape);
        for (let i = 0; i < idx.length; i++) o[i] = first[idx[i]!]!;
        for (const x of xs.slice(1)) {
          const src = float ? floatData(x) : num(x);
          forEachRow2(shape, x.shape, shape, (ao, bo, oo, n, sa, sb) => {
            for (let k = 0; k < n; k++) o[oo + k] = f(o[ao + k * sa]!, src[bo + k * sb]!);
          });
        }
        if (mean) for (let i = 0; i < o.length; i++) o[i] = o[i]! / xs.length;
        if (out) return [out.commit()];
        return [{ dtype: d, shape, data: o } as unknown as Tensor];
      };
    },
  };
}

// Math.max/min propagate NaN as ONNX wants; bigints compare with the operators.
// biome-ignore lint/complexity/useMathMinMax: bigint branch cannot use Math.max
const max: Fn = (a, b) => (typeof a === "number" ? Math.max(a, b) : a > b ? a : b);
// biome-ignore lint/complexity/useMathMinMax: bigint branch cannot use Math.min
const min: Fn = (a, b) => (typeof a === "number" ? Math.min(a, b) : a < b ? a : b);

export const Max = variadic("Max", max);
export const Min = variadic("Min", min);
export const Sum = variadic("Sum", (a, b) => a + b);
export const Mean = variadic("Mean", (a, b) => a + b, true);

/** Where(cond, X, Y): X where cond else Y, three-way broadcast, any dtype. */
export const Where: Kernel = {
  op: "Where",
  prepare(node) {
    return (inputs: readonly Input[], rt) => {
      const [c, x, y] = inputs;
      if (!c || !x || !y) throw invalid(node, "Where needs condition, X and Y");
      if (x.dtype !== y.dtype) throw invalid(node, `Where X and Y types differ (${x.dtype}, ${y.dtype})`);
      const shape = broadcastAll([c.shape, x.shape, y.shape]);
      const o = rt.alloc(x.dtype, shape) as Tensor;
      const ci = broadcastIndex(c.shape, shape);
      const xi = broadcastIndex(x.shape, shape);
      const yi = broadcastIndex(y.shape, shape);
      const cd = c.data as Uint8Array;
      const xd = num(x);
      const yd = num(y);
      const od = num(o);
      for (let i = 0; i < ci.length; i++) od[i] = cd[ci[i]!] ? xd[xi[i]!]! : yd[yi[i]!]!;
      return [o];
    };
  },
};
