// MatMulInteger and QLinearMatMul: numpy matmul over 8-bit operands with exact int32 accumulation
// (qgemm), B packed once at plan time when it is a constant.
import type { Node } from "@quanta/ir";
import { type Tensor, size } from "@quanta/tensor";
import type { Input, Kernel, PrepareContext } from "../../kernel.js";
import { invalid } from "../util.js";
import { fround, intValues, matmulShape, qmax, qmin, scalesOf } from "./common.js";
import { type PackedB, ScratchI32, Scratch, packB, qgemm } from "./qgemm.js";
import { requantBlock } from "./requant.js";

const is8bit = (t: Tensor): boolean => t.dtype === "uint8" || t.dtype === "int8";

/** Number of matrices in a matmul operand's batch (1-D and 2-D: 1). */
const batchCount = (shape: readonly number[]): number => (shape.length <= 2 ? 1 : size(shape.slice(0, -2)));

/**
 * A per-operand quantization parameter (zero point or scale): one value, one per row of A / column
 * of B ("vec"), or one per row/column of each batch matrix ("batch").
 */
interface Param<T extends Int32Array | Float32Array> {
  readonly values: T;
  readonly mode: "one" | "vec" | "batch";
}

function paramOf<T extends Int32Array | Float32Array>(node: Node, values: T, len: number, batches: number, what: string): Param<T> {
  if (values.length === 1) return { values, mode: "one" };
  if (values.length === len) return { values, mode: "vec" };
  if (values.length === len * batches) return { values, mode: "batch" };
  throw invalid(node, `${what} has ${values.length} values; expected 1, ${len} or ${len * batches}`);
}

/** The values of `p` for batch matrix `bi` (length `len`, or 1 for "one"). */
function slice<T extends Int32Array | Float32Array>(p: Param<T>, bi: number, len: number): T {
  return (p.mode === "batch" ? p.values.subarray(bi * len, (bi + 1) * len) : p.values) as T;
}

/** A matrix (rows of K) minus its zero point(s), as doubles. */
function convertRows(src: ArrayLike<number>, off: number, M: number, K: number, za: Int32Array, perRow: boolean, dst: Float64Array): void {
  for (let m = 0; m < M; m++) {
    const z = perRow ? za[m]! : za[0]!;
    const s = off + m * K;
    const d = m * K;
    for (let k = 0; k < K; k++) dst[d + k] = src[s + k]! - z;
  }
}

interface Prepared {
  /** B packed per batch matrix when B and its zero point are constants. */
  readonly packed: PackedB[] | undefined;
}

function prepackB(ctx: PrepareContext, bIdx: number, bzIdx: number, node: Node): Prepared {
  const B = ctx.constantInput(bIdx);
  const hasZ = node.inputs[bzIdx] != null;
  const Z = hasZ ? ctx.constantInput(bzIdx) : undefined;
  if (!B || (hasZ && !Z) || !is8bit(B) || B.shape.length < 1) return { packed: undefined };
  const K = B.shape.length === 1 ? B.shape[0]! : B.shape[B.shape.length - 2]!;
  const N = B.shape.length === 1 ? 1 : B.shape[B.shape.length - 1]!;
  const nb = batchCount(B.shape);
  const z = paramOf(node, Z ? intValues(Z) : Int32Array.of(0), N, nb, "b_zero_point");
  const packed: PackedB[] = [];
  for (let i = 0; i < nb; i++) {
    const zs = slice(z, i, N);
    packed.push(packB(K, N, B.data as ArrayLike<number>, i * K * N, N, 1, zs.length === 1 ? zs[0]! : zs));
  }
  return { packed };
}

/**
 * Runs the integer matmul of every batch matrix: for output batch index t, `body(t, ai, bi, A, P)`
 * gets A's matrix minus its zero points (M x K doubles) and B packed.
 */
function forBatches(
  node: Node,
  a: Tensor,
  b: Tensor,
  az: Input,
  bz: Input,
  prep: Prepared,
  scratch: Scratch,
  body: (t: number, ai: number, bi: number, A: Float64Array, P: PackedB) => void,
): void {
  if (!is8bit(a) || !is8bit(b)) throw invalid(node, `${node.op} needs 8-bit inputs, got ${a.dtype} x ${b.dtype}`);
  const sh = matmulShape(a.shape, b.shape);
  const { M, K, N } = sh;
  const zA = paramOf(node, az ? intValues(az) : Int32Array.of(0), M, batchCount(a.shape), "a_zero_point");
  const zB = prep.packed ? undefined : paramOf(node, bz ? intValues(bz) : Int32Array.of(0), N, batchCount(b.shape), "b_zero_point");
  const A64 = scratch.get(M * K);
  const local: (PackedB | undefined)[] = [];
  for (let t = 0; t < sh.batch; t++) {
    const ai = sh.aIndex[t]!;
    const bi = sh.bIndex[t]!;
    const za = slice(zA, ai, M);
    convertRows(a.data as ArrayLike<number>, ai * M * K, M, K, za, za.length > 1, A64);
    let P = prep.packed?.[bi] ?? local[bi];
    if (!P) {
      const zb = slice(zB!, bi, N);
      P = packB(K, N, b.data as ArrayLike<number>, bi * K * N, N, 1, zb.length === 1 ? zb[0]! : zb);
      local[bi] = P;
    }
    body(t, ai, bi, A64, P);
  }
}

/** MatMulInteger (opset 10): int32 result of (A - a_zero_point) x (B - b_zero_point). */
export const MatMulInteger: Kernel = {
  op: "MatMulInteger",
  prepare(node, ctx) {
    const prep = prepackB(ctx, 1, 3, node);
    const scratch = new Scratch();
    return (inputs, rt) => {
      const [a, b, az, bz] = inputs as [Tensor, Tensor, Input, Input];
      const sh = matmulShape(a.shape, b.shape);
      const y = rt.alloc("int32", sh.out);
      const Y = y.data as Int32Array;
      const M = sh.M;
      const N = sh.N;
      forBatches(node, a, b, az, bz, prep, scratch, (t, _ai, _bi, A, P) => qgemm(M, A, 0, P, Y, t * M * N, N));
      return [y];
    };
  },
};

/** QLinearMatMul (opset 10, 21): per-tensor / per-row A and per-tensor / per-column B parameters. */
export const QLinearMatMul: Kernel = {
  op: "QLinearMatMul",
  prepare(node, ctx) {
    const prep = prepackB(ctx, 3, 5, node);
    const scratch = new Scratch();
    const cbuf = new ScratchI32();
    return (inputs, rt) => {
      const [a, as, az, b, bs, bz, ys, yz] = inputs as [Tensor, Tensor, Input, Tensor, Tensor, Input, Tensor, Input];
      const outType = yz ? yz.dtype : "uint8";
      if (outType !== "uint8" && outType !== "int8") throw invalid(node, `QLinearMatMul output type ${outType} is not supported`);
      const sh = matmulShape(a.shape, b.shape);
      const { M, N } = sh;
      const y = rt.alloc(outType, sh.out);
      const Y = y.data as Uint8Array | Int8Array;
      const sA = paramOf(node, scalesOf(node, as, "a_scale"), M, batchCount(a.shape), "a_scale");
      const sB = paramOf(node, scalesOf(node, bs, "b_scale"), N, batchCount(b.shape), "b_scale");
      const sY = scalesOf(node, ys, "y_scale");
      if (sY.length !== 1) throw invalid(node, "y_scale must be a scalar");
      const yScale = sY[0]!;
      const zy = yz ? intValues(yz)[0]! : 0;
      const lo = qmin(outType);
      const hi = qmax(outType);
      const C = cbuf.get(M * N);
      const scales = new Float32Array(N);
      forBatches(node, a, b, az, bz, prep, scratch, (t, ai, bi, A, P) => {
        qgemm(M, A, 0, P, C, 0, N);
        const aS = slice(sA, ai, M);
        const bS = slice(sB, bi, N);
        const perCol = bS.length > 1;
        for (let m = 0; m < M; m++) {
          if (m === 0 || aS.length > 1) {
            const sa = aS.length > 1 ? aS[m]! : aS[0]!;
            for (let n = 0; n < (perCol ? N : 1); n++) scales[n] = fround(fround(sa * bS[perCol ? n : 0]!) / yScale);
          }
          requantBlock(C, m * N, N, 1, N, Y, t * M * N + m * N, N, 1, scales, perCol, undefined, zy, lo, hi);
        }
      });
      return [y];
    };
  },
};
