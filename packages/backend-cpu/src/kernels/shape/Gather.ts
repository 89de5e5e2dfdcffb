import type { Kernel } from "../../kernel.js";
import { invalid } from "../util.js";
import { arr, axisOf, copyRun, indexValues, need, nibbles, numsOf, prod, rowOffsets, strides } from "./common.js";

/** Gather: out = data[..., indices, ...] along axis; copies one contiguous inner block per index. */
export const Gather: Kernel = {
  op: "Gather",
  prepare(node) {
    const axis = node.int("axis", 0);
    return nibbles((inputs, rt) => {
      const x = need(node, inputs, 0);
      const idx = need(node, inputs, 1);
      const a = axisOf(node, axis, x.shape.length);
      const dim = x.shape[a]!;
      const ind = indexValues(node, idx, dim);
      const shape = [...x.shape.slice(0, a), ...idx.shape, ...x.shape.slice(a + 1)];
      const out = rt.alloc(x.dtype, shape);
      const outer = prod(x.shape, 0, a);
      const inner = prod(x.shape, a + 1);
      const n = ind.length;
      const s = arr(x);
      const o = arr(out);
      if (inner === 1) {
        for (let i = 0, d = 0; i < outer; i++) {
          const base = i * dim;
          for (let k = 0; k < n; k++) o[d++] = s[base + ind[k]!]!;
        }
      } else {
        for (let i = 0, d = 0; i < outer; i++) {
          const base = i * dim;
          for (let k = 0; k < n; k++, d += inner) copyRun(s, (base + ind[k]!) * inner, o, d, inner);
        }
      }
      return [out];
    });
  },
};

/** GatherElements: out[i] = data[i with coordinate `axis` replaced by indices[i]]. */
export const GatherElements: Kernel = {
  op: "GatherElements",
  prepare(node) {
    const axis = node.int("axis", 0);
    return nibbles((inputs, rt) => {
      const x = need(node, inputs, 0);
      const idx = need(node, inputs, 1);
      const r = x.shape.length;
      if (idx.shape.length !== r) throw invalid(node, `GatherElements: indices rank ${idx.shape.length} != data rank ${r}`);
      const a = axisOf(node, axis, r);
      const dim = x.shape[a]!;
      const ind = indexValues(node, idx, dim);
      const out = rt.alloc(x.dtype, idx.shape);
      const st = strides(x.shape);
      const sa = st[a]!;
      const s = arr(x);
      const o = arr(out);
      for (let d = 0; d < r; d++) {
        if (d !== a && idx.shape[d]! > x.shape[d]!) throw invalid(node, `GatherElements: indices shape [${idx.shape.join(",")}] exceeds data [${x.shape.join(",")}]`);
      }
      const { bases, width, step } = rowOffsets(idx.shape, st, a);
      for (let row = 0, i = 0; row < bases.length; row++) {
        const base = bases[row]!;
        for (let j = 0; j < width; j++, i++) o[i] = s[base + j * step + ind[i]! * sa]!;
      }
      return [out];
    });
  },
};

/** GatherND with batch_dims: each index tuple of the last indices dim selects a slice of data. */
export const GatherND: Kernel = {
  op: "GatherND",
  prepare(node) {
    const b = node.int("batch_dims", 0);
    return nibbles((inputs, rt) => {
      const x = need(node, inputs, 0);
      const idx = need(node, inputs, 1);
      const q = idx.shape.length;
      const k = idx.shape[q - 1];
      if (k === undefined || k > x.shape.length - b || b >= q) throw invalid(node, `GatherND: bad indices shape [${idx.shape.join(",")}] for data [${x.shape.join(",")}] (batch_dims ${b})`);
      for (let i = 0; i < b; i++) if (x.shape[i] !== idx.shape[i]) throw invalid(node, "GatherND: batch dims of data and indices differ");
      const shape = [...idx.shape.slice(0, q - 1), ...x.shape.slice(b + k)];
      const out = rt.alloc(x.dtype, shape);
      const batch = prod(x.shape, 0, b);
      const per = prod(idx.shape, b, q - 1);
      const slice = prod(x.shape, b + k);
      const batchStride = prod(x.shape, b);
      const st = strides(x.shape);
      const id = numsOf(idx);
      const s = arr(x);
      const o = arr(out);
      for (let bt = 0, t = 0, d = 0; bt < batch; bt++) {
        for (let j = 0; j < per; j++, d += slice) {
          let off = bt * batchStride;
          for (let c = 0; c < k; c++, t++) {
            const dim = x.shape[b + c]!;
            let v = id[t]!;
            if (v < 0) v += dim;
            if (!(v >= 0 && v < dim)) throw invalid(node, `GatherND: index ${id[t]} out of range for dim ${dim}`);
            off += v * st[b + c]!;
          }
          copyRun(s, off, o, d, slice);
        }
      }
      return [out];
    });
  },
};
