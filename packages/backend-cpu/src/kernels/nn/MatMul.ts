import type { Node } from "@quanta/ir";
import type { Tensor } from "@quanta/tensor";
import type { Kernel, PrepareContext } from "../../kernel.js";
import { invalid } from "../util.js";
import { floatData, writeFloats } from "./float_impl.js";
import { Packed, gemmNaive, gemmPacked, gemmSmallM, packA, packB, packedASize, packedBSize } from "./sgemm_impl.js";

const NUMERIC = new Set(["float32", "float64", "float16", "bfloat16", "int32", "uint32", "int64", "uint64"]);

/** Shapes of a MatMul: batch dims broadcast, 1-D operands promoted (and their dim dropped from the output). */
export function matmulShapes(as: readonly number[], bs: readonly number[]): { M: number; K: number; N: number; batch: number[]; aBatch: number[]; bBatch: number[]; out: number[] } {
  if (as.length === 0 || bs.length === 0) throw new Error("MatMul operands must have rank >= 1");
  const a = as.length === 1 ? [1, as[0]!] : [...as];
  const b = bs.length === 1 ? [bs[0]!, 1] : [...bs];
  const M = a[a.length - 2]!;
  const K = a[a.length - 1]!;
  const N = b[b.length - 1]!;
  if (b[b.length - 2] !== K) throw new Error(`MatMul inner dims differ: [${as}] x [${bs}]`);
  const aB = a.slice(0, -2);
  const bB = b.slice(0, -2);
  const r = Math.max(aB.length, bB.length);
  const batch: number[] = [];
  for (let i = 0; i < r; i++) {
    const x = aB[aB.length - r + i] ?? 1;
    const y = bB[bB.length - r + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new Error(`MatMul batch dims do not broadcast: [${as}] x [${bs}]`);
    batch.push(x === 1 ? y : x);
  }
  const out = [...batch];
  if (as.length > 1) out.push(M);
  if (bs.length > 1) out.push(N);
  return { M, K, N, batch, aBatch: aB, bBatch: bB, out };
}

/** Matrix offsets of each batch entry of an operand with batch dims `own` broadcast to `batch`. */
function batchOffsets(own: readonly number[], batch: readonly number[], matSize: number): Int32Array {
  let total = 1;
  for (const d of batch) total *= d;
  const offs = new Int32Array(total);
  const r = batch.length;
  const st = new Array<number>(r).fill(0);
  let acc = matSize;
  for (let i = own.length - 1; i >= 0; i--) {
    st[r - own.length + i] = own[i] === 1 ? 0 : acc;
    acc *= own[i]!;
  }
  const idx = new Array<number>(r).fill(0);
  for (let n = 0; n < total; n++) {
    let o = 0;
    for (let i = 0; i < r; i++) o += idx[i]! * st[i]!;
    offs[n] = o;
    for (let i = r - 1; i >= 0; i--) {
      if (++idx[i]! < batch[i]!) break;
      idx[i] = 0;
    }
  }
  return offs;
}

/**
 * MatMul (opset 1-22): numpy semantics (batch broadcast, 1-D operands). float32 through the packed sgemm
 * (a constant B is packed once; a 2-D B folds A's batch into M); float64 and integers through a
 * double-precision loop; float16/bfloat16 computed in float32.
 */
export const MatMul: Kernel = {
  op: "MatMul",
  prepare(node: Node, ctx: PrepareContext) {
    const bConst = ctx.constantInput(1);
    // Packed slices of a constant float32 B (one per batch entry of B).
    let bPacked: Packed[] | undefined;
    if (bConst && bConst.dtype === "float32" && bConst.shape.length >= 1) {
      const bs = bConst.shape.length === 1 ? [bConst.shape[0]!, 1] : bConst.shape;
      const K = bs[bs.length - 2]!;
      const N = bs[bs.length - 1]!;
      const count = bConst.data.length / Math.max(K * N, 1);
      bPacked = [];
      for (let i = 0; i < count; i++) bPacked.push(packB(K, N, bConst.data as Float32Array, i * K * N, N, 1));
    }
    let scratchA: Packed = new Packed(0);
    let scratchB: Packed = new Packed(0);
    return (inputs, rt) => {
      const a = inputs[0];
      const b = inputs[1];
      if (!a || !b) throw invalid(node, "MatMul needs A and B");
      if (!NUMERIC.has(a.dtype) || a.dtype !== b.dtype) throw invalid(node, `MatMul on ${a.dtype} x ${b.dtype} is not supported`);
      let sh: ReturnType<typeof matmulShapes>;
      try {
        sh = matmulShapes(a.shape, b.shape);
      } catch (e) {
        throw invalid(node, (e as Error).message);
      }
      const { M, K, N, batch } = sh;
      const y = rt.alloc(a.dtype, sh.out);
      const f32 = a.dtype === "float32" || a.dtype === "float16" || a.dtype === "bfloat16";
      const Y: Float32Array | Float64Array = a.dtype === "float32" ? (y.data as Float32Array) : f32 ? new Float32Array(y.data.length) : a.dtype === "float64" ? (y.data as Float64Array) : new Float64Array(y.data.length);
      const A = a.dtype === "float32" ? (a.data as Float32Array) : floatData(a);
      const total = y.data.length === 0 ? 0 : y.data.length / (M * N);
      if (total === 0) return [y];
      if (f32 && sh.bBatch.every((d) => d === 1)) {
        // B is one matrix: fold every batch entry of A into the rows.
        const rows = M * total;
        if (!bPacked && rows <= 2) {
          gemmSmallM(rows, N, K, 1, A, 0, K, 1, b.dtype === "float32" ? (b.data as Float32Array) : floatData(b), 0, N, 1, Y as Float32Array, 0, N);
          if (Y !== y.data) writeFloats(y, Y);
          return [y as Tensor];
        }
        const na = packedASize(rows, K);
        if (scratchA.length < na) scratchA = new Packed(na);
        packA(rows, K, A, 0, K, 1, scratchA);
        let Bp = bPacked?.[0];
        if (!Bp) Bp = scratchB = packB(K, N, floatData(b), 0, N, 1, scratchB);
        gemmPacked(rows, N, K, scratchA, Bp, Y as Float32Array, 0, N);
      } else {
        const aOffs = batchOffsets(sh.aBatch, batch, M * K);
        const bOffs = batchOffsets(sh.bBatch, batch, K * N);
        const B = b.dtype === "float32" ? (b.data as Float32Array) : floatData(b);
        if (f32 && !bPacked && M <= 2) {
          for (let i = 0; i < total; i++) gemmSmallM(M, N, K, 1, A, aOffs[i]!, K, 1, B, bOffs[i]!, N, 1, Y as Float32Array, i * M * N, N);
        } else if (f32) {
          const na = packedASize(M, K);
          if (scratchA.length < na) scratchA = new Packed(na);
          const nb = packedBSize(K, N);
          if (!bPacked && scratchB.length < nb) scratchB = new Packed(nb);
          let lastA = -1;
          for (let i = 0; i < total; i++) {
            if (aOffs[i] !== lastA) packA(M, K, A, (lastA = aOffs[i]!), K, 1, scratchA);
            const bo = bOffs[i]!;
            const Bp = bPacked ? bPacked[bo / (K * N)]! : packB(K, N, B, bo, N, 1, scratchB);
            gemmPacked(M, N, K, scratchA, Bp, Y as Float32Array, i * M * N, N);
          }
        } else {
          for (let i = 0; i < total; i++) gemmNaive(M, N, K, 1, A, aOffs[i]!, K, 1, B, bOffs[i]!, N, 1, 0, Y, i * M * N, N);
        }
      }
      if (Y !== y.data) writeFloats(y, Y);
      return [y as Tensor];
    };
  },
};
