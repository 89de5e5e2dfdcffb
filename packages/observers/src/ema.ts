import {
  arrayToJSON,
  assertFinite,
  axisOption,
  checkChannels,
  type JSONObject,
  layout,
  nonFiniteOption,
  readArray,
  readAxis,
  readCount,
  readNumber,
  readObject,
  readPolicy,
  resolveLayout,
  nonFinite,
  scanMinMax,
} from "./common.js";
import { IncompatibleStates, InvalidOption, InvalidState } from "./errors.js";
import type { JSONValue, NonFinitePolicy, ObservedCounts, Observer, ObserverOptions, Range } from "./types.js";

/** How the per-batch mins and maxes are averaged. */
export type Averaging = "ema" | "mean";

export interface MovingAverageOptions extends ObserverOptions {
  /** Averaging constant c in (0, 1], default 0.01 (onnxruntime's `averaging_constant`). */
  readonly constant?: number;
  /**
   * "ema" (default): running += c * (batch - running) per update, the first batch initialises.
   * "mean": the arithmetic mean of the per-batch mins and maxes (what onnxruntime computes when all
   * batches are collected in one flush, its default).
   */
  readonly average?: Averaging;
}

/** State of `ema`, all in float64; `range` rounds to float32 at the end. */
export interface MovingAverageState extends ObservedCounts {
  readonly observer: "ema";
  readonly axis: number | null;
  readonly nonFinite: NonFinitePolicy;
  readonly constant: number;
  readonly average: Averaging;
  channels: number;
  /** "ema": the running averages; "mean": the sums of per-batch mins / maxes. */
  min: Float64Array;
  max: Float64Array;
  /** The first batch's min / max per channel (what an ordered "ema" merge needs). */
  firstMin: Float64Array;
  firstMax: Float64Array;
  /** Batches that held at least one finite value of the channel. */
  batches: Float64Array;
}

const NAME = "ema";

let batchMin = new Float64Array(0);
let batchMax = new Float64Array(0);

function make(axis: number | null, nonFinite: NonFinitePolicy, constant: number, average: Averaging, channels: number): MovingAverageState {
  return {
    observer: NAME,
    axis,
    nonFinite,
    constant,
    average,
    channels,
    min: new Float64Array(channels),
    max: new Float64Array(channels),
    firstMin: new Float64Array(channels),
    firstMax: new Float64Array(channels),
    batches: new Float64Array(channels),
    count: 0,
    nanCount: 0,
    infCount: 0,
  };
}

function allocate(s: MovingAverageState, channels: number): void {
  s.channels = channels;
  s.min = new Float64Array(channels);
  s.max = new Float64Array(channels);
  s.firstMin = new Float64Array(channels);
  s.firstMax = new Float64Array(channels);
  s.batches = new Float64Array(channels);
}

function copyChannel(out: MovingAverageState, from: MovingAverageState, c: number): void {
  out.min[c] = from.min[c]!;
  out.max[c] = from.max[c]!;
  out.firstMin[c] = from.firstMin[c]!;
  out.firstMax[c] = from.firstMax[c]!;
  out.batches[c] = from.batches[c]!;
}

/**
 * Moving-average MinMax (onnxruntime's `MinMax` with `moving_average`). One `update` call is one batch:
 * its min and max per channel are taken over the finite values, then with c = `constant`:
 *   first batch:   running = batch
 *   later batches: running = running + c * (batch - running)
 * (`average: "mean"` keeps the plain mean of the per-batch values instead.)
 *
 * `merge(a, b)` is the state after a's batches FOLLOWED BY b's batches, exactly (up to float64 rounding):
 * with n_b batches in b, first batch f_b and result r_b,
 *   r = r_b + (1 - c)^n_b * (r_a - f_b)
 * so it is ordered (not commutative), like the average itself, and associative; shards merged in data
 * order equal one run. For "mean" the sums and batch counts add (commutative).
 */
export const ema: Observer<MovingAverageState, MovingAverageOptions> = {
  name: NAME,

  create(opts) {
    const axis = axisOption(NAME, opts);
    const constant = opts?.constant ?? 0.01;
    if (!(constant > 0 && constant <= 1)) throw new InvalidOption(NAME, "constant", `must be in (0, 1], got ${constant}`);
    const average = opts?.average ?? "ema";
    if (average !== "ema" && average !== "mean") throw new InvalidOption(NAME, "average", `must be "ema" or "mean", got ${String(average)}`);
    return make(axis, nonFiniteOption(NAME, opts), constant, average, axis === null ? 1 : 0);
  },

  update(s, data, shape) {
    resolveLayout(NAME, s.axis, data, shape);
    const n = data.length;
    if (n === 0) return;
    checkChannels(NAME, s.channels, shape, n);
    if (s.nonFinite === "throw") assertFinite(NAME, data);
    const { channels } = layout;
    if (s.channels === 0) allocate(s, channels);
    if (batchMin.length < channels) {
      batchMin = new Float64Array(channels);
      batchMax = new Float64Array(channels);
    }
    const bmin = batchMin;
    const bmax = batchMax;
    bmin.fill(Number.POSITIVE_INFINITY, 0, channels);
    bmax.fill(Number.NEGATIVE_INFINITY, 0, channels);
    scanMinMax(data, bmin, bmax);
    const nan = nonFinite.nan;
    const inf = nonFinite.inf;
    const k = s.constant;
    const mean = s.average === "mean";
    for (let c = 0; c < channels; c++) {
      const lo = bmin[c]!;
      const hi = bmax[c]!;
      if (!(lo <= hi)) continue; // no finite value of this channel in the batch: not a batch for it
      if (s.batches[c] === 0) {
        s.min[c] = lo;
        s.max[c] = hi;
        s.firstMin[c] = lo;
        s.firstMax[c] = hi;
      } else if (mean) {
        s.min[c] = s.min[c]! + lo;
        s.max[c] = s.max[c]! + hi;
      } else {
        const rmin = s.min[c]!;
        const rmax = s.max[c]!;
        s.min[c] = rmin + k * (lo - rmin);
        s.max[c] = rmax + k * (hi - rmax);
      }
      s.batches[c] = s.batches[c]! + 1;
    }
    s.nanCount += nan;
    s.infCount += inf;
    s.count += n - nan - inf;
  },

  merge(a, b) {
    if (a.axis !== b.axis) throw new IncompatibleStates(NAME, `axis ${a.axis} vs ${b.axis}`);
    if (a.constant !== b.constant) throw new IncompatibleStates(NAME, `constant ${a.constant} vs ${b.constant}`);
    if (a.average !== b.average) throw new IncompatibleStates(NAME, `average ${a.average} vs ${b.average}`);
    if (a.channels !== 0 && b.channels !== 0 && a.channels !== b.channels) {
      throw new IncompatibleStates(NAME, `${a.channels} vs ${b.channels} channels`);
    }
    const channels = a.channels || b.channels;
    const out = make(a.axis, a.nonFinite, a.constant, a.average, channels);
    const decay = 1 - a.constant;
    for (let c = 0; c < channels; c++) {
      const na = a.channels ? a.batches[c]! : 0;
      const nb = b.channels ? b.batches[c]! : 0;
      if (nb === 0) {
        if (na > 0) copyChannel(out, a, c);
        continue;
      }
      if (na === 0) {
        copyChannel(out, b, c);
        continue;
      }
      out.firstMin[c] = a.firstMin[c]!;
      out.firstMax[c] = a.firstMax[c]!;
      out.batches[c] = na + nb;
      if (a.average === "mean") {
        out.min[c] = a.min[c]! + b.min[c]!;
        out.max[c] = a.max[c]! + b.max[c]!;
      } else {
        // b's first batch initialised b's average; run after a it would have been r_a + c * (f_b - r_a).
        // Every later step is linear, so the difference (1-c)(r_a - f_b) decays by (1-c) per later batch.
        const w = decay ** nb;
        out.min[c] = b.min[c]! + w * (a.min[c]! - b.firstMin[c]!);
        out.max[c] = b.max[c]! + w * (a.max[c]! - b.firstMax[c]!);
      }
    }
    out.count = a.count + b.count;
    out.nanCount = a.nanCount + b.nanCount;
    out.infCount = a.infCount + b.infCount;
    return out;
  },

  range(s): Range {
    const min = new Float32Array(s.channels);
    const max = new Float32Array(s.channels);
    for (let c = 0; c < s.channels; c++) {
      const nb = s.batches[c]!;
      if (nb === 0) continue;
      const d = s.average === "mean" ? nb : 1;
      min[c] = s.min[c]! / d;
      max[c] = s.max[c]! / d;
    }
    return { min, max };
  },

  toJSON(s): JSONValue {
    return {
      observer: NAME,
      axis: s.axis,
      nonFinite: s.nonFinite,
      constant: s.constant,
      average: s.average,
      channels: s.channels,
      count: s.count,
      nanCount: s.nanCount,
      infCount: s.infCount,
      min: arrayToJSON(s.min),
      max: arrayToJSON(s.max),
      firstMin: arrayToJSON(s.firstMin),
      firstMax: arrayToJSON(s.firstMax),
      batches: arrayToJSON(s.batches),
    };
  },

  fromJSON(json) {
    const o: JSONObject = readObject(NAME, json);
    const axis = readAxis(NAME, o);
    const channels = readCount(NAME, o, "channels");
    if (axis === null && channels !== 1) throw new InvalidState(NAME, "a per-tensor state has 1 channel");
    const constant = readNumber(NAME, o, "constant", (x) => x > 0 && x <= 1);
    const average = o["average"];
    if (average !== "ema" && average !== "mean") throw new InvalidState(NAME, `'average' is ${JSON.stringify(average)}`);
    const s = make(axis, readPolicy(NAME, o), constant, average, channels);
    readArray(NAME, o, "min", s.min, 0);
    readArray(NAME, o, "max", s.max, 0);
    readArray(NAME, o, "firstMin", s.firstMin, 0);
    readArray(NAME, o, "firstMax", s.firstMax, 0);
    readArray(NAME, o, "batches", s.batches, 0);
    s.count = readCount(NAME, o, "count");
    s.nanCount = readCount(NAME, o, "nanCount");
    s.infCount = readCount(NAME, o, "infCount");
    return s;
  },
};
