import { axisOption, nonFiniteOption, readObject } from "./common.js";
import { IncompatibleStates, InvalidOption, InvalidState } from "./errors.js";
import {
  binsOption,
  type ChannelHistogram,
  channelHistogram,
  clipSymmetric,
  type HistogramOptionsPart,
  type HistogramState,
  histogramFields,
  histogramFromJSON,
  histogramMerge,
  histogramToJSON,
  histogramUpdate,
} from "./histogram.js";
import type { JSONValue, Observer, ObserverOptions, Range } from "./types.js";

export interface EntropyOptions extends ObserverOptions, HistogramOptionsPart {
  /**
   * Quantization levels the reference distribution is merged into, default 128 (int8 on one side of 0,
   * as TensorRT). Use 256 for unsigned 8-bit data. `bins` must be at least 2 * levels.
   */
  readonly levels?: number;
}

export interface EntropyState extends HistogramState {
  readonly observer: "entropy";
  readonly levels: number;
}

const NAME = "entropy";

function make(base: HistogramState, levels: number): EntropyState {
  return { ...base, observer: NAME, levels };
}

/**
 * TensorRT's KL-divergence threshold over a histogram of |x| (bins of width w, exact zeros left out):
 * for every candidate i = (first non-empty bin + levels) .. (last non-empty bin + 1) (max |x| if none):
 *   p = bins[0 .. i-1], with the mass of bins[i ..] (the outliers) added to p[i-1];
 *   q = bins[0 .. i-1] (without the outliers) merged into `levels` groups (bin j in group
 *       floor(j * levels / i)), each group's mass spread evenly over the positions where p is non-zero;
 *   KL(p || q) with p and q normalised (infinite if q is 0 where p is not).
 * The threshold is i * w for the i with the smallest KL (the largest such i on ties), capped at max |x|.
 * Each candidate costs O(levels) through prefix sums of b, b log b and non-zero counts.
 */
export function entropyThreshold(h: ChannelHistogram, levels: number): number {
  const n = h.used;
  const w = h.width;
  const total = h.total - h.zeros;
  if (total <= 0 || n === 0) return 0;
  if (n <= levels) return h.amax;
  const cum = new Float64Array(n + 1);
  const xlogx = new Float64Array(n + 1);
  const nonzero = new Float64Array(n + 1);
  for (let j = 0; j < n; j++) {
    const b = j === 0 ? h.counts[0]! - h.zeros : h.counts[j]!;
    cum[j + 1] = cum[j]! + b;
    xlogx[j + 1] = xlogx[j]! + (b > 0 ? b * Math.log(b) : 0);
    nonzero[j + 1] = nonzero[j]! + (b > 0 ? 1 : 0);
  }
  // The first candidate keeps `levels` bins of the data's own span, as TensorRT's i = levels does for data
  // starting at 0. Starting at `levels` regardless would let data far from 0 (an offset, one-signed
  // distribution) reach a candidate whose kept part is a single bin: p and q then agree on it, KL is 0,
  // and the threshold lands just above min |x|, clipping nearly everything.
  let first = 0;
  while (cum[first + 1] === 0) first++;
  const from = first + levels;
  if (from > n) return h.amax;
  const logTotal = Math.log(total);
  let best = Number.POSITIVE_INFINITY;
  let bestI = n;
  for (let i = from; i <= n; i++) {
    const kept = cum[i]!;
    if (kept === 0) continue;
    const outliers = total - kept;
    const lastRaw = cum[i]! - cum[i - 1]!;
    const lastP = lastRaw + outliers;
    // sum over p's bins of b' log b' (b' = p's unnormalised counts)
    let acc = xlogx[i - 1]! + (lastP > 0 ? lastP * Math.log(lastP) : 0);
    let finite = true;
    for (let k = 0; k < levels; k++) {
      const start = Math.ceil((k * i) / levels);
      const end = k === levels - 1 ? i : Math.ceil(((k + 1) * i) / levels);
      const mass = cum[end]! - cum[start]!;
      let positions = nonzero[end]! - nonzero[start]!;
      let pMass = mass;
      if (k === levels - 1) {
        pMass += outliers;
        if (lastRaw === 0 && outliers > 0) positions += 1;
      }
      if (pMass === 0) continue;
      if (mass === 0) {
        finite = false;
        break;
      }
      acc -= pMass * Math.log(mass / positions);
    }
    if (!finite) continue;
    // KL = sum p log p - sum p log q, with p = b'/total and q = (mass/positions)/kept.
    const kl = acc / total - logTotal + Math.log(kept);
    if (kl <= best) {
      best = kl;
      bestI = i;
    }
  }
  return Math.min(bestI * w, h.amax);
}

/**
 * Entropy (KL) calibration as TensorRT does it, on a `bins`-bin histogram of |x| (default 2048) with
 * every bin edge from `levels` bins above the data's first bin up to its last as a candidate threshold (onnxruntime's defaults,
 * 128 bins for 128 levels, leave only the maximum). The range is the observed one clipped to [-t, t].
 */
export const entropy: Observer<EntropyState, EntropyOptions> = {
  name: NAME,

  create(opts) {
    const axis = axisOption(NAME, opts);
    const levels = opts?.levels ?? 128;
    if (!Number.isInteger(levels) || levels < 2) throw new InvalidOption(NAME, "levels", `must be an integer >= 2, got ${levels}`);
    const bins = binsOption(NAME, opts?.bins, 2 * levels);
    return make(histogramFields(axis, nonFiniteOption(NAME, opts), bins, true, axis === null ? 1 : 0), levels);
  },

  update(s, data, shape) {
    histogramUpdate(NAME, s, data, shape);
  },

  merge(a, b) {
    if (a.levels !== b.levels) throw new IncompatibleStates(NAME, `levels ${a.levels} vs ${b.levels}`);
    const out = make(histogramFields(a.axis, a.nonFinite, a.bins, true, 0), a.levels);
    histogramMerge(NAME, a, b, out);
    return out;
  },

  range(s): Range {
    const min = new Float32Array(s.channels);
    const max = new Float32Array(s.channels);
    for (let c = 0; c < s.channels; c++) {
      const h = channelHistogram(s, c);
      if (h === undefined) continue;
      clipSymmetric(h, entropyThreshold(h, s.levels), c, min, max);
    }
    return { min, max };
  },

  toJSON(s): JSONValue {
    return { observer: NAME, levels: s.levels, ...histogramToJSON(s) };
  },

  fromJSON(json) {
    const o = readObject(NAME, json);
    const levels = o["levels"];
    if (typeof levels !== "number" || !Number.isInteger(levels) || levels < 2) {
      throw new InvalidState(NAME, `'levels' is ${JSON.stringify(levels)}`);
    }
    const bins = o["bins"];
    if (typeof bins !== "number" || !Number.isInteger(bins) || bins < 2 * levels) {
      throw new InvalidState(NAME, `'bins' is ${JSON.stringify(bins)}`);
    }
    return make(histogramFromJSON(NAME, o, bins, true), levels);
  },
};
