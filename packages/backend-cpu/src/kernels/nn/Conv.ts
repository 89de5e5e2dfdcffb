import type { Node } from "@quanta/ir";
import type { Tensor } from "@quanta/tensor";
import type { Kernel, PrepareContext } from "../../kernel.js";
import { invalid, unsupported } from "../util.js";
import { convGeometry, depthwise2d, im2colPacked2d, im2colPackedNd, windowAttrs } from "./conv_impl.js";
import { f32Data, f32Tensor, isFloatDType } from "./float_impl.js";
import { NR, Packed, gemmPacked, packA, packedBSize } from "./sgemm_impl.js";

/** Floats of im2col scratch per chunk of output columns (bounds the scratch and keeps it cache-sized). */
const CHUNK_FLOATS = 1 << 18;

/** Packed weights of each group of a Conv (W [M, C/group, k...] as group matrices Mg x (C/group * ksz)). */
function packWeights(w: Float32Array, M: number, Kg: number, group: number): Packed[] {
  const Mg = M / group;
  const out: Packed[] = [];
  for (let g = 0; g < group; g++) out.push(packA(Mg, Kg, w, g * Mg * Kg, Kg, 1));
  return out;
}

/**
 * Conv (opset 1-22): 1-D, 2-D (fast paths: 1x1, depthwise, im2col + packed sgemm) and N-D, group,
 * dilations, strides, pads / auto_pad, optional bias; float32 natively, float16/float64/bfloat16
 * computed in float32. Constant weights are packed once at plan time.
 */
export const Conv: Kernel = {
  op: "Conv",
  prepare(node: Node, ctx: PrepareContext) {
    const a = windowAttrs(node);
    const wConst = ctx.constantInput(1);
    if (a.group < 1) throw invalid(node, `group must be >= 1, got ${a.group}`);
    if (wConst && !isFloatDType(wConst.dtype)) throw unsupported(node, ctx, `Conv on ${wConst.dtype}`);
    let cached: { packed: Packed[]; w: Float32Array } | undefined;
    if (wConst && wConst.shape.length >= 3) {
      const w = f32Data(wConst);
      const M = wConst.shape[0]!;
      const Kg = w.length / Math.max(M, 1);
      const depthwise = wConst.shape[1] === 1 && a.group > 1 && wConst.shape.length <= 4;
      if (M % a.group !== 0) throw invalid(node, `output channels ${M} not divisible by group ${a.group}`);
      cached = { packed: depthwise ? [] : packWeights(w, M, Kg, a.group), w };
    }
    let scratch: Packed = new Packed(0);
    return (inputs, rt) => {
      const x = inputs[0];
      const wt = inputs[1];
      const bias = inputs[2];
      if (!x || !wt) throw invalid(node, "Conv needs X and W");
      if (!isFloatDType(x.dtype)) throw invalid(node, `Conv on ${x.dtype} is not supported`);
      const nd = x.shape.length - 2;
      if (nd < 1 || wt.shape.length !== nd + 2) throw invalid(node, `Conv: X [${x.shape}] and W [${wt.shape}] ranks do not match`);
      const [N, C] = x.shape as [number, number];
      const M = wt.shape[0]!;
      const Cg = wt.shape[1]!;
      const group = a.group;
      if (Cg * group !== C) throw invalid(node, `Conv: X has ${C} channels, W expects ${Cg} x group ${group}`);
      const kernel = wt.shape.slice(2);
      if (a.kernelShape?.some((k, i) => k !== kernel[i])) throw invalid(node, `kernel_shape [${a.kernelShape}] does not match W [${wt.shape}]`);
      const g = convGeometry(x.shape.slice(2), kernel, a);
      const outShape = [N, M, ...g.outDims];
      const X = f32Data(x);
      let w: Float32Array;
      let packed: Packed[] | undefined;
      if (cached) {
        w = cached.w;
        packed = cached.packed;
      } else w = f32Data(wt);
      const y = rt.alloc("float32", outShape);
      const Y = y.data;
      let osz = 1;
      for (const d of g.outDims) osz *= d;
      let isz = 1;
      for (const d of g.inDims) isz *= d;
      let ksz = 1;
      for (const k of kernel) ksz *= k;
      const Mg = M / group;
      const Kg = Cg * ksz;
      if (bias) {
        const B = f32Data(bias);
        for (let n = 0; n < N; n++) for (let m = 0; m < M; m++) Y.fill(B[m]!, (n * M + m) * osz, (n * M + m + 1) * osz);
      }
      if (osz === 0 || N === 0) return [finish(y)];
      const sp = (i: number, arr: readonly number[], dflt: number) => (nd === 2 ? arr[i]! : i === 0 ? dflt : arr[0]!);
      if (Cg === 1 && group > 1 && nd <= 2) {
        // Depthwise: a direct loop per channel.
        const H = nd === 2 ? g.inDims[0]! : 1;
        const W = g.inDims[nd - 1]!;
        for (let n = 0; n < N; n++) {
          depthwise2d(X, n * C * isz, H, W, w, M, M / group, sp(0, kernel, 1), sp(1, kernel, 1), sp(0, g.strides, 1), sp(1, g.strides, 1), sp(0, g.dilations, 1), sp(1, g.dilations, 1), sp(0, g.padsBegin, 0), sp(1, g.padsBegin, 0), nd === 2 ? g.outDims[0]! : 1, g.outDims[nd - 1]!, Y, n * M * osz);
        }
        return [finish(y)];
      }
      if (!packed) packed = packWeights(w, M, Kg, group);
      const pointwise = ksz === 1 && g.strides.every((s) => s === 1) && g.padsBegin.every((p) => p === 0) && g.padsEnd.every((p) => p === 0);
      let nc = Math.max(NR, Math.floor(CHUNK_FLOATS / Math.max(Kg, 1) / NR) * NR);
      if (nc > osz) nc = osz;
      const need = packedBSize(Kg, nc);
      if (scratch.length < need) scratch = new Packed(need);
      const H = nd === 2 ? g.inDims[0]! : 1;
      const W = g.inDims[nd - 1]!;
      const OW = g.outDims[nd - 1]!;
      for (let n = 0; n < N; n++) {
        for (let gi = 0; gi < group; gi++) {
          const xOff = (n * C + gi * Cg) * isz;
          const yOff = (n * M + gi * Mg) * osz;
          const Ap = packed[gi]!;
          for (let n0 = 0; n0 < osz; n0 += nc) {
            const n1 = Math.min(osz, n0 + nc);
            if (pointwise) packCols(X, xOff, Kg, isz, n0, n1, scratch);
            else if (nd <= 2) im2colPacked2d(X, xOff, Cg, H, W, sp(0, kernel, 1), sp(1, kernel, 1), sp(0, g.strides, 1), sp(1, g.strides, 1), sp(0, g.dilations, 1), sp(1, g.dilations, 1), sp(0, g.padsBegin, 0), sp(1, g.padsBegin, 0), OW, n0, n1, scratch);
            else im2colPackedNd(X, xOff, Cg, g, n0, n1, scratch);
            gemmPacked(Mg, n1 - n0, Kg, Ap, scratch, Y, yOff + n0, osz, bias !== undefined);
          }
        }
      }
      return [finish(y)];

      function finish(t: Tensor<"float32">): Tensor {
        return f32Tensor(rt, x!.dtype, t);
      }
    };
  },
};

/** Packs columns [n0, n1) of a K x S row-major matrix (rows at X[xOff + k * S]) into packed-B panels. */
function packCols(X: Float32Array, xOff: number, K: number, S: number, n0: number, n1: number, out: Packed): void {
  const cols = n1 - n0;
  const panels = Math.ceil(cols / NR);
  for (let q = 0; q < panels; q++) {
    const j0 = n0 + q * NR;
    const w = Math.min(NR, n1 - j0);
    let d = q * K * NR;
    if (w === NR) {
      for (let k = 0; k < K; k++) {
        const s = xOff + k * S + j0;
        out[d] = X[s]!;
        out[d + 1] = X[s + 1]!;
        out[d + 2] = X[s + 2]!;
        out[d + 3] = X[s + 3]!;
        out[d + 4] = X[s + 4]!;
        out[d + 5] = X[s + 5]!;
        out[d + 6] = X[s + 6]!;
        out[d + 7] = X[s + 7]!;
        d += NR;
      }
    } else {
      for (let k = 0; k < K; k++) {
        const s = xOff + k * S + j0;
        for (let j = 0; j < NR; j++) out[d + j] = j < w ? X[s + j]! : 0;
        d += NR;
      }
    }
  }
}
