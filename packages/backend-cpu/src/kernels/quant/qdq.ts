// QuantizeLinear, DequantizeLinear (ONNX opsets 10-21 and the com.microsoft versions) and
// DynamicQuantizeLinear, with onnxruntime's arithmetic:
//   quantize:   q = saturate(round_half_even(float32(x / scale)) + zero_point)  (NaN -> the lowest value)
//   float8:     q = float8(float32(x / scale)), round to nearest even, saturate or not (zero point ignored)
//   dequantize: y = float32(float32(x - zero_point) * scale)  (float8: float(x) * scale)
// Granularity comes from the scale's shape: per tensor, per axis (`axis`) or blocked (`block_size`).
import type { Node } from "@quanta/ir";
import { type DType, type Tensor, size } from "@quanta/tensor";
import type { Input, Kernel } from "../../kernel.js";
import { invalid, normAxis, unsupported } from "../util.js";
import {
  F8E4M3FN,
  clampLow,
  F8E5M2,
  floatToF8E4M3FN,
  floatToF8E5M2,
  floatValues,
  fround,
  intValues,
  isFloat8,
  isQInt,
  qmax,
  qmin,
  rne,
  storeFloats,
} from "./common.js";

/** ONNX TensorProto data type numbers of the types QuantizeLinear's output_dtype may name. */
const BY_ONNX_TYPE: Readonly<Record<number, DType>> = {
  2: "uint8",
  3: "int8",
  4: "uint16",
  5: "int16",
  6: "int32",
  17: "float8e4m3fn",
  19: "float8e5m2",
  21: "uint4",
  22: "int4",
};

const FLOAT_BY_ONNX_TYPE: Readonly<Record<number, DType>> = { 1: "float32", 10: "float16", 16: "bfloat16" };

/** How scale/zero-point elements map onto x: x is viewed as [outer, dim, inner]. */
interface Layout {
  readonly outer: number;
  readonly dim: number;
  readonly inner: number;
  /** "tensor": one parameter; "axis": one per index on dim; "block": blocks of `block` along dim. */
  readonly mode: "tensor" | "axis" | "block";
  readonly block: number;
}

function layoutOf(node: Node, x: readonly number[], s: readonly number[], axisAttr: number, blockSize: number, zp: Input): Layout {
  const n = size(x);
  if (blockSize < 0) throw invalid(node, "block_size must be >= 0");
  if (size(s) === 1 && blockSize === 0) {
    if (zp && size(zp.shape) !== 1) throw invalid(node, "the zero point must have one element like the scale");
    return { outer: 1, dim: 1, inner: n, mode: "tensor", block: 0 };
  }
  const axis = normAxis(axisAttr, x.length, node);
  const dim = x[axis]!;
  const outer = size(x.slice(0, axis));
  const inner = size(x.slice(axis + 1));
  if (blockSize === 0) {
    if (s.length !== 1 || s[0] !== dim) throw invalid(node, `per-axis scale must be 1-D of length ${dim} (axis ${axis}), got [${s.join(",")}]`);
    if (zp && (zp.shape.length !== 1 || zp.shape[0] !== dim)) throw invalid(node, "the zero point must have the scale's shape");
    return { outer, dim, inner, mode: "axis", block: 0 };
  }
  const nb = Math.ceil(dim / blockSize);
  if (s.length !== x.length || s.some((d, i) => d !== (i === axis ? nb : x[i]))) {
    throw invalid(node, `blocked scale must have shape [${x.map((d, i) => (i === axis ? nb : d)).join(",")}], got [${s.join(",")}]`);
  }
  if (zp && (zp.shape.length !== s.length || zp.shape.some((d, i) => d !== s[i]))) throw invalid(node, "the zero point must have the scale's shape");
  return { outer, dim, inner, mode: "block", block: blockSize };
}

/** Calls `run(xOff, n, pOff, pStep)` for each run of x elements that share a parameter pattern. */
function forRuns(l: Layout, run: (xOff: number, n: number, pOff: number, pStep: number) => void): void {
  if (l.mode === "tensor") {
    run(0, l.inner, 0, 0);
    return;
  }
  const nb = l.mode === "block" ? Math.ceil(l.dim / l.block) : 0;
  let x = 0;
  for (let o = 0; o < l.outer; o++) {
    for (let d = 0; d < l.dim; d++, x += l.inner) {
      if (l.mode === "axis") run(x, l.inner, d, 0);
      else run(x, l.inner, (o * nb + Math.floor(d / l.block)) * l.inner, 1);
    }
  }
}

/** Quantizes float32 values to integers in [lo, hi]: one run of `n` elements. */
function quantizeInts(
  x: Float32Array,
  xOff: number,
  n: number,
  scale: Float32Array,
  zp: Int32Array | undefined,
  pOff: number,
  pStep: number,
  lo: number,
  hi: number,
  out: Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array,
): void {
  if (pStep === 0) {
    const s = scale[pOff]!;
    const z = zp ? zp[pOff]! : 0;
    const a = lo - z;
    const b = hi - z;
    for (let i = 0; i < n; i++) out[xOff + i] = rne(clampLow(fround(x[xOff + i]! / s), a, b)) + z;
    return;
  }
  for (let i = 0, p = pOff; i < n; i++, p += pStep) {
    const z = zp ? zp[p]! : 0;
    out[xOff + i] = rne(clampLow(fround(x[xOff + i]! / scale[p]!), lo - z, hi - z)) + z;
  }
}

/** QuantizeLinear: float32 / float16 / bfloat16 x to any quantized type. */
function quantizeLinear(domain: string): Kernel {
  return {
    op: "QuantizeLinear",
    ...(domain ? { domain } : {}),
    prepare(node, ctx) {
      const axis = node.int("axis", 1);
      const saturate = node.int("saturate", 1) !== 0;
      const blockSize = node.int("block_size", 0);
      const od = node.int("output_dtype", 0);
      const attrType = od ? BY_ONNX_TYPE[od] : undefined;
      if (od && !attrType) throw unsupported(node, ctx, `output_dtype ${od} is not supported`);
      return (inputs, rt) => {
        const [x, s, zp] = inputs as [Tensor, Tensor, Input];
        const outType: DType = zp ? zp.dtype : (attrType ?? "uint8");
        if (attrType && zp && zp.dtype !== attrType) throw invalid(node, `output_dtype ${attrType} differs from the zero point's type ${zp.dtype}`);
        if (outType === "int32" || (!isQInt(outType) && !isFloat8(outType))) throw invalid(node, `QuantizeLinear cannot produce ${outType}`);
        if (x.dtype !== "float32" && x.dtype !== "float16" && x.dtype !== "bfloat16") throw invalid(node, `QuantizeLinear input must be float, got ${x.dtype}`);
        const l = layoutOf(node, x.shape, s.shape, axis, blockSize, zp);
        const xv = floatValues(x);
        const sv = floatValues(s);
        const y = rt.alloc(outType, x.shape);
        const n = size(x.shape);
        if (outType === "float8e4m3fn" || outType === "float8e5m2") {
          const out = y.data as Uint8Array;
          const conv = outType === "float8e4m3fn" ? floatToF8E4M3FN : floatToF8E5M2;
          forRuns(l, (xo, cnt, po, ps) => {
            for (let i = 0, p = po; i < cnt; i++, p += ps) out[xo + i] = conv(fround(xv[xo + i]! / sv[p]!), saturate);
          });
          return [y];
        }
        const zv = zp ? intValues(zp) : undefined;
        const lo = qmin(outType);
        const hi = qmax(outType);
        if (outType === "int4" || outType === "uint4") {
          const tmp = new Int8Array(n);
          forRuns(l, (xo, cnt, po, ps) => quantizeInts(xv, xo, cnt, sv, zv, po, ps, lo, hi, tmp));
          const out = y.data as Uint8Array;
          for (let i = 0; i < n; i++) out[i >> 1] = out[i >> 1]! | ((tmp[i]! & 15) << ((i & 1) << 2));
          return [y];
        }
        const out = y.data as Int8Array | Uint8Array | Int16Array | Uint16Array;
        forRuns(l, (xo, cnt, po, ps) => quantizeInts(xv, xo, cnt, sv, zv, po, ps, lo, hi, out));
        return [y];
      };
    },
  };
}

/** DequantizeLinear: any quantized type to the scale's float type. */
function dequantizeLinear(domain: string): Kernel {
  return {
    op: "DequantizeLinear",
    ...(domain ? { domain } : {}),
    prepare(node, ctx) {
      const axis = node.int("axis", 1);
      const blockSize = node.int("block_size", 0);
      // opset 23: output_dtype (default: the scale's type)
      const od = node.int("output_dtype", 0);
      const attrType = od ? FLOAT_BY_ONNX_TYPE[od] : undefined;
      if (od && !attrType) throw unsupported(node, ctx, `output_dtype ${od} is not supported`);
      return (inputs, rt) => {
        const [x, s, zp] = inputs as [Tensor, Tensor, Input];
        if (!isQInt(x.dtype) && !isFloat8(x.dtype)) throw invalid(node, `DequantizeLinear cannot read ${x.dtype}`);
        if (zp && zp.dtype !== x.dtype) throw invalid(node, `zero point type ${zp.dtype} differs from x's ${x.dtype}`);
        if (s.dtype !== "float32" && s.dtype !== "float16" && s.dtype !== "bfloat16") throw invalid(node, `scale must be float, got ${s.dtype}`);
        const l = layoutOf(node, x.shape, s.shape, axis, blockSize, zp);
        const sv = floatValues(s);
        const n = size(x.shape);
        const outType = attrType ?? s.dtype;
        const y = rt.alloc(outType, x.shape);
        const out = outType === "float32" ? (y.data as Float32Array) : new Float32Array(n);
        if (isFloat8(x.dtype)) {
          const table = x.dtype === "float8e4m3fn" ? F8E4M3FN : F8E5M2;
          const xd = x.data as Uint8Array;
          forRuns(l, (xo, cnt, po, ps) => {
            for (let i = 0, p = po; i < cnt; i++, p += ps) out[xo + i] = fround(table[xd[xo + i]!]! * sv[p]!);
          });
        } else {
          const zv = zp ? intValues(zp) : undefined;
          const packed = x.dtype === "int4" || x.dtype === "uint4";
          const xd = packed ? intValues(x) : (x.data as Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array);
          forRuns(l, (xo, cnt, po, ps) => {
            if (ps === 0) {
              const sc = sv[po]!;
              const z = zv ? zv[po]! : 0;
              for (let i = 0; i < cnt; i++) out[xo + i] = fround(fround((xd[xo + i]! - z) | 0) * sc);
            } else {
              for (let i = 0, p = po; i < cnt; i++, p += ps) out[xo + i] = fround(fround((xd[xo + i]! - (zv ? zv[p]! : 0)) | 0) * sv[p]!);
            }
          });
        }
        if (outType !== "float32") storeFloats(outType, y.data, out);
        return [y];
      };
    },
  };
}

export const QuantizeLinear: Kernel = quantizeLinear("");
export const DequantizeLinear: Kernel = dequantizeLinear("");
/** com.microsoft QuantizeLinear (v1): as the ONNX op, with 16-bit and 4-bit types. */
export const MsQuantizeLinear: Kernel = quantizeLinear("com.microsoft");
/** com.microsoft DequantizeLinear (v1). */
export const MsDequantizeLinear: Kernel = dequantizeLinear("com.microsoft");

/**
 * DynamicQuantizeLinear (opset 11): uint8, range widened to include 0, computed in float32 as
 * onnxruntime does: scale = (max - min) / 255 (1 when max == min), zp = round(clamp(-min / scale)).
 */
export const DynamicQuantizeLinear: Kernel = {
  op: "DynamicQuantizeLinear",
  prepare(node: Node) {
    return (inputs, rt) => {
      const x = inputs[0] as Tensor;
      if (x.dtype !== "float32") throw invalid(node, `DynamicQuantizeLinear input must be float32, got ${x.dtype}`);
      const xv = x.data as Float32Array;
      const n = size(x.shape);
      let mn = 0;
      let mx = 0;
      for (let i = 0; i < n; i++) {
        const v = xv[i]!;
        if (v < mn) mn = v;
        if (v > mx) mx = v;
      }
      const scale = mx === mn ? 1 : fround(fround(mx - mn) / 255);
      const zp = rne(Math.min(Math.max(fround(0 - fround(mn / scale)), 0), 255));
      const y = rt.alloc("uint8", x.shape);
      quantizeInts(xv, 0, n, Float32Array.of(scale), Int32Array.of(zp), 0, 0, 0, 255, y.data as Uint8Array);
      const ys = rt.alloc("float32", []);
      (ys.data as Float32Array)[0] = scale;
      const yz = rt.alloc("uint8", []);
      (yz.data as Uint8Array)[0] = zp;
      return [y, ys, yz];
    };
  },
};
