// Helpers shared by the built-in observers: data layout, non-finite checks, options, JSON (de)coding.
import { InvalidOption, InvalidState, NonFiniteValues, ShapeMismatch } from "./errors.js";
import type { JSONValue, NonFinitePolicy, ObserverOptions } from "./types.js";

/**
 * The layout of the batch being observed: `outer` blocks of `channels` runs of `inner` contiguous values
 * (per tensor: 1 x 1 x length). Filled by `resolveLayout`; one reused object, so `update` allocates nothing.
 */
export const layout = { outer: 1, channels: 1, inner: 0 };

export function resolveLayout(
  observer: string,
  axis: number | null,
  data: Float32Array,
  shape: readonly number[] | undefined,
): void {
  const n = data.length;
  if (shape !== undefined) {
    let product = 1;
    for (let i = 0; i < shape.length; i++) {
      const d = shape[i]!;
      if (!Number.isInteger(d) || d < 0) throw new ShapeMismatch(observer, `dimension ${i} is ${d}`, shape, n);
      product *= d;
    }
    if (product !== n) throw new ShapeMismatch(observer, "the shape's product differs from the data length", shape, n);
  }
  if (axis === null) {
    layout.outer = 1;
    layout.channels = 1;
    layout.inner = n;
    return;
  }
  if (shape === undefined) throw new ShapeMismatch(observer, `per-channel (axis ${axis}) needs the data's shape`, shape, n);
  const rank = shape.length;
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new ShapeMismatch(observer, `axis ${axis} is out of range for rank ${rank}`, shape, n);
  let outer = 1;
  for (let i = 0; i < a; i++) outer *= shape[i]!;
  let inner = 1;
  for (let i = a + 1; i < rank; i++) inner *= shape[i]!;
  layout.outer = outer;
  layout.channels = shape[a]!;
  layout.inner = inner;
}

/** Checks the channel count against the state's; 0 in the state means "not known yet". */
export function checkChannels(observer: string, known: number, shape: readonly number[] | undefined, n: number): void {
  if (known !== 0 && known !== layout.channels) {
    throw new ShapeMismatch(observer, `${layout.channels} channels, the state has ${known}`, shape, n);
  }
}

/** For `nonFinite: "throw"`: throws `NonFiniteValues` if the batch holds NaN or ±Infinity (before any change). */
export function assertFinite(observer: string, data: Float32Array): void {
  const n = data.length;
  for (let i = 0; i < n; i++) {
    const x = data[i]!;
    if (x - x !== 0) {
      let nan = 0;
      let inf = 0;
      for (let j = i; j < n; j++) {
        const y = data[j]!;
        if (Number.isNaN(y)) nan++;
        else if (y - y !== 0) inf++;
      }
      throw new NonFiniteValues(observer, nan, inf, i);
    }
  }
}

export function axisOption(observer: string, opts: ObserverOptions | undefined): number | null {
  const axis = opts?.axis;
  if (axis === undefined) return null;
  if (!Number.isInteger(axis)) throw new InvalidOption(observer, "axis", `must be an integer, got ${axis}`);
  return axis;
}

export function nonFiniteOption(observer: string, opts: ObserverOptions | undefined): NonFinitePolicy {
  const p = opts?.nonFinite ?? "ignore";
  if (p !== "ignore" && p !== "throw") throw new InvalidOption(observer, "nonFinite", `must be "ignore" or "throw", got ${String(p)}`);
  return p;
}

// ---------------------------------------------------------------------------------------------
// JSON: typed arrays become number arrays; non-finite entries become null (and come back as `nullAs`).

export function arrayToJSON(a: ArrayLike<number>): JSONValue[] {
  const out: JSONValue[] = new Array(a.length);
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    out[i] = Number.isFinite(x) ? x : null;
  }
  return out;
}

export type JSONObject = { [key: string]: JSONValue };

export function readObject(observer: string, json: JSONValue): JSONObject {
  if (json === null || typeof json !== "object" || Array.isArray(json)) throw new InvalidState(observer, "not an object");
  if (json["observer"] !== observer) {
    throw new InvalidState(observer, `written by observer '${String(json["observer"])}', not '${observer}'`);
  }
  return json;
}

export function readNumber(observer: string, o: JSONObject, key: string, check?: (x: number) => boolean): number {
  const v = o[key];
  if (typeof v !== "number" || !Number.isFinite(v) || (check !== undefined && !check(v))) {
    throw new InvalidState(observer, `'${key}' is ${JSON.stringify(v)}`);
  }
  return v;
}

export function readCount(observer: string, o: JSONObject, key: string): number {
  return readNumber(observer, o, key, (x) => Number.isInteger(x) && x >= 0);
}

export function readAxis(observer: string, o: JSONObject): number | null {
  const v = o["axis"];
  if (v === null) return null;
  if (typeof v !== "number" || !Number.isInteger(v)) throw new InvalidState(observer, `'axis' is ${JSON.stringify(v)}`);
  return v;
}

export function readPolicy(observer: string, o: JSONObject): NonFinitePolicy {
  const v = o["nonFinite"];
  if (v !== "ignore" && v !== "throw") throw new InvalidState(observer, `'nonFinite' is ${JSON.stringify(v)}`);
  return v;
}

/** Fills `into` from the JSON array at `key`; a null entry becomes `nullAs`. */
export function readArray(observer: string, o: JSONObject, key: string, into: Float32Array | Float64Array, nullAs: number): void {
  const v = o[key];
  if (!Array.isArray(v) || v.length !== into.length) {
    throw new InvalidState(observer, `'${key}' must be an array of ${into.length} numbers`);
  }
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    if (x === null) into[i] = nullAs;
    else if (typeof x === "number" && Number.isFinite(x)) into[i] = x;
    else throw new InvalidState(observer, `'${key}[${i}]' is ${JSON.stringify(x)}`);
  }
}

/** min and max of the per-channel ranges, channels that saw nothing as [0, 0]. */
export function emptyRange(channels: number): { min: Float32Array; max: Float32Array } {
  return { min: new Float32Array(channels), max: new Float32Array(channels) };
}

/** Non-finite values seen by the last `scanMinMax` call (reused object: no allocation per update). */
export const nonFinite = { nan: 0, inf: 0 };

/**
 * Widens `mins`/`maxs` (one entry per channel) by the finite values of `data`, laid out as the current
 * `layout` says; NaN and ±Infinity are skipped and counted in `nonFinite`.
 */
export function scanMinMax(data: Float32Array, mins: Float32Array | Float64Array, maxs: Float32Array | Float64Array): void {
  const { outer, channels, inner } = layout;
  let nan = 0;
  let inf = 0;
  let i = 0;
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      let lo = mins[c]!;
      let hi = maxs[c]!;
      const end = i + inner;
      for (; i < end; i++) {
        const x = data[i]!;
        if (x - x !== 0) {
          if (Number.isNaN(x)) nan++;
          else inf++;
          continue;
        }
        if (x < lo) lo = x;
        if (x > hi) hi = x;
      }
      mins[c] = lo;
      maxs[c] = hi;
    }
  }
  nonFinite.nan = nan;
  nonFinite.inf = inf;
}
