import type { Tensor } from "@quanta/tensor";
import type { Input, Kernel } from "../../kernel.js";
import { invalid } from "../util.js";
import { arr, axisOf, copyRun, need, nibbles, nums, prod } from "./common.js";

/**
 * Split along an axis into the node's outputs. Sizes come from the `split` attribute (opset 1-12;
 * opset 1 also accepts a second input), the split input (13+), or are equal (18+ with num_outputs:
 * the last chunk may be smaller).
 */
export const Split: Kernel = {
  op: "Split",
  prepare(node, ctx) {
    const axis = node.int("axis", 0);
    const nOut = node.outputs.length;
    const numOutputs = node.int("num_outputs");
    if (numOutputs !== undefined && numOutputs !== nOut) throw invalid(node, `Split: num_outputs ${numOutputs} but ${nOut} outputs`);
    const attr = ctx.opset < 13 ? node.ints("split") : undefined;
    const splitInput = ctx.opset >= 13 || (ctx.opset < 2 && !attr);
    const c = splitInput ? ctx.constantInput(1) : undefined;
    const fixed = attr ?? (c ? nums(c) : undefined);
    const sizesOf = (inputs: readonly Input[], dim: number): number[] => {
      const s = fixed ?? (splitInput && inputs[1] && inputs[1].data.length > 0 ? nums(inputs[1]) : undefined);
      if (s) {
        if (s.length !== nOut) throw invalid(node, `Split: ${s.length} sizes for ${nOut} outputs`);
        if (s.reduce((a, b) => a + b, 0) !== dim || s.some((v) => v < 0)) throw invalid(node, `Split: sizes [${s.join(",")}] do not add up to ${dim}`);
        return s;
      }
      const chunk = Math.ceil(dim / nOut);
      const sizes = new Array<number>(nOut).fill(chunk);
      sizes[nOut - 1] = dim - chunk * (nOut - 1);
      if (sizes[nOut - 1]! < 0 || (numOutputs === undefined && dim % nOut !== 0)) {
        throw invalid(node, `Split: dim ${dim} cannot be split into ${nOut} equal parts`);
      }
      return sizes;
    };
    return nibbles((inputs, rt) => {
      const x = need(node, inputs, 0);
      const a = axisOf(node, axis, x.shape.length);
      const dim = x.shape[a]!;
      const sizes = sizesOf(inputs, dim);
      const outer = prod(x.shape, 0, a);
      const inner = prod(x.shape, a + 1);
      const s = arr(x);
      const outs: (Tensor | undefined)[] = [];
      let off = 0;
      for (let k = 0; k < nOut; k++) {
        const n = sizes[k]!;
        if (!node.outputs[k]) {
          outs.push(undefined);
          off += n;
          continue;
        }
        const shape = [...x.shape];
        shape[a] = n;
        const out = rt.alloc(x.dtype, shape);
        const o = arr(out);
        const chunk = n * inner;
        if (chunk > 0) for (let i = 0; i < outer; i++) copyRun(s, (i * dim + off) * inner, o, i * chunk, chunk);
        off += n;
        outs.push(out);
      }
      return outs;
    });
  },
};
