import type { Node } from "@quanta/ir";
import type { Kernel, PrepareContext } from "../../kernel.js";
import { invalid, normAxis } from "../util.js";
import { floatData, floatOut, isFloatDType } from "./float_impl.js";
import { planCache } from "./Reduce.js";

type Kind = "softmax" | "logsoftmax" | "hardmax";

/**
 * Softmax-like ops. Opset >= 13: over one axis (default -1). Before 13: the input is coerced to 2-D at
 * `axis` (default 1), i.e. normalised over all dims from axis on.
 */
function softmaxKernel(op: string, kind: Kind): Kernel {
  return {
    op,
    prepare(node: Node, ctx: PrepareContext) {
      const modern = ctx.opset >= 13;
      const axis0 = node.int("axis", modern ? -1 : 1);
      const cache = planCache();
      return (inputs, rt) => {
        const x = inputs[0];
        if (!x) throw invalid(node, `${op} needs input`);
        if (!isFloatDType(x.dtype)) throw invalid(node, `${op} on ${x.dtype} is not supported`);
        const rank = x.shape.length;
        const out = floatOut(rt, x.dtype, x.shape);
        if (rank === 0) {
          out.data[0] = kind === "logsoftmax" ? 0 : 1;
          return [out.commit()];
        }
        const axis = normAxis(axis0, rank, node);
        const axes: number[] = [];
        if (modern) axes.push(axis);
        else for (let i = axis; i < rank; i++) axes.push(i);
        const p = cache(x.shape, axes);
        const X = floatData(x);
        const Y = out.data;
        const ko = p.keptOffs;
        const ro = p.redOffs;
        const R = ro.length;
        for (let o = 0; o < ko.length; o++) {
          const base = ko[o]!;
          let m = Number.NEGATIVE_INFINITY;
          let at = 0;
          for (let r = 0; r < R; r++) {
            const v = X[base + ro[r]!]!;
            if (v > m) {
              m = v;
              at = r;
            }
          }
          if (kind === "hardmax") {
            for (let r = 0; r < R; r++) Y[base + ro[r]!] = r === at ? 1 : 0;
            continue;
          }
          let s = 0;
          if (kind === "softmax") {
            for (let r = 0; r < R; r++) {
              const i = base + ro[r]!;
              const e = Math.exp(X[i]! - m);
              Y[i] = e;
              s += e;
            }
            const inv = 1 / s;
            for (let r = 0; r < R; r++) Y[base + ro[r]!]! *= inv;
          } else {
            for (let r = 0; r < R; r++) s += Math.exp(X[base + ro[r]!]! - m);
            const l = m + Math.log(s);
            for (let r = 0; r < R; r++) {
              const i = base + ro[r]!;
              Y[i] = X[i]! - l;
            }
          }
        }
        return [out.commit()];
      };
    },
  };
}

/** Softmax (opset 1-22; axis semantics change at 13). */
export const Softmax: Kernel = softmaxKernel("Softmax", "softmax");
/** LogSoftmax (opset 1-22; axis semantics change at 13). */
export const LogSoftmax: Kernel = softmaxKernel("LogSoftmax", "logsoftmax");
/** Hardmax (opset 1-22; axis semantics change at 13): 1 at the first maximum. */
export const Hardmax: Kernel = softmaxKernel("Hardmax", "hardmax");
