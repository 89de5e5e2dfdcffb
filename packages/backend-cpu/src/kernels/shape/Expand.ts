import type { Kernel } from "../../kernel.js";
import { broadcastShapes, invalid, reshaped } from "../util.js";
import { arr, copyND, need, nibbles, nums, strides } from "./common.js";

/** Expand: bidirectional broadcast of the input to a shape; returns a view when nothing grows. */
export const Expand: Kernel = {
  op: "Expand",
  prepare(node, ctx) {
    const c = ctx.constantInput(1);
    const fixed = c ? nums(c) : undefined;
    return nibbles((inputs, rt) => {
      const x = need(node, inputs, 0);
      const target = fixed ?? nums(need(node, inputs, 1));
      let shape: number[];
      try {
        shape = broadcastShapes(x.shape, target);
      } catch (e) {
        throw invalid(node, `Expand: ${(e as Error).message}`);
      }
      const r = shape.length;
      if (shape.every((d, i) => d === (x.shape[i - (r - x.shape.length)] ?? 1))) return [reshaped(x, shape)];
      const out = rt.alloc(x.dtype, shape);
      const xs = strides(x.shape);
      const off = r - x.shape.length;
      const ss = shape.map((_, i) => (i < off || x.shape[i - off] === 1 ? 0 : xs[i - off]!));
      copyND(shape, arr(x), 0, ss, arr(out), 0, strides(shape));
      return [out];
    });
  },
};

/** Tile: repeats the input along each dim (opset 1-5: tiles and axis inputs); returns a view when every repeat is 1. */
export const Tile: Kernel = {
  op: "Tile",
  prepare(node, ctx) {
    const c = ctx.constantInput(1);
    const fixed = c ? nums(c) : undefined;
    return nibbles((inputs, rt) => {
      const x = need(node, inputs, 0);
      const r = x.shape.length;
      let reps: number[];
      if (ctx.opset < 6) {
        // Tile-1: a scalar count of tiles along an axis.
        reps = new Array<number>(r).fill(1);
        const ax = nums(need(node, inputs, 2))[0] ?? 0;
        reps[ax < 0 ? ax + r : ax] = nums(need(node, inputs, 1))[0] ?? 1;
      } else reps = fixed ?? nums(need(node, inputs, 1));
      if (reps.length !== r || reps.some((v) => v < 0)) throw invalid(node, `Tile: repeats [${reps.join(",")}] do not fit rank ${r}`);
      if (reps.every((v) => v === 1)) return [reshaped(x, x.shape)];
      const shape = x.shape.map((d, i) => d * reps[i]!);
      const out = rt.alloc(x.dtype, shape);
      // Output viewed as [reps0, d0, reps1, d1, ...]: the repeat dims read the input with stride 0.
      const xs = strides(x.shape);
      const vshape: number[] = [];
      const ss: number[] = [];
      for (let i = 0; i < r; i++) {
        vshape.push(reps[i]!, x.shape[i]!);
        ss.push(0, xs[i]!);
      }
      copyND(vshape, arr(x), 0, ss, arr(out), 0, strides(vshape));
      return [out];
    });
  },
};
