// Unary elementwise ops and activations.
import type { Node } from "@quanta/ir";
import type { DType, Tensor } from "@quanta/tensor";
import type { Input, Kernel, KernelFn, PrepareContext, RunContext } from "../../kernel.js";
import { floatData, floatOut, isFloatDType } from "../nn/float_impl.js";
import { invalid, unsupported } from "../util.js";
import { num } from "./broadcast.js";

type F = (x: number) => number;
// biome-ignore lint/suspicious/noExplicitAny: one element function serves number and bigint storages
type G = (x: any) => any;

/** erf with relative error below 1.2e-7 (Numerical Recipes' erfc Chebyshev fit). */
export function erf(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? 1 - r : r - 1;
}

/** Round half to even. */
export function roundEven(x: number): number {
  if (!Number.isFinite(x)) return x;
  const r = Math.round(x);
  return Math.abs(x - Math.trunc(x)) === 0.5 ? 2 * Math.round(x / 2) : r;
}

interface Spec {
  readonly op: string;
  readonly float?: (node: Node) => F;
  /** Integer element function on numbers (int8..uint32) and bigints (int64/uint64). */
  readonly int?: (node: Node) => G;
  readonly bool?: (node: Node) => G;
  /** Output is bool. */
  readonly toBool?: boolean;
}

function unary(s: Spec): Kernel {
  return {
    op: s.op,
    prepare(node: Node, ctx: PrepareContext): KernelFn {
      const ff = s.float?.(node);
      const fi = s.int?.(node);
      const fb = s.bool?.(node);
      return (inputs: readonly Input[], rt: RunContext) => {
        const x = inputs[0];
        if (!x) throw invalid(node, `${s.op} needs an input`);
        const d: DType = x.dtype;
        const n = x.data.length;
        if (s.toBool) {
          const o = rt.alloc("bool", x.shape);
          const src = d === "bool" ? num(x) : floatData(x);
          const f = d === "bool" ? fb : ff;
          if (!f) throw unsupported(node, ctx, `${s.op} on ${d}`);
          for (let i = 0; i < n; i++) o.data[i] = f(src[i]!);
          return [o];
        }
        if (isFloatDType(d)) {
          if (!ff) throw unsupported(node, ctx, `${s.op} on ${d}`);
          const src = floatData(x);
          const out = floatOut(rt, d, x.shape);
          const o = out.data;
          for (let i = 0; i < n; i++) o[i] = ff(src[i]!);
          return [out.commit()];
        }
        const f = d === "bool" ? fb : fi;
        if (!f) throw unsupported(node, ctx, `${s.op} on ${d}`);
        const o = rt.alloc(d, x.shape) as Tensor;
        const src = num(x);
        const dst = num(o);
        for (let i = 0; i < n; i++) dst[i] = f(src[i]!);
        return [o];
      };
    },
  };
}

const fl = (f: F) => () => f;

export const Abs = unary({ op: "Abs", float: fl(Math.abs), int: () => (x) => (x < 0 ? -x : x) });
export const Neg = unary({ op: "Neg", float: fl((x) => -x), int: () => (x) => -x });
export const Sign = unary({ op: "Sign", float: fl((x) => (x > 0 ? 1 : x < 0 ? -1 : x === 0 ? 0 : Number.NaN)), int: () => (x) => (typeof x === "bigint" ? (x > 0n ? 1n : x < 0n ? -1n : 0n) : Math.sign(x)) });
export const Exp = unary({ op: "Exp", float: fl(Math.exp) });
export const Log = unary({ op: "Log", float: fl(Math.log) });
export const Sqrt = unary({ op: "Sqrt", float: fl(Math.sqrt) });
export const Reciprocal = unary({ op: "Reciprocal", float: fl((x) => 1 / x) });
export const Floor = unary({ op: "Floor", float: fl(Math.floor) });
export const Ceil = unary({ op: "Ceil", float: fl(Math.ceil) });
export const Round = unary({ op: "Round", float: fl(roundEven) });
export const Sin = unary({ op: "Sin", float: fl(Math.sin) });
export const Cos = unary({ op: "Cos", float: fl(Math.cos) });
export const Tan = unary({ op: "Tan", float: fl(Math.tan) });
export const Asin = unary({ op: "Asin", float: fl(Math.asin) });
export const Acos = unary({ op: "Acos", float: fl(Math.acos) });
export const Atan = unary({ op: "Atan", float: fl(Math.atan) });
export const Sinh = unary({ op: "Sinh", float: fl(Math.sinh) });
export const Cosh = unary({ op: "Cosh", float: fl(Math.cosh) });
export const Asinh = unary({ op: "Asinh", float: fl(Math.asinh) });
export const Acosh = unary({ op: "Acosh", float: fl(Math.acosh) });
export const Atanh = unary({ op: "Atanh", float: fl(Math.atanh) });
export const Tanh = unary({ op: "Tanh", float: fl(Math.tanh) });
export const Erf = unary({ op: "Erf", float: fl(erf) });
export const Not = unary({ op: "Not", bool: () => (x) => (x ? 0 : 1) });
export const BitwiseNot = unary({ op: "BitwiseNot", int: () => (x) => ~x });
export const IsNaN = unary({ op: "IsNaN", toBool: true, float: fl((x) => (Number.isNaN(x) ? 1 : 0)) });
export const IsInf = unary({
  op: "IsInf",
  toBool: true,
  float: (n) => {
    const pos = n.int("detect_positive", 1) !== 0;
    const neg = n.int("detect_negative", 1) !== 0;
    return (x) => ((pos && x === Number.POSITIVE_INFINITY) || (neg && x === Number.NEGATIVE_INFINITY) ? 1 : 0);
  },
});

export const Relu = unary({ op: "Relu", float: fl((x) => (x > 0 ? x : x === 0 || x < 0 ? 0 : x)), int: () => (x) => (x > 0 ? x : typeof x === "bigint" ? 0n : 0) });
export const LeakyRelu = unary({ op: "LeakyRelu", float: (n) => { const a = n.float("alpha", 0.01); return (x) => (x >= 0 ? x : a * x); } });
export const Sigmoid = unary({ op: "Sigmoid", float: fl((x) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)))) });
export const HardSigmoid = unary({
  op: "HardSigmoid",
  float: (n) => {
    const a = n.float("alpha", 0.2);
    const b = n.float("beta", 0.5);
    return (x) => Math.max(0, Math.min(1, a * x + b));
  },
});
export const HardSwish = unary({ op: "HardSwish", float: fl((x) => x * Math.max(0, Math.min(1, x / 6 + 0.5))) });
export const Elu = unary({ op: "Elu", float: (n) => { const a = n.float("alpha", 1); return (x) => (x >= 0 ? x : a * (Math.exp(x) - 1)); } });
export const Selu = unary({
  op: "Selu",
  float: (n) => {
    const a = n.float("alpha", 1.6732631921768188);
    const g = n.float("gamma", 1.0507010221481323);
    return (x) => (x > 0 ? g * x : g * (a * Math.exp(x) - a));
  },
});
export const Celu = unary({ op: "Celu", float: (n) => { const a = n.float("alpha", 1); return (x) => Math.max(0, x) + Math.min(0, a * (Math.exp(x / a) - 1)); } });
const softplus = (x: number) => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)));
export const Softplus = unary({ op: "Softplus", float: fl(softplus) });
export const Softsign = unary({ op: "Softsign", float: fl((x) => x / (1 + Math.abs(x))) });
export const ThresholdedRelu = unary({ op: "ThresholdedRelu", float: (n) => { const a = n.float("alpha", 1); return (x) => (x > a ? x : 0); } });
export const Mish = unary({ op: "Mish", float: fl((x) => x * Math.tanh(softplus(x))) });
export const Gelu = unary({
  op: "Gelu",
  float: (n) => {
    const approx = n.string("approximate", "none");
    if (approx === "tanh") {
      const c = Math.sqrt(2 / Math.PI);
      return (x) => 0.5 * x * (1 + Math.tanh(c * (x + 0.044715 * x * x * x)));
    }
    return (x) => 0.5 * x * (1 + erf(x / Math.SQRT2));
  },
});
export const Shrink = unary({
  op: "Shrink",
  float: (n) => {
    const bias = n.float("bias", 0);
    const l = n.float("lambd", 0.5);
    return (x) => (x < -l ? x + bias : x > l ? x - bias : 0);
  },
  int: (n) => {
    const bias = n.float("bias", 0);
    const l = n.float("lambd", 0.5);
    return (x) => (x < -l ? x + bias : x > l ? x - bias : 0);
  },
});

/** Clip: bounds from attributes (opset < 11) or optional scalar inputs (11+); integers from opset 12. */
export const Clip: Kernel = {
  op: "Clip",
  prepare(node, ctx) {
    const attrMin = node.float("min", Number.NEGATIVE_INFINITY);
    const attrMax = node.float("max", Number.POSITIVE_INFINITY);
    return (inputs, rt) => {
      const x = inputs[0];
      if (!x) throw invalid(node, "Clip needs an input");
      const scalar = (t: Input, dflt: number | bigint) => (t && t.data.length > 0 ? (t.data[0] as number | bigint) : dflt);
      const d = x.dtype;
      const n = x.data.length;
      if (d === "int64" || d === "uint64") {
        const lo = scalar(inputs[1], -(1n << 63n)) as bigint;
        const hi = scalar(inputs[2], (1n << 64n) - 1n) as bigint;
        const o = rt.alloc(d, x.shape);
        const s = x.data as BigInt64Array;
        for (let i = 0; i < n; i++) {
          const v = s[i]!;
          // biome-ignore lint/complexity/useMathMinMax: bigint values
          (o.data as BigInt64Array)[i] = v < lo ? lo : v > hi ? hi : v;
        }
        return [o];
      }
      if (isFloatDType(d)) {
        const lo = ctx.opset < 11 ? attrMin : inputs[1] ? floatData(inputs[1])[0]! : Number.NEGATIVE_INFINITY;
        const hi = ctx.opset < 11 ? attrMax : inputs[2] ? floatData(inputs[2])[0]! : Number.POSITIVE_INFINITY;
        const src = floatData(x);
        const out = floatOut(rt, d, x.shape);
        const o = out.data;
        for (let i = 0; i < n; i++) {
          const v = src[i]!;
          // biome-ignore lint/complexity/useMathMinMax: NaN passes through Clip unchanged
          o[i] = v < lo ? lo : v > hi ? hi : v;
        }
        if (lo > hi) o.fill(hi);
        return [out.commit()];
      }
      const lo = Number(scalar(inputs[1], Number.NEGATIVE_INFINITY));
      const hi = Number(scalar(inputs[2], Number.POSITIVE_INFINITY));
      const o = rt.alloc(d, x.shape) as Tensor;
      const s = num(x);
      const dst = num(o);
      for (let i = 0; i < n; i++) {
        const v = s[i]!;
        // biome-ignore lint/complexity/useMathMinMax: one expression for every integer storage
        dst[i] = v < lo ? lo : v > hi ? hi : v;
      }
      return [o];
    };
  },
};
