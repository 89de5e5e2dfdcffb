// Exact integer GEMM for 8-bit operands, computed with float64 arithmetic.
//
// Operands have their zero points subtracted up front (|a - za| <= 255, |b - zb| <= 255), so every
// product is an integer below 2^16 in magnitude and no zero-point correction is needed afterwards.
// Two columns of B are packed into one double, lo + hi * 2^26 ("SWAR" in a float64): one multiply-add
// then accumulates two dot products. Over a chunk of at most 512 terms |lo| < 2^25, so the lo and hi
// sums are recovered exactly by rounding (every intermediate is an integer below 2^53, hence exact).
// The chunk sums are added into an Int32Array, which wraps modulo 2^32 like int32 accumulation does.

const SHIFT = 67108864; // 2^26
const INV_SHIFT = 1 / SHIFT;
/** Terms per chunk: 512 * 255 * 255 < 2^25. */
const KC = 512;

/** B packed for `qgemm`: ceil(N/2) column pairs, each K contiguous doubles. */
export interface PackedB {
  readonly K: number;
  readonly N: number;
  readonly data: Float64Array;
}

/**
 * Packs B (K x N, element (k, n) at `b[off + k*sk + n*sn]`) minus its zero point(s) into column pairs.
 * `zb` is one zero point, or one per column (n).
 */
export function packB(K: number, N: number, b: ArrayLike<number>, off: number, sk: number, sn: number, zb: number | Int32Array, out?: Float64Array): PackedB {
  const P = (N + 1) >> 1;
  const data = out && out.length >= P * K ? out : new Float64Array(P * K);
  const perCol = typeof zb !== "number";
  for (let p = 0; p < P; p++) {
    const n0 = 2 * p;
    const n1 = n0 + 1;
    const z0 = perCol ? zb[n0]! : zb;
    const has1 = n1 < N;
    const z1 = has1 ? (perCol ? zb[n1]! : zb) : 0;
    const o = p * K;
    let i0 = off + n0 * sn;
    if (has1) {
      for (let k = 0; k < K; k++, i0 += sk) data[o + k] = b[i0]! - z0 + (b[i0 + sn]! - z1) * SHIFT;
    } else {
      for (let k = 0; k < K; k++, i0 += sk) data[o + k] = b[i0]! - z0;
    }
  }
  return { K, N, data };
}

/**
 * C[cOff + m*ldc + n] = sum_k A[aOff + m*K + k] * B[k][n] for m < M, n < N (overwrites C), where A
 * holds zero-point-adjusted integers of magnitude <= 255 and B was packed by `packB`.
 */
export function qgemm(M: number, A: Float64Array, aOff: number, B: PackedB, C: Int32Array, cOff: number, ldc: number): void {
  const { K, N, data: Bp } = B;
  const P = (N + 1) >> 1;
  const oddN = (N & 1) === 1;
  for (let m = 0; m < M; m++) C.fill(0, cOff + m * ldc, cOff + m * ldc + N);
  for (let k0 = 0; k0 < K; k0 += KC) {
    const k1 = Math.min(K, k0 + KC);
    let m = 0;
    for (; m + 4 <= M; m += 4) {
      const a0 = aOff + m * K;
      const a1 = a0 + K;
      const a2 = a1 + K;
      const a3 = a2 + K;
      const c0 = cOff + m * ldc;
      let p = 0;
      for (; p + 2 <= P; p += 2) {
        const b0 = p * K;
        const b1 = b0 + K;
        let s00 = 0;
        let s01 = 0;
        let s10 = 0;
        let s11 = 0;
        let s20 = 0;
        let s21 = 0;
        let s30 = 0;
        let s31 = 0;
        for (let k = k0; k < k1; k++) {
          const w0 = Bp[b0 + k]!;
          const w1 = Bp[b1 + k]!;
          let x = A[a0 + k]!;
          s00 += x * w0;
          s01 += x * w1;
          x = A[a1 + k]!;
          s10 += x * w0;
          s11 += x * w1;
          x = A[a2 + k]!;
          s20 += x * w0;
          s21 += x * w1;
          x = A[a3 + k]!;
          s30 += x * w0;
          s31 += x * w1;
        }
        const n = 2 * p;
        const last = oddN && p + 2 === P;
        add4(C, c0 + n, s00, s01, last);
        add4(C, c0 + ldc + n, s10, s11, last);
        add4(C, c0 + 2 * ldc + n, s20, s21, last);
        add4(C, c0 + 3 * ldc + n, s30, s31, last);
      }
      for (; p < P; p++) {
        const b0 = p * K;
        let s0 = 0;
        let s1 = 0;
        let s2 = 0;
        let s3 = 0;
        for (let k = k0; k < k1; k++) {
          const w = Bp[b0 + k]!;
          s0 += A[a0 + k]! * w;
          s1 += A[a1 + k]! * w;
          s2 += A[a2 + k]! * w;
          s3 += A[a3 + k]! * w;
        }
        const n = 2 * p;
        const two = n + 1 < N;
        add2(C, c0 + n, s0, two);
        add2(C, c0 + ldc + n, s1, two);
        add2(C, c0 + 2 * ldc + n, s2, two);
        add2(C, c0 + 3 * ldc + n, s3, two);
      }
    }
    for (; m < M; m++) {
      const a0 = aOff + m * K;
      const c0 = cOff + m * ldc;
      for (let p = 0; p < P; p++) {
        const b0 = p * K;
        let s = 0;
        for (let k = k0; k < k1; k++) s += A[a0 + k]! * Bp[b0 + k]!;
        const n = 2 * p;
        add2(C, c0 + n, s, n + 1 < N);
      }
    }
  }
}

/** Adds the two dot products packed in `s` to C[o] and (when `two`) C[o + 1]. */
function add2(C: Int32Array, o: number, s: number, two: boolean): void {
  const hi = Math.round(s * INV_SHIFT);
  C[o] = C[o]! + (s - hi * SHIFT);
  if (two) C[o + 1] = C[o + 1]! + hi;
}

/** Adds two packed pairs (columns o..o+3; the 4th is skipped when `last` and N is odd). */
function add4(C: Int32Array, o: number, s0: number, s1: number, last: boolean): void {
  let hi = Math.round(s0 * INV_SHIFT);
  C[o] = C[o]! + (s0 - hi * SHIFT);
  C[o + 1] = C[o + 1]! + hi;
  hi = Math.round(s1 * INV_SHIFT);
  C[o + 2] = C[o + 2]! + (s1 - hi * SHIFT);
  if (!last) C[o + 3] = C[o + 3]! + hi;
}

/** A grow-only Float64Array scratch buffer (kept per prepared kernel, reused across runs). */
export class Scratch {
  private buf = new Float64Array(0);
  get(n: number): Float64Array {
    if (this.buf.length < n) this.buf = new Float64Array(n);
    return this.buf;
  }
}

export class ScratchI32 {
  private buf = new Int32Array(0);
  get(n: number): Int32Array {
    if (this.buf.length < n) this.buf = new Int32Array(n);
    return this.buf;
  }
}
