import type { Node } from "@quanta/ir";
import type { Tensor } from "@quanta/tensor";
import type { Kernel, PrepareContext } from "../../kernel.js";
import { invalid, normAxis } from "../util.js";
import { writeFloats } from "./float_impl.js";
import { numbers, planCache } from "./Reduce.js";

/**
 * TopK (opset 1-22): k from the attribute (opset 1) or the second input, axis, largest, sorted
 * (results are always sorted; equal values keep the lower index first). Values and int64 Indices.
 */
export const TopK: Kernel = {
  op: "TopK",
  prepare(node: Node, ctx: PrepareContext) {
    const axis0 = node.int("axis", -1);
    const largest = node.int("largest", 1) === 1;
    const kAttr = ctx.opset < 10 ? node.int("k", -1) : -1;
    const cache = planCache();
    return (inputs, rt) => {
      const x = inputs[0];
      if (!x) throw invalid(node, "TopK needs X");
      if (x.dtype === "bool" || x.dtype === "int4" || x.dtype === "uint4") throw invalid(node, `TopK on ${x.dtype} is not supported`);
      const k = ctx.opset < 10 ? kAttr : inputs[1] ? Number(inputs[1].data[0]) : -1;
      const axis = normAxis(axis0, x.shape.length, node);
      const len = x.shape[axis]!;
      if (k < 0 || k > len) throw invalid(node, `TopK: k = ${k} for an axis of ${len}`);
      const p = cache(x.shape, [axis]);
      const outShape = [...x.shape];
      outShape[axis] = k;
      const vals = rt.alloc(x.dtype, outShape);
      const wantIdx = node.outputs[1] != null;
      const idx = wantIdx ? rt.alloc("int64", outShape) : { data: new BigInt64Array(vals.data.length) };
      const X = numbers(x);
      const V = new Float64Array(vals.data.length);
      const I = idx.data;
      // Output strides along the axis.
      let inner = 1;
      for (let i = axis + 1; i < x.shape.length; i++) inner *= x.shape[i]!;
      const order = new Array<number>(len);
      const ko = p.keptOffs;
      const ro = p.redOffs;
      for (let o = 0; o < ko.length; o++) {
        const base = ko[o]!;
        for (let i = 0; i < len; i++) order[i] = i;
        order.sort((a, b) => {
          const va = X[base + ro[a]!]!;
          const vb = X[base + ro[b]!]!;
          if (va === vb || (Number.isNaN(va) && Number.isNaN(vb))) return a - b;
          if (Number.isNaN(va)) return largest ? -1 : 1;
          if (Number.isNaN(vb)) return largest ? 1 : -1;
          return largest ? vb - va : va - vb;
        });
        // Output element (outer, j, inner) for kept index o = outer * inner + innerIdx.
        const outer = Math.floor(o / inner);
        const innerIdx = o - outer * inner;
        for (let j = 0; j < k; j++) {
          const at = (outer * k + j) * inner + innerIdx;
          const src = order[j]!;
          V[at] = X[base + ro[src]!]!;
          I[at] = BigInt(src);
        }
      }
      if (x.dtype === "int64" || x.dtype === "uint64") {
        // Copy exact values for 64-bit integers.
        const S = x.data as BigInt64Array;
        const D = vals.data as BigInt64Array;
        for (let t = 0; t < D.length; t++) {
          const outer = Math.floor(t / (k * inner));
          const r = t - outer * k * inner;
          const innerIdx = r % inner;
          D[t] = S[(outer * len + Number(I[t]!)) * inner + innerIdx]!;
        }
      } else writeFloats(vals, V);
      return [vals, wantIdx ? (idx as Tensor) : undefined];
    };
  },
};
