import type { Kernel } from "../../kernel.js";
import { need, size } from "./common.js";

/** Shape: the input's dims as int64 (opset 15+: start/end, clamped like Python slices without step). */
export const Shape: Kernel = {
  op: "Shape",
  prepare(node) {
    const start = node.int("start", 0);
    const end = node.int("end");
    return (inputs, rt) => {
      const x = need(node, inputs, 0);
      const r = x.shape.length;
      const clamp = (v: number) => Math.min(r, Math.max(0, v < 0 ? v + r : v));
      const s = clamp(start);
      const e = end === undefined ? r : clamp(end);
      const n = Math.max(0, e - s);
      const out = rt.alloc("int64", [n]);
      for (let i = 0; i < n; i++) out.data[i] = BigInt(x.shape[s + i]!);
      return [out];
    };
  },
};

/** Size: the number of elements, an int64 scalar. */
export const Size: Kernel = {
  op: "Size",
  prepare(node) {
    return (inputs, rt) => {
      const out = rt.alloc("int64", []);
      out.data[0] = BigInt(size(need(node, inputs, 0).shape));
      return [out];
    };
  },
};
