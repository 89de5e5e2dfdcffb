// Broadcasting drivers shared by the elementwise kernels (not kernels themselves).
import { type Tensor, size } from "@quanta/tensor";
import { broadcastShapes, broadcastStrides } from "../util.js";

/** Any numeric storage seen as a number array (bigint storages are handled by the callers separately). */
export type Num = Float64Array;
export const num = (t: Tensor): Num => t.data as unknown as Num;

/** Output shape of a numpy-style broadcast of several shapes. */
export function broadcastAll(shapes: readonly (readonly number[])[]): number[] {
  let out: number[] = [];
  for (const s of shapes) out = broadcastShapes(out, s);
  return out;
}

/**
 * Calls `row(aOff, bOff, oOff, n, sa, sb)` for every innermost row of the broadcast of a and b to `out`:
 * element k of the row reads a[aOff + k*sa], b[bOff + k*sb] and writes out[oOff + k].
 */
export function forEachRow2(
  aShape: readonly number[],
  bShape: readonly number[],
  out: readonly number[],
  row: (aOff: number, bOff: number, oOff: number, n: number, sa: number, sb: number) => void,
): void {
  const total = size(out);
  if (total === 0) return;
  const r = out.length;
  if (r === 0) {
    row(0, 0, 0, 1, 0, 0);
    return;
  }
  const as = broadcastStrides(aShape, out);
  const bs = broadcastStrides(bShape, out);
  const n = out[r - 1]!;
  const sa = as[r - 1]!;
  const sb = bs[r - 1]!;
  const rows = total / n;
  const ctr = new Int32Array(r - 1);
  let ao = 0;
  let bo = 0;
  for (let k = 0, oo = 0; k < rows; k++, oo += n) {
    row(ao, bo, oo, n, sa, sb);
    for (let d = r - 2; d >= 0; d--) {
      ctr[d]!++;
      ao += as[d]!;
      bo += bs[d]!;
      if (ctr[d]! < out[d]!) break;
      ao -= as[d]! * out[d]!;
      bo -= bs[d]! * out[d]!;
      ctr[d] = 0;
    }
  }
}

/** Flat source indices of `shape` broadcast to `out` (for the rare 3+-operand ops). */
export function broadcastIndex(shape: readonly number[], out: readonly number[]): Int32Array {
  const total = size(out);
  const idx = new Int32Array(total);
  if (total === 0) return idx;
  const st = broadcastStrides(shape, out);
  const r = out.length;
  const ctr = new Int32Array(r);
  let o = 0;
  for (let k = 0; k < total; k++) {
    idx[k] = o;
    for (let d = r - 1; d >= 0; d--) {
      ctr[d]!++;
      o += st[d]!;
      if (ctr[d]! < out[d]!) break;
      o -= st[d]! * out[d]!;
      ctr[d] = 0;
    }
  }
  return idx;
}
