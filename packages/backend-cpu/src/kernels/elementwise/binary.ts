// Binary elementwise ops with numpy broadcasting: arithmetic, Pow, Mod, comparisons, logical and
// bitwise ops, BitShift, PRelu. Float dtypes run one loop per op over Float32Array/Float64Array
// (float16/bfloat16 computed in float32) on coalesced rows; integer dtypes run an element function
// (int8..uint32 on numbers, the store into the output wraps to the dtype's width; int64/uint64 on bigints).
import type { Node } from "@quanta/ir";
import type { DType } from "@quanta/tensor";
import type { Input, Kernel, KernelFn, PrepareContext, RunContext } from "../../kernel.js";
import { invalid, unsupported } from "../util.js";
import { broadcastAll, forEachRow } from "./broadcast.js";
import { type BigArray, type FloatArray, type NumArray, floatOut, floatView, isBigDType, isFloatDType, isSignedDType } from "./dtypes.js";
import { powBig, powC, pyMod, pyModBig } from "./math.js";

/** o[oi+k] = f(a[ai + k*sa], b[bi + k*sb]) for k < n. */
export type Loop2 = (a: FloatArray, ai: number, sa: number, b: FloatArray, bi: number, sb: number, o: FloatArray, oi: number, n: number) => void;
/** Same, with a bool output. */
export type CmpLoop = (a: FloatArray, ai: number, sa: number, b: FloatArray, bi: number, sb: number, o: Uint8Array, oi: number, n: number) => void;
type NumFn = (a: number, b: number) => number;
type BigFn = (a: bigint, b: bigint) => bigint;
type BigCmp = (a: bigint, b: bigint) => number;

/** Runs `loop` over the broadcast of a and b into o (all float arrays or o a bool array). */
export function runLoop2<O>(
  loop: (a: FloatArray, ai: number, sa: number, b: FloatArray, bi: number, sb: number, o: O, oi: number, n: number) => void,
  a: FloatArray,
  as: readonly number[],
  b: FloatArray,
  bs: readonly number[],
  o: O,
  shape: readonly number[],
): void {
  const off = new Int32Array(2);
  const step = new Int32Array(2);
  forEachRow([as, bs], shape, off, step, (oi, n) => loop(a, off[0]!, step[0]!, b, off[1]!, step[1]!, o, oi, n));
}

/** Element-function driver for number storages. */
export function mapNum2(f: NumFn, a: NumArray, as: readonly number[], b: NumArray, bs: readonly number[], o: NumArray | Uint8Array, shape: readonly number[]): void {
  const off = new Int32Array(2);
  const step = new Int32Array(2);
  forEachRow([as, bs], shape, off, step, (oi, n) => {
    const sa = step[0]!;
    const sb = step[1]!;
    for (let k = 0, i = off[0]!, j = off[1]!; k < n; k++, i += sa, j += sb) o[oi + k] = f(a[i]!, b[j]!);
  });
}

/** Element-function driver for bigint storages (output bigint, or bool for comparisons). */
export function mapBig2(f: BigFn | BigCmp, a: BigArray, as: readonly number[], b: BigArray, bs: readonly number[], o: BigArray | Uint8Array, shape: readonly number[]): void {
  const off = new Int32Array(2);
  const step = new Int32Array(2);
  const out = o as unknown as (bigint | number)[];
  forEachRow([as, bs], shape, off, step, (oi, n) => {
    const sa = step[0]!;
    const sb = step[1]!;
    for (let k = 0, i = off[0]!, j = off[1]!; k < n; k++, i += sa, j += sb) out[oi + k] = f(a[i]!, b[j]!);
  });
}

/**
 * Opset < 7 broadcasting (Add, Sub, Mul, Div, Pow, And, Or, Xor, Equal, Greater, Less with broadcast=1):
 * B aligns with A starting at `axis`; returns the rank-padding to append to B's shape (undefined: numpy rules,
 * which also cover the legacy default of suffix alignment and the broadcast=0 equal-shape case).
 */
function legacyAxis(node: Node, ctx: PrepareContext): number | undefined {
  if (ctx.opset >= 7 || node.int("broadcast", 0) !== 1) return undefined;
  return node.int("axis");
}

/** B's shape aligned to A's from `axis` (legacy broadcasting): trailing 1s appended. */
function alignShape(b: readonly number[], aRank: number, axis: number | undefined): readonly number[] {
  if (axis === undefined) return b;
  const ax = axis < 0 ? axis + aRank : axis;
  const pad = aRank - ax - b.length;
  return pad > 0 ? [...b, ...new Array<number>(pad).fill(1)] : b;
}

interface BinarySpec {
  readonly op: string;
  /** Float loop (float32/float64/float16/bfloat16). */
  readonly float?: (node: Node, ctx: PrepareContext) => Loop2;
  /** Comparison loop on floats: the op's output is bool. */
  readonly cmp?: CmpLoop;
  /** Element function for int8..uint32 (and bool unless `bool` is given). */
  readonly int?: (node: Node, signed: boolean) => NumFn | undefined;
  readonly big?: (node: Node, signed: boolean) => BigFn | BigCmp | undefined;
  readonly bool?: (node: Node) => NumFn;
  /** The output is bool (comparisons). */
  readonly toBool?: boolean;
  /** Output shape must be the first input's (PRelu's unidirectional broadcast). */
  readonly unidirectional?: boolean;
}

function binaryKernel(s: BinarySpec): Kernel {
  return {
    op: s.op,
    prepare(node: Node, ctx: PrepareContext): KernelFn {
      const loop = s.float?.(node, ctx);
      const axis = legacyAxis(node, ctx);
      const fns = new Map<DType, NumFn | BigFn | BigCmp | undefined>();
      const elementFn = (d: DType) => {
        if (fns.has(d)) return fns.get(d);
        const f = d === "bool" ? (s.bool?.(node) ?? (s.toBool ? s.int?.(node, false) : undefined)) : isBigDType(d) ? s.big?.(node, d === "int64") : s.int?.(node, isSignedDType(d));
        fns.set(d, f);
        return f;
      };
      return (inputs: readonly Input[], rt: RunContext) => {
        const a = inputs[0];
        const b0 = inputs[1];
        if (!a || !b0) throw invalid(node, `${s.op} needs two inputs`);
        const b = axis === undefined ? b0 : { ...b0, shape: alignShape(b0.shape, a.shape.length, axis) };
        const d = a.dtype;
        if (b.dtype !== d) throw invalid(node, `${s.op} inputs have different types ${d} and ${b.dtype}`);
        const shape = broadcastAll([a.shape, b.shape]);
        if (s.unidirectional && (shape.length !== a.shape.length || shape.some((v, i) => v !== a.shape[i]))) {
          throw invalid(node, `${s.op} slope of shape [${b.shape.join(",")}] does not broadcast to [${a.shape.join(",")}]`);
        }
        if (isFloatDType(d)) {
          if (s.toBool) {
            if (!s.cmp) throw unsupported(node, ctx, `${s.op} on ${d}`);
            const o = rt.alloc("bool", shape);
            runLoop2(s.cmp, floatView(a), a.shape, floatView(b), b.shape, o.data, shape);
            return [o];
          }
          if (!loop) throw unsupported(node, ctx, `${s.op} on ${d}`);
          const out = floatOut(rt, d, shape);
          runLoop2(loop, floatView(a), a.shape, floatView(b), b.shape, out.data, shape);
          return [out.commit()];
        }
        const f = d === "int4" || d === "uint4" || d.startsWith("float8") ? undefined : elementFn(d);
        if (!f) throw unsupported(node, ctx, `${s.op} on ${d}`);
        const o = rt.alloc(s.toBool ? "bool" : d, shape);
        if (isBigDType(d)) mapBig2(f as BigFn, a.data as BigArray, a.shape, b.data as BigArray, b.shape, o.data as BigArray | Uint8Array, shape);
        else mapNum2(f as NumFn, a.data as NumArray, a.shape, b.data as NumArray, b.shape, o.data as NumArray, shape);
        return [o];
      };
    },
  };
}

// ---- arithmetic ------------------------------------------------------------------------------------------

export const Add = binaryKernel({
  op: "Add",
  float: () => (a, ai, sa, b, bi, sb, o, oi, n) => {
    const e = oi + n;
    if (sb === 0) {
      const v = b[bi]!;
      for (; oi < e; oi++, ai += sa) o[oi] = a[ai]! + v;
    } else if (sa === 0) {
      const v = a[ai]!;
      for (; oi < e; oi++, bi += sb) o[oi] = v + b[bi]!;
    } else for (; oi < e; oi++, ai += sa, bi += sb) o[oi] = a[ai]! + b[bi]!;
  },
  int: () => (a, b) => a + b,
  big: () => (a, b) => a + b,
});
export const Sub = binaryKernel({
  op: "Sub",
  float: () => (a, ai, sa, b, bi, sb, o, oi, n) => {
    const e = oi + n;
    if (sb === 0) {
      const v = b[bi]!;
      for (; oi < e; oi++, ai += sa) o[oi] = a[ai]! - v;
    } else if (sa === 0) {
      const v = a[ai]!;
      for (; oi < e; oi++, bi += sb) o[oi] = v - b[bi]!;
    } else for (; oi < e; oi++, ai += sa, bi += sb) o[oi] = a[ai]! - b[bi]!;
  },
  int: () => (a, b) => a - b,
  big: () => (a, b) => a - b,
});
export const Mul = binaryKernel({
  op: "Mul",
  float: () => (a, ai, sa, b, bi, sb, o, oi, n) => {
    const e = oi + n;
    if (sb === 0) {
      const v = b[bi]!;
      for (; oi < e; oi++, ai += sa) o[oi] = a[ai]! * v;
    } else if (sa === 0) {
      const v = a[ai]!;
      for (; oi < e; oi++, bi += sb) o[oi] = v * b[bi]!;
    } else for (; oi < e; oi++, ai += sa, bi += sb) o[oi] = a[ai]! * b[bi]!;
  },
  int: () => Math.imul, // the low 32 bits of the product, which is all the store keeps
  big: () => (a, b) => a * b,
});
/** Div: integer division truncates toward zero (C); division by zero gives 0 for integers. */
export const Div = binaryKernel({
  op: "Div",
  float: () => (a, ai, sa, b, bi, sb, o, oi, n) => {
    const e = oi + n;
    if (sb === 0) {
      const v = b[bi]!;
      for (; oi < e; oi++, ai += sa) o[oi] = a[ai]! / v;
    } else if (sa === 0) {
      const v = a[ai]!;
      for (; oi < e; oi++, bi += sb) o[oi] = v / b[bi]!;
    } else for (; oi < e; oi++, ai += sa, bi += sb) o[oi] = a[ai]! / b[bi]!;
  },
  int: () => (a, b) => (b === 0 ? 0 : Math.trunc(a / b)),
  big: () => (a, b) => (b === 0n ? 0n : a / b),
});

/**
 * Mod: fmod=1 is C's fmod / % (sign of the dividend); fmod=0 is Python's % (sign of the divisor), for
 * integers (and accepted for floats too). Modulo by zero gives 0 for integers, NaN for floats.
 */
export const Mod = binaryKernel({
  op: "Mod",
  float: (node) =>
    node.int("fmod", 0) !== 0
      ? (a, ai, sa, b, bi, sb, o, oi, n) => {
          for (const e = oi + n; oi < e; oi++, ai += sa, bi += sb) o[oi] = a[ai]! % b[bi]!;
        }
      : (a, ai, sa, b, bi, sb, o, oi, n) => {
          for (const e = oi + n; oi < e; oi++, ai += sa, bi += sb) o[oi] = pyMod(a[ai]!, b[bi]!);
        },
  int: (node) => (node.int("fmod", 0) !== 0 ? (a, b) => (b === 0 ? 0 : a % b) : (a, b) => (b === 0 ? 0 : pyMod(a, b))),
  big: (node) => (node.int("fmod", 0) !== 0 ? (a, b) => (b === 0n ? 0n : a % b) : pyModBig),
});

// ---- comparisons (bool output) -------------------------------------------------------------------------

export const Equal = binaryKernel({
  op: "Equal",
  toBool: true,
  cmp: (a, ai, sa, b, bi, sb, o, oi, n) => {
    for (const e = oi + n; oi < e; oi++, ai += sa, bi += sb) o[oi] = Number(a[ai]! === b[bi]!); // branchless, unlike a ternary
  },
  int: () => (a, b) => (a === b ? 1 : 0),
  big: () => (a, b) => (a === b ? 1 : 0),
});
export const Greater = binaryKernel({
  op: "Greater",
  toBool: true,
  cmp: (a, ai, sa, b, bi, sb, o, oi, n) => {
    for (const e = oi + n; oi < e; oi++, ai += sa, bi += sb) o[oi] = Number(a[ai]! > b[bi]!); // branchless, unlike a ternary
  },
  int: () => (a, b) => (a > b ? 1 : 0),
  big: () => (a, b) => (a > b ? 1 : 0),
});
export const Less = binaryKernel({
  op: "Less",
  toBool: true,
  cmp: (a, ai, sa, b, bi, sb, o, oi, n) => {
    for (const e = oi + n; oi < e; oi++, ai += sa, bi += sb) o[oi] = Number(a[ai]! < b[bi]!); // branchless, unlike a ternary
  },
  int: () => (a, b) => (a < b ? 1 : 0),
  big: () => (a, b) => (a < b ? 1 : 0),
});
export const GreaterOrEqual = binaryKernel({
  op: "GreaterOrEqual",
  toBool: true,
  cmp: (a, ai, sa, b, bi, sb, o, oi, n) => {
    for (const e = oi + n; oi < e; oi++, ai += sa, bi += sb) o[oi] = Number(a[ai]! >= b[bi]!); // branchless, unlike a ternary
  },
  int: () => (a, b) => (a >= b ? 1 : 0),
  big: () => (a, b) => (a >= b ? 1 : 0),
});
export const LessOrEqual = binaryKernel({
  op: "LessOrEqual",
  toBool: true,
  cmp: (a, ai, sa, b, bi, sb, o, oi, n) => {
    for (const e = oi + n; oi < e; oi++, ai += sa, bi += sb) o[oi] = Number(a[ai]! <= b[bi]!); // branchless, unlike a ternary
  },
  int: () => (a, b) => (a <= b ? 1 : 0),
  big: () => (a, b) => (a <= b ? 1 : 0),
});

// ---- logical (bool) and bitwise (integers) ------------------------------------------------------------

export const And = binaryKernel({ op: "And", bool: () => (a, b) => a & b });
export const Or = binaryKernel({ op: "Or", bool: () => (a, b) => a | b });
export const Xor = binaryKernel({ op: "Xor", bool: () => (a, b) => a ^ b });
export const BitwiseAnd = binaryKernel({ op: "BitwiseAnd", int: () => (a, b) => a & b, big: () => (a, b) => a & b, bool: () => (a, b) => a & b });
export const BitwiseOr = binaryKernel({ op: "BitwiseOr", int: () => (a, b) => a | b, big: () => (a, b) => a | b, bool: () => (a, b) => a | b });
export const BitwiseXor = binaryKernel({ op: "BitwiseXor", int: () => (a, b) => a ^ b, big: () => (a, b) => a ^ b, bool: () => (a, b) => a ^ b });

/** BitShift (unsigned integers): shifts of the type's width or more give 0. */
export const BitShift = binaryKernel({
  op: "BitShift",
  int: (node, signed) => {
    if (signed) return undefined;
    return direction(node) === "LEFT" ? (a, b) => (b >= 32 ? 0 : a << b) : (a, b) => (b >= 32 ? 0 : a >>> b);
  },
  big: (node, signed) => {
    if (signed) return undefined;
    return direction(node) === "LEFT" ? (a, b) => (b >= 64n ? 0n : a << b) : (a, b) => (b >= 64n ? 0n : a >> b);
  },
});
function direction(node: Node): "LEFT" | "RIGHT" {
  const dir = node.string("direction", "");
  if (dir !== "LEFT" && dir !== "RIGHT") throw invalid(node, `BitShift direction must be LEFT or RIGHT, got '${dir}'`);
  return dir;
}

/** PRelu: y = x < 0 ? slope * x : x, slope broadcast to x (unidirectionally); branchless for float32 like Relu. */
export const PRelu = binaryKernel({
  op: "PRelu",
  unidirectional: true,
  float: () => (a, ai, sa, b, bi, sb, o, oi, n) => {
    if (a instanceof Float32Array) {
      for (const e = oi + n; oi < e; oi++, ai += sa, bi += sb) {
        const x = a[ai]!;
        const h = Math.abs(x);
        const r = (x + h) * 0.5 + b[bi]! * ((x - h) * 0.5);
        o[oi] = Number.isNaN(r) ? (x < 0 ? x * b[bi]! : x) : r;
      }
    } else {
      for (const e = oi + n; oi < e; oi++, ai += sa, bi += sb) {
        const x = a[ai]!;
        o[oi] = x < 0 ? x * b[bi]! : x;
      }
    }
  },
  int: () => (x, s) => (x < 0 ? x * s : x),
  big: () => (x, s) => (x < 0n ? x * s : x),
});

// ---- Pow ------------------------------------------------------------------------------------------------

/**
 * Pow: the output has the base's dtype; the exponent may be any numeric dtype. Float bases follow C's
 * pow; integer bases compute exactly (int64/uint64: by squaring, wrapping to 64 bits) for integer
 * exponents and truncate pow's double result for float exponents.
 */
export const Pow: Kernel = {
  op: "Pow",
  prepare(node, ctx) {
    const axis = legacyAxis(node, ctx);
    return (inputs, rt) => {
      const a = inputs[0];
      const b0 = inputs[1];
      if (!a || !b0) throw invalid(node, "Pow needs two inputs");
      const b = axis === undefined ? b0 : { ...b0, shape: alignShape(b0.shape, a.shape.length, axis) };
      const shape = broadcastAll([a.shape, b.shape]);
      const d = a.dtype;
      const bad = (t: DType) => t === "bool" || t === "int4" || t === "uint4" || t.startsWith("float8");
      if (bad(d) || bad(b.dtype)) throw unsupported(node, ctx, `Pow on ${d} and ${b.dtype}`);
      if (isFloatDType(d)) {
        const out = floatOut(rt, d, shape);
        const e = floatView(b);
        if (b.data.length === 1 && e[0] === 2) {
          const x = floatView(a);
          const o = out.data;
          for (let i = 0; i < x.length; i++) o[i] = x[i]! * x[i]!;
          return [out.commit()];
        }
        runLoop2(powLoop, floatView(a), a.shape, e, b.shape, out.data, shape);
        return [out.commit()];
      }
      const o = rt.alloc(d, shape);
      if (isBigDType(d)) {
        const unsigned = d === "uint64";
        if (isBigDType(b.dtype) || !isFloatDType(b.dtype)) {
          const e = isBigDType(b.dtype) ? (b.data as BigArray) : BigInt64Array.from(b.data as NumArray, (v) => BigInt(v));
          mapBig2((x, y) => powBig(x, y, unsigned), a.data as BigArray, a.shape, e, b.shape, o.data as BigArray, shape);
        } else {
          const e = floatView(b);
          const x = Float64Array.from(a.data as BigArray, Number);
          const r = new Float64Array(o.data.length);
          runLoop2(powLoop, x, a.shape, e, b.shape, r, shape);
          const dst = o.data as BigArray;
          for (let i = 0; i < r.length; i++) {
            const v = r[i]!;
            dst[i] = Number.isFinite(v) ? BigInt(Math.trunc(v)) : 0n;
          }
        }
        return [o];
      }
      // number-stored integer base: exact powers (exponent integral) wrap in the store like C's integer math
      const e = isBigDType(b.dtype) ? Float64Array.from(b.data as BigArray, Number) : isFloatDType(b.dtype) ? floatView(b) : (b.data as NumArray);
      mapNum2(powIntElem, a.data as NumArray, a.shape, e, b.shape, o.data as NumArray, shape);
      return [o];
    };
  },
};

const powLoop: Loop2 = (a, ai, sa, b, bi, sb, o, oi, n) => {
  for (const e = oi + n; oi < e; oi++, ai += sa, bi += sb) o[oi] = powC(a[ai]!, b[bi]!);
};

/** Integer base: integral exponents by squaring modulo 2^32 (exact wrap), others truncate pow's result. */
function powIntElem(a: number, b: number): number {
  if (!Number.isInteger(b) || b < 0 || b > 2 ** 31) return Math.trunc(powC(a, b)) | 0;
  let r = 1;
  let base = a | 0;
  let e = b;
  while (e > 0) {
    if (e & 1) r = Math.imul(r, base);
    e = Math.floor(e / 2);
    if (e > 0) base = Math.imul(base, base);
  }
  return r;
}
