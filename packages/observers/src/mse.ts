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

export interface MseOptions extends ObserverOptions, HistogramOptionsPart {
  /**
   * false (default): a histogram of x, searching [L, H] with L <= 0 <= H (an asymmetric grid, activations).
   * true: a histogram of |x|, searching one threshold t for the grid [-t, t] (weights).
   */
  readonly symmetric?: boolean;
  /** Quantization levels of the grid: default 256 (asymmetric 8-bit), 255 when symmetric ([-127, 127]). */
  readonly levels?: number;
}

export interface MseState extends HistogramState {
  readonly observer: "mse";
  readonly symmetric: boolean;
  readonly levels: number;
}

const NAME = "mse";
const TWELFTH = 1 / 12;
const FINE_SPANS = 4096;
const F32_MAX = 3.4028234663852886e38;

function make(base: HistogramState, symmetric: boolean, levels: number): MseState {
  return { ...base, observer: NAME, symmetric, levels };
}

/** Integral of (u - round(u))^2 from 0 to u. */
function roundingIntegral(u: number): number {
  const f = Math.floor(u);
  const r = u - f;
  return f * TWELFTH + (r <= 0.5 ? (r * r * r) / 3 : TWELFTH - ((1 - r) * (1 - r) * (1 - r)) / 3);
}

/**
 * The expected squared error of the grid {g0 + q * step : q = 0 .. levels - 1} over a histogram, values
 * spread evenly within their bin (exact zeros at 0, which must be a grid point), rounding inside the grid
 * computed exactly rather than as step^2 / 12. O(bins). For |x| histograms pass the symmetric grid.
 */
export function gridError(h: ChannelHistogram, g0: number, step: number, levels: number): number {
  const w = h.width;
  const g1 = g0 + (levels - 1) * step;
  let total = 0;
  for (let j = 0; j < h.used; j++) {
    let c = h.counts[j]!;
    const g = h.lo + j;
    if (g === 0) c -= h.zeros;
    if (c <= 0) continue;
    const a = g * w;
    const b = a + w;
    let e = 0;
    if (a < g0) {
      const top = Math.min(b, g0);
      e += ((g0 - a) ** 3 - (g0 - top) ** 3) / 3;
    }
    if (b > g1) {
      const bottom = Math.max(a, g1);
      e += ((b - g1) ** 3 - (bottom - g1) ** 3) / 3;
    }
    const lo = Math.max(a, g0);
    const hi = Math.min(b, g1);
    if (hi > lo) e += step * step * step * (roundingIntegral((hi - g0) / step) - roundingIntegral((lo - g0) / step));
    total += (c / w) * e;
  }
  return total;
}

/**
 * The threshold t minimising the expected squared error of a symmetric grid [-t, t] with `levels` levels
 * (step 2t / (levels - 1)), over the candidates t = every bin edge below max|x|, and max|x| itself.
 * Error model, values spread evenly within their bin: a value inside [-t, t] costs step^2 / 12 (exact zeros
 * cost nothing: 0 is on the grid), a value beyond costs (|x| - t)^2. O(bins) with suffix sums.
 */
export function mseSymmetricThreshold(h: ChannelHistogram, levels: number): number {
  const n = h.used;
  const w = h.width;
  const amax = h.amax;
  const inside = h.total - h.zeros;
  if (inside <= 0 || amax === 0) return 0;
  const k2 = 1 / (12 * (levels - 1) * (levels - 1));
  let bestT = amax;
  let bestErr = inside * 4 * amax * amax * k2;
  // Over bins j >= k: s0 = sum b_j, d1 = sum b_j (j + 0.5 - k), e2 = sum b_j ((j + 0.5 - k)^2 + 1/12).
  let s0 = 0;
  let d1 = 0;
  let e2 = 0;
  for (let k = n - 1; k >= 1; k--) {
    e2 += 2 * d1 + s0; // moving the edge from k + 1 to k: every distance grows by 1
    d1 += s0;
    const b = h.counts[k]!;
    s0 += b;
    d1 += 0.5 * b;
    e2 += b * (0.25 + TWELFTH);
    const t = k * w;
    if (t >= amax) continue;
    const err = (inside - s0) * 4 * t * t * k2 + w * w * e2;
    if (err < bestErr) {
      bestErr = err;
      bestT = t;
    }
  }
  // The step^2 / 12 model misjudges data packed into a few grid steps (a constant tensor, a narrow
  // distribution far from 0): keep max|x| when the exact error says not clipping is better.
  if (bestT < amax) {
    const step = (a: number) => (2 * a) / (levels - 1);
    if (gridError(h, -amax, step(amax), levels) <= gridError(h, -bestT, step(bestT), levels)) return amax;
  }
  return bestT;
}

/**
 * Prefix sums over a histogram's bins (exact zeros left out: 0 is always on the grid), from which the
 * clipping error at an arbitrary point follows in O(1). Positions are in bin units: u = x / w - lo.
 */
interface Moments {
  readonly n: number;
  readonly b: Float64Array;
  /** p0[j] = sum over bins i < j of b_i; p1 of b_i (i + 1/2); p2 of b_i ((i + 1/2)^2 + 1/12). */
  readonly p0: Float64Array;
  readonly p1: Float64Array;
  readonly p2: Float64Array;
}

function moments(h: ChannelHistogram): Moments {
  const n = h.used;
  const b = new Float64Array(n);
  const p0 = new Float64Array(n + 1);
  const p1 = new Float64Array(n + 1);
  const p2 = new Float64Array(n + 1);
  for (let j = 0; j < n; j++) {
    const bj = h.counts[j]! - (h.lo + j === 0 ? h.zeros : 0);
    const m = j + 0.5;
    b[j] = bj;
    p0[j + 1] = p0[j]! + bj;
    p1[j + 1] = p1[j]! + bj * m;
    p2[j + 1] = p2[j]! + bj * (m * m + TWELFTH);
  }
  return { n, b, p0, p1, p2 };
}

/** The clipped count and squared error (in bin units squared) of a clip at one point. */
const clip = { count: 0, error: 0 };

/** Values above u (clipped down to u). */
function clipAbove(m: Moments, u: number): void {
  const n = m.n;
  clip.count = 0;
  clip.error = 0;
  if (u >= n) return;
  const j0 = Math.floor(u);
  const from = Math.max(0, j0 + 1);
  const s0 = m.p0[n]! - m.p0[from]!;
  const s1 = m.p1[n]! - m.p1[from]!;
  const s2 = m.p2[n]! - m.p2[from]!;
  clip.count = s0;
  clip.error = Math.max(0, s2 - 2 * u * s1 + u * u * s0);
  if (j0 >= 0) {
    const b = m.b[j0]!;
    const part = j0 + 1 - u; // the bin's share above u, values spread evenly
    clip.count += b * part;
    clip.error += (b * part * part * part) / 3;
  }
}

/** Values below u (clipped up to u). */
function clipBelow(m: Moments, u: number): void {
  clip.count = 0;
  clip.error = 0;
  if (u <= 0) return;
  const j0 = Math.floor(u);
  const to = Math.min(m.n, j0);
  const s0 = m.p0[to]!;
  const s1 = m.p1[to]!;
  const s2 = m.p2[to]!;
  clip.count = s0;
  clip.error = Math.max(0, s2 - 2 * u * s1 + u * u * s0);
  if (j0 < m.n) {
    const b = m.b[j0]!;
    const part = u - j0;
    clip.count += b * part;
    clip.error += (b * part * part * part) / 3;
  }
}

/**
 * [L, H] minimising the expected squared error of an asymmetric grid of `levels` levels, as the quantizer
 * realises it: step s = (H - L) / (levels - 1) with L <= 0 <= H, zero point z = round(-L / s), grid
 * {(q - z) * s : q = 0 .. levels - 1}. Same error model as the symmetric search.
 * 1. Coarse: every pair (L = a negative bin edge above min, or min(min, 0); H = a positive bin edge below
 *    max, or max(max, 0)) under the continuous model (z not rounded): O(left edges * right edges).
 * 2. Fine: around the best pair's span S*, every span k * w within 20% of S* (at most 4096 of them, evenly
 *    strided) and the integer zero points next to the continuous one, each grid evaluated exactly
 *    (clipping at its real ends).
 * Returns the ends of the chosen grid, [-z * s, (levels - 1 - z) * s]; qparams computed from it give that grid.
 */
export function mseAsymmetricRange(h: ChannelHistogram, levels: number): [number, number] {
  const w = h.width;
  const inside = h.total - h.zeros;
  if (inside <= 0 || (h.min === 0 && h.max === 0)) return [Math.min(h.min, 0), Math.max(h.max, 0)];
  const k2 = 1 / (12 * (levels - 1) * (levels - 1));
  const gMin = h.lo; // canonical bin of min
  const gMax = h.lo + h.used - 1; // canonical bin of max

  // Right candidates: H = g * w for g in [max(1, gMin + 1), gMax], then H = max (no clipping).
  const rFirst = Math.max(1, gMin + 1);
  const nR = Math.max(0, gMax - rFirst + 1) + 1;
  const rH = new Float64Array(nR);
  const rErr = new Float64Array(nR);
  const rCount = new Float64Array(nR);
  {
    let s0 = 0;
    let d1 = 0;
    let e2 = 0;
    for (let g = gMax; g >= rFirst; g--) {
      e2 += 2 * d1 + s0;
      d1 += s0;
      const b = h.counts[g - h.lo]!;
      s0 += b;
      d1 += 0.5 * b;
      e2 += b * (0.25 + TWELFTH);
      const r = g - rFirst;
      rH[r] = g * w;
      rErr[r] = w * w * e2;
      rCount[r] = s0;
    }
    rH[nR - 1] = Math.max(h.max, 0);
  }
  // Left candidates: L = g * w for g in [gMin + 1, min(-1, gMax)], then L = min(min, 0) (no clipping).
  const lLast = Math.min(-1, gMax);
  const nL = Math.max(0, lLast - gMin) + 1;
  const lL = new Float64Array(nL);
  const lErr = new Float64Array(nL);
  const lCount = new Float64Array(nL);
  {
    // Over bins g < edge: s0 = sum b, d1 = sum b (edge - g - 0.5), e2 = sum b ((edge - g - 0.5)^2 + 1/12).
    let s0 = 0;
    let d1 = 0;
    let e2 = 0;
    for (let g = gMin + 1; g <= lLast; g++) {
      e2 += 2 * d1 + s0;
      d1 += s0;
      const b = h.counts[g - 1 - h.lo]!;
      s0 += b;
      d1 += 0.5 * b;
      e2 += b * (0.25 + TWELFTH);
      const l = g - gMin - 1;
      lL[l] = g * w;
      lErr[l] = w * w * e2;
      lCount[l] = s0;
    }
    lL[nL - 1] = Math.min(h.min, 0);
  }
  let bestErr = Number.POSITIVE_INFINITY;
  let bestL = nL - 1;
  let bestR = nR - 1;
  // Widest first, strict improvement: ties keep the wider range.
  for (let l = nL - 1; l >= 0; l--) {
    const lo = lL[l]!;
    const le = lErr[l]!;
    const lc = lCount[l]!;
    for (let r = nR - 1; r >= 0; r--) {
      const span = rH[r]! - lo;
      const err = (inside - lc - rCount[r]!) * span * span * k2 + le + rErr[r]!;
      if (err < bestErr) {
        bestErr = err;
        bestL = l;
        bestR = r;
      }
    }
  }

  // Fine: integer zero points, spans k * w near the coarse optimum, each grid evaluated at its real ends.
  const L0 = lL[bestL]!;
  const H0 = rH[bestR]!;
  const span0 = H0 - L0;
  const z0 = (-L0 / span0) * (levels - 1);
  const m = moments(h);
  const kFrom = Math.max(1, Math.floor((0.8 * span0) / w));
  const kTo = Math.ceil((1.2 * span0) / w) + 1;
  // At most FINE_SPANS spans (more only when the data sits far from 0 relative to its own spread).
  const stride = Math.max(1, Math.ceil((kTo - kFrom) / FINE_SPANS));
  let best = Number.POSITIVE_INFINITY;
  let bestLo = L0;
  let bestHi = H0;
  for (let k = kTo; k >= kFrom; k -= stride) {
    const s = (k * w) / (levels - 1);
    for (let z = Math.max(0, Math.floor(z0) - 1); z <= Math.min(levels - 1, Math.ceil(z0) + 1); z++) {
      const lo = z === 0 ? 0 : -z * s;
      const hi = (levels - 1 - z) * s;
      clipBelow(m, lo / w - h.lo);
      const le = clip.error;
      const lc = clip.count;
      clipAbove(m, hi / w - h.lo);
      const err = (inside - lc - clip.count) * s * s * TWELFTH + (le + clip.error) * w * w;
      if (err < best) {
        best = err;
        bestLo = lo;
        bestHi = hi;
      }
    }
  }
  // As in the symmetric search: keep the observed range when its grid has the smaller exact error.
  const lo0 = Math.min(h.min, 0);
  const span = Math.max(h.max, 0) - lo0;
  const step0 = span / (levels - 1);
  const z = Math.round(-lo0 / step0);
  const bestStep = (bestHi - bestLo) / (levels - 1);
  if (gridError(h, -z * step0, step0, levels) <= gridError(h, bestLo, bestStep, levels)) return [h.min, h.max];
  return [Math.max(bestLo, -F32_MAX), Math.min(bestHi, F32_MAX)];
}

/**
 * MSE: the range minimising the expected squared quantization error for a grid of `levels` levels,
 * searched over every bin edge of a `bins`-bin histogram (default 2048).
 */
export const mse: Observer<MseState, MseOptions> = {
  name: NAME,

  create(opts) {
    const axis = axisOption(NAME, opts);
    const symmetric = opts?.symmetric ?? false;
    const levels = opts?.levels ?? (symmetric ? 255 : 256);
    if (!Number.isInteger(levels) || levels < 2) throw new InvalidOption(NAME, "levels", `must be an integer >= 2, got ${levels}`);
    const bins = binsOption(NAME, opts?.bins, 8);
    return make(histogramFields(axis, nonFiniteOption(NAME, opts), bins, symmetric, axis === null ? 1 : 0), symmetric, levels);
  },

  update(s, data, shape) {
    histogramUpdate(NAME, s, data, shape);
  },

  merge(a, b) {
    if (a.symmetric !== b.symmetric) throw new IncompatibleStates(NAME, "symmetric vs asymmetric");
    if (a.levels !== b.levels) throw new IncompatibleStates(NAME, `levels ${a.levels} vs ${b.levels}`);
    const out = make(histogramFields(a.axis, a.nonFinite, a.bins, a.absolute, 0), a.symmetric, a.levels);
    histogramMerge(NAME, a, b, out);
    return out;
  },

  range(s): Range {
    const min = new Float32Array(s.channels);
    const max = new Float32Array(s.channels);
    for (let c = 0; c < s.channels; c++) {
      const h = channelHistogram(s, c);
      if (h === undefined) continue;
      if (s.symmetric) {
        clipSymmetric(h, mseSymmetricThreshold(h, s.levels), c, min, max);
      } else {
        const [lo, hi] = mseAsymmetricRange(h, s.levels);
        min[c] = lo;
        max[c] = hi;
      }
    }
    return { min, max };
  },

  toJSON(s): JSONValue {
    return { observer: NAME, symmetric: s.symmetric, levels: s.levels, ...histogramToJSON(s) };
  },

  fromJSON(json) {
    const o = readObject(NAME, json);
    const symmetric = o["symmetric"];
    if (typeof symmetric !== "boolean") throw new InvalidState(NAME, `'symmetric' is ${JSON.stringify(symmetric)}`);
    const levels = o["levels"];
    if (typeof levels !== "number" || !Number.isInteger(levels) || levels < 2) {
      throw new InvalidState(NAME, `'levels' is ${JSON.stringify(levels)}`);
    }
    const bins = o["bins"];
    if (typeof bins !== "number" || !Number.isInteger(bins) || bins < 8) throw new InvalidState(NAME, `'bins' is ${JSON.stringify(bins)}`);
    return make(histogramFromJSON(NAME, o, bins, symmetric), symmetric, levels);
  },
};
