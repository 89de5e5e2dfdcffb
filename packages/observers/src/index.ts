export type { JSONValue, NonFinitePolicy, ObservedCounts, Observer, ObserverOptions, AnyObserver, Range } from "./types.js";
export { IncompatibleStates, InvalidOption, InvalidState, NonFiniteValues, ObserverError, ShapeMismatch } from "./errors.js";
export { type MinMaxState, minmax } from "./minmax.js";
export { type Averaging, ema, type MovingAverageOptions, type MovingAverageState } from "./ema.js";
export { type HistogramState, histogramOf } from "./histogram.js";
export { percentile, type PercentileOptions, type PercentileState } from "./percentile.js";
export { entropy, type EntropyOptions, type EntropyState } from "./entropy.js";
export { mse, type MseOptions, type MseState } from "./mse.js";
export { OBSERVERS, type ObserverName } from "./observers.js";
