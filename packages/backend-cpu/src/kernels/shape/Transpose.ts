import type { Kernel } from "../../kernel.js";
import { invalid, reshaped } from "../util.js";
import { arr, need, nibbles, transposeInto } from "./common.js";

/**
 * Transpose (perm defaults to reversing the dims). Size-1 dims are ignored and adjacent dims merged,
 * so 2-D transposes and NCHW<->NHWC run as cache-blocked batched 2-D transposes; a permutation
 * that moves only size-1 dims returns a view of the input.
 */
export const Transpose: Kernel = {
  op: "Transpose",
  prepare(node) {
    const permAttr = node.ints("perm");
    return nibbles((inputs, rt) => {
      const x = need(node, inputs, 0);
      const r = x.shape.length;
      const perm = permAttr ?? x.shape.map((_, i) => r - 1 - i);
      if (perm.length !== r || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) {
        throw invalid(node, `Transpose: perm [${perm.join(",")}] is not a permutation of ${r} dims`);
      }
      const shape = perm.map((p) => x.shape[p]!);
      const moved = perm.filter((p) => x.shape[p] !== 1);
      if (moved.every((p, i) => i === 0 || p > moved[i - 1]!)) return [reshaped(x, shape)];
      const out = rt.alloc(x.dtype, shape);
      transposeInto(arr(x), x.shape, perm, arr(out));
      return [out];
    });
  },
};
