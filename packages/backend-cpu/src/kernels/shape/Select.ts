import type { Tensor } from "@quanta/tensor";
import type { Kernel } from "../../kernel.js";
import { invalid } from "../util.js";
import { arr, axisOf, copyRun, decoder, i64Words, need, nibbles, nonZeroTest, prod, setI64, size, strides } from "./common.js";

/** Compress: keeps the slices along `axis` (or the flattened elements) whose condition is true. */
export const Compress: Kernel = {
  op: "Compress",
  prepare(node) {
    const axis = node.int("axis");
    return nibbles((inputs, rt) => {
      const x = need(node, inputs, 0);
      const cond = need(node, inputs, 1);
      const flat = axis === undefined;
      const a = flat ? 0 : axisOf(node, axis, x.shape.length);
      const shape = flat ? [size(x.shape)] : x.shape;
      const dim = shape[a]!;
      const c = cond.data;
      const isSet = nonZeroTest(cond.dtype);
      const sel: number[] = [];
      for (let i = 0; i < Math.min(dim, c.length); i++) if (isSet(c[i] as number | bigint)) sel.push(i);
      const outShape = [...shape];
      outShape[a] = sel.length;
      const out = rt.alloc(x.dtype, outShape);
      const outer = prod(shape, 0, a);
      const inner = prod(shape, a + 1);
      const s = arr(x);
      const o = arr(out);
      for (let i = 0, d = 0; i < outer; i++) {
        for (const k of sel) {
          copyRun(s, (i * dim + k) * inner, o, d, inner);
          d += inner;
        }
      }
      return [out];
    });
  },
};

/** NonZero: the coordinates of the non-zero elements, int64 [rank, count], in row-major order. */
export const NonZero: Kernel = {
  op: "NonZero",
  prepare(node) {
    return nibbles((inputs, rt) => {
      const x = need(node, inputs, 0);
      const shape = x.shape.length === 0 ? [1] : x.shape;
      const r = shape.length;
      const n = size(shape);
      const d = x.data;
      const isSet = nonZeroTest(x.dtype);
      const hits: number[] = [];
      for (let i = 0; i < n; i++) if (isSet(d[i] as number | bigint)) hits.push(i);
      const m = hits.length;
      const out = rt.alloc("int64", [r, m]);
      const o = i64Words(out);
      const st = strides(shape);
      for (let j = 0; j < m; j++) {
        let rem = hits[j]!;
        for (let k = 0; k < r; k++) {
          const q = Math.floor(rem / st[k]!);
          rem -= q * st[k]!;
          setI64(o, k * m + j, q);
        }
      }
      return [out];
    });
  },
};

/**
 * Unique (sorted or in order of first occurrence; flattened or slices along `axis`, compared
 * lexicographically): outputs Y, indices of first occurrences, inverse indices, counts (int64).
 */
export const Unique: Kernel = {
  op: "Unique",
  prepare(node) {
    const axis = node.int("axis");
    const sorted = node.int("sorted", 1) !== 0;
    return nibbles((inputs, rt) => {
      const x = need(node, inputs, 0);
      const dec = decoder(x.dtype);
      if (!dec) throw invalid(node, `Unique: ${x.dtype} is not supported`);
      const flat = axis === undefined;
      const shape = flat ? [size(x.shape)] : x.shape;
      const a = flat ? 0 : axisOf(node, axis, shape.length);
      const dim = shape[a]!;
      const outer = prod(shape, 0, a);
      const inner = prod(shape, a + 1);
      const raw = arr(x);
      const total = size(shape);
      const v: (number | bigint)[] = new Array(total);
      for (let i = 0; i < total; i++) v[i] = dec(raw[i]!);
      const cmpVal = (p: number | bigint, q: number | bigint): number => {
        if (p < q) return -1;
        if (p > q) return 1;
        if (p === q) return 0;
        // NaN sorts last, NaNs are equal.
        const pn = Number.isNaN(p);
        const qn = Number.isNaN(q);
        return pn === qn ? 0 : pn ? 1 : -1;
      };
      // Item i = the slice at index i along the axis, its elements in row-major order.
      const cmp = (i: number, j: number): number => {
        for (let o = 0; o < outer; o++) {
          const bi = (o * dim + i) * inner;
          const bj = (o * dim + j) * inner;
          for (let k = 0; k < inner; k++) {
            const c = cmpVal(v[bi + k]!, v[bj + k]!);
            if (c !== 0) return c;
          }
        }
        return 0;
      };
      const order = Array.from({ length: dim }, (_, i) => i).sort((i, j) => cmp(i, j) || i - j);
      const groups: { first: number; count: number }[] = [];
      const groupOf = new Int32Array(dim);
      for (let t = 0; t < dim; t++) {
        const i = order[t]!;
        const last = groups[groups.length - 1];
        if (last && cmp(last.first, i) === 0) last.count++;
        else groups.push({ first: i, count: 1 });
        groupOf[i] = groups.length - 1;
      }
      let rank = groups.map((_, g) => g);
      if (!sorted) {
        rank = new Array<number>(groups.length);
        const byFirst = groups.map((_, g) => g).sort((g, h) => groups[g]!.first - groups[h]!.first);
        byFirst.forEach((g, pos) => {
          rank[g] = pos;
        });
      }
      const u = groups.length;
      const ordered = new Array<{ first: number; count: number }>(u);
      groups.forEach((g, i) => {
        ordered[rank[i]!] = g;
      });
      const yShape = [...shape];
      yShape[a] = u;
      const y = rt.alloc(x.dtype, yShape);
      const yo = arr(y);
      for (let o = 0; o < outer; o++) {
        for (let g = 0; g < u; g++) copyRun(raw, (o * dim + ordered[g]!.first) * inner, yo, (o * u + g) * inner, inner);
      }
      const outs: (Tensor | undefined)[] = [y];
      const int64 = (n: number, f: (i: number) => number) => {
        const t = rt.alloc("int64", [n]);
        const w = i64Words(t);
        for (let i = 0; i < n; i++) setI64(w, i, f(i));
        return t;
      };
      if (node.outputs[1]) outs[1] = int64(u, (g) => ordered[g]!.first);
      if (node.outputs[2]) outs[2] = int64(dim, (i) => rank[groupOf[i]!]!);
      if (node.outputs[3]) outs[3] = int64(u, (g) => ordered[g]!.count);
      return outs;
    });
  },
};
