import { DTYPES } from "./dtype.js";
import { InvalidQuantParams, InvalidRange } from "./errors.js";

export { InvalidRange } from "./errors.js";

/**
 * The formula family that turns a range [rmin, rmax] into scale and zero point. Every convention
 * first takes rmin and rmax as float32 and widens the range to include 0. See README "Conventions".
 * - "onnxruntime": quant_utils.compute_scale_zp + get_qmin_qmax_for_qType (onnxruntime.quantization).
 * - "pytorch": torch.ao.quantization observers (_calculate_qparams), float32 arithmetic.
 * - "tflite": TFLite's post-training quantizer (tools/optimize quantization_utils), float32 arithmetic.
 */
export type QParamConvention = "onnxruntime" | "pytorch" | "tflite";

/** Integer dtypes qparams can be computed for. */
export type QParamDType = "int8" | "uint8" | "int16" | "uint16" | "int4" | "uint4" | "int32";

export interface QParamOptions {
  readonly dtype: QParamDType;
  readonly symmetric: boolean;
  /**
   * Drop one code: signed [qmin + 1, qmax] (int8 [-127, 127]), unsigned [0, qmax - 1] (uint8 [0, 254]).
   * Default: the convention's (onnxruntime: symmetric 8/16-bit types; pytorch: never; tflite: symmetric).
   */
  readonly narrowRange?: boolean;
  /** 7-bit style ranges (onnxruntime: uint8 [0, 127], int8 [-64, 64]; pytorch: uint8 [0, 127], int8 [-64, 63]). Not in tflite. */
  readonly reduceRange?: boolean;
  /** Default "onnxruntime". */
  readonly convention?: QParamConvention;
}

/** Scale (a float32 value) and zero point of one range. */
export interface QParams {
  readonly scale: number;
  readonly zeroPoint: number;
}

const FLT_MIN = 1.1754943508222875e-38; // numpy.finfo(float32).tiny
const FLT_EPS = 1.1920928955078125e-7; // torch.finfo(float32).eps
const RNE = 6755399441055744;
const roundEven = (v: number): number => (Math.abs(v) < 2251799813685248 ? v + RNE - RNE : v);
const roundAway = (v: number): number => {
  const t = Math.trunc(v);
  const f = v - t;
  return f >= 0.5 ? t + 1 : f <= -0.5 ? t - 1 : t;
};

// onnxruntime's ONNX_INT_TYPE_REDUCED_RANGE (int32: its older table).
const ORT_REDUCED: Record<QParamDType, readonly [number, number]> = {
  uint8: [0, 127],
  int8: [-64, 64],
  uint16: [0, 32767],
  int16: [-16384, 16384],
  uint4: [0, 7],
  int4: [-4, 3],
  int32: [-1073741824, 1073741824],
};
// onnxruntime's ONNX_INT_TYPE_SYMMETRIC_RANGE covers these (int4/uint4/int32 keep the full range).
const ORT_SYMMETRIC_NARROW = new Set<QParamDType>(["int8", "uint8", "int16", "uint16"]);

function checkOptions(o: QParamOptions): QParamConvention {
  const c = o.convention ?? "onnxruntime";
  if (c !== "onnxruntime" && c !== "pytorch" && c !== "tflite") throw new InvalidQuantParams(`unknown convention '${String(c)}'`);
  if (!Object.hasOwn(ORT_REDUCED, o.dtype)) throw new InvalidQuantParams(`cannot compute integer qparams for dtype '${String(o.dtype)}'`);
  if (c === "tflite" && o.reduceRange) throw new InvalidQuantParams("the tflite convention has no reduce_range");
  if (c === "tflite" && o.symmetric && DTYPES[o.dtype].min === 0) throw new InvalidQuantParams(`the tflite convention quantizes symmetrically to signed types only, not ${o.dtype}`);
  return c;
}

/** The [qmin, qmax] a convention uses for the options. */
export function quantRange(o: QParamOptions): [number, number] {
  const c = checkOptions(o);
  const { min, max } = DTYPES[o.dtype];
  if (o.reduceRange) {
    if (c === "onnxruntime") return [...ORT_REDUCED[o.dtype]];
    // pytorch: one bit less (quint8 [0, 127], qint8 [-64, 63])
    return min < 0 ? [Math.ceil(min / 2), Math.floor(max / 2)] : [0, Math.floor(max / 2)];
  }
  const narrow = o.narrowRange ?? (c === "onnxruntime" ? o.symmetric && ORT_SYMMETRIC_NARROW.has(o.dtype) : c === "tflite" && o.symmetric);
  if (!narrow) return [min, max];
  return min < 0 ? [min + 1, max] : [0, max - 1];
}

interface Plan {
  readonly c: QParamConvention;
  readonly symmetric: boolean;
  readonly qmin: number;
  readonly qmax: number;
  readonly signed: boolean;
}

function plan(o: QParamOptions): Plan {
  const [qmin, qmax] = quantRange(o);
  return { c: o.convention ?? "onnxruntime", symmetric: o.symmetric, qmin, qmax, signed: DTYPES[o.dtype].min < 0 };
}

let ZP = 0;

/** Scale of one range under a plan; the zero point is left in ZP (no allocation per channel). */
function compute(p: Plan, rmin: number, rmax: number): number {
  // The empty range (+Inf, -Inf) that min/max scans return for no elements counts as [0, 0].
  if (rmin === Number.POSITIVE_INFINITY && rmax === Number.NEGATIVE_INFINITY) {
    rmin = 0;
    rmax = 0;
  }
  const a = Math.fround(rmin);
  const b = Math.fround(rmax);
  if (!Number.isFinite(a) || !Number.isFinite(b)) throw new InvalidRange(rmin, rmax, Number.isNaN(a) || Number.isNaN(b) ? "it must not be NaN" : "it must be finite in float32");
  if (a > b) throw new InvalidRange(rmin, rmax, "min > max");
  let lo = Math.min(a, 0); // a, b are finite here
  let hi = Math.max(b, 0);
  const { qmin, qmax } = p;
  switch (p.c) {
    case "onnxruntime": {
      if (p.symmetric) {
        const m = Math.max(-lo, hi);
        lo = -m;
        hi = m;
      }
      let dr = Math.fround(hi - lo); // numpy float32 subtraction
      if (dr === Number.POSITIVE_INFINITY) dr = hi - lo; // onnxruntime would give an infinite scale
      const s64 = dr / (qmax - qmin);
      if (s64 < FLT_MIN) {
        ZP = 0;
        return 1;
      }
      ZP = Math.min(qmax, Math.max(qmin, p.symmetric ? roundEven((qmin + qmax) / 2) : roundEven(qmin - lo / s64)));
      return Math.fround(s64);
    }
    case "pytorch": {
      if (p.symmetric) {
        const m = Math.max(-lo, hi);
        const s = Math.max(Math.fround(m / Math.fround((qmax - qmin) / 2)), FLT_EPS);
        ZP = p.signed ? 0 : qmin === 0 && qmax === 255 ? 128 : Math.floor((qmin + qmax) / 2);
        return s;
      }
      let dr = Math.fround(hi - lo);
      if (dr === Number.POSITIVE_INFINITY) dr = hi - lo;
      const s = Math.max(Math.fround(dr / (qmax - qmin)), FLT_EPS);
      ZP = Math.min(qmax, Math.max(qmin, qmin - roundEven(Math.fround(lo / s))));
      return s;
    }
    case "tflite": {
      if (p.symmetric) {
        const m = Math.max(-lo, hi);
        const s = Math.fround(m / qmax);
        ZP = 0;
        return s === 0 ? 1 : s;
      }
      let dr = Math.fround(hi - lo);
      if (dr === Number.POSITIVE_INFINITY) dr = hi - lo;
      const s = Math.fround(dr / (qmax - qmin));
      const zf = s !== 0 ? Math.fround(qmin - Math.fround(lo / s)) : qmin;
      ZP = zf < qmin ? qmin : zf > qmax ? qmax : roundAway(zf);
      return s === 0 ? 1 : s;
    }
  }
}

/**
 * Scale and zero point of one range [rmin, rmax] under a convention (default onnxruntime).
 * Throws InvalidRange for NaN or infinite bounds (after rounding to float32) and for rmin > rmax;
 * throws InvalidQuantParams for options a convention does not support. Never returns a scale that is
 * 0, NaN or infinite: all-zero ranges give scale 1 (onnxruntime, tflite) or float32 eps (pytorch).
 * The empty range (+Inf, -Inf), as min/max scans report no elements, counts as [0, 0].
 */
export function computeQParams(rmin: number, rmax: number, o: QParamOptions): QParams {
  const scale = compute(plan(o), rmin, rmax);
  return { scale, zeroPoint: ZP };
}

/**
 * computeQParams for many ranges at once (per channel or per block): mins[i], maxs[i] -> scale[i],
 * zeroPoint[i]. Writes into `out` when given (arrays at least mins.length long).
 */
export function computeQParamsPerChannel(
  mins: ArrayLike<number>,
  maxs: ArrayLike<number>,
  o: QParamOptions,
  out?: { scale: Float32Array; zeroPoint: Int32Array },
): { scale: Float32Array; zeroPoint: Int32Array } {
  const n = mins.length;
  if (maxs.length !== n) throw new InvalidQuantParams(`${n} minimums but ${maxs.length} maximums`);
  const scale = out?.scale ?? new Float32Array(n);
  const zeroPoint = out?.zeroPoint ?? new Int32Array(n);
  if (scale.length < n || zeroPoint.length < n) throw new InvalidQuantParams(`output arrays hold fewer than ${n} elements`);
  const p = plan(o);
  for (let i = 0; i < n; i++) {
    scale[i] = compute(p, mins[i]!, maxs[i]!);
    zeroPoint[i] = ZP;
  }
  return { scale, zeroPoint };
}
