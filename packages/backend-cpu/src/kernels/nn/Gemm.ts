import type { Node } from "@quanta/ir";
import type { Tensor } from "@quanta/tensor";
import type { Kernel, PrepareContext } from "../../kernel.js";
import { broadcastStrides, invalid } from "../util.js";
import { floatData, writeFloats } from "./float_impl.js";
import { Packed, gemmNaive, gemmPacked, gemmSmallM, packA, packB, packedASize } from "./sgemm_impl.js";

const NUMERIC = new Set(["float32", "float64", "float16", "bfloat16", "int32", "uint32", "int64", "uint64"]);

/**
 * Gemm (opset 1-22): Y = alpha * op(A) * op(B) + beta * C, transA/transB, C broadcast to (M, N) or
 * absent. float32 through the packed sgemm (a constant B is packed once); float64 and integers through
 * a double-precision loop; float16/bfloat16 computed in float32.
 */
export const Gemm: Kernel = {
  op: "Gemm",
  prepare(node: Node, ctx: PrepareContext) {
    const alpha = node.float("alpha", 1);
    const beta = node.float("beta", 1);
    const transA = node.int("transA", 0) === 1;
    const transB = node.int("transB", 0) === 1;
    const bConst = ctx.constantInput(1);
    let bPacked: Packed | undefined;
    if (bConst && bConst.dtype === "float32" && bConst.shape.length === 2) {
      const [r, c] = bConst.shape as [number, number];
      const K = transB ? c : r;
      const N = transB ? r : c;
      bPacked = packB(K, N, bConst.data as Float32Array, 0, transB ? 1 : c, transB ? c : 1);
    }
    let scratchA: Packed = new Packed(0);
    let scratchB: Packed = new Packed(0);
    return (inputs, rt) => {
      const a = inputs[0];
      const b = inputs[1];
      const c = inputs[2];
      if (!a || !b) throw invalid(node, "Gemm needs A and B");
      if (a.shape.length !== 2 || b.shape.length !== 2) throw invalid(node, `Gemm needs 2-D A and B, got [${a.shape}] and [${b.shape}]`);
      if (!NUMERIC.has(a.dtype)) throw invalid(node, `Gemm on ${a.dtype} is not supported`);
      const M = transA ? a.shape[1]! : a.shape[0]!;
      const K = transA ? a.shape[0]! : a.shape[1]!;
      const Kb = transB ? b.shape[1]! : b.shape[0]!;
      const N = transB ? b.shape[0]! : b.shape[1]!;
      if (K !== Kb) throw invalid(node, `Gemm: inner dims differ (A [${a.shape}] transA=${+transA}, B [${b.shape}] transB=${+transB})`);
      const y = rt.alloc(a.dtype, [M, N]);
      const f32 = a.dtype === "float32" || a.dtype === "float16" || a.dtype === "bfloat16";
      const Y: Float32Array | Float64Array = a.dtype === "float32" ? (y.data as Float32Array) : f32 ? new Float32Array(M * N) : a.dtype === "float64" ? (y.data as Float64Array) : new Float64Array(M * N);
      const useC = c !== undefined && beta !== 0;
      if (useC) {
        if (c.shape.length > 2) throw invalid(node, `Gemm: C [${c.shape}] does not broadcast to [${M}, ${N}]`);
        const C = floatData(c);
        let st: Int32Array;
        try {
          st = broadcastStrides(c.shape, [M, N]);
          if (c.shape.some((d, i) => d !== 1 && d !== [M, N][i + 2 - c.shape.length])) throw new Error();
        } catch {
          throw invalid(node, `Gemm: C [${c.shape}] does not broadcast to [${M}, ${N}]`);
        }
        const s0 = st[0]!;
        const s1 = st[1]!;
        for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) Y[i * N + j] = beta * C[i * s0 + j * s1]!;
      }
      const sam = transA ? 1 : K;
      const sak = transA ? M : 1;
      const sbk = transB ? 1 : N;
      const sbn = transB ? K : 1;
      if (f32 && !bPacked && M <= 2) {
        const A = a.dtype === "float32" ? (a.data as Float32Array) : floatData(a);
        const B = b.dtype === "float32" ? (b.data as Float32Array) : floatData(b);
        gemmSmallM(M, N, K, alpha, A, 0, sam, sak, B, 0, sbk, sbn, Y as Float32Array, 0, N, useC);
      } else if (f32) {
        const A = a.dtype === "float32" ? (a.data as Float32Array) : (floatData(a) as Float32Array);
        const na = packedASize(M, K);
        if (scratchA.length < na) scratchA = new Packed(na);
        packA(M, K, A, 0, sam, sak, scratchA, alpha);
        let Bp = bPacked;
        if (!Bp) {
          const B = b.dtype === "float32" ? (b.data as Float32Array) : (floatData(b) as Float32Array);
          Bp = scratchB = packB(K, N, B, 0, sbk, sbn, scratchB);
        }
        gemmPacked(M, N, K, scratchA, Bp, Y as Float32Array, 0, N, useC);
      } else {
        gemmNaive(M, N, K, alpha, floatData(a), 0, sam, sak, floatData(b), 0, sbk, sbn, useC ? 1 : 0, Y, 0, N);
      }
      if (Y !== y.data) writeFloats(y, Y);
      return [y as Tensor];
    };
  },
};
