import type { Kernel } from "../../kernel.js";
import { invalid } from "../util.js";
import { arr, copyRun, need, nibbles, nums, prod, strides } from "./common.js";

/** ReverseSequence: reverses the first sequence_lens[b] steps along time_axis of each batch entry. */
export const ReverseSequence: Kernel = {
  op: "ReverseSequence",
  prepare(node) {
    const tAxis = node.int("time_axis", 0);
    const bAxis = node.int("batch_axis", 1);
    if ((tAxis !== 0 && tAxis !== 1) || (bAxis !== 0 && bAxis !== 1) || tAxis === bAxis) {
      throw invalid(node, `ReverseSequence: time_axis ${tAxis} and batch_axis ${bAxis} must be 0 and 1`);
    }
    return nibbles((inputs, rt) => {
      const x = need(node, inputs, 0);
      const lens = nums(need(node, inputs, 1));
      if (x.shape.length < 2) throw invalid(node, "ReverseSequence needs rank >= 2");
      const T = x.shape[tAxis]!;
      const B = x.shape[bAxis]!;
      if (lens.length !== B) throw invalid(node, `ReverseSequence: ${lens.length} lengths for batch ${B}`);
      const inner = prod(x.shape, 2);
      const st = strides(x.shape);
      const ts = st[tAxis]!;
      const bs = st[bAxis]!;
      const out = rt.alloc(x.dtype, x.shape);
      const s = arr(x);
      const o = arr(out);
      for (let b = 0; b < B; b++) {
        const len = lens[b]!;
        if (len < 0 || len > T) throw invalid(node, `ReverseSequence: length ${len} out of range [0, ${T}]`);
        for (let t = 0; t < T; t++) {
          const from = t < len ? len - 1 - t : t;
          copyRun(s, b * bs + from * ts, o, b * bs + t * ts, inner);
        }
      }
      return [out];
    });
  },
};
