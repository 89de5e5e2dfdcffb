// Resize helpers (pure functions): per-axis interpolation taps following the ONNX reference
// (separable: each resized axis is one pass of weighted gathers).

export type ResizeMode = "nearest" | "linear" | "cubic";

export interface AxisOptions {
  readonly mode: ResizeMode;
  readonly coord: string;
  /** round_prefer_floor | round_prefer_ceil | floor | ceil | simple (Upsample / Resize-10). */
  readonly nearest: string;
  readonly cubicA: number;
  readonly excludeOutside: boolean;
  readonly antialias: boolean;
  /** Output length before rounding (input length * scale when scales are given; the output length otherwise). */
  readonly outLenF?: number;
  /** The scale is exact (output sizes given): coordinates in double precision, else float32 like onnxruntime. */
  readonly exact?: boolean;
  /** Region of interest (normalised start/end) for tf_crop_and_resize. */
  readonly roiStart: number;
  readonly roiEnd: number;
}

/** Interpolation taps of one axis: output j reads taps [start[j], start[j + 1]) (input index, weight); extrapolate[j] marks an output outside the ROI. */
export interface AxisTaps {
  readonly start: Int32Array;
  readonly idx: Int32Array;
  readonly w: Float64Array;
  readonly extrapolate: Uint8Array;
  /** True when the pass is the identity (same size, each output reads its own index). */
  readonly identity: boolean;
}

const fr = Math.fround;

/**
 * Original coordinate of output index x (ONNX coordinate_transformation_mode), computed in float32
 * arithmetic like onnxruntime so that nearest-mode ties round the same way.
 */
export function originalCoord(coord: string, x: number, scale: number, inLen: number, outLen: number, roiStart: number, roiEnd: number, outLenF = outLen, exact = false): number {
  if (exact) return fr(originalCoordF64(coord, x, scale, inLen, outLen, roiStart, roiEnd, outLenF));
  const s = fr(scale);
  switch (coord) {
    case "half_pixel":
      return fr(fr(fr(x + 0.5) / s) - 0.5);
    case "half_pixel_symmetric": {
      const adj = fr(outLen / fr(s * inLen));
      const center = fr(inLen / 2);
      const offset = fr(center * fr(1 - adj));
      return fr(offset + fr(fr(fr(x + 0.5) / s) - 0.5));
    }
    case "pytorch_half_pixel":
      return outLen > 1 ? fr(fr(fr(x + 0.5) / s) - 0.5) : 0;
    case "align_corners":
      // The ONNX reference divides by the unrounded output length (scale * input length).
      return outLenF === 1 ? 0 : fr(fr(x * (inLen - 1)) / fr(outLenF - 1));
    case "asymmetric":
      return fr(x / s);
    case "tf_half_pixel_for_nn":
      return fr(fr(x + 0.5) / s);
    case "tf_crop_and_resize":
      return outLen > 1 ? fr(fr(roiStart * (inLen - 1)) + fr(fr(x * fr(roiEnd - roiStart) * (inLen - 1)) / (outLen - 1))) : fr(0.5 * (roiStart + roiEnd) * (inLen - 1));
    default:
      throw new Error(`unknown coordinate_transformation_mode '${coord}'`);
  }
}

/** originalCoord in double precision. */
function originalCoordF64(coord: string, x: number, scale: number, inLen: number, outLen: number, roiStart: number, roiEnd: number, outLenF: number): number {
  switch (coord) {
    case "half_pixel":
      return (x + 0.5) / scale - 0.5;
    case "half_pixel_symmetric": {
      const adj = outLen / (scale * inLen);
      const center = inLen / 2;
      return center * (1 - adj) + (x + 0.5) / scale - 0.5;
    }
    case "pytorch_half_pixel":
      return outLen > 1 ? (x + 0.5) / scale - 0.5 : 0;
    case "align_corners":
      return outLenF === 1 ? 0 : (x * (inLen - 1)) / (outLenF - 1);
    case "asymmetric":
      return x / scale;
    case "tf_half_pixel_for_nn":
      return (x + 0.5) / scale;
    case "tf_crop_and_resize":
      return outLen > 1 ? roiStart * (inLen - 1) + (x * (roiEnd - roiStart) * (inLen - 1)) / (outLen - 1) : 0.5 * (roiStart + roiEnd) * (inLen - 1);
    default:
      throw new Error(`unknown coordinate_transformation_mode '${coord}'`);
  }
}

function cubicCoeffs(t: number, A: number): number[] {
  const u = 1 - t;
  return [((A * (t + 1) - 5 * A) * (t + 1) + 8 * A) * (t + 1) - 4 * A, ((A + 2) * t - (A + 3)) * t * t + 1, ((A + 2) * u - (A + 3)) * u * u + 1, ((A * (u + 1) - 5 * A) * (u + 1) + 8 * A) * (u + 1) - 4 * A];
}

/** Coefficients and the offset of the first tap relative to the base index (see axisTaps). */
function coeffs(o: AxisOptions, ratio: number, scale: number): [number[], number] {
  if (o.mode === "nearest") {
    if (ratio === 1) return [[0, 1], 0];
    switch (o.nearest) {
      case "round_prefer_ceil":
        return [[ratio < 0.5 ? 1 : 0, ratio >= 0.5 ? 1 : 0], 0];
      case "floor":
        return [[1, 0], 0];
      case "ceil":
        return [[0, 1], 0];
      default:
        return [[ratio <= 0.5 ? 1 : 0, ratio > 0.5 ? 1 : 0], 0];
    }
  }
  if (o.antialias && scale < 1) {
    if (o.mode === "linear") {
      const start = Math.floor(-1 / scale) + 1;
      const n = 2 - 2 * start;
      const c: number[] = [];
      let s = 0;
      for (let i = start; i < start + n; i++) {
        const v = Math.min(1, Math.max(0, 1 - Math.abs((i - ratio) * scale)));
        c.push(v);
        s += v;
      }
      return [c.map((v) => v / s), start];
    }
    const A = o.cubicA;
    const start = Math.floor(-2 / scale) + 1;
    const end = 2 - start;
    const c: number[] = [];
    let s = 0;
    for (let i = start; i < end; i++) {
      const x = Math.abs(scale * (i - ratio));
      const v = x <= 1 ? (A + 2) * x ** 3 - (A + 3) * x * x + 1 : x < 2 ? A * x ** 3 - 5 * A * x * x + 8 * A * x - 4 * A : 0;
      c.push(v);
      s += v;
    }
    return [c.map((v) => v / s), start];
  }
  if (o.mode === "linear") return [[1 - ratio, ratio], 0];
  return [cubicCoeffs(ratio, o.cubicA), -1];
}

/**
 * Taps of one axis resized from inLen to outLen with `scale` (output/input), following the ONNX
 * reference: base = floor(x) (x - 1 with ratio 1 when x is an integer), taps base + offset + i,
 * indices clamped to the edge, exclude_outside drops (and renormalises) taps outside the input.
 */
export function axisTaps(inLen: number, outLen: number, scale: number, o: AxisOptions): AxisTaps {
  const start = new Int32Array(outLen + 1);
  const idx: number[] = [];
  const w: number[] = [];
  const extrapolate = new Uint8Array(outLen);
  let identity = inLen === outLen;
  // An axis that keeps its size is left alone, whatever the scale and mode (as onnxruntime does;
  // the ONNX reference would still resample it when the scale is not 1).
  if (identity && o.coord !== "tf_crop_and_resize") return { start: Int32Array.from({ length: outLen + 1 }, (_, i) => i), idx: Int32Array.from({ length: outLen }, (_, i) => i), w: new Float64Array(outLen).fill(1), extrapolate: new Uint8Array(outLen), identity: true };
  for (let j = 0; j < outLen; j++) {
    start[j] = idx.length;
    const x = originalCoord(o.coord, j, scale, inLen, outLen, o.roiStart, o.roiEnd, o.outLenF ?? outLen, o.exact ?? false);
    if (o.coord === "tf_crop_and_resize" && (x < 0 || x > inLen - 1)) {
      extrapolate[j] = 1;
      identity = false;
      continue;
    }
    if (o.mode === "nearest" && o.nearest === "simple") {
      let i = scale < 1 ? Math.ceil(x) : Math.trunc(x);
      i = Math.max(0, Math.min(inLen - 1, i));
      idx.push(i);
      w.push(1);
      if (i !== j) identity = false;
      continue;
    }
    let base = Math.floor(x);
    let ratio = x - base;
    if (ratio === 0) {
      ratio = 1;
      base -= 1;
    }
    const [c, off] = coeffs(o, ratio, scale);
    let sum = 0;
    const taps: [number, number][] = [];
    for (let t = 0; t < c.length; t++) {
      const p = base + off + t;
      if (o.excludeOutside && (p < 0 || p >= inLen)) continue;
      const cw = c[t]!;
      sum += cw;
      taps.push([Math.max(0, Math.min(inLen - 1, p)), cw]);
    }
    const norm = o.excludeOutside && sum !== 0 ? 1 / sum : 1;
    // Merge taps on the same (clamped) index, drop zero weights.
    const merged = new Map<number, number>();
    for (const [p, cw] of taps) merged.set(p, (merged.get(p) ?? 0) + cw * norm);
    let n = 0;
    for (const [p, cw] of merged) {
      if (cw === 0) continue;
      idx.push(p);
      w.push(cw);
      n++;
      if (p !== j || cw !== 1) identity = false;
    }
    if (n !== 1) identity = false;
  }
  start[outLen] = idx.length;
  return { start, idx: Int32Array.from(idx), w: Float64Array.from(w), extrapolate, identity };
}

/**
 * One separable pass: Y[o, j, i] = sum over taps of w * X[o, idx, i] for an axis of length inLen
 * (outer x inLen x inner) resized to outLen; extrapolated outputs get `extra`.
 */
export function resizePass(X: ArrayLike<number>, Y: { [i: number]: number }, outer: number, inLen: number, inner: number, taps: AxisTaps, extra: number): void {
  const outLen = taps.start.length - 1;
  const { start, idx, w, extrapolate } = taps;
  for (let o = 0; o < outer; o++) {
    const xo = o * inLen * inner;
    const yo = o * outLen * inner;
    for (let j = 0; j < outLen; j++) {
      const yr = yo + j * inner;
      if (extrapolate[j]) {
        for (let i = 0; i < inner; i++) Y[yr + i] = extra;
        continue;
      }
      const t0 = start[j]!;
      const t1 = start[j + 1]!;
      if (t1 - t0 === 1 && w[t0] === 1) {
        const xr = xo + idx[t0]! * inner;
        for (let i = 0; i < inner; i++) Y[yr + i] = X[xr + i]!;
        continue;
      }
      if (inner === 1) {
        let s = 0;
        for (let t = t0; t < t1; t++) s += w[t]! * X[xo + idx[t]!]!;
        Y[yr] = s;
        continue;
      }
      {
        const xr = xo + idx[t0]! * inner;
        const c = w[t0]!;
        for (let i = 0; i < inner; i++) Y[yr + i] = c * X[xr + i]!;
      }
      for (let t = t0 + 1; t < t1; t++) {
        const xr = xo + idx[t]! * inner;
        const c = w[t]!;
        for (let i = 0; i < inner; i++) Y[yr + i]! += c * X[xr + i]!;
      }
    }
  }
}
