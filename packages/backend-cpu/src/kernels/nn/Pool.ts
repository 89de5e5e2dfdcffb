import type { Node } from "@quanta/ir";
import type { Tensor } from "@quanta/tensor";
import type { Kernel, PrepareContext, RunContext } from "../../kernel.js";
import { invalid, unsupported } from "../util.js";
import { type Geometry, convGeometry, windowAttrs } from "./conv_impl.js";
import { type FloatArray, floatData, floatOut, isFloatDType } from "./float_impl.js";

type Mode = "max" | "avg" | "lp";

interface Pool3 {
  /** Spatial dims padded to 3 (leading 1s). */
  readonly ind: number[];
  readonly outd: number[];
  readonly k: number[];
  readonly s: number[];
  readonly d: number[];
  readonly pb: number[];
  readonly pe: number[];
}

function to3(g: Geometry): Pool3 {
  const pad = (a: readonly number[], v: number) => [...new Array<number>(3 - a.length).fill(v), ...a];
  return { ind: pad(g.inDims, 1), outd: pad(g.outDims, 1), k: pad(g.kernel, 1), s: pad(g.strides, 1), d: pad(g.dilations, 1), pb: pad(g.padsBegin, 0), pe: pad(g.padsEnd, 0) };
}

/** Per output index of one dim: the first and end kernel taps inside the input, and the taps inside the padded extent. */
function taps(outLen: number, inLen: number, K: number, S: number, D: number, pb: number, pe: number): { lo: Int32Array; hi: Int32Array; padded: Int32Array } {
  const lo = new Int32Array(outLen);
  const hi = new Int32Array(outLen);
  const padded = new Int32Array(outLen);
  for (let o = 0; o < outLen; o++) {
    const start = o * S - pb;
    const l = start >= 0 ? 0 : Math.min(K, Math.ceil(-start / D));
    lo[o] = l;
    hi[o] = Math.max(l, Math.min(K, Math.floor((inLen - 1 - start) / D) + 1));
    padded[o] = Math.max(0, Math.min(K, Math.floor((inLen + pe - 1 - start) / D) + 1));
  }
  return { lo, hi, padded };
}

/**
 * Pools `planes` planes of X (each of the padded-to-3-D size) into Y. avg: `includePad` counts the taps
 * inside the padded extent; lp: (sum |x|^p)^(1/p). max writes argmax indices (over the whole tensor,
 * storage order 0 row-major / 1 column-major) into `idx` when given.
 */
function pool(mode: Mode, X: ArrayLike<number>, Y: { [i: number]: number }, planes: number, g: Pool3, includePad: boolean, p: number, idx?: BigInt64Array, storageOrder = 0): void {
  const [D, H, W] = g.ind as [number, number, number];
  const [OD, OH, OW] = g.outd as [number, number, number];
  const [KD, KH, KW] = g.k as [number, number, number];
  const [SD, SH, SW] = g.s as [number, number, number];
  const [DD, DH, DW] = g.d as [number, number, number];
  const [PD, PH, PW] = g.pb as [number, number, number];
  const td = taps(OD, D, KD, SD, DD, PD, g.pe[0]!);
  const th = taps(OH, H, KH, SH, DH, PH, g.pe[1]!);
  const tw = taps(OW, W, KW, SW, DW, PW, g.pe[2]!);
  const plane = D * H * W;
  const oplane = OD * OH * OW;
  const HW = H * W;
  for (let c = 0; c < planes; c++) {
    const xo = c * plane;
    let yo = c * oplane;
    for (let od = 0; od < OD; od++) {
      const sd = od * SD - PD;
      const kd0 = td.lo[od]!;
      const kd1 = td.hi[od]!;
      for (let oh = 0; oh < OH; oh++) {
        const sh = oh * SH - PH;
        const kh0 = th.lo[oh]!;
        const kh1 = th.hi[oh]!;
        for (let ow = 0; ow < OW; ow++, yo++) {
          const sw = ow * SW - PW;
          const kw0 = tw.lo[ow]!;
          const kw1 = tw.hi[ow]!;
          if (mode === "max") {
            let m = Number.NEGATIVE_INFINITY;
            let at = -1;
            for (let kd = kd0; kd < kd1; kd++) {
              const rd = xo + (sd + kd * DD) * HW;
              for (let kh = kh0; kh < kh1; kh++) {
                const rh = rd + (sh + kh * DH) * W + sw;
                for (let kw = kw0; kw < kw1; kw++) {
                  const v = X[rh + kw * DW]!;
                  if (v > m || at < 0) {
                    m = v;
                    at = rh + kw * DW;
                  }
                }
              }
            }
            Y[yo] = m;
            if (idx) {
              if (at < 0) idx[yo] = -1n;
              else if (storageOrder === 0) idx[yo] = BigInt(at);
              else {
                const r = at - xo;
                const z = Math.floor(r / HW);
                const y = Math.floor((r % HW) / W);
                const x = r % W;
                idx[yo] = BigInt(xo + (x * H + y) * D + z);
              }
            }
          } else {
            let s = 0;
            for (let kd = kd0; kd < kd1; kd++) {
              const rd = xo + (sd + kd * DD) * HW;
              for (let kh = kh0; kh < kh1; kh++) {
                const rh = rd + (sh + kh * DH) * W + sw;
                if (mode === "avg") for (let kw = kw0; kw < kw1; kw++) s += X[rh + kw * DW]!;
                else if (p === 2)
                  for (let kw = kw0; kw < kw1; kw++) {
                    const v = X[rh + kw * DW]!;
                    s += v * v;
                  }
                else if (p === 1) for (let kw = kw0; kw < kw1; kw++) s += Math.abs(X[rh + kw * DW]!);
                else for (let kw = kw0; kw < kw1; kw++) s += Math.abs(X[rh + kw * DW]!) ** p;
              }
            }
            if (mode === "avg") {
              const n = includePad ? td.padded[od]! * th.padded[oh]! * tw.padded[ow]! : (kd1 - kd0) * (kh1 - kh0) * (kw1 - kw0);
              Y[yo] = n > 0 ? s / n : Number.NaN;
            } else Y[yo] = p === 2 ? Math.sqrt(s) : p === 1 ? s : s ** (1 / p);
          }
        }
      }
    }
  }
}

function poolKernel(op: string, mode: Mode): Kernel {
  return {
    op,
    prepare(node: Node, ctx: PrepareContext) {
      const a = windowAttrs(node);
      if (!a.kernelShape) throw invalid(node, `${op} needs kernel_shape`);
      const kernelShape = a.kernelShape;
      const nd = kernelShape.length;
      if (nd > 3) throw unsupported(node, ctx, `${op} over ${nd} spatial dims (at most 3)`);
      const ceilMode = node.int("ceil_mode", 0) === 1;
      const includePad = node.int("count_include_pad", 0) === 1;
      const storageOrder = node.int("storage_order", 0);
      const p = mode === "lp" ? (node.attr("p")?.type === "float" ? node.float("p", 2) : node.int("p", 2)) : 0;
      return (inputs, rt) => {
        const x = inputs[0];
        if (!x) throw invalid(node, `${op} needs X`);
        if (x.shape.length !== nd + 2) throw invalid(node, `${op}: X [${x.shape}] does not match kernel_shape [${kernelShape}]`);
        const g = convGeometry(x.shape.slice(2), kernelShape, { ...a, ceilMode });
        const outShape = [x.shape[0]!, x.shape[1]!, ...g.outDims];
        const planes = x.shape[0]! * x.shape[1]!;
        const wantIdx = mode === "max" && node.outputs.length > 1 && node.outputs[1] !== null;
        const idx = wantIdx ? rt.alloc("int64", outShape) : undefined;
        if (mode === "max" && !isFloatDType(x.dtype)) {
          const y = rt.alloc(x.dtype, outShape);
          if (x.dtype === "int64" || x.dtype === "uint64") throw invalid(node, `${op} on ${x.dtype} is not supported`);
          pool(mode, x.data as ArrayLike<number>, y.data as unknown as { [i: number]: number }, planes, to3(g), includePad, p, idx?.data as BigInt64Array | undefined, storageOrder);
          return idx ? [y, idx] : [y];
        }
        if (!isFloatDType(x.dtype)) throw invalid(node, `${op} on ${x.dtype} is not supported`);
        const out = floatOut(rt, x.dtype, outShape);
        pool(mode, floatData(x), out.data, planes, to3(g), includePad, p, idx?.data as BigInt64Array | undefined, storageOrder);
        return idx ? [out.commit(), idx] : [out.commit()];
      };
    },
  };
}

/** MaxPool (opset 1-22): 1-3 spatial dims, pads/auto_pad, strides, dilations, ceil_mode, storage_order, Indices; floats and 8-bit ints. */
export const MaxPool: Kernel = poolKernel("MaxPool", "max");
/** AveragePool (opset 1-22): 1-3 spatial dims, count_include_pad, ceil_mode, dilations (opset 19). */
export const AveragePool: Kernel = poolKernel("AveragePool", "avg");
/** LpPool (opset 1-22): p (float before opset 2, int after). */
export const LpPool: Kernel = poolKernel("LpPool", "lp");

function globalKernel(op: string, mode: Mode): Kernel {
  return {
    op,
    prepare(node: Node) {
      const p = mode === "lp" ? (node.attr("p")?.type === "float" ? node.float("p", 2) : node.int("p", 2)) : 0;
      return (inputs, rt: RunContext) => {
        const x = inputs[0];
        if (!x || x.shape.length < 2) throw invalid(node, `${op} needs X of rank >= 2`);
        if (!isFloatDType(x.dtype)) throw invalid(node, `${op} on ${x.dtype} is not supported`);
        const planes = x.shape[0]! * x.shape[1]!;
        let sz = 1;
        for (let i = 2; i < x.shape.length; i++) sz *= x.shape[i]!;
        const out = floatOut(rt, x.dtype, [x.shape[0]!, x.shape[1]!, ...new Array<number>(x.shape.length - 2).fill(1)]);
        const X: FloatArray = floatData(x);
        const Y = out.data;
        for (let c = 0; c < planes; c++) {
          const o = c * sz;
          if (mode === "max") {
            let m = Number.NEGATIVE_INFINITY;
            for (let i = 0; i < sz; i++) if (X[o + i]! > m) m = X[o + i]!;
            Y[c] = m;
          } else if (mode === "avg") {
            let s = 0;
            for (let i = 0; i < sz; i++) s += X[o + i]!;
            Y[c] = s / sz;
          } else {
            let s = 0;
            for (let i = 0; i < sz; i++) s += Math.abs(X[o + i]!) ** p;
            Y[c] = s ** (1 / p);
          }
        }
        return [out.commit() as Tensor];
      };
    },
  };
}

/** GlobalAveragePool (opset 1-22). */
export const GlobalAveragePool: Kernel = globalKernel("GlobalAveragePool", "avg");
/** GlobalMaxPool (opset 1-22). */
export const GlobalMaxPool: Kernel = globalKernel("GlobalMaxPool", "max");
/** GlobalLpPool (opset 1-22). */
export const GlobalLpPool: Kernel = globalKernel("GlobalLpPool", "lp");

/**
 * MaxUnpool (opset 9-22): scatters X into zeros at the (whole-tensor, row-major) indices I that MaxPool
 * produced, over the inferred shape (in - 1) * stride + kernel - pads; a larger output_shape pads each
 * spatial dim at its end (the ONNX reference).
 */
export const MaxUnpool: Kernel = {
  op: "MaxUnpool",
  prepare(node: Node) {
    const a = windowAttrs(node);
    if (!a.kernelShape) throw invalid(node, "MaxUnpool needs kernel_shape");
    const kernel = a.kernelShape;
    return (inputs, rt) => {
      const x = inputs[0];
      const ind = inputs[1];
      const osT = inputs[2];
      if (!x || !ind) throw invalid(node, "MaxUnpool needs X and I");
      const nd = x.shape.length - 2;
      if (kernel.length !== nd) throw invalid(node, `MaxUnpool: kernel_shape [${kernel}] for X [${x.shape}]`);
      const s = a.strides ?? new Array<number>(nd).fill(1);
      const p = a.pads ?? new Array<number>(2 * nd).fill(0);
      const inferred = [x.shape[0]!, x.shape[1]!, ...x.shape.slice(2).map((d, i) => (d - 1) * s[i]! + kernel[i]! - p[i]! - p[i + nd]!)];
      const outShape = osT ? Array.from(osT.data as BigInt64Array, Number) : inferred;
      if (outShape.length !== inferred.length || outShape.some((d, i) => d < inferred[i]!)) throw invalid(node, `MaxUnpool: output_shape [${outShape}] smaller than [${inferred}]`);
      const y = rt.alloc(x.dtype, outShape);
      const Y = y.data as { [i: number]: unknown };
      const X = x.data as ArrayLike<unknown>;
      const I = ind.data as BigInt64Array;
      let n = 1;
      for (const d of inferred) n *= d;
      const same = outShape.every((d, i) => d === inferred[i]);
      for (let i = 0; i < I.length; i++) {
        let at = Number(I[i]!);
        if (at < 0 || at >= n) throw invalid(node, `MaxUnpool: index ${at} out of range for [${inferred}]`);
        if (!same) {
          // Re-map the index from the inferred shape to the (end-padded) output shape.
          let o = 0;
          let mul = 1;
          for (let d = inferred.length - 1; d >= 0; d--) {
            const c = at % inferred[d]!;
            at = Math.floor(at / inferred[d]!);
            o += c * mul;
            mul *= outShape[d]!;
          }
          at = o;
        }
        Y[at] = X[i];
      }
      return [y];
    };
  },
};
