import { QuantaError } from "@quanta/ir";

/** Calibration could not produce ranges (no samples, a tensor never observed...). */
export class CalibrationError extends QuantaError {
  readonly _tag = "CalibrationError";
  constructor(readonly reason: string) {
    super(`calibration: ${reason}`);
  }
}
