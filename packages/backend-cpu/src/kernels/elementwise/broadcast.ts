// Broadcasting drivers of the elementwise kernels (not kernels themselves).
import { size, strides } from "@quanta/tensor";
import { broadcastShapes } from "../util.js";

/** Output shape of a numpy-style broadcast of several shapes (throws on incompatible dims). */
export function broadcastAll(shapes: readonly (readonly number[])[]): number[] {
  let out: number[] = [];
  for (const s of shapes) out = broadcastShapes(out, s);
  return out;
}

const sameShape = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

/**
 * Walks the broadcast of `k` operands (shapes `shapes`) to `out` row by row. Dims are coalesced first
 * (size-1 dims dropped, neighbours merged where every operand is contiguous across them), so that a
 * same-shape or scalar operand gives a single row of the whole tensor and a per-channel operand gives
 * rows of H*W. For each row `row(oOff, n)` is called with `off[j]` = operand j's first element and
 * `step[j]` = its stride along the row (0 when broadcast); element i of the row reads
 * operand j at off[j] + i*step[j] and writes out[oOff + i].
 */
export function forEachRow(
  shapes: readonly (readonly number[])[],
  out: readonly number[],
  off: Int32Array,
  step: Int32Array,
  row: (oOff: number, n: number) => void,
): void {
  const total = size(out);
  off.fill(0);
  step.fill(0);
  if (total === 0) return;
  const k = shapes.length;
  // Fast paths: every operand the output's shape or a single element.
  let simple = true;
  for (let j = 0; j < k; j++) {
    const s = shapes[j]!;
    if (sameShape(s, out)) step[j] = 1;
    else if (size(s) !== 1) simple = false;
  }
  if (simple) {
    row(0, total);
    return;
  }
  // Broadcast strides (0 on broadcast dims), size-1 output dims dropped.
  const dims: number[] = [];
  const st: number[][] = shapes.map(() => []);
  const r = out.length;
  const full = shapes.map((s) => {
    const sst = strides(s);
    const res = new Array<number>(r).fill(0);
    const o = r - s.length;
    for (let i = 0; i < s.length; i++) res[o + i] = s[i] === 1 ? 0 : sst[i]!;
    return res;
  });
  for (let d = 0; d < r; d++) {
    if (out[d] === 1) continue;
    dims.push(out[d]!);
    for (let j = 0; j < k; j++) st[j]!.push(full[j]![d]!);
  }
  // Merge a dim into the next (inner) one when every operand steps contiguously across them.
  for (let d = dims.length - 2; d >= 0; d--) {
    const inner = dims[d + 1]!;
    let ok = true;
    for (let j = 0; j < k && ok; j++) ok = st[j]![d] === st[j]![d + 1]! * inner;
    if (!ok) continue;
    dims[d] = dims[d]! * inner;
    dims.splice(d + 1, 1);
    for (let j = 0; j < k; j++) {
      st[j]![d] = st[j]![d + 1]!;
      st[j]!.splice(d + 1, 1);
    }
  }
  const nd = dims.length;
  const n = dims[nd - 1]!;
  for (let j = 0; j < k; j++) step[j] = st[j]![nd - 1]!;
  if (nd === 1) {
    row(0, n);
    return;
  }
  const ctr = new Int32Array(nd - 1);
  const rows = total / n;
  for (let q = 0, oo = 0; q < rows; q++, oo += n) {
    row(oo, n);
    for (let d = nd - 2; d >= 0; d--) {
      ctr[d]!++;
      if (ctr[d]! < dims[d]!) {
        for (let j = 0; j < k; j++) off[j]! += st[j]![d]!;
        break;
      }
      for (let j = 0; j < k; j++) off[j]! -= st[j]![d]! * (dims[d]! - 1);
      ctr[d] = 0;
    }
  }
}

/** Flat source index for each output element of `shape` broadcast to `out` (small tensors only). */
export function broadcastIndex(shape: readonly number[], out: readonly number[]): Int32Array {
  const idx = new Int32Array(size(out));
  const off = new Int32Array(1);
  const step = new Int32Array(1);
  forEachRow([shape], out, off, step, (oo, n) => {
    const o = off[0]!;
    const s = step[0]!;
    for (let i = 0; i < n; i++) idx[oo + i] = o + i * s;
  });
  return idx;
}
