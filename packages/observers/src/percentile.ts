import { axisOption, nonFiniteOption, readObject } from "./common.js";
import { IncompatibleStates, InvalidOption, InvalidState } from "./errors.js";
import {
  type ChannelHistogram,
  channelHistogram,
  clipSymmetric,
  type HistogramOptionsPart,
  type HistogramState,
  binsOption,
  histogramFields,
  histogramFromJSON,
  histogramMerge,
  histogramToJSON,
  histogramUpdate,
} from "./histogram.js";
import type { JSONValue, Observer, ObserverOptions, Range } from "./types.js";

export interface PercentileOptions extends ObserverOptions, HistogramOptionsPart {
  /** Percentile in (0, 100], default 99.999. */
  readonly percentile?: number;
  /**
   * true (default): one threshold t, the percentile of |x|; the range is the observed one clipped to [-t, t].
   * false: a histogram of x, cut (100 - p) / 2 percent on each side.
   */
  readonly symmetric?: boolean;
}

export interface PercentileState extends HistogramState {
  readonly observer: "percentile";
  readonly percentile: number;
  readonly symmetric: boolean;
}

const NAME = "percentile";

function make(base: HistogramState, percentile: number, symmetric: boolean): PercentileState {
  return { ...base, observer: NAME, percentile, symmetric };
}

/**
 * The value below which a fraction of the counts lies: the smallest v with CDF(v) >= rank, values
 * spread evenly within their bin, exact zeros at 0. Clamped to the channel's observed [min, max].
 */
export function histogramQuantile(h: ChannelHistogram, rank: number): number {
  const w = h.width;
  let cum = 0;
  let v = h.max;
  for (let j = 0; j < h.used; j++) {
    const k = h.counts[j]!;
    if (k === 0) continue;
    if (cum + k >= rank) {
      const g = h.lo + j;
      let within = rank - cum;
      let inBin = k;
      if (g === 0 && h.zeros > 0) {
        if (within <= h.zeros) {
          v = 0;
          break;
        }
        within -= h.zeros;
        inBin -= h.zeros;
      }
      v = (g + within / inBin) * w;
      break;
    }
    cum += k;
  }
  if (h.absolute) {
    const minAbs = h.min > 0 ? h.min : h.max < 0 ? -h.max : 0;
    return Math.min(Math.max(v, minAbs), h.amax);
  }
  return Math.min(Math.max(v, h.min), h.max);
}

/**
 * Percentile: a `bins`-bin histogram (default 2048) of |x| (or of x with `symmetric: false`);
 * the range is where the given percentile (default 99.999) of the counts lies. Linear within a bin.
 */
export const percentile: Observer<PercentileState, PercentileOptions> = {
  name: NAME,

  create(opts) {
    const axis = axisOption(NAME, opts);
    const p = opts?.percentile ?? 99.999;
    if (!(p > 0 && p <= 100)) throw new InvalidOption(NAME, "percentile", `must be in (0, 100], got ${p}`);
    const symmetric = opts?.symmetric ?? true;
    const bins = binsOption(NAME, opts?.bins, 8);
    return make(histogramFields(axis, nonFiniteOption(NAME, opts), bins, symmetric, axis === null ? 1 : 0), p, symmetric);
  },

  update(s, data, shape) {
    histogramUpdate(NAME, s, data, shape);
  },

  merge(a, b) {
    if (a.percentile !== b.percentile) throw new IncompatibleStates(NAME, `percentile ${a.percentile} vs ${b.percentile}`);
    if (a.symmetric !== b.symmetric) throw new IncompatibleStates(NAME, "symmetric vs asymmetric");
    const out = make(histogramFields(a.axis, a.nonFinite, a.bins, a.absolute, 0), a.percentile, a.symmetric);
    histogramMerge(NAME, a, b, out);
    return out;
  },

  range(s): Range {
    const min = new Float32Array(s.channels);
    const max = new Float32Array(s.channels);
    const p = s.percentile / 100;
    for (let c = 0; c < s.channels; c++) {
      const h = channelHistogram(s, c);
      if (h === undefined) continue;
      if (s.symmetric) {
        clipSymmetric(h, histogramQuantile(h, p * h.total), c, min, max);
      } else {
        const cut = ((1 - p) / 2) * h.total;
        min[c] = histogramQuantile(h, cut);
        max[c] = histogramQuantile(h, h.total - cut);
      }
    }
    return { min, max };
  },

  toJSON(s): JSONValue {
    return { observer: NAME, percentile: s.percentile, symmetric: s.symmetric, ...histogramToJSON(s) };
  },

  fromJSON(json) {
    const o = readObject(NAME, json);
    const p = o["percentile"];
    if (typeof p !== "number" || !(p > 0 && p <= 100)) throw new InvalidState(NAME, `'percentile' is ${JSON.stringify(p)}`);
    const symmetric = o["symmetric"];
    if (typeof symmetric !== "boolean") throw new InvalidState(NAME, `'symmetric' is ${JSON.stringify(symmetric)}`);
    const bins = o["bins"];
    if (typeof bins !== "number" || !Number.isInteger(bins) || bins < 8) throw new InvalidState(NAME, `'bins' is ${JSON.stringify(bins)}`);
    return make(histogramFromJSON(NAME, o, bins, symmetric), p, symmetric);
  },
};
