import type { Input, Kernel } from "../../kernel.js";
import { invalid } from "../util.js";
import { arr, copyND, need, nibbles, nums, strides } from "./common.js";

interface SliceArgs {
  starts: number[];
  ends: number[];
  axes: number[] | undefined;
  steps: number[] | undefined;
}

/**
 * Slice: opset 1-9 from attributes (starts, ends, axes), 10+ from inputs (starts, ends, axes?, steps?).
 * Starts/ends are clamped like numpy (negative steps included); the copy runs over contiguous inner
 * runs when the last sliced dim has step 1.
 */
export const Slice: Kernel = {
  op: "Slice",
  prepare(node, ctx) {
    let argsOf: (inputs: readonly Input[]) => SliceArgs;
    if (ctx.opset < 10) {
      const starts = node.ints("starts");
      const ends = node.ints("ends");
      if (!starts || !ends) throw invalid(node, "Slice-1 needs starts and ends attributes");
      const args = { starts, ends, axes: node.ints("axes"), steps: undefined };
      argsOf = () => args;
    } else {
      const consts = [1, 2, 3, 4].map((i) => {
        const c = ctx.constantInput(i);
        return c ? nums(c) : undefined;
      });
      const get = (inputs: readonly Input[], i: number): number[] | undefined => {
        const c = consts[i - 1];
        if (c) return c;
        const t = inputs[i];
        return t ? nums(t) : undefined;
      };
      argsOf = (inputs) => {
        const starts = get(inputs, 1);
        const ends = get(inputs, 2);
        if (!starts || !ends) throw invalid(node, "Slice needs starts and ends");
        return { starts, ends, axes: get(inputs, 3), steps: get(inputs, 4) };
      };
    }
    return nibbles((inputs, rt) => {
      const x = need(node, inputs, 0);
      const { starts, ends, axes, steps } = argsOf(inputs);
      const r = x.shape.length;
      if (ends.length !== starts.length || (axes && axes.length !== starts.length) || (steps && steps.length !== starts.length)) {
        throw invalid(node, "Slice: starts, ends, axes and steps differ in length");
      }
      const begin = new Array<number>(r).fill(0);
      const step = new Array<number>(r).fill(1);
      const shape = [...x.shape];
      const seen = new Set<number>();
      for (let k = 0; k < starts.length; k++) {
        const a0 = axes ? axes[k]! : k;
        const a = a0 < 0 ? a0 + r : a0;
        if (a < 0 || a >= r || seen.has(a)) throw invalid(node, `Slice: axis ${a0} out of range or repeated`);
        seen.add(a);
        const dim = x.shape[a]!;
        const st = steps ? steps[k]! : 1;
        if (st === 0) throw invalid(node, "Slice: step 0");
        let s = starts[k]!;
        let e = ends[k]!;
        if (s < 0) s += dim;
        if (e < 0) e += dim;
        let n: number;
        if (st > 0) {
          s = Math.min(Math.max(s, 0), dim);
          e = Math.min(Math.max(e, 0), dim);
          n = e > s ? Math.ceil((e - s) / st) : 0;
        } else {
          s = Math.min(Math.max(s, 0), dim - 1);
          e = Math.min(Math.max(e, -1), dim - 1);
          n = s > e ? Math.ceil((s - e) / -st) : 0;
        }
        begin[a] = s;
        step[a] = st;
        shape[a] = n;
      }
      const out = rt.alloc(x.dtype, shape);
      const xs = strides(x.shape);
      let off = 0;
      for (let i = 0; i < r; i++) off += begin[i]! * xs[i]!;
      copyND(
        shape,
        arr(x),
        off,
        xs.map((s, i) => s * step[i]!),
        arr(out),
        0,
        strides(shape),
      );
      return [out];
    });
  },
};
