/**
 * Base of the errors this package throws. Each reason is its own class with a `_tag` and the fields
 * a caller needs; `name` is the tag.
 */
export abstract class ObserverError extends Error {
  abstract readonly _tag: string;
  override get name(): string {
    return this._tag;
  }
}

/** The data passed to `update` does not fit the shape, the axis or the channel count seen before. */
export class ShapeMismatch extends ObserverError {
  readonly _tag = "ShapeMismatch";
  constructor(
    readonly observer: string,
    readonly reason: string,
    readonly shape: readonly number[] | undefined,
    readonly length: number,
  ) {
    super(`${observer}: ${reason} (data length ${length}, shape ${shape ? `[${shape.join(", ")}]` : "not given"})`);
  }
}

/** `nonFinite: "throw"` and the batch holds NaN or ±Infinity. The state was left unchanged. */
export class NonFiniteValues extends ObserverError {
  readonly _tag = "NonFiniteValues";
  constructor(
    readonly observer: string,
    readonly nanCount: number,
    readonly infCount: number,
    /** Flat index of the first non-finite value in the batch. */
    readonly firstIndex: number,
  ) {
    super(`${observer}: batch holds ${nanCount} NaN and ${infCount} infinite values (first at flat index ${firstIndex})`);
  }
}

/** Two states cannot be merged: different observers, options, axis or channel counts. */
export class IncompatibleStates extends ObserverError {
  readonly _tag = "IncompatibleStates";
  constructor(
    readonly observer: string,
    readonly reason: string,
  ) {
    super(`${observer}: cannot merge: ${reason}`);
  }
}

/** `fromJSON` got something that is not a state this observer wrote. */
export class InvalidState extends ObserverError {
  readonly _tag = "InvalidState";
  constructor(
    readonly observer: string,
    readonly reason: string,
  ) {
    super(`${observer}: invalid serialised state: ${reason}`);
  }
}

/** An option is out of its domain (named, with the reason). */
export class InvalidOption extends ObserverError {
  readonly _tag = "InvalidOption";
  constructor(
    readonly observer: string,
    readonly option: string,
    readonly reason: string,
  ) {
    super(`${observer}: option '${option}' ${reason}`);
  }
}
