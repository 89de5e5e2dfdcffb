import { type DType, type Tensor, DTYPES } from "@quanta/tensor";
import type { Kernel } from "../../kernel.js";
import { invalid, unsupported } from "../util.js";
import { arr, copyRun, decoder, dtypeFromOnnx, encoder, i64Words, is4, need, nibbles, nums, numsOf, oneOf, prod, scalar, setI64, size } from "./common.js";

/** Fills a tensor with one stored element (4-bit types: the nibble in both halves of each byte). */
function fillWith(t: Tensor, raw: number | bigint): void {
  if (is4(t.dtype)) (t.data as Uint8Array).fill(((raw as number) & 15) * 17);
  else if (raw !== 0 && raw !== 0n) arr(t).fill(raw as number);
}

/** ConstantOfShape: a tensor of the given shape filled with `value` (default float32 0). */
export const ConstantOfShape: Kernel = {
  op: "ConstantOfShape",
  prepare(node) {
    const a = node.attributes.get("value");
    let dtype: DType = "float32";
    let raw: number | bigint = 0;
    if (a) {
      if (a.type !== "tensor") throw invalid(node, "ConstantOfShape: value must be a tensor");
      const v = a.value.load();
      if (v.data.length < 1) throw invalid(node, "ConstantOfShape: value must have one element");
      dtype = v.dtype;
      raw = is4(v.dtype) ? (v.data[0] as number) & 15 : (v.data[0] as number | bigint);
    }
    return (inputs, rt) => {
      const shape = nums(need(node, inputs, 0));
      if (shape.some((d) => d < 0 || !Number.isInteger(d))) throw invalid(node, `ConstantOfShape: invalid shape [${shape.join(",")}]`);
      const out = rt.alloc(dtype, shape);
      fillWith(out, raw);
      return [out];
    };
  },
};

/** Range: start, start + delta, ... up to (not including) limit; n = max(ceil((limit - start) / delta), 0). */
export const Range: Kernel = {
  op: "Range",
  prepare(node) {
    return (inputs, rt) => {
      const s = need(node, inputs, 0);
      const dtype = s.dtype;
      const dec = decoder(dtype);
      const enc = encoder(dtype);
      if (!dec || !enc || dtype === "bool") throw invalid(node, `Range on ${dtype} is not supported`);
      const val = (t: Tensor) => Number(dec(t.data[0] as number | bigint));
      const start = val(s);
      const limit = val(need(node, inputs, 1));
      const delta = val(need(node, inputs, 2));
      if (delta === 0) throw invalid(node, "Range: delta is 0");
      const n = Math.max(Math.ceil((limit - start) / delta), 0);
      const out = rt.alloc(dtype, [n]);
      const o = arr(out);
      if (dtype === "int64" || dtype === "uint64") {
        const w = i64Words(out as Tensor<"int64">);
        for (let i = 0; i < n; i++) setI64(w, i, start + i * delta);
      } else if (dtype === "float32" || dtype === "float64" || DTYPES[dtype].kind !== "float") for (let i = 0; i < n; i++) o[i] = start + i * delta;
      else for (let i = 0; i < n; i++) o[i] = enc(start + i * delta) as number;
      return [out];
    };
  },
};

/** EyeLike: ones on the k-th diagonal of a 2-D tensor (dtype attribute or the input's dtype). */
export const EyeLike: Kernel = {
  op: "EyeLike",
  prepare(node, ctx) {
    const k = node.int("k", 0);
    const code = node.int("dtype");
    const attrType = code === undefined ? undefined : dtypeFromOnnx(code);
    if (code !== undefined && !attrType) throw unsupported(node, ctx, `dtype ${code}`);
    return (inputs, rt) => {
      const x = need(node, inputs, 0);
      if (x.shape.length !== 2) throw invalid(node, `EyeLike needs a 2-D input, got [${x.shape.join(",")}]`);
      const dtype = attrType ?? x.dtype;
      const [R, C] = x.shape as [number, number];
      const out = rt.alloc(dtype, [R, C]);
      const one = oneOf(dtype);
      const o = arr(out);
      for (let i = Math.max(0, -k); i < R && i + k < C; i++) {
        const p = i * C + i + k;
        if (is4(dtype)) o[p >> 1] = (o[p >> 1]! | (1 << ((p & 1) << 2))) as number;
        else o[p] = one as number;
      }
      return [out];
    };
  },
};

/** OneHot: indices (negative ones wrap by depth; out-of-range ones give all-off), depth, values [off, on]. */
export const OneHot: Kernel = {
  op: "OneHot",
  prepare(node) {
    const axis = node.int("axis", -1);
    return nibbles((inputs, rt) => {
      const ind = need(node, inputs, 0);
      const dt = need(node, inputs, 1);
      const vals = need(node, inputs, 2);
      const decD = decoder(dt.dtype);
      const decI = decoder(ind.dtype);
      if (!decD || !decI) throw invalid(node, `OneHot: unsupported index/depth types ${ind.dtype}/${dt.dtype}`);
      const depth = Math.trunc(Number(decD(dt.data[0] as number | bigint)));
      if (!(depth >= 0)) throw invalid(node, `OneHot: invalid depth ${depth}`);
      if (vals.data.length < 2) throw invalid(node, "OneHot: values must hold [off, on]");
      const r = ind.shape.length + 1;
      const a = axis < 0 ? axis + r : axis;
      if (a < 0 || a >= r) throw invalid(node, `OneHot: axis ${axis} out of range for output rank ${r}`);
      const shape = [...ind.shape.slice(0, a), depth, ...ind.shape.slice(a)];
      const out = rt.alloc(vals.dtype, shape);
      const o = arr(out);
      const v = arr(vals);
      fillWith(out, v[0]!);
      const on = v[1]!;
      const outer = prod(ind.shape, 0, a);
      const inner = prod(ind.shape, a);
      const id = ind.dtype === "int64" || ind.dtype === "uint64" ? numsOf(ind) : ind.data;
      for (let i = 0, t = 0; i < outer; i++) {
        for (let j = 0; j < inner; j++, t++) {
          let k = Math.trunc(Number(decI(id[t] as number | bigint)));
          if (k < 0) k += depth;
          if (k >= 0 && k < depth) o[(i * depth + k) * inner + j] = on;
        }
      }
      return [out];
    });
  },
};

/** Trilu: keeps the upper (j - i >= k) or lower (j - i <= k) triangle of the last two dims. */
export const Trilu: Kernel = {
  op: "Trilu",
  prepare(node) {
    const upper = node.int("upper", 1) !== 0;
    return nibbles((inputs, rt) => {
      const x = need(node, inputs, 0);
      const k = inputs[1] ? scalar(inputs[1]) : 0;
      const r = x.shape.length;
      if (r < 2) throw invalid(node, `Trilu needs rank >= 2, got [${x.shape.join(",")}]`);
      const out = rt.alloc(x.dtype, x.shape);
      const R = x.shape[r - 2]!;
      const C = x.shape[r - 1]!;
      const batch = size(x.shape) / (R * C || 1);
      const s = arr(x);
      const o = arr(out);
      for (let b = 0; b < batch; b++) {
        for (let i = 0; i < R; i++) {
          const row = (b * R + i) * C;
          const lo = upper ? Math.min(C, Math.max(0, i + k)) : 0;
          const hi = upper ? C : Math.min(C, Math.max(0, i + k + 1));
          if (hi > lo) copyRun(s, row + lo, o, row + lo, hi - lo);
        }
      }
      return [out];
    });
  },
};
