/**
 * Typed errors of the IR. Each reason is its own class with a `_tag` (compatible with Effect's
 * `catchTag`) and the fields a caller needs. No dependency on effect.
 */
export abstract class QuantaError extends Error {
  abstract readonly _tag: string;
  override get name(): string {
    return this._tag;
  }
}

/** The graph is not well formed: dangling value, duplicate name, cycle, wrong owner... */
export class InvalidGraph extends QuantaError {
  readonly _tag = "InvalidGraph";
  constructor(
    readonly reason: string,
    readonly where?: string,
  ) {
    super(where ? `${reason} (${where})` : reason);
  }
}

/** A rewrite was asked for something that would break the graph. */
export class RewriteError extends QuantaError {
  readonly _tag = "RewriteError";
  constructor(readonly reason: string) {
    super(reason);
  }
}

/** A constant's data cannot be decoded (unsupported element type, external data missing, ...). */
export class ConstantUnavailable extends QuantaError {
  readonly _tag = "ConstantUnavailable";
  constructor(
    readonly constant: string,
    readonly reason: string,
  ) {
    super(`constant '${constant}': ${reason}`);
  }
}
