import type { Tensor } from "@quanta/tensor";
import type { Kernel } from "../../kernel.js";
import { invalid } from "../util.js";
import { arr, axisOf, copyRun, nibbles, prod } from "./common.js";

/** Concat along an axis (opset 1-3: axis defaults to 1). Copies one contiguous run per input and outer index. */
export const Concat: Kernel = {
  op: "Concat",
  prepare(node, ctx) {
    const axis = node.int("axis", ctx.opset < 4 ? 1 : Number.NaN);
    if (Number.isNaN(axis)) throw invalid(node, "Concat needs an axis attribute");
    return nibbles((inputs, rt) => {
      const xs = inputs.filter((t): t is Tensor => t !== undefined);
      const first = xs[0];
      if (!first) throw invalid(node, "Concat needs at least one input");
      const r = first.shape.length;
      const a = axisOf(node, axis, r);
      let total = 0;
      for (const t of xs) {
        if (t.dtype !== first.dtype) throw invalid(node, `Concat: mixed dtypes ${first.dtype} and ${t.dtype}`);
        if (t.shape.length !== r || t.shape.some((d, i) => i !== a && d !== first.shape[i])) {
          throw invalid(node, `Concat: shapes [${first.shape.join(",")}] and [${t.shape.join(",")}] differ outside axis ${a}`);
        }
        total += t.shape[a]!;
      }
      const shape = [...first.shape];
      shape[a] = total;
      const out = rt.alloc(first.dtype, shape);
      const o = arr(out);
      const outer = prod(shape, 0, a);
      const inner = prod(shape, a + 1);
      const row = total * inner;
      let pos = 0;
      for (const t of xs) {
        const chunk = t.shape[a]! * inner;
        if (chunk === 0) continue;
        const s = arr(t);
        if (outer === 1) o.set(s, pos);
        else for (let i = 0; i < outer; i++) copyRun(s, i * chunk, o, i * row + pos, chunk);
        pos += chunk;
      }
      return [out];
    });
  },
};
