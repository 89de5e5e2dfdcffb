// Activations (unary, with attributes) and Clip. PRelu is with the binary ops (its slope broadcasts).
import type { Tensor } from "@quanta/tensor";
import type { Input, Kernel } from "../../kernel.js";
import { invalid, unsupported } from "../util.js";
import { type BigArray, type NumArray, floatView, isBigDType, isFloatDType } from "./dtypes.js";
import { erfc, softplus } from "./math.js";
import { runFloatLoop, unaryKernel } from "./unary.js";

/**
 * Relu. float32 runs a branchless loop (max(v, 0) = (v + |v|) / 2, exact for float32 values held in
 * doubles; a sign-random input makes a branch mispredict half the time), patched where that gives NaN
 * (v = -Infinity); NaN inputs pass through.
 */
export const Relu = unaryKernel({
  op: "Relu",
  float: () => (s, d, n) => {
    if (s instanceof Float32Array) {
      for (let i = 0; i < n; i++) {
        const v = s[i]!;
        const r = (v + Math.abs(v)) * 0.5;
        d[i] = Number.isNaN(r) && v < 0 ? 0 : r;
      }
    } else for (let i = 0; i < n; i++) d[i] = Math.max(s[i]!, 0);
  },
  int: () => (x) => Math.max(x, 0),
  big: () => (x) => (x < 0n ? 0n : x),
});

/** LeakyRelu: branchless for float32 like Relu (alpha * v is exact in double, so it rounds once). */
export const LeakyRelu = unaryKernel({
  op: "LeakyRelu",
  float: (node) => {
    const a = node.float("alpha", 0.01);
    return (s, d, n) => {
      if (s instanceof Float32Array) {
        for (let i = 0; i < n; i++) {
          const v = s[i]!;
          const h = Math.abs(v);
          const r = (v + h) * 0.5 + a * ((v - h) * 0.5);
          d[i] = Number.isNaN(r) ? (v < 0 ? a * v : v) : r;
        }
      } else {
        for (let i = 0; i < n; i++) {
          const v = s[i]!;
          d[i] = v < 0 ? a * v : v;
        }
      }
    };
  },
});

export const Sigmoid = unaryKernel({
  op: "Sigmoid",
  float: () => (s, d, n) => {
    for (let i = 0; i < n; i++) d[i] = 1 / (1 + Math.exp(-s[i]!)); // no overflow trouble: exp(-x) = Infinity gives 0
  },
});

export const Tanh = unaryKernel({
  op: "Tanh",
  float: () => (s, d, n) => {
    for (let i = 0; i < n; i++) d[i] = Math.tanh(s[i]!);
  },
});

export const HardSigmoid = unaryKernel({
  op: "HardSigmoid",
  float: (node) => {
    const a = node.float("alpha", 0.2);
    const b = node.float("beta", 0.5);
    // float32: rounded after the product and after the sum, as onnxruntime computes it (one rounding
    // of a * x + b differs in the last bit for a fifth of the inputs at alpha = 1/6).
    return (s, d, n) => {
      if (d instanceof Float64Array) for (let i = 0; i < n; i++) d[i] = Math.min(Math.max(a * s[i]! + b, 0), 1);
      else for (let i = 0; i < n; i++) d[i] = Math.min(Math.max(Math.fround(Math.fround(a * s[i]!) + b), 0), 1);
    };
  },
});

export const HardSwish = unaryKernel({
  op: "HardSwish",
  float: () => (s, d, n) => {
    for (let i = 0; i < n; i++) {
      const x = s[i]!;
      const v = x / 6 + 0.5;
      d[i] = v <= 0 ? 0 : v >= 1 ? x : x * v;
    }
  },
});

export const Elu = unaryKernel({
  op: "Elu",
  float: (node) => {
    const a = node.float("alpha", 1);
    return (s, d, n) => {
      for (let i = 0; i < n; i++) {
        const v = s[i]!;
        d[i] = v < 0 ? a * Math.expm1(v) : v;
      }
    };
  },
});

export const Selu = unaryKernel({
  op: "Selu",
  float: (node) => {
    const a = node.float("alpha", Math.fround(1.6732632423543772));
    const g = node.float("gamma", Math.fround(1.0507009873554805));
    const ga = g * a;
    return (s, d, n) => {
      for (let i = 0; i < n; i++) {
        const v = s[i]!;
        d[i] = v > 0 ? g * v : ga * Math.expm1(v);
      }
    };
  },
});

export const Celu = unaryKernel({
  op: "Celu",
  float: (node) => {
    const a = node.float("alpha", 1);
    return (s, d, n) => {
      for (let i = 0; i < n; i++) {
        const v = s[i]!;
        d[i] = v > 0 ? v : a * Math.expm1(v / a);
      }
    };
  },
});

export const Softplus = unaryKernel({
  op: "Softplus",
  float: () => (s, d, n) => {
    for (let i = 0; i < n; i++) d[i] = softplus(s[i]!);
  },
});

export const Softsign = unaryKernel({
  op: "Softsign",
  float: () => (s, d, n) => {
    for (let i = 0; i < n; i++) {
      const v = s[i]!;
      d[i] = v / (1 + Math.abs(v));
    }
  },
});

export const ThresholdedRelu = unaryKernel({
  op: "ThresholdedRelu",
  float: (node) => {
    const a = node.float("alpha", 1);
    return (s, d, n) => {
      for (let i = 0; i < n; i++) {
        const v = s[i]!;
        d[i] = v > a ? v : 0;
      }
    };
  },
});

export const Mish = unaryKernel({
  op: "Mish",
  float: () => (s, d, n) => {
    for (let i = 0; i < n; i++) {
      const v = s[i]!;
      d[i] = v * Math.tanh(softplus(v));
    }
  },
});

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
/** Gelu (opset 20): exact (erf) or approximate="tanh". */
export const Gelu = unaryKernel({
  op: "Gelu",
  float: (node, ctx) => {
    const approx = node.string("approximate", "none");
    if (approx === "tanh") {
      return (s, d, n) => {
        for (let i = 0; i < n; i++) {
          const x = s[i]!;
          d[i] = 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)));
        }
      };
    }
    if (approx !== "none") throw unsupported(node, ctx, `Gelu approximate='${approx}'`);
    return (s, d, n) => {
      for (let i = 0; i < n; i++) {
        const x = s[i]!;
        d[i] = 0.5 * x * erfc(-x * Math.SQRT1_2); // = 1 + erf(x / sqrt 2), accurate for x << 0 too
      }
    };
  },
});

/** Shrink: every numeric dtype; integers store x ± bias truncated. */
export const Shrink = unaryKernel({
  op: "Shrink",
  float: (node) => {
    const bias = node.float("bias", 0);
    const l = node.float("lambd", 0.5);
    return (s, d, n) => {
      for (let i = 0; i < n; i++) {
        const v = s[i]!;
        d[i] = v < -l ? v + bias : v > l ? v - bias : 0;
      }
    };
  },
  int: (node) => {
    const bias = node.float("bias", 0);
    const l = node.float("lambd", 0.5);
    return (x) => (x < -l ? x + bias : x > l ? x - bias : 0);
  },
  big: (node) => {
    const bias = node.float("bias", 0);
    const l = node.float("lambd", 0.5);
    return (x) => {
      const v = Number(x);
      return v < -l ? BigInt(Math.trunc(v + bias)) : v > l ? BigInt(Math.trunc(v - bias)) : 0n;
    };
  },
});

const FLT_MAX = 3.4028234663852886e38;

/**
 * Clip: bounds from the min/max attributes (opset < 11, defaults ±FLT_MAX) or from optional scalar inputs
 * (11+, absent = unbounded; integer dtypes from 12). min > max gives max everywhere; NaN passes through.
 */
export const Clip: Kernel = {
  op: "Clip",
  prepare(node, ctx) {
    const attrs = ctx.opset < 11;
    const attrMin = node.float("min", -FLT_MAX);
    const attrMax = node.float("max", FLT_MAX);
    const scalar = (t: Input): Tensor | undefined => (t && t.data.length > 0 ? t : undefined);
    return (inputs, rt) => {
      const x = inputs[0];
      if (!x) throw invalid(node, "Clip needs an input");
      const d = x.dtype;
      const tlo = attrs ? undefined : scalar(inputs[1]);
      const thi = attrs ? undefined : scalar(inputs[2]);
      for (const t of [tlo, thi]) if (t && t.dtype !== d) throw invalid(node, `Clip bound of type ${t.dtype} for input of type ${d}`);
      if (isFloatDType(d)) {
        const lo = attrs ? attrMin : tlo ? floatView(tlo)[0]! : Number.NEGATIVE_INFINITY;
        const hi = attrs ? attrMax : thi ? floatView(thi)[0]! : Number.POSITIVE_INFINITY;
        return [
          runFloatLoop(
            (s, o, n) => {
              for (let i = 0; i < n; i++) {
                o[i] = Math.min(Math.max(s[i]!, lo), hi); // NaN passes; lo > hi gives hi
              }
            },
            x,
            rt,
          ),
        ];
      }
      if (attrs) throw unsupported(node, ctx, `Clip-${ctx.opset} on ${d}`);
      const o = rt.alloc(d, x.shape);
      if (isBigDType(d)) {
        const s = x.data as BigArray;
        const dst = o.data as BigArray;
        const lo = tlo ? (tlo.data as BigArray)[0]! : undefined;
        const hi = thi ? (thi.data as BigArray)[0]! : undefined;
        for (let i = 0; i < s.length; i++) {
          let v = s[i]!;
          if (lo !== undefined && v < lo) v = lo;
          if (hi !== undefined && v > hi) v = hi;
          dst[i] = v;
        }
        return [o];
      }
      if (d === "bool" || d === "int4" || d === "uint4" || d.startsWith("float8")) throw unsupported(node, ctx, `Clip on ${d}`);
      const s = x.data as NumArray;
      const dst = o.data as NumArray;
      const lo = tlo ? (tlo.data as NumArray)[0]! : Number.NEGATIVE_INFINITY;
      const hi = thi ? (thi.data as NumArray)[0]! : Number.POSITIVE_INFINITY;
      for (let i = 0; i < s.length; i++) {
        dst[i] = Math.min(Math.max(s[i]!, lo), hi);
      }
      return [o];
    };
  },
};
