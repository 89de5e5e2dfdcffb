// A blocked, register-tiled float32 GEMM in plain typed-array code (shared by MatMul, Gemm, Conv,
// ConvTranspose and the recurrent ops; pure functions, reusable by other backends).
//
// Layout (Packed = Float64Array): op(A) (M x K) is packed into panels of MR = 8 rows, panel p holding
//   Ap[(p * K + k) * MR + i] = op(A)[p * MR + i, k]   (zero past M),
// op(B) (K x N) into panels of NR = 8 columns, panel q holding
//   Bp[(q * K + k) * NR + j] = op(B)[k, q * NR + j]   (zero past N).
// `gemmPacked` multiplies packed operands into a row-major C with an 8x8 micro-kernel (64 accumulators
// in locals; V8 keeps them as doubles, so sums are more accurate than float32 accumulation), with
// 4x8 and 1x8 variants for the last rows. Constant operands are packed once (at plan time).

export const MR = 8;
export const NR = 8;

/** Storage of packed operands: float64, so the micro-kernels skip a float32-to-double conversion per load (about 8% faster in V8). */
export type Packed = Float64Array;
export const Packed = Float64Array;

/** Float32 elements needed to pack an M x K op(A). */
export const packedASize = (M: number, K: number): number => Math.ceil(M / MR) * MR * K;
/** Float32 elements needed to pack a K x N op(B). */
export const packedBSize = (K: number, N: number): number => Math.ceil(N / NR) * NR * K;

/**
 * Packs op(A) (M x K), element (i, k) at src[off + i * sm + k * sk], times `scale`, into MR-row panels.
 * `out` (at least packedASize(M, K) long) is reused when given.
 */
export function packA(M: number, K: number, src: ArrayLike<number>, off: number, sm: number, sk: number, out?: Packed, scale = 1): Packed {
  const need = packedASize(M, K);
  const o = out && out.length >= need ? out : new Packed(need);
  const panels = Math.ceil(M / MR);
  for (let p = 0; p < panels; p++) {
    const i0 = p * MR;
    const rows = Math.min(MR, M - i0);
    const base = p * K * MR;
    for (let i = 0; i < MR; i++) {
      let d = base + i;
      if (i >= rows) {
        for (let k = 0; k < K; k++, d += MR) o[d] = 0;
        continue;
      }
      let s = off + (i0 + i) * sm;
      if (scale === 1) for (let k = 0; k < K; k++, d += MR, s += sk) o[d] = src[s]!;
      else for (let k = 0; k < K; k++, d += MR, s += sk) o[d] = src[s]! * scale;
    }
  }
  return o;
}

/**
 * Packs op(B) (K x N), element (k, j) at src[off + k * sk + j * sn], into NR-column panels.
 * `out` (at least packedBSize(K, N) long) is reused when given.
 */
export function packB(K: number, N: number, src: ArrayLike<number>, off: number, sk: number, sn: number, out?: Packed): Packed {
  const need = packedBSize(K, N);
  const o = out && out.length >= need ? out : new Packed(need);
  const panels = Math.ceil(N / NR);
  for (let q = 0; q < panels; q++) {
    const j0 = q * NR;
    const cols = Math.min(NR, N - j0);
    let d = q * K * NR;
    if (cols === NR && sn === 1) {
      for (let k = 0; k < K; k++) {
        const s = off + k * sk + j0;
        o[d] = src[s]!;
        o[d + 1] = src[s + 1]!;
        o[d + 2] = src[s + 2]!;
        o[d + 3] = src[s + 3]!;
        o[d + 4] = src[s + 4]!;
        o[d + 5] = src[s + 5]!;
        o[d + 6] = src[s + 6]!;
        o[d + 7] = src[s + 7]!;
        d += NR;
      }
      continue;
    }
    for (let k = 0; k < K; k++) {
      const s = off + k * sk + j0 * sn;
      for (let j = 0; j < NR; j++) o[d + j] = j < cols ? src[s + j * sn]! : 0;
      d += NR;
    }
  }
  return o;
}

/**
 * C[cOff + i * ldc + j] (=|+=) sum_k op(A)[i, k] * op(B)[k, j] for i < M, j < N, from packed operands
 * (`accumulate` adds to C instead of overwriting it). `aOff`/`bOff` start the packed data.
 */
export function gemmPacked(M: number, N: number, K: number, Ap: Packed, Bp: Packed, C: Float32Array, cOff: number, ldc: number, accumulate = false, aOff = 0, bOff = 0): void {
  if (M <= 0 || N <= 0) return;
  if (K === 0) {
    if (!accumulate) for (let i = 0; i < M; i++) C.fill(0, cOff + i * ldc, cOff + i * ldc + N);
    return;
  }
  const np = Math.ceil(N / NR);
  const mp = Math.ceil(M / MR);
  for (let q = 0; q < np; q++) {
    const b = bOff + q * K * NR;
    const j0 = q * NR;
    const cols = Math.min(NR, N - j0);
    for (let p = 0; p < mp; p++) {
      const a = aOff + p * K * MR;
      const i0 = p * MR;
      const rows = Math.min(MR, M - i0);
      const c = cOff + i0 * ldc + j0;
      if (rows > 4) {
        if (cols > 4) kernel8x8(K, Ap, a, Bp, b, C, c, ldc, rows, cols, accumulate);
        else if (cols > 1) kernel8x4(K, Ap, a, Bp, b, C, c, ldc, rows, cols, accumulate);
        else kernel8x1(K, Ap, a, Bp, b, C, c, ldc, rows, cols, accumulate);
      }
      else if (rows > 1) kernel4x8(K, Ap, a, Bp, b, C, c, ldc, rows, cols, accumulate);
      else kernel1x8(K, Ap, a, Bp, b, C, c, ldc, rows, cols, accumulate);
    }
  }
}

let rowAcc = new Float64Array(0);

/**
 * C (=|+=) alpha * op(A) * op(B) for a few rows of A, reading B in place (no packing; for operands used
 * once, where packing B would cost as much as the product): row axpys when B rows are contiguous
 * (sbn = 1), dot products when its columns are (sbk = 1). Sums in double precision.
 */
export function gemmSmallM(
  M: number,
  N: number,
  K: number,
  alpha: number,
  A: ArrayLike<number>,
  aOff: number,
  sam: number,
  sak: number,
  B: ArrayLike<number>,
  bOff: number,
  sbk: number,
  sbn: number,
  C: Float32Array,
  cOff: number,
  ldc: number,
  accumulate = false,
): void {
  if (rowAcc.length < N) rowAcc = new Float64Array(N);
  const acc = rowAcc;
  for (let i = 0; i < M; i++) {
    const o = cOff + i * ldc;
    if (sbn === 1) {
      acc.fill(0, 0, N);
      for (let k = 0; k < K; k++) {
        const a = A[aOff + i * sam + k * sak]!;
        if (a === 0) continue;
        const r = bOff + k * sbk;
        for (let j = 0; j < N; j++) acc[j]! += a * B[r + j]!;
      }
      if (accumulate) for (let j = 0; j < N; j++) C[o + j]! += alpha * acc[j]!;
      else for (let j = 0; j < N; j++) C[o + j] = alpha * acc[j]!;
    } else {
      for (let j = 0; j < N; j++) {
        let sum = 0;
        let a = aOff + i * sam;
        let b = bOff + j * sbn;
        for (let k = 0; k < K; k++, a += sak, b += sbk) sum += A[a]! * B[b]!;
        if (accumulate) C[o + j]! += alpha * sum;
        else C[o + j] = alpha * sum;
      }
    }
  }
}

let scratchA: Packed = new Packed(0);
let scratchB: Packed = new Packed(0);

/**
 * General float32 GEMM on strided operands: C = alpha * op(A) * op(B) + beta * C, with op(A) element
 * (i, k) at A[aOff + i * sam + k * sak] and op(B) element (k, j) at B[bOff + k * sbk + j * sbn]
 * (transposes are just swapped strides). C is row-major with row stride ldc.
 * Packs both operands into module scratch (not re-entrant; fine for single-threaded JS).
 */
export function sgemm(
  M: number,
  N: number,
  K: number,
  alpha: number,
  A: ArrayLike<number>,
  aOff: number,
  sam: number,
  sak: number,
  B: ArrayLike<number>,
  bOff: number,
  sbk: number,
  sbn: number,
  beta: number,
  C: Float32Array,
  cOff: number,
  ldc: number,
): void {
  if (M <= 0 || N <= 0) return;
  if (beta !== 1) {
    for (let i = 0; i < M; i++) {
      const o = cOff + i * ldc;
      if (beta === 0) C.fill(0, o, o + N);
      else for (let j = 0; j < N; j++) C[o + j]! *= beta;
    }
  }
  if (K === 0 || alpha === 0) return;
  if (M <= 2) {
    gemmSmallM(M, N, K, alpha, A, aOff, sam, sak, B, bOff, sbk, sbn, C, cOff, ldc, true);
    return;
  }
  const na = packedASize(M, K);
  if (scratchA.length < na) scratchA = new Packed(na);
  const nb = packedBSize(K, N);
  if (scratchB.length < nb) scratchB = new Packed(nb);
  packA(M, K, A, aOff, sam, sak, scratchA, alpha);
  packB(K, N, B, bOff, sbk, sbn, scratchB);
  gemmPacked(M, N, K, scratchA, scratchB, C, cOff, ldc, true);
}

/**
 * Reference GEMM for any numeric arrays (float64, integers as numbers): C[cOff + i * ldc + j] =
 * alpha * sum_k op(A)[i, k] * op(B)[k, j] + beta * C[...] (beta 0 ignores C), summing in double precision.
 */
export function gemmNaive(
  M: number,
  N: number,
  K: number,
  alpha: number,
  A: ArrayLike<number>,
  aOff: number,
  sam: number,
  sak: number,
  B: ArrayLike<number>,
  bOff: number,
  sbk: number,
  sbn: number,
  beta: number,
  C: { [i: number]: number },
  cOff: number,
  ldc: number,
): void {
  for (let i = 0; i < M; i++) {
    const ar = aOff + i * sam;
    for (let j = 0; j < N; j++) {
      let s = 0;
      let a = ar;
      let b = bOff + j * sbn;
      for (let k = 0; k < K; k++, a += sak, b += sbk) s += A[a]! * B[b]!;
      const o = cOff + i * ldc + j;
      C[o] = beta === 0 ? alpha * s : alpha * s + beta * C[o]!;
    }
  }
}

/** Adds rows x cols of a row-major tile `t` (row length w) to / stores it into C. */
function storeEdge(t: Float64Array, w: number, C: Float32Array, cOff: number, ldc: number, rows: number, cols: number, acc: boolean): void {
  for (let i = 0; i < rows; i++) {
    const o = cOff + i * ldc;
    const s = i * w;
    if (acc) for (let j = 0; j < cols; j++) C[o + j]! += t[s + j]!;
    else for (let j = 0; j < cols; j++) C[o + j] = t[s + j]!;
  }
}

const edge = new Float64Array(MR * NR);

// Micro-kernels (generated; one statement per accumulator so V8 keeps them in registers/stack slots).

/** 8x8 tile: rows of an MR=8 A panel from `a` (stride 8), an NR=8 B panel from `b`; writes (or adds) rows x cols of C. */
function kernel8x8(K: number, Ap: Packed, a: number, Bp: Packed, b: number, C: Float32Array, cOff: number, ldc: number, rows: number, cols: number, acc: boolean): void {
  let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c04 = 0, c05 = 0, c06 = 0, c07 = 0;
  let c10 = 0, c11 = 0, c12 = 0, c13 = 0, c14 = 0, c15 = 0, c16 = 0, c17 = 0;
  let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c24 = 0, c25 = 0, c26 = 0, c27 = 0;
  let c30 = 0, c31 = 0, c32 = 0, c33 = 0, c34 = 0, c35 = 0, c36 = 0, c37 = 0;
  let c40 = 0, c41 = 0, c42 = 0, c43 = 0, c44 = 0, c45 = 0, c46 = 0, c47 = 0;
  let c50 = 0, c51 = 0, c52 = 0, c53 = 0, c54 = 0, c55 = 0, c56 = 0, c57 = 0;
  let c60 = 0, c61 = 0, c62 = 0, c63 = 0, c64 = 0, c65 = 0, c66 = 0, c67 = 0;
  let c70 = 0, c71 = 0, c72 = 0, c73 = 0, c74 = 0, c75 = 0, c76 = 0, c77 = 0;
  for (let k = 0; k < K; k++) {
    const a0 = Ap[a]!;
    const a1 = Ap[a + 1]!;
    const a2 = Ap[a + 2]!;
    const a3 = Ap[a + 3]!;
    const a4 = Ap[a + 4]!;
    const a5 = Ap[a + 5]!;
    const a6 = Ap[a + 6]!;
    const a7 = Ap[a + 7]!;
    const b0 = Bp[b]!;
    const b1 = Bp[b + 1]!;
    const b2 = Bp[b + 2]!;
    const b3 = Bp[b + 3]!;
    const b4 = Bp[b + 4]!;
    const b5 = Bp[b + 5]!;
    const b6 = Bp[b + 6]!;
    const b7 = Bp[b + 7]!;
    c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3; c04 += a0 * b4; c05 += a0 * b5; c06 += a0 * b6; c07 += a0 * b7;
    c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3; c14 += a1 * b4; c15 += a1 * b5; c16 += a1 * b6; c17 += a1 * b7;
    c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3; c24 += a2 * b4; c25 += a2 * b5; c26 += a2 * b6; c27 += a2 * b7;
    c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3; c34 += a3 * b4; c35 += a3 * b5; c36 += a3 * b6; c37 += a3 * b7;
    c40 += a4 * b0; c41 += a4 * b1; c42 += a4 * b2; c43 += a4 * b3; c44 += a4 * b4; c45 += a4 * b5; c46 += a4 * b6; c47 += a4 * b7;
    c50 += a5 * b0; c51 += a5 * b1; c52 += a5 * b2; c53 += a5 * b3; c54 += a5 * b4; c55 += a5 * b5; c56 += a5 * b6; c57 += a5 * b7;
    c60 += a6 * b0; c61 += a6 * b1; c62 += a6 * b2; c63 += a6 * b3; c64 += a6 * b4; c65 += a6 * b5; c66 += a6 * b6; c67 += a6 * b7;
    c70 += a7 * b0; c71 += a7 * b1; c72 += a7 * b2; c73 += a7 * b3; c74 += a7 * b4; c75 += a7 * b5; c76 += a7 * b6; c77 += a7 * b7;
    a += 8;
    b += 8;
  }
  if (rows === 8 && cols === 8) {
    if (acc) {
      let o = cOff;
      C[o]! += c00; C[o + 1]! += c01; C[o + 2]! += c02; C[o + 3]! += c03; C[o + 4]! += c04; C[o + 5]! += c05; C[o + 6]! += c06; C[o + 7]! += c07;
      o += ldc;
      C[o]! += c10; C[o + 1]! += c11; C[o + 2]! += c12; C[o + 3]! += c13; C[o + 4]! += c14; C[o + 5]! += c15; C[o + 6]! += c16; C[o + 7]! += c17;
      o += ldc;
      C[o]! += c20; C[o + 1]! += c21; C[o + 2]! += c22; C[o + 3]! += c23; C[o + 4]! += c24; C[o + 5]! += c25; C[o + 6]! += c26; C[o + 7]! += c27;
      o += ldc;
      C[o]! += c30; C[o + 1]! += c31; C[o + 2]! += c32; C[o + 3]! += c33; C[o + 4]! += c34; C[o + 5]! += c35; C[o + 6]! += c36; C[o + 7]! += c37;
      o += ldc;
      C[o]! += c40; C[o + 1]! += c41; C[o + 2]! += c42; C[o + 3]! += c43; C[o + 4]! += c44; C[o + 5]! += c45; C[o + 6]! += c46; C[o + 7]! += c47;
      o += ldc;
      C[o]! += c50; C[o + 1]! += c51; C[o + 2]! += c52; C[o + 3]! += c53; C[o + 4]! += c54; C[o + 5]! += c55; C[o + 6]! += c56; C[o + 7]! += c57;
      o += ldc;
      C[o]! += c60; C[o + 1]! += c61; C[o + 2]! += c62; C[o + 3]! += c63; C[o + 4]! += c64; C[o + 5]! += c65; C[o + 6]! += c66; C[o + 7]! += c67;
      o += ldc;
      C[o]! += c70; C[o + 1]! += c71; C[o + 2]! += c72; C[o + 3]! += c73; C[o + 4]! += c74; C[o + 5]! += c75; C[o + 6]! += c76; C[o + 7]! += c77;
    } else {
      let o = cOff;
      C[o] = c00; C[o + 1] = c01; C[o + 2] = c02; C[o + 3] = c03; C[o + 4] = c04; C[o + 5] = c05; C[o + 6] = c06; C[o + 7] = c07;
      o += ldc;
      C[o] = c10; C[o + 1] = c11; C[o + 2] = c12; C[o + 3] = c13; C[o + 4] = c14; C[o + 5] = c15; C[o + 6] = c16; C[o + 7] = c17;
      o += ldc;
      C[o] = c20; C[o + 1] = c21; C[o + 2] = c22; C[o + 3] = c23; C[o + 4] = c24; C[o + 5] = c25; C[o + 6] = c26; C[o + 7] = c27;
      o += ldc;
      C[o] = c30; C[o + 1] = c31; C[o + 2] = c32; C[o + 3] = c33; C[o + 4] = c34; C[o + 5] = c35; C[o + 6] = c36; C[o + 7] = c37;
      o += ldc;
      C[o] = c40; C[o + 1] = c41; C[o + 2] = c42; C[o + 3] = c43; C[o + 4] = c44; C[o + 5] = c45; C[o + 6] = c46; C[o + 7] = c47;
      o += ldc;
      C[o] = c50; C[o + 1] = c51; C[o + 2] = c52; C[o + 3] = c53; C[o + 4] = c54; C[o + 5] = c55; C[o + 6] = c56; C[o + 7] = c57;
      o += ldc;
      C[o] = c60; C[o + 1] = c61; C[o + 2] = c62; C[o + 3] = c63; C[o + 4] = c64; C[o + 5] = c65; C[o + 6] = c66; C[o + 7] = c67;
      o += ldc;
      C[o] = c70; C[o + 1] = c71; C[o + 2] = c72; C[o + 3] = c73; C[o + 4] = c74; C[o + 5] = c75; C[o + 6] = c76; C[o + 7] = c77;
    }
    return;
  }
  const t = edge;
  t[0] = c00; t[1] = c01; t[2] = c02; t[3] = c03; t[4] = c04; t[5] = c05; t[6] = c06; t[7] = c07;
  t[8] = c10; t[9] = c11; t[10] = c12; t[11] = c13; t[12] = c14; t[13] = c15; t[14] = c16; t[15] = c17;
  t[16] = c20; t[17] = c21; t[18] = c22; t[19] = c23; t[20] = c24; t[21] = c25; t[22] = c26; t[23] = c27;
  t[24] = c30; t[25] = c31; t[26] = c32; t[27] = c33; t[28] = c34; t[29] = c35; t[30] = c36; t[31] = c37;
  t[32] = c40; t[33] = c41; t[34] = c42; t[35] = c43; t[36] = c44; t[37] = c45; t[38] = c46; t[39] = c47;
  t[40] = c50; t[41] = c51; t[42] = c52; t[43] = c53; t[44] = c54; t[45] = c55; t[46] = c56; t[47] = c57;
  t[48] = c60; t[49] = c61; t[50] = c62; t[51] = c63; t[52] = c64; t[53] = c65; t[54] = c66; t[55] = c67;
  t[56] = c70; t[57] = c71; t[58] = c72; t[59] = c73; t[60] = c74; t[61] = c75; t[62] = c76; t[63] = c77;
  storeEdge(t, 8, C, cOff, ldc, rows, cols, acc);
}

/** 4x8 tile: rows of an MR=8 A panel from `a` (stride 8), an NR=8 B panel from `b`; writes (or adds) rows x cols of C. */
function kernel4x8(K: number, Ap: Packed, a: number, Bp: Packed, b: number, C: Float32Array, cOff: number, ldc: number, rows: number, cols: number, acc: boolean): void {
  let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c04 = 0, c05 = 0, c06 = 0, c07 = 0;
  let c10 = 0, c11 = 0, c12 = 0, c13 = 0, c14 = 0, c15 = 0, c16 = 0, c17 = 0;
  let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c24 = 0, c25 = 0, c26 = 0, c27 = 0;
  let c30 = 0, c31 = 0, c32 = 0, c33 = 0, c34 = 0, c35 = 0, c36 = 0, c37 = 0;
  for (let k = 0; k < K; k++) {
    const a0 = Ap[a]!;
    const a1 = Ap[a + 1]!;
    const a2 = Ap[a + 2]!;
    const a3 = Ap[a + 3]!;
    const b0 = Bp[b]!;
    const b1 = Bp[b + 1]!;
    const b2 = Bp[b + 2]!;
    const b3 = Bp[b + 3]!;
    const b4 = Bp[b + 4]!;
    const b5 = Bp[b + 5]!;
    const b6 = Bp[b + 6]!;
    const b7 = Bp[b + 7]!;
    c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3; c04 += a0 * b4; c05 += a0 * b5; c06 += a0 * b6; c07 += a0 * b7;
    c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3; c14 += a1 * b4; c15 += a1 * b5; c16 += a1 * b6; c17 += a1 * b7;
    c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3; c24 += a2 * b4; c25 += a2 * b5; c26 += a2 * b6; c27 += a2 * b7;
    c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3; c34 += a3 * b4; c35 += a3 * b5; c36 += a3 * b6; c37 += a3 * b7;
    a += 8;
    b += 8;
  }
  if (rows === 4 && cols === 8) {
    if (acc) {
      let o = cOff;
      C[o]! += c00; C[o + 1]! += c01; C[o + 2]! += c02; C[o + 3]! += c03; C[o + 4]! += c04; C[o + 5]! += c05; C[o + 6]! += c06; C[o + 7]! += c07;
      o += ldc;
      C[o]! += c10; C[o + 1]! += c11; C[o + 2]! += c12; C[o + 3]! += c13; C[o + 4]! += c14; C[o + 5]! += c15; C[o + 6]! += c16; C[o + 7]! += c17;
      o += ldc;
      C[o]! += c20; C[o + 1]! += c21; C[o + 2]! += c22; C[o + 3]! += c23; C[o + 4]! += c24; C[o + 5]! += c25; C[o + 6]! += c26; C[o + 7]! += c27;
      o += ldc;
      C[o]! += c30; C[o + 1]! += c31; C[o + 2]! += c32; C[o + 3]! += c33; C[o + 4]! += c34; C[o + 5]! += c35; C[o + 6]! += c36; C[o + 7]! += c37;
    } else {
      let o = cOff;
      C[o] = c00; C[o + 1] = c01; C[o + 2] = c02; C[o + 3] = c03; C[o + 4] = c04; C[o + 5] = c05; C[o + 6] = c06; C[o + 7] = c07;
      o += ldc;
      C[o] = c10; C[o + 1] = c11; C[o + 2] = c12; C[o + 3] = c13; C[o + 4] = c14; C[o + 5] = c15; C[o + 6] = c16; C[o + 7] = c17;
      o += ldc;
      C[o] = c20; C[o + 1] = c21; C[o + 2] = c22; C[o + 3] = c23; C[o + 4] = c24; C[o + 5] = c25; C[o + 6] = c26; C[o + 7] = c27;
      o += ldc;
      C[o] = c30; C[o + 1] = c31; C[o + 2] = c32; C[o + 3] = c33; C[o + 4] = c34; C[o + 5] = c35; C[o + 6] = c36; C[o + 7] = c37;
    }
    return;
  }
  const t = edge;
  t[0] = c00; t[1] = c01; t[2] = c02; t[3] = c03; t[4] = c04; t[5] = c05; t[6] = c06; t[7] = c07;
  t[8] = c10; t[9] = c11; t[10] = c12; t[11] = c13; t[12] = c14; t[13] = c15; t[14] = c16; t[15] = c17;
  t[16] = c20; t[17] = c21; t[18] = c22; t[19] = c23; t[20] = c24; t[21] = c25; t[22] = c26; t[23] = c27;
  t[24] = c30; t[25] = c31; t[26] = c32; t[27] = c33; t[28] = c34; t[29] = c35; t[30] = c36; t[31] = c37;
  storeEdge(t, 8, C, cOff, ldc, rows, cols, acc);
}

/** 1x8 tile: rows of an MR=8 A panel from `a` (stride 8), an NR=8 B panel from `b`; writes (or adds) rows x cols of C. */
function kernel1x8(K: number, Ap: Packed, a: number, Bp: Packed, b: number, C: Float32Array, cOff: number, ldc: number, rows: number, cols: number, acc: boolean): void {
  let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c04 = 0, c05 = 0, c06 = 0, c07 = 0;
  for (let k = 0; k < K; k++) {
    const a0 = Ap[a]!;
    const b0 = Bp[b]!;
    const b1 = Bp[b + 1]!;
    const b2 = Bp[b + 2]!;
    const b3 = Bp[b + 3]!;
    const b4 = Bp[b + 4]!;
    const b5 = Bp[b + 5]!;
    const b6 = Bp[b + 6]!;
    const b7 = Bp[b + 7]!;
    c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3; c04 += a0 * b4; c05 += a0 * b5; c06 += a0 * b6; c07 += a0 * b7;
    a += 8;
    b += 8;
  }
  if (rows === 1 && cols === 8) {
    if (acc) {
      const o = cOff;
      C[o]! += c00; C[o + 1]! += c01; C[o + 2]! += c02; C[o + 3]! += c03; C[o + 4]! += c04; C[o + 5]! += c05; C[o + 6]! += c06; C[o + 7]! += c07;
    } else {
      const o = cOff;
      C[o] = c00; C[o + 1] = c01; C[o + 2] = c02; C[o + 3] = c03; C[o + 4] = c04; C[o + 5] = c05; C[o + 6] = c06; C[o + 7] = c07;
    }
    return;
  }
  const t = edge;
  t[0] = c00; t[1] = c01; t[2] = c02; t[3] = c03; t[4] = c04; t[5] = c05; t[6] = c06; t[7] = c07;
  storeEdge(t, 8, C, cOff, ldc, rows, cols, acc);
}
/** 8x4 tile for narrow outputs: rows of an MR=8 A panel, the first 4 lanes of an NR=8 B panel. */
function kernel8x4(K: number, Ap: Packed, a: number, Bp: Packed, b: number, C: Float32Array, cOff: number, ldc: number, rows: number, cols: number, acc: boolean): void {
  let c00 = 0, c01 = 0, c02 = 0, c03 = 0;
  let c10 = 0, c11 = 0, c12 = 0, c13 = 0;
  let c20 = 0, c21 = 0, c22 = 0, c23 = 0;
  let c30 = 0, c31 = 0, c32 = 0, c33 = 0;
  let c40 = 0, c41 = 0, c42 = 0, c43 = 0;
  let c50 = 0, c51 = 0, c52 = 0, c53 = 0;
  let c60 = 0, c61 = 0, c62 = 0, c63 = 0;
  let c70 = 0, c71 = 0, c72 = 0, c73 = 0;
  for (let k = 0; k < K; k++) {
    const b0 = Bp[b]!;
    const b1 = Bp[b + 1]!;
    const b2 = Bp[b + 2]!;
    const b3 = Bp[b + 3]!;
    const a0 = Ap[a]!;
    c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
    const a1 = Ap[a + 1]!;
    c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
    const a2 = Ap[a + 2]!;
    c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
    const a3 = Ap[a + 3]!;
    c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
    const a4 = Ap[a + 4]!;
    c40 += a4 * b0; c41 += a4 * b1; c42 += a4 * b2; c43 += a4 * b3;
    const a5 = Ap[a + 5]!;
    c50 += a5 * b0; c51 += a5 * b1; c52 += a5 * b2; c53 += a5 * b3;
    const a6 = Ap[a + 6]!;
    c60 += a6 * b0; c61 += a6 * b1; c62 += a6 * b2; c63 += a6 * b3;
    const a7 = Ap[a + 7]!;
    c70 += a7 * b0; c71 += a7 * b1; c72 += a7 * b2; c73 += a7 * b3;
    a += 8;
    b += 8;
  }
  const t = edge;
  t[0] = c00; t[1] = c01; t[2] = c02; t[3] = c03;
  t[4] = c10; t[5] = c11; t[6] = c12; t[7] = c13;
  t[8] = c20; t[9] = c21; t[10] = c22; t[11] = c23;
  t[12] = c30; t[13] = c31; t[14] = c32; t[15] = c33;
  t[16] = c40; t[17] = c41; t[18] = c42; t[19] = c43;
  t[20] = c50; t[21] = c51; t[22] = c52; t[23] = c53;
  t[24] = c60; t[25] = c61; t[26] = c62; t[27] = c63;
  t[28] = c70; t[29] = c71; t[30] = c72; t[31] = c73;
  storeEdge(t, 4, C, cOff, ldc, rows, cols, acc);
}

/** 8x1 tile for narrow outputs: rows of an MR=8 A panel, the first 1 lanes of an NR=8 B panel. */
function kernel8x1(K: number, Ap: Packed, a: number, Bp: Packed, b: number, C: Float32Array, cOff: number, ldc: number, rows: number, cols: number, acc: boolean): void {
  let c00 = 0;
  let c10 = 0;
  let c20 = 0;
  let c30 = 0;
  let c40 = 0;
  let c50 = 0;
  let c60 = 0;
  let c70 = 0;
  for (let k = 0; k < K; k++) {
    const b0 = Bp[b]!;
    const a0 = Ap[a]!;
    c00 += a0 * b0;
    const a1 = Ap[a + 1]!;
    c10 += a1 * b0;
    const a2 = Ap[a + 2]!;
    c20 += a2 * b0;
    const a3 = Ap[a + 3]!;
    c30 += a3 * b0;
    const a4 = Ap[a + 4]!;
    c40 += a4 * b0;
    const a5 = Ap[a + 5]!;
    c50 += a5 * b0;
    const a6 = Ap[a + 6]!;
    c60 += a6 * b0;
    const a7 = Ap[a + 7]!;
    c70 += a7 * b0;
    a += 8;
    b += 8;
  }
  const t = edge;
  t[0] = c00;
  t[1] = c10;
  t[2] = c20;
  t[3] = c30;
  t[4] = c40;
  t[5] = c50;
  t[6] = c60;
  t[7] = c70;
  storeEdge(t, 1, C, cOff, ldc, rows, cols, acc);
}
