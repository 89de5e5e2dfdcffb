/** Any value `JSON.stringify` writes and `JSON.parse` gives back unchanged. */
export type JSONValue = null | boolean | number | string | JSONValue[] | { [key: string]: JSONValue };

/**
 * What an observer reports: `min[c]`, `max[c]` for each channel `c` (length 1 per tensor, C per channel).
 * A channel that saw no finite value reports [0, 0]; check the state's `count` to tell "never observed" apart.
 */
export interface Range {
  readonly min: Float32Array;
  readonly max: Float32Array;
}

/** What `update` does with NaN and ±Infinity: skip and count them (default), or throw `NonFiniteValues`. */
export type NonFinitePolicy = "ignore" | "throw";

/** Options every built-in observer takes. */
export interface ObserverOptions {
  /**
   * Per-channel along this axis of the shape passed to `update` (negative counts from the end);
   * absent: per-tensor (one range).
   */
  readonly axis?: number;
  /** Default "ignore": NaN and ±Infinity are skipped and counted in `nanCount` / `infCount`. */
  readonly nonFinite?: NonFinitePolicy;
}

/** Counters every built-in state carries (plain numbers). */
export interface ObservedCounts {
  /** Finite values seen (all channels). */
  count: number;
  /** NaN values seen and skipped. */
  nanCount: number;
  /** +Infinity and -Infinity values seen and skipped. */
  infCount: number;
}

/**
 * An observer: plain functions over a plain state. Nothing is registered anywhere; pass the value around.
 *
 * - `create(opts)` gives an empty state.
 * - `update(state, data, shape?)` folds one batch into the state in place. Empty data changes nothing.
 *   `shape` is needed per channel (`axis`); when given, its product must equal `data.length`.
 * - `merge(a, b)` returns a new state as if one state had seen a's data and then b's (a and b are left alone).
 * - `range(state)` computes the range to quantize (cheap for MinMax, a search over the histogram for the others).
 * - `toJSON(state)` / `fromJSON(json)`: a JSON-safe copy of the state and back, with identical ranges.
 */
export interface Observer<S, O = ObserverOptions> {
  readonly name: string;
  create(opts?: O): S;
  update(state: S, data: Float32Array, shape?: readonly number[]): void;
  merge(a: S, b: S): S;
  range(state: S): Range;
  toJSON(state: S): JSONValue;
  fromJSON(json: JSONValue): S;
}

/** Any observer, whatever its state (methods are checked bivariantly, so every `Observer<S, O>` fits). */
export type AnyObserver = Observer<unknown, ObserverOptions>;
