// com.microsoft MatMulNBits: Y = A x dequant(B)^T (+ bias), B holding N rows of K weights in blocks of
// `block_size` (2, 4 or 8 bits each, low bits first), a float scale per block and an optional zero
// point per block (packed like B, or float; default 2^(bits-1)).
//
// Weights are unpacked once (one byte per weight) when B is a constant. Each block contributes
// scale * (sum_j a_j q_j - zp * sum_j a_j), accumulated in float64 and rounded to float32 at the end:
// the exact result rounded once. onnxruntime accumulates in float32 (and with accuracy_level 4
// quantizes A to int8 per block), so its results agree only to rounding, not bit for bit.
import type { Node } from "@quanta/ir";
import { type Tensor, size } from "@quanta/tensor";
import type { Input, Kernel, PrepareContext } from "../../kernel.js";
import { invalid, unsupported } from "../util.js";
import { floatValues, fround, storeFloats } from "./common.js";

interface Weights {
  /** Unpacked weights, N x K. */
  readonly q: Uint8Array;
  /** Scale of block (n, b) at n * kb + b. */
  readonly scales: Float32Array;
  /** Zero point of block (n, b), as a float. */
  readonly zps: Float32Array;
}

interface Attrs {
  readonly K: number;
  readonly N: number;
  readonly bits: number;
  readonly bs: number;
  readonly kb: number;
}

function unpack(node: Node, at: Attrs, B: Tensor, S: Tensor, Z: Input): Weights {
  const { K, N, bits, bs, kb } = at;
  const blob = (bs * bits) / 8;
  if (B.dtype !== "uint8" || size(B.shape) !== N * kb * blob) throw invalid(node, `B must be uint8 [${N}, ${kb}, ${blob}], got ${B.dtype}[${B.shape.join(",")}]`);
  const scales = floatValues(S);
  if (scales.length !== N * kb) throw invalid(node, `scales must have ${N * kb} values, got ${scales.length}`);
  const bd = B.data as Uint8Array;
  const mask = (1 << bits) - 1;
  const q = new Uint8Array(N * K);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      const b = Math.floor(k / bs);
      const j = k - b * bs;
      const bit = j * bits;
      q[n * K + k] = (bd[(n * kb + b) * blob + (bit >> 3)]! >> (bit & 7)) & mask;
    }
  }
  const zps = new Float32Array(N * kb).fill(1 << (bits - 1));
  if (Z) {
    if (Z.dtype === "uint8") {
      const perRow = Math.ceil((kb * bits) / 8);
      if (size(Z.shape) !== N * perRow) throw invalid(node, `packed zero_points must have ${N * perRow} bytes, got ${size(Z.shape)}`);
      const zd = Z.data as Uint8Array;
      for (let n = 0; n < N; n++) {
        for (let b = 0; b < kb; b++) {
          const bit = b * bits;
          zps[n * kb + b] = (zd[n * perRow + (bit >> 3)]! >> (bit & 7)) & mask;
        }
      }
    } else {
      const zv = floatValues(Z);
      if (zv.length !== N * kb) throw invalid(node, `float zero_points must have ${N * kb} values, got ${zv.length}`);
      zps.set(zv);
    }
  }
  return { q, scales, zps };
}

export const MatMulNBits: Kernel = {
  op: "MatMulNBits",
  domain: "com.microsoft",
  prepare(node: Node, ctx: PrepareContext) {
    const K = node.int("K", 0);
    const N = node.int("N", 0);
    const bits = node.int("bits", 4);
    const bs = node.int("block_size", 0);
    if (K <= 0 || N <= 0) throw invalid(node, "MatMulNBits needs positive K and N attributes");
    if (bits !== 2 && bits !== 4 && bits !== 8) throw unsupported(node, ctx, `bits=${bits}`);
    if (bs < 16 || (bs & (bs - 1)) !== 0) throw invalid(node, `block_size ${bs} must be a power of 2 >= 16`);
    const at: Attrs = { K, N, bits, bs, kb: Math.ceil(K / bs) };
    const cB = ctx.constantInput(1);
    const cS = ctx.constantInput(2);
    const hasZ = node.inputs[3] != null;
    const cZ = hasZ ? ctx.constantInput(3) : undefined;
    const pre = cB && cS && (!hasZ || cZ) ? unpack(node, at, cB, cS, cZ) : undefined;
    const gIdxConst = node.inputs[4] ? ctx.constantInput(4) : undefined;
    return (inputs, rt) => {
      const [a, b, s, z, gi, bias] = inputs as [Tensor, Tensor, Tensor, Input, Input, Input];
      if (a.dtype !== "float32" && a.dtype !== "float16" && a.dtype !== "bfloat16") throw invalid(node, `A must be float, got ${a.dtype}`);
      if (a.shape.length < 1 || a.shape[a.shape.length - 1] !== K) throw invalid(node, `A's last dim must be K=${K}, got [${a.shape.join(",")}]`);
      const w = pre ?? unpack(node, at, b, s, z);
      const A = floatValues(a);
      const M = size(a.shape) / K;
      const outShape = [...a.shape.slice(0, -1), N];
      const y = rt.alloc(a.dtype, outShape);
      const Y = a.dtype === "float32" ? (y.data as Float32Array) : new Float32Array(M * N);
      const biasV = bias ? floatValues(bias) : undefined;
      if (biasV && biasV.length !== N) throw invalid(node, `bias must have ${N} values`);
      const g = gi ?? gIdxConst;
      if (g && size(g.shape) > 0) gemmGIdx(at, A, M, w, Int32Array.from(g.data as Int32Array), Y);
      else gemmBlocks(at, A, M, w, Y);
      if (biasV) for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) Y[m * N + n] = fround(Y[m * N + n]! + biasV[n]!);
      if (a.dtype !== "float32") storeFloats(a.dtype, y.data, Y);
      return [y];
    };
  },
};

/** Blocked product: per block, scale * (dot(a, q) - zp * sum(a)). */
function gemmBlocks(at: Attrs, A: Float32Array, M: number, w: Weights, Y: Float32Array): void {
  const { K, N, bs, kb } = at;
  const { q, scales, zps } = w;
  const sums = new Float64Array(kb);
  for (let m = 0; m < M; m++) {
    const ao = m * K;
    for (let b = 0; b < kb; b++) {
      let s = 0;
      const k1 = Math.min(K, (b + 1) * bs);
      for (let k = b * bs; k < k1; k++) s += A[ao + k]!;
      sums[b] = s;
    }
    let n = 0;
    for (; n + 4 <= N; n += 4) {
      const q0 = n * K;
      const q1 = q0 + K;
      const q2 = q1 + K;
      const q3 = q2 + K;
      let y0 = 0;
      let y1 = 0;
      let y2 = 0;
      let y3 = 0;
      for (let b = 0; b < kb; b++) {
        const k0 = b * bs;
        const k1 = Math.min(K, k0 + bs);
        let d0 = 0;
        let d1 = 0;
        let d2 = 0;
        let d3 = 0;
        for (let k = k0; k < k1; k++) {
          const x = A[ao + k]!;
          d0 += x * q[q0 + k]!;
          d1 += x * q[q1 + k]!;
          d2 += x * q[q2 + k]!;
          d3 += x * q[q3 + k]!;
        }
        const sb = sums[b]!;
        const p = n * kb + b;
        y0 += scales[p]! * (d0 - zps[p]! * sb);
        y1 += scales[p + kb]! * (d1 - zps[p + kb]! * sb);
        y2 += scales[p + 2 * kb]! * (d2 - zps[p + 2 * kb]! * sb);
        y3 += scales[p + 3 * kb]! * (d3 - zps[p + 3 * kb]! * sb);
      }
      const o = m * N + n;
      Y[o] = y0;
      Y[o + 1] = y1;
      Y[o + 2] = y2;
      Y[o + 3] = y3;
    }
    for (; n < N; n++) {
      const q0 = n * K;
      let y0 = 0;
      for (let b = 0; b < kb; b++) {
        const k0 = b * bs;
        const k1 = Math.min(K, k0 + bs);
        let d0 = 0;
        for (let k = k0; k < k1; k++) d0 += A[ao + k]! * q[q0 + k]!;
        const p = n * kb + b;
        y0 += scales[p]! * (d0 - zps[p]! * sums[b]!);
      }
      Y[m * N + n] = y0;
    }
  }
}

/** With g_idx: weight k of each row uses block g_idx[k]'s scale and zero point. */
function gemmGIdx(at: Attrs, A: Float32Array, M: number, w: Weights, g: Int32Array, Y: Float32Array): void {
  const { K, N, kb } = at;
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let acc = 0;
      for (let k = 0; k < K; k++) {
        const p = n * kb + g[k]!;
        acc += A[m * K + k]! * w.scales[p]! * (w.q[n * K + k]! - w.zps[p]!);
      }
      Y[m * N + n] = acc;
    }
  }
}
