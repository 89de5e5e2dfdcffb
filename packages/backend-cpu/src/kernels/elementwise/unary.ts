// Unary elementwise ops: math, rounding, trigonometry, Erf, IsNaN/IsInf, Not, BitwiseNot.
// Float dtypes run one loop per op over Float32Array/Float64Array (float16/bfloat16 computed in float32);
// integer dtypes run an element function (number storages) or a bigint one (int64/uint64).
import type { Node } from "@quanta/ir";
import type { DType, Tensor } from "@quanta/tensor";
import type { Input, Kernel, KernelFn, PrepareContext, RunContext } from "../../kernel.js";
import { invalid, unsupported } from "../util.js";
import {
  type BigArray,
  type FloatArray,
  type NumArray,
  decodeBf16,
  decodeHalf,
  encodeBf16,
  encodeHalf,
  floatView,
  isBigDType,
  isFloatDType,
  isSignedDType,
} from "./dtypes.js";
import { erf, roundEven } from "./math.js";

/** A float loop: d[i] = f(s[i]) for i < n (s and d may be the same array). */
export type FLoop = (s: FloatArray, d: FloatArray, n: number) => void;
type NumFn = (x: number) => number;
type BigFn = (x: bigint) => bigint;

export interface UnarySpec {
  readonly op: string;
  /** Builds the float loop from the node's attributes (float32, float64, float16, bfloat16). */
  readonly float?: (node: Node, ctx: PrepareContext) => FLoop;
  /** Element function for the integer dtypes stored as numbers (int8..uint32); `signed` tells the dtype's kind. */
  readonly int?: (node: Node, signed: boolean) => NumFn;
  /** Element function for int64/uint64. */
  readonly big?: (node: Node, signed: boolean) => BigFn;
  /** Element function for bool (0/1). */
  readonly bool?: (node: Node) => NumFn;
}

/** Runs a float loop for any float dtype, allocating the output. */
export function runFloatLoop(loop: FLoop, x: Tensor, rt: RunContext): Tensor {
  const n = x.data.length;
  const o = rt.alloc(x.dtype, x.shape);
  if (x.dtype === "float32" || x.dtype === "float64") {
    loop(x.data as FloatArray, o.data as FloatArray, n);
    return o;
  }
  const half = x.dtype === "float16";
  const tmp = half ? decodeHalf(x.data as Uint16Array) : decodeBf16(x.data as Uint16Array);
  loop(tmp, tmp, n);
  if (half) encodeHalf(tmp, o.data as Uint16Array);
  else encodeBf16(tmp, o.data as Uint16Array);
  return o;
}

function mapNum(f: NumFn, s: NumArray, d: NumArray): void {
  for (let i = 0; i < s.length; i++) d[i] = f(s[i]!);
}
function mapBig(f: BigFn, s: BigArray, d: BigArray): void {
  for (let i = 0; i < s.length; i++) d[i] = f(s[i]!);
}

/** A unary kernel whose output has the input's dtype and shape. */
export function unaryKernel(s: UnarySpec): Kernel {
  return {
    op: s.op,
    prepare(node: Node, ctx: PrepareContext): KernelFn {
      const loop = s.float?.(node, ctx);
      const cache = new Map<DType, NumFn | BigFn | undefined>();
      const elementFn = (d: DType): NumFn | BigFn | undefined => {
        if (cache.has(d)) return cache.get(d);
        const f = d === "bool" ? s.bool?.(node) : isBigDType(d) ? s.big?.(node, d === "int64") : s.int?.(node, isSignedDType(d));
        cache.set(d, f);
        return f;
      };
      return (inputs: readonly Input[], rt: RunContext) => {
        const x = inputs[0];
        if (!x) throw invalid(node, `${s.op} needs an input`);
        const d = x.dtype;
        if (isFloatDType(d)) {
          if (!loop) throw unsupported(node, ctx, `${s.op} on ${d}`);
          return [runFloatLoop(loop, x, rt)];
        }
        const f = d === "int4" || d === "uint4" || d.startsWith("float8") ? undefined : elementFn(d);
        if (!f) throw unsupported(node, ctx, `${s.op} on ${d}`);
        const o = rt.alloc(d, x.shape);
        if (isBigDType(d)) mapBig(f as BigFn, x.data as BigArray, o.data as BigArray);
        else mapNum(f as NumFn, x.data as NumArray, o.data as NumArray);
        return [o];
      };
    },
  };
}

/** Float-only unary op from a fixed loop. */
const floatOp = (op: string, loop: FLoop): Kernel => unaryKernel({ op, float: () => loop });

export const Abs = unaryKernel({
  op: "Abs",
  float: () => (s, d, n) => {
    for (let i = 0; i < n; i++) d[i] = Math.abs(s[i]!);
  },
  int: () => (x) => (x < 0 ? -x : x),
  big: () => (x) => (x < 0n ? -x : x),
});
export const Neg = unaryKernel({
  op: "Neg",
  float: () => (s, d, n) => {
    for (let i = 0; i < n; i++) d[i] = -s[i]!;
  },
  int: () => (x) => -x,
  big: () => (x) => -x,
});
export const Sign = unaryKernel({
  op: "Sign",
  float: () => (s, d, n) => {
    for (let i = 0; i < n; i++) {
      const v = s[i]!;
      d[i] = v > 0 ? 1 : v < 0 ? -1 : v; // 0 and NaN map to themselves
    }
  },
  int: () => (x) => (x > 0 ? 1 : x < 0 ? -1 : 0),
  big: () => (x) => (x > 0n ? 1n : x < 0n ? -1n : 0n),
});
export const Exp = floatOp("Exp", (s, d, n) => {
  for (let i = 0; i < n; i++) d[i] = Math.exp(s[i]!);
});
export const Log = floatOp("Log", (s, d, n) => {
  for (let i = 0; i < n; i++) d[i] = Math.log(s[i]!);
});
export const Sqrt = floatOp("Sqrt", (s, d, n) => {
  for (let i = 0; i < n; i++) d[i] = Math.sqrt(s[i]!);
});
export const Reciprocal = floatOp("Reciprocal", (s, d, n) => {
  for (let i = 0; i < n; i++) d[i] = 1 / s[i]!;
});
export const Floor = floatOp("Floor", (s, d, n) => {
  for (let i = 0; i < n; i++) d[i] = Math.floor(s[i]!);
});
export const Ceil = floatOp("Ceil", (s, d, n) => {
  for (let i = 0; i < n; i++) d[i] = Math.ceil(s[i]!);
});
export const Round = floatOp("Round", (s, d, n) => {
  for (let i = 0; i < n; i++) d[i] = roundEven(s[i]!);
});
export const Sin = floatOp("Sin", (s, d, n) => {
  for (let i = 0; i < n; i++) d[i] = Math.sin(s[i]!);
});
export const Cos = floatOp("Cos", (s, d, n) => {
  for (let i = 0; i < n; i++) d[i] = Math.cos(s[i]!);
});
export const Tan = floatOp("Tan", (s, d, n) => {
  for (let i = 0; i < n; i++) d[i] = Math.tan(s[i]!);
});
export const Asin = floatOp("Asin", (s, d, n) => {
  for (let i = 0; i < n; i++) d[i] = Math.asin(s[i]!);
});
export const Acos = floatOp("Acos", (s, d, n) => {
  for (let i = 0; i < n; i++) d[i] = Math.acos(s[i]!);
});
export const Atan = floatOp("Atan", (s, d, n) => {
  for (let i = 0; i < n; i++) d[i] = Math.atan(s[i]!);
});
export const Sinh = floatOp("Sinh", (s, d, n) => {
  for (let i = 0; i < n; i++) d[i] = Math.sinh(s[i]!);
});
export const Cosh = floatOp("Cosh", (s, d, n) => {
  for (let i = 0; i < n; i++) d[i] = Math.cosh(s[i]!);
});
export const Asinh = floatOp("Asinh", (s, d, n) => {
  for (let i = 0; i < n; i++) d[i] = Math.asinh(s[i]!);
});
export const Acosh = floatOp("Acosh", (s, d, n) => {
  for (let i = 0; i < n; i++) d[i] = Math.acosh(s[i]!);
});
export const Atanh = floatOp("Atanh", (s, d, n) => {
  for (let i = 0; i < n; i++) d[i] = Math.atanh(s[i]!);
});
/** Erf: floats, and (ONNX 13+) integers, whose result truncates to -1, 0 or 1. */
export const Erf = unaryKernel({
  op: "Erf",
  float: () => (s, d, n) => {
    for (let i = 0; i < n; i++) d[i] = erf(s[i]!);
  },
  int: () => (x) => Math.trunc(erf(x)),
  big: () => (x) => BigInt(Math.trunc(erf(Number(x)))),
});
export const Not = unaryKernel({ op: "Not", bool: () => (x) => (x ? 0 : 1) });
/** BitwiseNot: the store into the output's storage wraps to the dtype's width. */
export const BitwiseNot = unaryKernel({ op: "BitwiseNot", int: () => (x) => ~x, big: () => (x) => ~x });

/** IsNaN / IsInf: float input, bool output. */
function floatToBool(op: string, make: (node: Node) => (s: FloatArray, d: Uint8Array, n: number) => void): Kernel {
  return {
    op,
    prepare(node, ctx) {
      const loop = make(node);
      return (inputs, rt) => {
        const x = inputs[0];
        if (!x) throw invalid(node, `${op} needs an input`);
        if (!isFloatDType(x.dtype)) throw unsupported(node, ctx, `${op} on ${x.dtype}`);
        const o = rt.alloc("bool", x.shape);
        loop(floatView(x), o.data, o.data.length);
        return [o];
      };
    },
  };
}
export const IsNaN = floatToBool("IsNaN", () => (s, d, n) => {
  for (let i = 0; i < n; i++) {
    d[i] = Number.isNaN(s[i]!) ? 1 : 0;
  }
});
export const IsInf = floatToBool("IsInf", (node) => {
  const pos = node.int("detect_positive", 1) !== 0 ? Number.POSITIVE_INFINITY : Number.NaN;
  const neg = node.int("detect_negative", 1) !== 0 ? Number.NEGATIVE_INFINITY : Number.NaN;
  return (s, d, n) => {
    for (let i = 0; i < n; i++) {
      const v = s[i]!;
      d[i] = v === pos || v === neg ? 1 : 0;
    }
  };
});
