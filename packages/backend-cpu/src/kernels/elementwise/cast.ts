// Cast and CastLike between the numeric dtypes, bool, float16, bfloat16 and float8 (e4m3fn, e5m2).
import type { DType, Tensor } from "@quanta/tensor";
import type { Kernel, RunContext } from "../../kernel.js";
import { invalid, unsupported } from "../util.js";
import {
  type BigArray,
  type NumArray,
  decodeBf16,
  decodeHalf,
  f32BitsToBf16,
  f32BitsToHalf,
  f8e4m3fnToNumber,
  f8e5m2ToNumber,
  isBigDType,
  numberToBf16,
  numberToF8e4m3fn,
  numberToF8e5m2,
  numberToHalf,
} from "./dtypes.js";
import { dtypeFromOnnx } from "../shape/common.js";

const ONNX_NAMES: Record<number, string> = { 8: "string", 14: "complex64", 15: "complex128", 18: "float8e4m3fnuz", 20: "float8e5m2fnuz", 21: "uint4", 22: "int4", 23: "float4e2m1" };

/** Cast-1 names its target type with a string. */
const CAST1_NAMES: Record<string, number> = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  COMPLEX64: 14,
  COMPLEX128: 15,
};

const INT64_MIN = -(1n << 63n);
const TWO63 = 2 ** 63;
const TWO64 = 2 ** 64;

const isNumStorage = (d: DType): boolean => !isBigDType(d) && d !== "float16" && d !== "bfloat16" && !d.startsWith("float8") && d !== "int4" && d !== "uint4";

/** A source as a number storage: a view for number storages (bool included), float32 values for the 16- and 8-bit floats. */
function numbersOf(x: Tensor): NumArray {
  switch (x.dtype) {
    case "float16":
      return decodeHalf(x.data as Uint16Array);
    case "bfloat16":
      return decodeBf16(x.data as Uint16Array);
    case "float8e4m3fn":
      return Float32Array.from(x.data as Uint8Array, f8e4m3fnToNumber);
    case "float8e5m2":
      return Float32Array.from(x.data as Uint8Array, f8e5m2ToNumber);
    default:
      return x.data as NumArray;
  }
}

/**
 * Converts `x` to `to`. Float -> integer truncates toward zero; values out of the target's range wrap
 * modulo its width (NaN gives 0), except for int64/uint64 targets, where NaN, infinities and values out
 * of range give INT64_MIN as x86 does. Int64/uint64 sources convert exactly to narrower integers
 * (two's complement wrap) and round to nearest for floats. Float -> bool is x != 0 (NaN is true).
 * float8 targets saturate (to the largest finite value) unless `saturate` is false.
 */
export function castTensor(x: Tensor, to: DType, rt: RunContext, saturate = true): Tensor {
  if (x.dtype === to) return x;
  const from = x.dtype;
  if (from === "int4" || from === "uint4" || to === "int4" || to === "uint4") throw new Error(`Cast from ${from} to ${to} is not supported`);
  const o = rt.alloc(to, x.shape);
  const n = o.data.length;
  if (isBigDType(from)) {
    const s = x.data as BigArray;
    if (isBigDType(to)) {
      (o.data as BigArray).set(s as BigInt64Array & BigUint64Array);
      return o;
    }
    if (to === "bool") {
      const d = o.data as Uint8Array;
      for (let i = 0; i < n; i++) d[i] = s[i] !== 0n ? 1 : 0;
      return o;
    }
    if (to === "float32" || to === "float64" || to === "float16" || to === "bfloat16" || to.startsWith("float8")) {
      const f = Float64Array.from(s, Number);
      return storeNumbers(f, o, saturate);
    }
    const d = o.data as NumArray;
    for (let i = 0; i < n; i++) d[i] = Number(BigInt.asIntN(32, s[i]!)); // the store keeps the low bits
    return o;
  }
  const s = numbersOf(x);
  if (isBigDType(to)) {
    const d = o.data as BigArray;
    const unsigned = to === "uint64";
    for (let i = 0; i < n; i++) {
      const v = Math.trunc(s[i]!);
      if (v >= -TWO63 && v < TWO63) d[i] = BigInt(v);
      else if (unsigned && v >= 0 && v < TWO64) d[i] = BigInt(v);
      else (d as BigInt64Array)[i] = INT64_MIN; // NaN, infinities, out of range
    }
    return o;
  }
  return storeNumbers(s, o, saturate);
}

/** Writes numbers into a non-bigint output with the target dtype's conversion. */
function storeNumbers(s: NumArray, o: Tensor, saturate: boolean): Tensor {
  const n = o.data.length;
  switch (o.dtype) {
    case "bool": {
      const d = o.data as Uint8Array;
      for (let i = 0; i < n; i++) d[i] = s[i] !== 0 ? 1 : 0; // NaN -> true
      return o;
    }
    case "float16": {
      const d = o.data as Uint16Array;
      if (s instanceof Float32Array) {
        const bits = new Uint32Array(s.buffer, s.byteOffset, s.length);
        for (let i = 0; i < n; i++) d[i] = f32BitsToHalf(bits[i]!);
      } else for (let i = 0; i < n; i++) d[i] = numberToHalf(s[i]!);
      return o;
    }
    case "bfloat16": {
      const d = o.data as Uint16Array;
      if (s instanceof Float32Array) {
        const bits = new Uint32Array(s.buffer, s.byteOffset, s.length);
        for (let i = 0; i < n; i++) d[i] = f32BitsToBf16(bits[i]!);
      } else for (let i = 0; i < n; i++) d[i] = numberToBf16(s[i]!);
      return o;
    }
    case "float8e4m3fn": {
      const d = o.data as Uint8Array;
      for (let i = 0; i < n; i++) d[i] = numberToF8e4m3fn(s[i]!, saturate);
      return o;
    }
    case "float8e5m2": {
      const d = o.data as Uint8Array;
      for (let i = 0; i < n; i++) d[i] = numberToF8e5m2(s[i]!, saturate);
      return o;
    }
    default: {
      if (!isNumStorage(o.dtype)) throw new Error(`Cast to ${o.dtype} is not supported`);
      // Typed-array set converts like an element store: float targets round, integer targets truncate toward zero and wrap.
      (o.data as NumArray).set(s);
      return o;
    }
  }
}

function castKernel(op: "Cast" | "CastLike"): Kernel {
  return {
    op,
    prepare(node, ctx) {
      const saturate = node.int("saturate", 1) !== 0;
      let to: DType | undefined;
      if (op === "Cast") {
        const name = node.string("to");
        const code = name !== undefined ? CAST1_NAMES[name.toUpperCase()] : node.int("to");
        if (code === undefined) throw invalid(node, `Cast needs a 'to' attribute${name !== undefined ? ` (unknown type '${name}')` : ""}`);
        const d = dtypeFromOnnx(code);
        to = d === "int4" || d === "uint4" ? undefined : d; // 4-bit casts: not supported (named by ONNX_NAMES below)
        if (!to) throw unsupported(node, ctx, `Cast to ${ONNX_NAMES[code] ?? `ONNX type ${code}`}`);
      }
      return (inputs, rt) => {
        const x = inputs[0];
        if (!x) throw invalid(node, `${op} needs an input`);
        let target = to;
        if (!target) {
          const like = inputs[1];
          if (!like) throw invalid(node, "CastLike needs a target_type input");
          target = like.dtype;
        }
        try {
          return [castTensor(x, target, rt, saturate)];
        } catch (e) {
          throw unsupported(node, ctx, (e as Error).message);
        }
      };
    },
  };
}

export const Cast = castKernel("Cast");
export const CastLike = castKernel("CastLike");
