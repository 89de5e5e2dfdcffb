// Cast and CastLike between numeric types, bool, float16 and bfloat16.
import type { DType, Tensor } from "@quanta/tensor";
import type { Kernel, RunContext } from "../../kernel.js";
import { floatData, floatToBf16, floatToHalf } from "../nn/float_impl.js";
import { invalid, unsupported } from "../util.js";
import { num } from "./broadcast.js";

const ONNX_TYPES: Record<number, DType> = {
  1: "float32",
  2: "uint8",
  3: "int8",
  4: "uint16",
  5: "int16",
  6: "int32",
  7: "int64",
  9: "bool",
  10: "float16",
  11: "float64",
  12: "uint32",
  13: "uint64",
  16: "bfloat16",
};

const INT64_MIN = -(1n << 63n);

/** Converts `x` to `to` (float -> int truncates toward zero; NaN/Inf -> int64 min, as x86 does). */
export function castTensor(x: Tensor, to: DType, rt: RunContext): Tensor {
  if (x.dtype === to) return x;
  const n = x.data.length;
  const o = rt.alloc(to, x.shape) as Tensor;
  const big = x.dtype === "int64" || x.dtype === "uint64";
  if (to === "bool") {
    const s = big ? num(x) : floatData(x);
    for (let i = 0; i < n; i++) o.data[i] = s[i] ? 1 : 0;
    return o;
  }
  if (to === "int64" || to === "uint64") {
    const d = o.data as BigInt64Array;
    if (big) for (let i = 0; i < n; i++) d[i] = (x.data as BigInt64Array)[i]!;
    else {
      const s = floatData(x);
      for (let i = 0; i < n; i++) {
        const v = s[i]!;
        d[i] = Number.isFinite(v) ? BigInt(Math.trunc(v)) : INT64_MIN;
      }
    }
    return o;
  }
  const s = big ? Float64Array.from(x.data as BigInt64Array, Number) : floatData(x);
  const d = o.data;
  if (to === "float16") for (let i = 0; i < n; i++) d[i] = floatToHalf(s[i]!);
  else if (to === "bfloat16") for (let i = 0; i < n; i++) d[i] = floatToBf16(s[i]!);
  else if (to === "float32" || to === "float64") (d as Float64Array).set(s);
  else for (let i = 0; i < n; i++) (d as Int32Array)[i] = Math.trunc(s[i]!);
  return o;
}

export const Cast: Kernel = {
  op: "Cast",
  prepare(node, ctx) {
    const code = node.int("to", 0);
    const to = ONNX_TYPES[code];
    if (!to) throw unsupported(node, ctx, `Cast to ONNX type ${code}`);
    return (inputs, rt) => {
      const x = inputs[0];
      if (!x) throw invalid(node, "Cast needs an input");
      return [castTensor(x, to, rt)];
    };
  },
};

export const CastLike: Kernel = {
  op: "CastLike",
  prepare(node) {
    return (inputs, rt) => {
      const [x, like] = inputs;
      if (!x || !like) throw invalid(node, "CastLike needs two inputs");
      return [castTensor(x, like.dtype, rt)];
    };
  },
};
