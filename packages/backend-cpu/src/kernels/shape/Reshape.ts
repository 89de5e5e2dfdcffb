// View ops: the output shares the input's buffer (the plan's pool reference-counts buffers, and
// kernels never write their inputs). They work for every dtype, 4-bit packed ones included.
import type { Node } from "@quanta/ir";
import type { Tensor } from "@quanta/tensor";
import type { Input, Kernel, PrepareContext } from "../../kernel.js";
import { invalid, reshaped } from "../util.js";
import { need, nums, size } from "./common.js";

/** Resolves a Reshape target (0 copies the input dim unless allowzero, -1 is inferred). */
function reshapeTarget(node: Node, from: readonly number[], target: readonly number[], allowzero: boolean): number[] {
  const out = new Array<number>(target.length);
  let infer = -1;
  let known = 1;
  for (let i = 0; i < target.length; i++) {
    let d = target[i]!;
    if (d === 0 && !allowzero) {
      if (i >= from.length) throw invalid(node, `Reshape: 0 at position ${i} copies a dim the input [${from.join(",")}] does not have`);
      d = from[i]!;
    }
    if (d === -1) {
      if (infer >= 0) throw invalid(node, `Reshape: more than one -1 in [${target.join(",")}]`);
      infer = i;
      out[i] = -1;
      continue;
    }
    if (d < 0 || !Number.isInteger(d)) throw invalid(node, `Reshape: invalid dim ${d} in [${target.join(",")}]`);
    out[i] = d;
    known *= d;
  }
  const n = size(from);
  if (infer >= 0) {
    if (known === 0) {
      if (n !== 0) throw invalid(node, `Reshape: cannot infer -1 in [${target.join(",")}] with a zero dim`);
      out[infer] = 0;
    } else {
      if (n % known !== 0) throw invalid(node, `Reshape: cannot reshape [${from.join(",")}] to [${target.join(",")}]`);
      out[infer] = n / known;
    }
  } else if (known !== n) throw invalid(node, `Reshape: cannot reshape [${from.join(",")}] (${n} elements) to [${out.join(",")}]`);
  return out;
}

/** Reshape (opset 1-4: `shape` attribute; 5+: shape input; 14+: allowzero). */
export const Reshape: Kernel = {
  op: "Reshape",
  prepare(node, ctx) {
    const allowzero = node.int("allowzero", 0) !== 0;
    let fixed: number[] | undefined;
    if (ctx.opset < 5) {
      fixed = node.ints("shape");
      if (!fixed) throw invalid(node, "Reshape-1 needs a shape attribute");
    } else {
      const c = ctx.constantInput(1);
      if (c) fixed = nums(c);
    }
    return (inputs) => {
      const x = need(node, inputs, 0);
      const target = fixed ?? nums(need(node, inputs, 1));
      return [reshaped(x, reshapeTarget(node, x.shape, target, allowzero))];
    };
  },
};

/** Flatten: [prod(dims[:axis]), prod(dims[axis:])]; axis in [-r, r]. */
export const Flatten: Kernel = {
  op: "Flatten",
  prepare(node) {
    const axis = node.int("axis", 1);
    return (inputs) => {
      const x = need(node, inputs, 0);
      const r = x.shape.length;
      const a = axis < 0 ? axis + r : axis;
      if (a < 0 || a > r) throw invalid(node, `Flatten: axis ${axis} out of range for rank ${r}`);
      let outer = 1;
      for (let i = 0; i < a; i++) outer *= x.shape[i]!;
      let inner = 1;
      for (let i = a; i < r; i++) inner *= x.shape[i]!;
      return [reshaped(x, [outer, inner])];
    };
  },
};

/** Axes from the attribute (before opset 13) or from input 1 (13+), constant-folded when possible. */
function axesSource(node: Node, ctx: PrepareContext): (inputs: readonly Input[]) => number[] | undefined {
  if (ctx.opset < 13) {
    const a = node.ints("axes");
    return () => a;
  }
  const c = ctx.constantInput(1);
  if (c) {
    const a = nums(c);
    return () => a;
  }
  return (inputs) => {
    const t = inputs[1];
    return t ? nums(t) : undefined;
  };
}

export const Squeeze: Kernel = {
  op: "Squeeze",
  prepare(node, ctx) {
    const axesOf = axesSource(node, ctx);
    return (inputs) => {
      const x = need(node, inputs, 0);
      const r = x.shape.length;
      const axes = axesOf(inputs);
      let shape: number[];
      if (!axes) shape = x.shape.filter((d) => d !== 1);
      else {
        const drop = new Set<number>();
        for (const a0 of axes) {
          const a = a0 < 0 ? a0 + r : a0;
          if (a < 0 || a >= r) throw invalid(node, `Squeeze: axis ${a0} out of range for rank ${r}`);
          if (x.shape[a] !== 1) throw invalid(node, `Squeeze: dim ${a0} of [${x.shape.join(",")}] is not 1`);
          drop.add(a);
        }
        shape = x.shape.filter((_, i) => !drop.has(i));
      }
      return [reshaped(x, shape)];
    };
  },
};

export const Unsqueeze: Kernel = {
  op: "Unsqueeze",
  prepare(node, ctx) {
    const axesOf = axesSource(node, ctx);
    return (inputs) => {
      const x = need(node, inputs, 0);
      const axes = axesOf(inputs);
      if (!axes) throw invalid(node, "Unsqueeze needs axes");
      const r = x.shape.length + axes.length;
      const ins = new Set<number>();
      for (const a0 of axes) {
        const a = a0 < 0 ? a0 + r : a0;
        if (a < 0 || a >= r || ins.has(a)) throw invalid(node, `Unsqueeze: axis ${a0} out of range or repeated for output rank ${r}`);
        ins.add(a);
      }
      const shape: number[] = [];
      let k = 0;
      for (let i = 0; i < r; i++) shape.push(ins.has(i) ? 1 : x.shape[k++]!);
      return [reshaped(x as Tensor, shape)];
    };
  },
};
