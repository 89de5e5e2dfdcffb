import type { Node } from "@quanta/ir";
import type { Kernel } from "../../kernel.js";
import { invalid, normAxis } from "../util.js";
import { writeFloats } from "./float_impl.js";
import { numbers, planCache } from "./Reduce.js";

/** CumSum (opset 11-22): along a scalar axis input; exclusive, reverse. 64-bit integers summed exactly. */
export const CumSum: Kernel = {
  op: "CumSum",
  prepare(node: Node) {
    const exclusive = node.int("exclusive", 0) === 1;
    const reverse = node.int("reverse", 0) === 1;
    const cache = planCache();
    return (inputs, rt) => {
      const x = inputs[0];
      const a = inputs[1];
      if (!x || !a) throw invalid(node, "CumSum needs x and axis");
      const axis = normAxis(Number(a.data[0]), x.shape.length, node);
      const p = cache(x.shape, [axis]);
      const y = rt.alloc(x.dtype, x.shape);
      const ko = p.keptOffs;
      const ro = p.redOffs;
      const R = ro.length;
      if (x.dtype === "int64" || x.dtype === "uint64") {
        const X = x.data as BigInt64Array;
        const Y = y.data as BigInt64Array;
        for (const base of ko) {
          let s = 0n;
          for (let q = 0; q < R; q++) {
            const i = base + ro[reverse ? R - 1 - q : q]!;
            if (exclusive) {
              Y[i] = s;
              s += X[i]!;
            } else {
              s += X[i]!;
              Y[i] = s;
            }
          }
        }
        return [y];
      }
      const X = numbers(x);
      const direct = x.dtype === "float32" || x.dtype === "float64" || x.dtype === "int32" || x.dtype === "uint32";
      const Y = direct ? (y.data as unknown as Float64Array) : new Float64Array(y.data.length);
      for (const base of ko) {
        let s = 0;
        for (let q = 0; q < R; q++) {
          const i = base + ro[reverse ? R - 1 - q : q]!;
          if (exclusive) {
            Y[i] = s;
            s += X[i]!;
          } else {
            s += X[i]!;
            Y[i] = s;
          }
        }
      }
      if (!direct) writeFloats(y, Y);
      return [y];
    };
  },
};
