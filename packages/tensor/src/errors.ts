/*
 * Typed errors. Plain classes (no runtime dependency) with a readonly `_tag`, so callers can
 * discriminate with `e._tag === "InvalidRange"` (or lift them into an effect's typed error channel).
 */

/** A range that cannot give quantization parameters: NaN or infinite bounds, or min > max. */
export class InvalidRange extends Error {
  readonly _tag = "InvalidRange" as const;
  constructor(
    readonly min: number,
    readonly max: number,
    reason = "it must be finite",
  ) {
    super(`cannot quantize the range [${min}, ${max}]: ${reason}`);
  }
  override get name(): string {
    return this._tag;
  }
}

/** Quantization parameters or options that do not fit the data (scale count, axis, block size, zero point, dtype). */
export class InvalidQuantParams extends Error {
  readonly _tag = "InvalidQuantParams" as const;
  override get name(): string {
    return this._tag;
  }
}

/** Shapes that do not fit together (broadcasting, data length, axis out of range). */
export class ShapeError extends Error {
  readonly _tag = "ShapeError" as const;
  override get name(): string {
    return this._tag;
  }
}

/** Every error this package throws on purpose (besides the RangeErrors of `tensor()`/`fromBytes()`). */
export type TensorPackageError = InvalidRange | InvalidQuantParams | ShapeError;
