import type { Node } from "@quanta/ir";
import type { DType, Tensor } from "@quanta/tensor";
import type { Kernel, PrepareContext } from "../../kernel.js";
import { invalid, unsupported } from "../util.js";
import { arr, axisOf, copyRun, decoder, encoder, indexValues, need, nibbles, numsOf, prod, rowOffsets, strides } from "./common.js";

type Reduction = "none" | "add" | "mul" | "max" | "min";
type Combine = (a: number | bigint, b: number | bigint) => number | bigint;

function reductionOf(node: Node, ctx: PrepareContext): Reduction {
  const r = node.string("reduction", "none");
  if (r !== "none" && r !== "add" && r !== "mul" && r !== "max" && r !== "min") throw unsupported(node, ctx, `reduction '${r}'`);
  return r;
}

/** `a (op) b` on stored elements of `d` (float16/bfloat16 decoded and re-encoded; fp8/4-bit unsupported). */
function combiner(node: Node, d: DType, red: Reduction): Combine {
  if (red === "none") return (_a, b) => b;
  if (d === "bool") {
    if (red === "add" || red === "max") return (a, b) => (a as number) | (b as number);
    return (a, b) => (a as number) & (b as number);
  }
  const dec = decoder(d);
  const enc = encoder(d);
  if (!dec || !enc) throw invalid(node, `${node.op}: reduction '${red}' is not supported for ${d}`);
  let f: Combine;
  if (red === "add") f = (a, b) => (a as number) + (b as number);
  else if (red === "mul") f = d === "int32" || d === "uint32" ? (a, b) => Math.imul(a as number, b as number) : (a, b) => (a as number) * (b as number);
  else if (red === "max") f = (a, b) => (a > b || Number.isNaN(a) ? a : b);
  else f = (a, b) => (a < b || Number.isNaN(a) ? a : b);
  if (d === "float16" || d === "bfloat16") return (a, b) => enc(f(dec(a), dec(b)) as number);
  return f;
}

function checkUpdates(node: Node, x: Tensor, u: Tensor): void {
  if (u.dtype !== x.dtype) throw invalid(node, `${node.op}: updates dtype ${u.dtype} != data dtype ${x.dtype}`);
}

function scatterElements(node: Node, axis: number, red: Reduction) {
  return nibbles((inputs, rt) => {
    const x = need(node, inputs, 0);
    const idx = need(node, inputs, 1);
    const u = need(node, inputs, 2);
    checkUpdates(node, x, u);
    const r = x.shape.length;
    if (idx.shape.length !== r || u.shape.some((d, i) => d !== idx.shape[i])) throw invalid(node, `${node.op}: indices [${idx.shape.join(",")}] and updates [${u.shape.join(",")}] must match, with the data's rank`);
    const a = axisOf(node, axis, r);
    const ind = indexValues(node, idx, x.shape[a]!);
    const out = rt.alloc(x.dtype, x.shape);
    const o = arr(out);
    o.set(arr(x));
    const st = strides(x.shape);
    const sa = st[a]!;
    const up = arr(u);
    const { bases, width, step } = rowOffsets(idx.shape, st, a);
    const f = red === "none" ? undefined : combiner(node, x.dtype, red);
    for (let row = 0, i = 0; row < bases.length; row++) {
      const base = bases[row]!;
      for (let j = 0; j < width; j++, i++) {
        const p = base + j * step + ind[i]! * sa;
        o[p] = f ? (f(o[p]!, up[i]!) as number) : up[i]!;
      }
    }
    return [out];
  });
}

/** ScatterElements (opset 11+; reduction add/mul at 16, max/min at 18). */
export const ScatterElements: Kernel = {
  op: "ScatterElements",
  prepare(node, ctx) {
    return scatterElements(node, node.int("axis", 0), reductionOf(node, ctx));
  },
};

/** Scatter (opset 9-10, deprecated): ScatterElements without reduction. */
export const Scatter: Kernel = {
  op: "Scatter",
  prepare(node) {
    return scatterElements(node, node.int("axis", 0), "none");
  },
};

/** ScatterND (reduction add/mul at 16, max/min at 18): each index tuple updates a slice of the data. */
export const ScatterND: Kernel = {
  op: "ScatterND",
  prepare(node, ctx) {
    const red = reductionOf(node, ctx);
    return nibbles((inputs, rt) => {
      const x = need(node, inputs, 0);
      const idx = need(node, inputs, 1);
      const u = need(node, inputs, 2);
      checkUpdates(node, x, u);
      const q = idx.shape.length;
      const k = idx.shape[q - 1];
      if (k === undefined || k > x.shape.length) throw invalid(node, `ScatterND: bad indices shape [${idx.shape.join(",")}]`);
      const want = [...idx.shape.slice(0, q - 1), ...x.shape.slice(k)];
      if (u.shape.length !== want.length || u.shape.some((d, i) => d !== want[i])) throw invalid(node, `ScatterND: updates shape [${u.shape.join(",")}], expected [${want.join(",")}]`);
      const out = rt.alloc(x.dtype, x.shape);
      const o = arr(out);
      o.set(arr(x));
      const n = prod(idx.shape, 0, q - 1);
      const slice = prod(x.shape, k);
      const st = strides(x.shape);
      const id = numsOf(idx);
      const up = arr(u);
      const f = red === "none" ? undefined : combiner(node, x.dtype, red);
      for (let j = 0, t = 0; j < n; j++) {
        let off = 0;
        for (let c = 0; c < k; c++, t++) {
          const dim = x.shape[c]!;
          let v = id[t]!;
          if (v < 0) v += dim;
          if (!(v >= 0 && v < dim)) throw invalid(node, `ScatterND: index ${id[t]} out of range for dim ${dim}`);
          off += v * st[c]!;
        }
        if (!f) copyRun(up, j * slice, o, off, slice);
        else for (let e = 0, s = j * slice; e < slice; e++, s++) o[off + e] = f(o[off + e]!, up[s]!) as number;
      }
      return [out];
    });
  },
};
