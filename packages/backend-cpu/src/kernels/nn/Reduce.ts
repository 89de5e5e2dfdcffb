import type { Node } from "@quanta/ir";
import type { DType, Tensor } from "@quanta/tensor";
import type { Kernel, PrepareContext, RunContext } from "../../kernel.js";
import { invalid, normAxis, toNumbers } from "../util.js";
import { floatData, writeFloats } from "./float_impl.js";
import { type ReductionPlan, reductionPlan } from "./reduce_impl.js";

type Kind = "sum" | "mean" | "max" | "min" | "prod" | "l1" | "l2" | "logsum" | "logsumexp" | "sumsquare";

const REDUCIBLE = new Set<DType>(["float32", "float64", "float16", "bfloat16", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64"]);

/** Numbers of a numeric tensor (a view for non-bigint, non-16-bit-float storage). */
export function numbers(t: Tensor): ArrayLike<number> {
  switch (t.dtype) {
    case "float16":
    case "bfloat16":
    case "int64":
    case "uint64":
      return floatData(t);
    default:
      return t.data as ArrayLike<number>;
  }
}

/** Caches the last reduction plan of a kernel (shapes rarely change between runs). */
export function planCache(): (shape: readonly number[], axes: readonly number[]) => ReductionPlan {
  let key = "";
  let plan: ReductionPlan | undefined;
  return (shape, axes) => {
    const k = `${shape.join(",")}|${axes.join(",")}`;
    if (k !== key || !plan) {
      plan = reductionPlan(shape, axes);
      key = k;
    }
    return plan;
  };
}

function reduceInto(kind: Kind, X: ArrayLike<number>, p: ReductionPlan, Y: Float64Array | Float32Array): void {
  const ko = p.keptOffs;
  const ro = p.redOffs;
  const R = ro.length;
  for (let o = 0; o < ko.length; o++) {
    const base = ko[o]!;
    let acc: number;
    switch (kind) {
      case "sum":
      case "mean":
      case "logsum": {
        let s = 0;
        for (let r = 0; r < R; r++) s += X[base + ro[r]!]!;
        acc = kind === "sum" ? s : kind === "mean" ? s / R : Math.log(s);
        break;
      }
      case "max": {
        let m = Number.NEGATIVE_INFINITY;
        for (let r = 0; r < R; r++) {
          const v = X[base + ro[r]!]!;
          if (v > m || Number.isNaN(v)) m = v;
          if (Number.isNaN(m)) break;
        }
        acc = m;
        break;
      }
      case "min": {
        let m = Number.POSITIVE_INFINITY;
        for (let r = 0; r < R; r++) {
          const v = X[base + ro[r]!]!;
          if (v < m || Number.isNaN(v)) m = v;
          if (Number.isNaN(m)) break;
        }
        acc = m;
        break;
      }
      case "prod": {
        let s = 1;
        for (let r = 0; r < R; r++) s *= X[base + ro[r]!]!;
        acc = s;
        break;
      }
      case "l1": {
        let s = 0;
        for (let r = 0; r < R; r++) s += Math.abs(X[base + ro[r]!]!);
        acc = s;
        break;
      }
      case "l2":
      case "sumsquare": {
        let s = 0;
        for (let r = 0; r < R; r++) {
          const v = X[base + ro[r]!]!;
          s += v * v;
        }
        acc = kind === "l2" ? Math.sqrt(s) : s;
        break;
      }
      case "logsumexp": {
        let m = Number.NEGATIVE_INFINITY;
        for (let r = 0; r < R; r++) m = Math.max(m, X[base + ro[r]!]!);
        if (m === Number.NEGATIVE_INFINITY || !Number.isFinite(m)) {
          let s = 0;
          for (let r = 0; r < R; r++) s += Math.exp(X[base + ro[r]!]!);
          acc = Math.log(s);
          break;
        }
        let s = 0;
        for (let r = 0; r < R; r++) s += Math.exp(X[base + ro[r]!]! - m);
        acc = m + Math.log(s);
        break;
      }
    }
    Y[o] = acc;
  }
}

/** Reduction axes of a node: attribute before `inputFrom`, second input after. undefined = none given. */
export function reduceAxes(node: Node, ctx: PrepareContext, inputFrom: number): (inputs: readonly (Tensor | undefined)[]) => number[] | undefined {
  if (ctx.opset < inputFrom) {
    const a = node.ints("axes");
    return () => a;
  }
  // Some exporters keep the attribute after it became an input: accept it when the input is absent.
  const legacy = node.ints("axes");
  return (inputs) => {
    const t = inputs[1];
    if (!t) return legacy;
    return toNumbers(t);
  };
}

function reduceKernel(op: string, kind: Kind, inputFrom: number): Kernel {
  return {
    op,
    prepare(node: Node, ctx: PrepareContext) {
      const keepdims = node.int("keepdims", 1) === 1;
      const noop = node.int("noop_with_empty_axes", 0) === 1;
      const getAxes = reduceAxes(node, ctx, inputFrom);
      const cache = planCache();
      return (inputs, rt: RunContext) => {
        const x = inputs[0];
        if (!x) throw invalid(node, `${op} needs data`);
        if (!REDUCIBLE.has(x.dtype)) throw invalid(node, `${op} on ${x.dtype} is not supported`);
        const rank = x.shape.length;
        let axes = getAxes(inputs);
        // No axes: reduce everything, or with noop_with_empty_axes reduce each element alone (the
        // identity for Sum/Mean/Max/Min/Prod; |x|, x^2, log x for L1/L2, SumSquare, LogSum, as onnxruntime).
        if (!axes || axes.length === 0) axes = noop ? [] : x.shape.map((_, i) => i);
        axes = axes.map((a) => normAxis(a, rank, node));
        const p = cache(x.shape, axes);
        const y = rt.alloc(x.dtype, keepdims ? p.keepShape : p.dropShape);
        const direct = x.dtype === "float32" || x.dtype === "float64";
        const Y = direct ? (y.data as Float32Array | Float64Array) : new Float64Array(y.data.length);
        reduceInto(kind, numbers(x), p, Y);
        if (!direct) writeFloats(y, Y);
        return [y];
      };
    },
  };
}

/** ReduceSum (opset 1-22): axes attribute before 13, input from 13; keepdims, noop_with_empty_axes. */
export const ReduceSum: Kernel = reduceKernel("ReduceSum", "sum", 13);
/** ReduceMean (opset 1-22): axes attribute before 18, input from 18. */
export const ReduceMean: Kernel = reduceKernel("ReduceMean", "mean", 18);
export const ReduceMax: Kernel = reduceKernel("ReduceMax", "max", 18);
export const ReduceMin: Kernel = reduceKernel("ReduceMin", "min", 18);
export const ReduceProd: Kernel = reduceKernel("ReduceProd", "prod", 18);
export const ReduceL1: Kernel = reduceKernel("ReduceL1", "l1", 18);
export const ReduceL2: Kernel = reduceKernel("ReduceL2", "l2", 18);
export const ReduceLogSum: Kernel = reduceKernel("ReduceLogSum", "logsum", 18);
export const ReduceLogSumExp: Kernel = reduceKernel("ReduceLogSumExp", "logsumexp", 18);
export const ReduceSumSquare: Kernel = reduceKernel("ReduceSumSquare", "sumsquare", 18);

function argKernel(op: string, max: boolean): Kernel {
  return {
    op,
    prepare(node: Node) {
      const axis0 = node.int("axis", 0);
      const keepdims = node.int("keepdims", 1) === 1;
      const last = node.int("select_last_index", 0) === 1;
      const cache = planCache();
      return (inputs, rt) => {
        const x = inputs[0];
        if (!x) throw invalid(node, `${op} needs data`);
        if (!REDUCIBLE.has(x.dtype)) throw invalid(node, `${op} on ${x.dtype} is not supported`);
        const axis = normAxis(axis0, x.shape.length, node);
        const p = cache(x.shape, [axis]);
        const y = rt.alloc("int64", keepdims ? p.keepShape : p.dropShape);
        const Y = y.data;
        const X = numbers(x);
        const ko = p.keptOffs;
        const ro = p.redOffs;
        const R = ro.length;
        for (let o = 0; o < ko.length; o++) {
          const base = ko[o]!;
          let best = X[base]!;
          let at = 0;
          for (let r = 1; r < R; r++) {
            const v = X[base + ro[r]!]!;
            if (max ? v > best || (last && v === best) : v < best || (last && v === best)) {
              best = v;
              at = r;
            }
          }
          Y[o] = BigInt(at);
        }
        return [y];
      };
    },
  };
}

/** ArgMax (opset 1-22): axis, keepdims, select_last_index. */
export const ArgMax: Kernel = argKernel("ArgMax", true);
/** ArgMin (opset 1-22): axis, keepdims, select_last_index. */
export const ArgMin: Kernel = argKernel("ArgMin", false);
