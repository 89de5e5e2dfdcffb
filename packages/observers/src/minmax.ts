import {
  arrayToJSON,
  assertFinite,
  axisOption,
  checkChannels,
  layout,
  nonFiniteOption,
  readArray,
  readAxis,
  readCount,
  readObject,
  readPolicy,
  resolveLayout,
  nonFinite,
  scanMinMax,
} from "./common.js";
import { IncompatibleStates, InvalidState } from "./errors.js";
import type { JSONValue, NonFinitePolicy, ObservedCounts, Observer, ObserverOptions, Range } from "./types.js";

/** State of `minmax`: the running min and max per channel (+Infinity / -Infinity until a finite value arrives). */
export interface MinMaxState extends ObservedCounts {
  readonly observer: "minmax";
  readonly axis: number | null;
  readonly nonFinite: NonFinitePolicy;
  /** 1 per tensor; per channel 0 until the first non-empty update. */
  channels: number;
  min: Float32Array;
  max: Float32Array;
}

const NAME = "minmax";

function make(axis: number | null, nonFinite: NonFinitePolicy, channels: number): MinMaxState {
  return {
    observer: NAME,
    axis,
    nonFinite,
    channels,
    min: new Float32Array(channels).fill(Number.POSITIVE_INFINITY),
    max: new Float32Array(channels).fill(Number.NEGATIVE_INFINITY),
    count: 0,
    nanCount: 0,
    infCount: 0,
  };
}

/**
 * MinMax: the global min and max of every finite value seen (per tensor or per channel).
 * Merging is exact: min of mins, max of maxes, so shards merged equal one run over all data.
 */
export const minmax: Observer<MinMaxState, ObserverOptions> = {
  name: NAME,

  create(opts) {
    const axis = axisOption(NAME, opts);
    return make(axis, nonFiniteOption(NAME, opts), axis === null ? 1 : 0);
  },

  update(s, data, shape) {
    resolveLayout(NAME, s.axis, data, shape);
    const n = data.length;
    if (n === 0) return;
    checkChannels(NAME, s.channels, shape, n);
    if (s.nonFinite === "throw") assertFinite(NAME, data);
    const { channels } = layout;
    if (s.channels === 0) {
      s.channels = channels;
      s.min = new Float32Array(channels).fill(Number.POSITIVE_INFINITY);
      s.max = new Float32Array(channels).fill(Number.NEGATIVE_INFINITY);
    }
    const mins = s.min;
    const maxs = s.max;
    scanMinMax(data, mins, maxs);
    const nan = nonFinite.nan;
    const inf = nonFinite.inf;
    s.nanCount += nan;
    s.infCount += inf;
    s.count += n - nan - inf;
  },

  merge(a, b) {
    if (a.axis !== b.axis) throw new IncompatibleStates(NAME, `axis ${a.axis} vs ${b.axis}`);
    if (a.channels !== 0 && b.channels !== 0 && a.channels !== b.channels) {
      throw new IncompatibleStates(NAME, `${a.channels} vs ${b.channels} channels`);
    }
    const channels = a.channels || b.channels;
    const out = make(a.axis, a.nonFinite, channels);
    for (let c = 0; c < channels; c++) {
      out.min[c] = Math.min(a.channels ? a.min[c]! : Number.POSITIVE_INFINITY, b.channels ? b.min[c]! : Number.POSITIVE_INFINITY);
      out.max[c] = Math.max(a.channels ? a.max[c]! : Number.NEGATIVE_INFINITY, b.channels ? b.max[c]! : Number.NEGATIVE_INFINITY);
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
      const lo = s.min[c]!;
      const hi = s.max[c]!;
      if (lo <= hi) {
        min[c] = lo;
        max[c] = hi;
      }
    }
    return { min, max };
  },

  toJSON(s): JSONValue {
    return {
      observer: NAME,
      axis: s.axis,
      nonFinite: s.nonFinite,
      channels: s.channels,
      count: s.count,
      nanCount: s.nanCount,
      infCount: s.infCount,
      min: arrayToJSON(s.min),
      max: arrayToJSON(s.max),
    };
  },

  fromJSON(json) {
    const o = readObject(NAME, json);
    const axis = readAxis(NAME, o);
    const channels = readCount(NAME, o, "channels");
    if (axis === null && channels !== 1) throw new InvalidState(NAME, "a per-tensor state has 1 channel");
    const s = make(axis, readPolicy(NAME, o), channels);
    readArray(NAME, o, "min", s.min, Number.POSITIVE_INFINITY);
    readArray(NAME, o, "max", s.max, Number.NEGATIVE_INFINITY);
    s.count = readCount(NAME, o, "count");
    s.nanCount = readCount(NAME, o, "nanCount");
    s.infCount = readCount(NAME, o, "infCount");
    return s;
  },
};
