import type { Node } from "@quanta/ir";
import type { Kernel } from "../../kernel.js";
import { invalid } from "../util.js";
import { floatData, floatOut, isFloatDType } from "./float_impl.js";

/** Det (opset 11-22): determinant of [..., M, M] by LU decomposition with partial pivoting (in double precision). */
export const Det: Kernel = {
  op: "Det",
  prepare(node: Node) {
    return (inputs, rt) => {
      const x = inputs[0];
      if (!x || x.shape.length < 2) throw invalid(node, "Det needs X of rank >= 2");
      if (!isFloatDType(x.dtype)) throw invalid(node, `Det on ${x.dtype} is not supported`);
      const n = x.shape[x.shape.length - 1]!;
      if (x.shape[x.shape.length - 2] !== n) throw invalid(node, `Det needs square matrices, got [${x.shape}]`);
      const batch = x.shape.slice(0, -2);
      const X = floatData(x);
      const out = floatOut(rt, x.dtype, batch);
      const a = new Float64Array(n * n);
      for (let b = 0; b < out.data.length; b++) {
        for (let i = 0; i < n * n; i++) a[i] = X[b * n * n + i]!;
        let det = 1;
        for (let c = 0; c < n; c++) {
          let piv = c;
          for (let r = c + 1; r < n; r++) if (Math.abs(a[r * n + c]!) > Math.abs(a[piv * n + c]!)) piv = r;
          const pv = a[piv * n + c]!;
          if (pv === 0) {
            det = 0;
            break;
          }
          if (piv !== c) {
            for (let j = 0; j < n; j++) {
              const t = a[c * n + j]!;
              a[c * n + j] = a[piv * n + j]!;
              a[piv * n + j] = t;
            }
            det = -det;
          }
          det *= pv;
          for (let r = c + 1; r < n; r++) {
            const f = a[r * n + c]! / pv;
            if (f === 0) continue;
            for (let j = c + 1; j < n; j++) a[r * n + j]! -= f * a[c * n + j]!;
          }
        }
        out.data[b] = det;
      }
      return [out.commit()];
    };
  },
};
