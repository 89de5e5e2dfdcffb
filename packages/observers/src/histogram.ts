// Flat-memory histograms on a canonical power-of-two grid, shared by percentile, entropy and mse.
//
// A channel's histogram has a fixed number B of bins of width w = 2^e. Bin k of the canonical grid of
// width w covers [k*w, (k+1)*w); the histogram holds the B canonical bins lo .. lo+B-1, where
//   absolute histogram (of |x|): lo = 0
//   signed histogram (of x):     lo = floor(min / w)
// and e is the SMALLEST integer such that
//   e >= E_MIN, e >= floor(log2(max|x|)) - 30, and every observed value falls in the B bins.
// Each condition only gets harder as data is added, so e and lo are functions of the set of values
// seen (never of their order or of how they were split into batches or shards), and growing e by d
// merges 2^d neighbouring canonical bins exactly (floor(k / 2^d)). Hence a histogram built over shards
// and merged is bit-for-bit the one built in a single run, and memory stays at B counts per channel.
// All index arithmetic is exact in float64: x * 2^-e is exact for float32 x, and canonical indices stay
// below 2^31 in magnitude (the "- 30" condition), so floor and subtraction never round.
import {
  arrayToJSON,
  assertFinite,
  checkChannels,
  type JSONObject,
  layout,
  readArray,
  readAxis,
  readCount,
  readPolicy,
  resolveLayout,
  nonFinite,
  scanMinMax,
} from "./common.js";
import { IncompatibleStates, InvalidOption, InvalidState } from "./errors.js";
import type { NonFinitePolicy, ObservedCounts } from "./types.js";

/** Smallest bin-width exponent (all-zero data sits there). */
export const E_MIN = -200;
/** Bin width is at least 2^(floor(log2(max|x|)) - FINE): finer than float32 spacing, indices below 2^31. */
const FINE = 30;

const POW2_OFFSET = 400;
const POW2 = new Float64Array(2 * POW2_OFFSET + 1);
POW2[POW2_OFFSET] = 1;
for (let k = 1; k <= POW2_OFFSET; k++) {
  POW2[POW2_OFFSET + k] = POW2[POW2_OFFSET + k - 1]! * 2;
  POW2[POW2_OFFSET - k] = POW2[POW2_OFFSET - k + 1]! / 2;
}

/** 2^k exactly, for integer k in [-400, 400]. */
export function pow2(k: number): number {
  return POW2[k + POW2_OFFSET]!;
}

/** floor(log2(v)) exactly, for v > 0 a float32 value. */
function ilog2(v: number): number {
  let k = Math.floor(Math.log2(v));
  if (pow2(k) > v) k--;
  else if (pow2(k + 1) <= v) k++;
  return k;
}

/** The histogram part of the percentile, entropy and mse states. */
export interface HistogramState extends ObservedCounts {
  readonly axis: number | null;
  readonly nonFinite: NonFinitePolicy;
  /** Bins per channel (fixed). */
  readonly bins: number;
  /** true: histogram of |x| starting at 0; false: histogram of x. */
  readonly absolute: boolean;
  /** 1 per tensor; per channel 0 until the first non-empty update. */
  channels: number;
  /** Observed min / max of x per channel (signed, also for absolute histograms); +Inf / -Inf while empty. */
  min: Float32Array;
  max: Float32Array;
  /** Bin width exponent per channel (width 2^exp); NaN while the channel is empty. */
  exp: Float64Array;
  /** Canonical index of bin 0 per channel (0 for absolute histograms). */
  lo: Float64Array;
  /** Exact zeros per channel (also counted in their bin). */
  zeros: Float64Array;
  /** channels * bins counts, channel-major. */
  counts: Float64Array;
}

export interface HistogramOptionsPart {
  /** Bins per channel, default 2048. */
  readonly bins?: number;
}

export function binsOption(observer: string, bins: number | undefined, atLeast: number): number {
  const b = bins ?? 2048;
  if (!Number.isInteger(b) || b < atLeast || b > 1 << 20) {
    throw new InvalidOption(observer, "bins", `must be an integer in [${atLeast}, ${1 << 20}], got ${b}`);
  }
  return b;
}

/** The histogram fields of a fresh state (spread into an observer's state). */
export function histogramFields(
  axis: number | null,
  nonFinite: NonFinitePolicy,
  bins: number,
  absolute: boolean,
  channels: number,
): HistogramState {
  return {
    axis,
    nonFinite,
    bins,
    absolute,
    channels,
    count: 0,
    nanCount: 0,
    infCount: 0,
    min: new Float32Array(channels).fill(Number.POSITIVE_INFINITY),
    max: new Float32Array(channels).fill(Number.NEGATIVE_INFINITY),
    exp: new Float64Array(channels).fill(Number.NaN),
    lo: new Float64Array(channels),
    zeros: new Float64Array(channels),
    counts: new Float64Array(channels * bins),
  };
}

function allocate(s: HistogramState, channels: number): void {
  const f = histogramFields(s.axis, s.nonFinite, s.bins, s.absolute, channels);
  s.channels = channels;
  s.min = f.min;
  s.max = f.max;
  s.exp = f.exp;
  s.lo = f.lo;
  s.zeros = f.zeros;
  s.counts = f.counts;
}

/** Do all values in [mn, mx] fall in the B bins of width 2^e? */
function fits(absolute: boolean, mn: number, mx: number, e: number, bins: number): boolean {
  const inv = pow2(-e);
  if (absolute) return Math.floor(Math.max(-mn, mx) * inv) <= bins - 1;
  return Math.floor(mx * inv) - Math.floor(mn * inv) <= bins - 1;
}

/** The smallest admissible exponent >= `from` for observed [mn, mx] (see the header). */
function fitExp(absolute: boolean, mn: number, mx: number, from: number, bins: number): number {
  let e = from;
  const amax = Math.max(-mn, mx);
  if (amax > 0) {
    const floorFine = ilog2(amax) - FINE;
    if (floorFine > e) e = floorFine;
    const span = absolute ? amax : mx - mn;
    // Below span / B nothing fits; start one step under the estimate (Math.log2 may be a hair off).
    const estimate = Math.floor(Math.log2(span / bins)) - 1;
    if (estimate > e) e = estimate;
  }
  while (!fits(absolute, mn, mx, e, bins)) e++;
  return e;
}

let scratch = new Float64Array(0);

/** Adds the `bins` counts of src (grid eSrc, loSrc) into dst (grid eDst >= eSrc, loDst). */
function remapInto(
  dst: Float64Array,
  dstBase: number,
  src: Float64Array,
  srcBase: number,
  bins: number,
  eSrc: number,
  loSrc: number,
  eDst: number,
  loDst: number,
): void {
  if (eSrc === eDst && loSrc === loDst) {
    for (let j = 0; j < bins; j++) dst[dstBase + j] = dst[dstBase + j]! + src[srcBase + j]!;
    return;
  }
  const f = pow2(eSrc - eDst);
  for (let j = 0; j < bins; j++) {
    const c = src[srcBase + j]!;
    if (c === 0) continue;
    const k = dstBase + Math.floor((loSrc + j) * f) - loDst;
    dst[k] = dst[k]! + c;
  }
}

/** Folds one batch into a histogram state (two passes over the data; no allocation after the first call). */
export function histogramUpdate(name: string, s: HistogramState, data: Float32Array, shape: readonly number[] | undefined): void {
  resolveLayout(name, s.axis, data, shape);
  const n = data.length;
  if (n === 0) return;
  checkChannels(name, s.channels, shape, n);
  if (s.nonFinite === "throw") assertFinite(name, data);
  const { outer, channels, inner } = layout;
  if (s.channels === 0) allocate(s, channels);
  const bins = s.bins;
  const mins = s.min;
  const maxs = s.max;
  const exps = s.exp;
  const los = s.lo;
  const counts = s.counts;

  // Pass 1: min / max per channel, non-finite values counted.
  scanMinMax(data, mins, maxs);
  const nan = nonFinite.nan;
  const inf = nonFinite.inf;

  // Grow each channel's grid to cover its new [min, max] (rebinning its counts when it changes).
  if (scratch.length < bins) scratch = new Float64Array(bins);
  for (let c = 0; c < channels; c++) {
    const mn = mins[c]!;
    const mx = maxs[c]!;
    if (!(mn <= mx)) continue;
    const eOld = exps[c]!;
    const fresh = Number.isNaN(eOld);
    const e = fitExp(s.absolute, mn, mx, fresh ? E_MIN : eOld, bins);
    const lo = s.absolute ? 0 : Math.floor(mn * pow2(-e));
    if (fresh) {
      exps[c] = e;
      los[c] = lo;
      continue;
    }
    if (e === eOld && lo === los[c]) continue;
    const base = c * bins;
    scratch.fill(0, 0, bins);
    remapInto(scratch, 0, counts, base, bins, eOld, los[c]!, e, lo);
    for (let j = 0; j < bins; j++) counts[base + j] = scratch[j]!;
    exps[c] = e;
    los[c] = lo;
  }

  // Pass 2: count each finite value in its bin; exact zeros are counted aside, then added to their bin.
  let i = 0;
  const absolute = s.absolute;
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      const end = i + inner;
      const e = exps[c]!;
      if (Number.isNaN(e)) {
        i = end;
        continue;
      }
      const inv = pow2(-e);
      const base = c * bins - los[c]!;
      let z = 0;
      if (absolute) {
        for (; i < end; i++) {
          const x = data[i]!;
          if (x - x !== 0) continue;
          if (x === 0) {
            z++;
            continue;
          }
          const k = base + ((Math.abs(x) * inv) | 0); // < bins: truncation is floor
          counts[k] = counts[k]! + 1;
        }
      } else {
        for (; i < end; i++) {
          const x = data[i]!;
          if (x - x !== 0) continue;
          if (x === 0) {
            z++;
            continue;
          }
          const k = base + Math.floor(x * inv);
          counts[k] = counts[k]! + 1;
        }
      }
      if (z > 0) {
        counts[base] = counts[base]! + z; // canonical bin 0 = [0, w)
        s.zeros[c] = s.zeros[c]! + z;
      }
    }
  }
  s.nanCount += nan;
  s.infCount += inf;
  s.count += n - nan - inf;
}

/** Fills `out` (fresh, same configuration) with the merge of a and b: exact, commutative, associative. */
export function histogramMerge(name: string, a: HistogramState, b: HistogramState, out: HistogramState): void {
  if (a.axis !== b.axis) throw new IncompatibleStates(name, `axis ${a.axis} vs ${b.axis}`);
  if (a.bins !== b.bins) throw new IncompatibleStates(name, `${a.bins} vs ${b.bins} bins`);
  if (a.absolute !== b.absolute) throw new IncompatibleStates(name, "histogram of |x| vs histogram of x");
  if (a.channels !== 0 && b.channels !== 0 && a.channels !== b.channels) {
    throw new IncompatibleStates(name, `${a.channels} vs ${b.channels} channels`);
  }
  const channels = a.channels || b.channels;
  if (out.channels !== channels) allocate(out, channels);
  const bins = a.bins;
  for (let c = 0; c < channels; c++) {
    const ea = a.channels ? a.exp[c]! : Number.NaN;
    const eb = b.channels ? b.exp[c]! : Number.NaN;
    const hasA = !Number.isNaN(ea);
    const hasB = !Number.isNaN(eb);
    if (!hasA && !hasB) continue;
    const mn = Math.min(hasA ? a.min[c]! : Number.POSITIVE_INFINITY, hasB ? b.min[c]! : Number.POSITIVE_INFINITY);
    const mx = Math.max(hasA ? a.max[c]! : Number.NEGATIVE_INFINITY, hasB ? b.max[c]! : Number.NEGATIVE_INFINITY);
    const from = Math.max(hasA ? ea : E_MIN, hasB ? eb : E_MIN);
    const e = fitExp(a.absolute, mn, mx, from, bins);
    const lo = a.absolute ? 0 : Math.floor(mn * pow2(-e));
    out.min[c] = mn;
    out.max[c] = mx;
    out.exp[c] = e;
    out.lo[c] = lo;
    out.zeros[c] = (hasA ? a.zeros[c]! : 0) + (hasB ? b.zeros[c]! : 0);
    if (hasA) remapInto(out.counts, c * bins, a.counts, c * bins, bins, ea, a.lo[c]!, e, lo);
    if (hasB) remapInto(out.counts, c * bins, b.counts, c * bins, bins, eb, b.lo[c]!, e, lo);
  }
  out.count = a.count + b.count;
  out.nanCount = a.nanCount + b.nanCount;
  out.infCount = a.infCount + b.infCount;
}

export function histogramToJSON(s: HistogramState): JSONObject {
  return {
    axis: s.axis,
    nonFinite: s.nonFinite,
    bins: s.bins,
    absolute: s.absolute,
    channels: s.channels,
    count: s.count,
    nanCount: s.nanCount,
    infCount: s.infCount,
    min: arrayToJSON(s.min),
    max: arrayToJSON(s.max),
    exp: arrayToJSON(s.exp),
    lo: arrayToJSON(s.lo),
    zeros: arrayToJSON(s.zeros),
    counts: arrayToJSON(s.counts),
  };
}

/** Reads the histogram fields written by `histogramToJSON` (checking that the bins match the options). */
export function histogramFromJSON(name: string, o: JSONObject, bins: number, absolute: boolean): HistogramState {
  const axis = readAxis(name, o);
  if (o["bins"] !== bins) throw new InvalidState(name, `'bins' is ${JSON.stringify(o["bins"])}`);
  if (o["absolute"] !== absolute) throw new InvalidState(name, `'absolute' is ${JSON.stringify(o["absolute"])}`);
  const channels = readCount(name, o, "channels");
  if (axis === null && channels !== 1) throw new InvalidState(name, "a per-tensor state has 1 channel");
  const s = histogramFields(axis, readPolicy(name, o), bins, absolute, channels);
  readArray(name, o, "min", s.min, Number.POSITIVE_INFINITY);
  readArray(name, o, "max", s.max, Number.NEGATIVE_INFINITY);
  readArray(name, o, "exp", s.exp, Number.NaN);
  readArray(name, o, "lo", s.lo, 0);
  readArray(name, o, "zeros", s.zeros, 0);
  readArray(name, o, "counts", s.counts, 0);
  s.count = readCount(name, o, "count");
  s.nanCount = readCount(name, o, "nanCount");
  s.infCount = readCount(name, o, "infCount");
  let sum = 0;
  for (let i = 0; i < s.counts.length; i++) {
    const k = s.counts[i]!;
    if (!(Number.isInteger(k) && k >= 0)) throw new InvalidState(name, `'counts[${i}]' is ${k}`);
    sum += k;
  }
  if (sum !== s.count) throw new InvalidState(name, `the counts add up to ${sum}, 'count' is ${s.count}`);
  for (let c = 0; c < channels; c++) {
    const e = s.exp[c]!;
    if (!Number.isNaN(e) && !(Number.isInteger(e) && e >= E_MIN && e <= 200)) throw new InvalidState(name, `'exp[${c}]' is ${e}`);
  }
  return s;
}

/** One channel of a histogram, as the range searches read it. */
export interface ChannelHistogram {
  /** Counts of the `bins` bins (a view into the state). */
  readonly counts: Float64Array;
  /** Bin width. */
  readonly width: number;
  /** Canonical index of bin 0: bin j covers [(lo + j) * width, (lo + j + 1) * width). */
  readonly lo: number;
  readonly zeros: number;
  /** Finite values counted (zeros included). */
  readonly total: number;
  /** Observed min / max of x. */
  readonly min: number;
  readonly max: number;
  /** Bins up to and including the last non-empty one. */
  readonly used: number;
  /** true: a histogram of |x|. */
  readonly absolute: boolean;
  /** max |x| observed. */
  readonly amax: number;
}

/** A read-only view of channel c, or undefined if the channel saw no finite value. */
export function channelHistogram(s: HistogramState, c: number): ChannelHistogram | undefined {
  const e = s.exp[c];
  if (e === undefined || Number.isNaN(e)) return undefined;
  const counts = s.counts.subarray(c * s.bins, (c + 1) * s.bins);
  let total = 0;
  let used = 0;
  for (let j = 0; j < counts.length; j++) {
    const k = counts[j]!;
    total += k;
    if (k > 0) used = j + 1;
  }
  return {
    counts,
    width: pow2(e),
    lo: s.lo[c]!,
    zeros: s.zeros[c]!,
    total,
    min: s.min[c]!,
    max: s.max[c]!,
    used,
    absolute: s.absolute,
    amax: Math.max(-s.min[c]!, s.max[c]!),
  };
}

/** A copy of channel c's histogram: bin j covers [start + j * width, start + (j + 1) * width). */
export function histogramOf(
  s: HistogramState,
  channel = 0,
): { start: number; width: number; counts: Float64Array; zeros: number; min: number; max: number } | undefined {
  const h = channelHistogram(s, channel);
  if (h === undefined) return undefined;
  return { start: h.lo * h.width, width: h.width, counts: h.counts.slice(), zeros: h.zeros, min: h.min, max: h.max };
}

/** The observed range clipped to [-t, t] (what the |x|-threshold observers report). */
export function clipSymmetric(h: ChannelHistogram, t: number, c: number, min: Float32Array, max: Float32Array): void {
  let lo = Math.max(h.min, -t);
  let hi = Math.min(h.max, t);
  // Data of one sign lying wholly beyond t: everything clips to the threshold.
  if (lo > hi) {
    if (h.min > 0) lo = hi;
    else hi = lo;
  }
  min[c] = lo;
  max[c] = hi;
}
