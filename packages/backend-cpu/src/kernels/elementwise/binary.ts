// Binary elementwise ops with numpy broadcasting: arithmetic, comparison, logical, bitwise, Pow, Mod, BitShift, PRelu.
import type { Node } from "@quanta/ir";
import type { DType, Tensor } from "@quanta/tensor";
import type { Input, Kernel, KernelFn, PrepareContext, RunContext } from "../../kernel.js";
import { floatData, floatOut, isFloatDType } from "../nn/float_impl.js";
import { invalid, unsupported } from "../util.js";
import { broadcastAll, forEachRow2, num } from "./broadcast.js";

// biome-ignore lint/suspicious/noExplicitAny: one element function serves number and bigint storages
type Fn = (a: any, b: any) => any;

const BIG = new Set<DType>(["int64", "uint64"]);

/** out[i] = f(a[i'], b[i'']) over the broadcast of a and b (a generic, closure-based path). */
function generic(f: Fn, a: Tensor, b: Tensor, o: Tensor, shape: readonly number[]): void {
  const x = num(a);
  const y = num(b);
  const z = num(o);
  forEachRow2(a.shape, b.shape, shape, (ao, bo, oo, n, sa, sb) => {
    for (let k = 0; k < n; k++) z[oo + k] = f(x[ao + k * sa]!, y[bo + k * sb]!);
  });
}

type F32Op = 0 | 1 | 2 | 3; // add sub mul div
/** Specialised float32 loops for the four arithmetic ops (no per-element call). */
function f32Arith(op: F32Op, a: Float32Array, b: Float32Array, o: Float32Array, as: readonly number[], bs: readonly number[], shape: readonly number[]): void {
  forEachRow2(as, bs, shape, (ao, bo, oo, n, sa, sb) => {
    if (sa === 1 && sb === 1) {
      if (op === 0) for (let k = 0; k < n; k++) o[oo + k] = a[ao + k]! + b[bo + k]!;
      else if (op === 1) for (let k = 0; k < n; k++) o[oo + k] = a[ao + k]! - b[bo + k]!;
      else if (op === 2) for (let k = 0; k < n; k++) o[oo + k] = a[ao + k]! * b[bo + k]!;
      else for (let k = 0; k < n; k++) o[oo + k] = a[ao + k]! / b[bo + k]!;
    } else if (sb === 0) {
      const v = b[bo]!;
      if (op === 0) for (let k = 0, i = ao; k < n; k++, i += sa) o[oo + k] = a[i]! + v;
      else if (op === 1) for (let k = 0, i = ao; k < n; k++, i += sa) o[oo + k] = a[i]! - v;
      else if (op === 2) for (let k = 0, i = ao; k < n; k++, i += sa) o[oo + k] = a[i]! * v;
      else for (let k = 0, i = ao; k < n; k++, i += sa) o[oo + k] = a[i]! / v;
    } else {
      const v = a[ao]!;
      if (op === 0) for (let k = 0, j = bo; k < n; k++, j += sb) o[oo + k] = v + b[j]!;
      else if (op === 1) for (let k = 0, j = bo; k < n; k++, j += sb) o[oo + k] = v - b[j]!;
      else if (op === 2) for (let k = 0, j = bo; k < n; k++, j += sb) o[oo + k] = v * b[j]!;
      else for (let k = 0, j = bo; k < n; k++, j += sb) o[oo + k] = v / b[j]!;
    }
  });
}

interface Spec {
  readonly op: string;
  /** Float element function (float16/bfloat16 computed in float32). */
  readonly float?: Fn;
  /** Integer element function on numbers (int8..uint32); the store wraps. */
  readonly int?: Fn;
  /** Integer element function on bigints (int64/uint64). */
  readonly big?: Fn;
  /** Element function on bools (0/1). */
  readonly bool?: Fn;
  /** Output is bool. */
  readonly cmp?: boolean;
  readonly f32?: F32Op;
  /** Inputs may have different dtypes (Pow's exponent, BitShift no). */
  readonly mixed?: boolean;
}

function makeKernel(s: Spec, attrs?: (node: Node, ctx: PrepareContext) => Spec): Kernel {
  return {
    op: s.op,
    prepare(node, ctx): KernelFn {
      const spec = attrs ? attrs(node, ctx) : s;
      return (inputs: readonly Input[], rt: RunContext) => {
        const a = inputs[0];
        const b = inputs[1];
        if (!a || !b) throw invalid(node, `${s.op} needs two inputs`);
        if (a.dtype !== b.dtype && !spec.mixed) throw invalid(node, `${s.op} inputs have different types ${a.dtype} and ${b.dtype}`);
        const shape = broadcastAll([a.shape, b.shape]);
        const d = a.dtype;
        if (spec.cmp) {
          const o = rt.alloc("bool", shape);
          if (isFloatDType(d) && d !== "float32" && d !== "float64") {
            generic(spec.float!, { ...a, data: floatData(a) } as Tensor, { ...b, data: floatData(b) } as Tensor, o, shape);
          } else {
            const f = d === "bool" ? (spec.bool ?? spec.int) : BIG.has(d) ? spec.big : isFloatDType(d) ? spec.float : spec.int;
            if (!f) throw unsupported(node, ctx, `${s.op} on ${d}`);
            generic(f, a, b, o, shape);
          }
          return [o];
        }
        if (d === "float32" && spec.f32 !== undefined && b.dtype === "float32") {
          const o = rt.alloc("float32", shape);
          f32Arith(spec.f32, a.data as Float32Array, b.data as Float32Array, o.data, a.shape, b.shape, shape);
          return [o];
        }
        if (isFloatDType(d)) {
          if (!spec.float) throw unsupported(node, ctx, `${s.op} on ${d}`);
          const out = floatOut(rt, d, shape);
          const bb = b.dtype === d && (d === "float32" || d === "float64") ? b : ({ ...b, data: BIG.has(b.dtype) ? Float64Array.from(b.data as BigInt64Array, Number) : floatData(b) } as Tensor);
          generic(spec.float, { ...a, data: floatData(a) } as Tensor, bb, { ...out.tensor, data: out.data } as Tensor, shape);
          return [out.commit()];
        }
        const o = rt.alloc(d, shape);
        if (BIG.has(d)) {
          if (!spec.big) throw unsupported(node, ctx, `${s.op} on ${d}`);
          const bb = BIG.has(b.dtype) ? b : ({ ...b, data: BigInt64Array.from(floatData(b), (v) => BigInt(Math.trunc(v))) } as Tensor);
          generic(spec.big, a, bb, o, shape);
          return [o];
        }
        const f = d === "bool" ? spec.bool : spec.int;
        if (!f) throw unsupported(node, ctx, `${s.op} on ${d}`);
        const bb = b.dtype === d ? b : ({ ...b, data: floatData(b) } as Tensor);
        generic(f, a, bb, o, shape);
        return [o];
      };
    },
  };
}

const truncDiv = (a: number, b: number) => (b === 0 ? 0 : Math.trunc(a / b));

export const Add = makeKernel({ op: "Add", f32: 0, float: (a, b) => a + b, int: (a, b) => a + b, big: (a, b) => a + b });
export const Sub = makeKernel({ op: "Sub", f32: 1, float: (a, b) => a - b, int: (a, b) => a - b, big: (a, b) => a - b });
export const Mul = makeKernel({ op: "Mul", f32: 2, float: (a, b) => a * b, int: (a, b) => Math.imul(a, b), big: (a, b) => a * b });
export const Div = makeKernel({ op: "Div", f32: 3, float: (a, b) => a / b, int: truncDiv, big: (a, b) => (b === 0n ? 0n : a / b) });

const cmp = (op: string, f: Fn): Kernel => makeKernel({ op, cmp: true, float: f, int: f, big: f, bool: f });
export const Equal = cmp("Equal", (a, b) => (a === b ? 1 : 0));
export const Greater = cmp("Greater", (a, b) => (a > b ? 1 : 0));
export const Less = cmp("Less", (a, b) => (a < b ? 1 : 0));
export const GreaterOrEqual = cmp("GreaterOrEqual", (a, b) => (a >= b ? 1 : 0));
export const LessOrEqual = cmp("LessOrEqual", (a, b) => (a <= b ? 1 : 0));

export const And = makeKernel({ op: "And", bool: (a, b) => a & b });
export const Or = makeKernel({ op: "Or", bool: (a, b) => a | b });
export const Xor = makeKernel({ op: "Xor", bool: (a, b) => a ^ b });
export const BitwiseAnd = makeKernel({ op: "BitwiseAnd", int: (a, b) => a & b, big: (a, b) => a & b, bool: (a, b) => a & b });
export const BitwiseOr = makeKernel({ op: "BitwiseOr", int: (a, b) => a | b, big: (a, b) => a | b, bool: (a, b) => a | b });
export const BitwiseXor = makeKernel({ op: "BitwiseXor", int: (a, b) => a ^ b, big: (a, b) => a ^ b, bool: (a, b) => a ^ b });

const MASK64 = (1n << 64n) - 1n;
export const BitShift = makeKernel({ op: "BitShift" }, (node, ctx) => {
  const dir = node.string("direction", "");
  if (dir !== "LEFT" && dir !== "RIGHT") throw invalid(node, `BitShift direction must be LEFT or RIGHT, got '${dir}'`);
  void ctx;
  return dir === "LEFT"
    ? { op: "BitShift", int: (a, b) => (b >= 32 ? 0 : (a << b) >>> 0), big: (a, b) => (BigInt.asUintN(64, a) << b) & MASK64 }
    : { op: "BitShift", int: (a, b) => (b >= 32 ? 0 : a >>> b), big: (a, b) => BigInt.asUintN(64, a) >> b };
});

export const Mod = makeKernel({ op: "Mod" }, (node) => {
  const fmod = node.int("fmod", 0) === 1;
  const pyMod = (a: number, b: number) => {
    if (b === 0) return 0;
    const r = a % b;
    return r !== 0 && r < 0 !== b < 0 ? r + b : r;
  };
  const pyBig = (a: bigint, b: bigint) => {
    if (b === 0n) return 0n;
    const r = a % b;
    return r !== 0n && r < 0n !== b < 0n ? r + b : r;
  };
  return fmod
    ? { op: "Mod", float: (a, b) => a % b, int: (a, b) => (b === 0 ? 0 : a % b), big: (a, b) => (b === 0n ? 0n : a % b) }
    : { op: "Mod", float: (a, b) => { const r = a % b; return r !== 0 && r < 0 !== b < 0 ? r + b : r; }, int: pyMod, big: pyBig };
});

export const Pow = makeKernel({
  op: "Pow",
  mixed: true,
  float: (a, b) => a ** b,
  int: (a, b) => Math.trunc(a ** b),
  big: (a, b) => (b < 0n ? (a === 1n ? 1n : 0n) : a ** b),
});

/** PRelu: y = x < 0 ? slope * x : x, slope broadcast to x. */
export const PRelu = makeKernel({
  op: "PRelu",
  float: (x, s) => (x < 0 ? s * x : x),
  int: (x, s) => (x < 0 ? s * x : x),
  big: (x, s) => (x < 0n ? s * x : x),
});

