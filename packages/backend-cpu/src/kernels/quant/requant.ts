// Requantization of int32 accumulators, as onnxruntime's MlasRequantizeOutput does it:
// float32(acc) * scale in float32, clamped to [qmin - zp, qmax - zp] (NaN to the lower bound, like
// MAXPS), rounded half to even, plus the zero point.
import { clampLow, fround, rne } from "./common.js";

/** Requantizes C[cOff + i*cStride + j] (i < rows, j < cols) into out[oOff + i*oStrideI + j*oStrideJ]. */
export function requantBlock(
  C: Int32Array,
  cOff: number,
  cStride: number,
  rows: number,
  cols: number,
  out: Uint8Array | Int8Array,
  oOff: number,
  oStrideI: number,
  oStrideJ: number,
  /** Per-column scales (length >= cols) or one scale. */
  scale: Float32Array,
  perColumn: boolean,
  /** Per-column int32 bias added to the accumulator first, or undefined. */
  bias: Int32Array | undefined,
  zp: number,
  lo: number,
  hi: number,
): void {
  const a = lo - zp;
  const b = hi - zp;
  const s0 = scale[0]!;
  for (let i = 0; i < rows; i++) {
    const c = cOff + i * cStride;
    const o = oOff + i * oStrideI;
    for (let j = 0; j < cols; j++) {
      const acc = bias ? (C[c + j]! + bias[j]!) | 0 : C[c + j]!;
      out[o + j * oStrideJ] = rne(clampLow(fround(fround(acc) * (perColumn ? scale[j]! : s0)), a, b)) + zp;
    }
  }
}

/** One value requantized (same arithmetic as `requantBlock`). */
export function requantOne(acc: number, scale: number, zp: number, lo: number, hi: number): number {
  return rne(clampLow(fround(fround(acc) * scale), lo - zp, hi - zp)) + zp;
}
