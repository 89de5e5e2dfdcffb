import { DTYPES } from "./dtype.js";

/** Range values that cannot give quantization parameters (NaN or infinite). */
export class InvalidRange extends Error {
  readonly _tag = "InvalidRange";
  constructor(
    readonly min: number,
    readonly max: number,
  ) {
    super(`cannot quantize the range [${min}, ${max}]: it must be finite`);
  }
  override get name(): string {
    return this._tag;
  }
}

/**
 * Conventions for turning a range into scale and zero point:
 * - "onnxruntime" (quant_utils.compute_scale_zp): the range is widened to include 0; symmetric uses
 *   ±absmax; scale = (rmax - rmin) / (qmax - qmin) in float64, then float32; a scale below float32's
 *   smallest normal becomes 1 with zero point 0; symmetric zero point = round((qmin + qmax) / 2);
 *   asymmetric zero point = round_half_even(qmin - rmin / scale).
 * - "pytorch": as onnxruntime, but symmetric signed types use scale = absmax / ((qmax - qmin) / 2)
 *   over the full range (int8: absmax / 127.5) with zero point 0.
 * - "tflite": as onnxruntime (weights symmetric int8 narrow [-127, 127], activations asymmetric int8).
 */
export type QParamConvention = "onnxruntime" | "pytorch" | "tflite";

export interface QParamOptions {
  readonly dtype: "int8" | "uint8" | "int16" | "uint16" | "int4" | "uint4" | "int32";
  readonly symmetric: boolean;
  /** Signed types use [-qmax, qmax] (int8: [-127, 127]); default: true when symmetric (onnxruntime). */
  readonly narrowRange?: boolean;
  /** 7-bit ranges: uint8 [0, 127], int8 [-64, 64]. */
  readonly reduceRange?: boolean;
  readonly convention?: QParamConvention;
}

const FLT_MIN = 1.1754943508222875e-38;

/** The [qmin, qmax] of a dtype under the options. */
export function quantRange(o: QParamOptions): [number, number] {
  const info = DTYPES[o.dtype];
  if (o.reduceRange && o.dtype === "uint8") return [0, 127];
  if (o.reduceRange && o.dtype === "int8") return [-64, 64];
  const narrow = o.narrowRange ?? (o.symmetric && o.convention !== "pytorch");
  if (o.symmetric && narrow) {
    // onnxruntime: symmetric signed [-qmax, qmax]; symmetric unsigned uint8 [0, 254]
    if (info.min < 0) return [-info.max, info.max];
    return [0, info.max - 1];
  }
  return [info.min, info.max];
}

/** Scale and zero point for one range. Throws InvalidRange for NaN/Inf; never returns a zero, NaN or infinite scale. */
export function computeQParams(rmin: number, rmax: number, o: QParamOptions): { scale: number; zeroPoint: number } {
  if (!Number.isFinite(rmin) || !Number.isFinite(rmax)) throw new InvalidRange(rmin, rmax);
  const [qmin, qmax] = quantRange(o);
  let lo = Math.min(rmin, 0);
  let hi = Math.max(rmax, 0);
  if (o.symmetric) {
    const absmax = Math.max(Math.abs(lo), Math.abs(hi));
    lo = -absmax;
    hi = absmax;
    if (o.convention === "pytorch" && qmin < 0) {
      const scale = Math.fround(absmax / ((qmax - qmin) / 2));
      return scale < FLT_MIN ? { scale: 1, zeroPoint: 0 } : { scale, zeroPoint: 0 };
    }
  }
  const scale = Math.fround((hi - lo) / (qmax - qmin));
  if (!(scale >= FLT_MIN) || !Number.isFinite(scale)) return { scale: 1, zeroPoint: 0 };
  const zeroPoint = o.symmetric ? roundEven((qmin + qmax) / 2) : roundEven(qmin - lo / scale);
  return { scale, zeroPoint: Math.min(qmax, Math.max(qmin, zeroPoint)) };
}

function roundEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 ? 2 * Math.round(x / 2) : r;
}
