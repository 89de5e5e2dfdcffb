// Reduction index plans (pure functions): every output element of a reduction over `axes` is a base
// offset (keptOffs) plus the offsets of the reduced positions (redOffs), so any reduction, softmax or
// normalization over any set of axes is two flat loops.

export interface ReductionPlan {
  /** Base offset of each output element (output in row-major order of the kept dims). */
  readonly keptOffs: Int32Array;
  /** Offset of each reduced position relative to the base, in row-major order of the reduced dims. */
  readonly redOffs: Int32Array;
  /** Output shape with the reduced dims kept as 1. */
  readonly keepShape: number[];
  /** Output shape with the reduced dims removed. */
  readonly dropShape: number[];
}

/** Offsets, in row-major order over `dims` with element strides `st`, of every index. */
function offsets(dims: readonly number[], st: readonly number[]): Int32Array {
  let total = 1;
  for (const d of dims) total *= d;
  const out = new Int32Array(total);
  if (total === 0) return out;
  const r = dims.length;
  if (r === 0) return out;
  // Fast path: one contiguous run.
  if (r === 1) {
    const s = st[0]!;
    for (let i = 0; i < total; i++) out[i] = i * s;
    return out;
  }
  const idx = new Array<number>(r).fill(0);
  let o = 0;
  const last = dims[r - 1]!;
  const ls = st[r - 1]!;
  for (let n = 0; n < total; n += last) {
    for (let j = 0; j < last; j++) out[n + j] = o + j * ls;
    for (let i = r - 2; i >= 0; i--) {
      o += st[i]!;
      if (++idx[i]! < dims[i]!) break;
      o -= st[i]! * dims[i]!;
      idx[i] = 0;
    }
  }
  return out;
}

/** The plan of a reduction of `shape` over `axes` (normalised, non-negative, any order, duplicates ignored). */
export function reductionPlan(shape: readonly number[], axes: readonly number[]): ReductionPlan {
  const rank = shape.length;
  const red = new Array<boolean>(rank).fill(false);
  for (const a of axes) red[a] = true;
  const st = new Array<number>(rank);
  let acc = 1;
  for (let i = rank - 1; i >= 0; i--) {
    st[i] = acc;
    acc *= shape[i]!;
  }
  // Merge adjacent dims of the same kind (contiguous in memory) to shorten the odometers.
  const kd: number[] = [];
  const ks: number[] = [];
  const rd: number[] = [];
  const rs: number[] = [];
  for (let i = 0; i < rank; i++) {
    const d = shape[i]!;
    const [dims, strs] = red[i] ? [rd, rs] : [kd, ks];
    const prevSame = i > 0 && red[i - 1] === red[i];
    if (prevSame && dims.length > 0) {
      dims[dims.length - 1]! *= d;
      strs[strs.length - 1] = st[i]!;
    } else {
      dims.push(d);
      strs.push(st[i]!);
    }
  }
  return {
    keptOffs: offsets(kd, ks),
    redOffs: offsets(rd, rs),
    keepShape: shape.map((d, i) => (red[i] ? 1 : d)),
    dropShape: shape.filter((_, i) => !red[i]),
  };
}
