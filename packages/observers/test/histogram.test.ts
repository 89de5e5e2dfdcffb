import { describe, expect, it } from "vitest";
import {
  entropy,
  histogramOf,
  IncompatibleStates,
  InvalidState,
  mse,
  NonFiniteValues,
  percentile,
  type HistogramState,
  type Observer,
} from "../src/index.js";
import { batches, concat, gaussian, uniform, stateBytes } from "./helpers.js";

type HistObserver = Observer<HistogramState & { observer: string }, Record<string, unknown>>;
const OBS: [string, HistObserver, Record<string, unknown>][] = [
  ["percentile |x|", percentile as unknown as HistObserver, {}],
  ["percentile x", percentile as unknown as HistObserver, { symmetric: false }],
  ["entropy", entropy as unknown as HistObserver, {}],
  ["mse x", mse as unknown as HistObserver, {}],
  ["mse |x|", mse as unknown as HistObserver, { symmetric: true }],
];
const json = (o: HistObserver, s: HistogramState) => JSON.stringify(o.toJSON(s as never));
const range = (r: { min: Float32Array; max: Float32Array }) => ({ min: [...r.min], max: [...r.max] });

/** Data whose range grows by large factors over time (forces many rebinnings), with both signs. */
function growing(): Float32Array {
  return concat(
    uniform(3000, 0.001, 0.002, 1),
    new Float32Array(50),
    gaussian(20_000, 0.1, 2),
    uniform(5000, -3, 1, 3),
    gaussian(20_000, 40, 4),
    Float32Array.of(1e-30, -1e-38, 2e-45),
    uniform(100, 900, 1000, 5),
  );
}

describe("histograms (percentile, entropy, mse)", () => {
  for (const [label, o, opts] of OBS) {
    it(`${label}: shards merged are bit-for-bit one run, whatever the batching and order`, () => {
      const data = growing();
      const one = o.create(opts);
      for (const b of batches(data, [777])) o.update(one, b);
      const other = o.create(opts);
      for (const b of batches(data, [1, 5000, 31])) o.update(other, b);
      expect(json(o, other)).toBe(json(o, one));

      // shards: the small-range part and the wide part; merged both ways and through a 3-way split
      const cut1 = 10_000;
      const cut2 = 40_000;
      const part = (from: number, to: number) => {
        const s = o.create(opts);
        for (const b of batches(data.subarray(from, to), [4096])) o.update(s, b);
        return s;
      };
      const a = part(0, cut1);
      const b = part(cut1, cut2);
      const c = part(cut2, data.length);
      expect(json(o, o.merge(o.merge(a, b), c))).toBe(json(o, one));
      expect(json(o, o.merge(c, o.merge(b, a)))).toBe(json(o, one));
      expect(json(o, o.merge(o.create(opts), one))).toBe(json(o, one));
      expect(range(o.range(o.merge(a, o.merge(b, c))))).toEqual(range(o.range(one)));
    });

    it(`${label}: memory is flat (1 vs 1000 updates) and JSON round trips give identical ranges`, () => {
      const s1 = o.create(opts);
      const s1000 = o.create(opts);
      o.update(s1, gaussian(1000, 1, 1));
      for (let i = 0; i < 1000; i++) o.update(s1000, gaussian(1000, 1 + i, i));
      expect(stateBytes(s1000)).toBe(stateBytes(s1));
      expect(stateBytes(s1)).toBeLessThan(2048 * 8 + 200);
      const back = o.fromJSON(JSON.parse(json(o, s1000)));
      expect(back).toEqual(s1000);
      expect(range(o.range(back))).toEqual(range(o.range(s1000)));
      const empty = o.fromJSON(JSON.parse(json(o, o.create(opts))));
      expect(range(o.range(empty))).toEqual({ min: [0], max: [0] });
    });

    it(`${label}: all-zero data gives [0, 0]; NaN / Inf are counted, empty data changes nothing`, () => {
      const s = o.create(opts);
      o.update(s, new Float32Array(0));
      expect(s.count).toBe(0);
      o.update(s, new Float32Array(1000));
      expect(range(o.range(s))).toEqual({ min: [0], max: [0] });
      o.update(s, Float32Array.of(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0));
      expect([s.count, s.nanCount, s.infCount]).toEqual([1001, 1, 2]);
      expect(range(o.range(s))).toEqual({ min: [0], max: [0] });
      const t = o.create({ ...opts, nonFinite: "throw" });
      expect(() => o.update(t, Float32Array.of(1, Number.NaN))).toThrow(NonFiniteValues);
      expect(t.count).toBe(0);
    });

    it(`${label}: per channel (axis 1 of NCHW) equals one per-tensor observer per channel`, () => {
      const C = 3;
      const shape = [4, C, 5, 5];
      const data = new Float32Array(4 * C * 25);
      const g = gaussian(data.length, 1, 21);
      for (let i = 0; i < data.length; i++) data[i] = g[i]! * (1 + Math.floor(i / 25) % C) ** 3; // channel c scaled by (c+1)^3
      const pc = o.create({ ...opts, axis: 1 });
      o.update(pc, data, shape);
      const r = o.range(pc);
      for (let c = 0; c < C; c++) {
        const one = o.create(opts);
        for (let n = 0; n < 4; n++) o.update(one, data.subarray((n * C + c) * 25, (n * C + c + 1) * 25));
        const rc = o.range(one);
        expect([r.min[c], r.max[c]]).toEqual([rc.min[0], rc.max[0]]);
      }
    });
  }

  it("keeps values exactly in the right bins, including tiny, huge and negative values", () => {
    const s = percentile.create({ symmetric: false, bins: 16 });
    percentile.update(s, Float32Array.of(-3, -0.5, 0, 0, 1.25, 4.75));
    let h = histogramOf(s)!;
    // span [-3, 4.75] needs 16 bins of width 0.5 starting at -3
    expect([h.start, h.width, h.zeros]).toEqual([-3, 0.5, 2]);
    expect([...h.counts]).toEqual([1, 0, 0, 0, 0, 1, 2, 0, 1, 0, 0, 0, 0, 0, 0, 1]);
    percentile.update(s, Float32Array.of(11));
    h = histogramOf(s)!;
    expect([h.start, h.width]).toEqual([-3, 1]);
    expect([...h.counts]).toEqual([1, 0, 1, 2, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0]);
    const abs = entropy.create({ bins: 256 });
    entropy.update(abs, Float32Array.of(3e38, -3e38, 1e-45, 0));
    expect(histogramOf(abs)!.counts.reduce((a, b) => a + b, 0)).toBe(4);
    expect(range(entropy.range(abs))).toEqual({ min: [Math.fround(-3e38)], max: [Math.fround(3e38)] });
  });

  it("a constant tensor and denormals keep exact counts", () => {
    const s = percentile.create({ symmetric: false });
    percentile.update(s, new Float32Array(10).fill(5));
    expect(range(percentile.range(s))).toEqual({ min: [5], max: [5] });
    percentile.update(s, Float32Array.of(1.4e-45, -1.4e-45));
    expect(s.count).toBe(12);
    expect(histogramOf(s)!.counts.reduce((a, b) => a + b, 0)).toBe(12);
  });

  it("updates 10M floats in well under two seconds (two passes)", () => {
    const data = gaussian(10_000_000, 1, 12);
    for (const o of [entropy, mse] as const) {
      const s = o.create();
      o.update(s as never, data.subarray(0, 1000));
      const t0 = performance.now();
      o.update(s as never, data);
      expect(performance.now() - t0).toBeLessThan(2000);
      expect(s.count).toBe(10_001_000);
    }
  });

  it("fromJSON checks that the counts add up", () => {
    const s = entropy.create();
    entropy.update(s, gaussian(100, 1, 1));
    const j = JSON.parse(JSON.stringify(entropy.toJSON(s)));
    expect(() => entropy.fromJSON({ ...j, count: 99 })).toThrow(/add up to 100/);
  });

  it("refuses to merge different configurations and to read another observer's JSON", () => {
    expect(() => percentile.merge(percentile.create(), percentile.create({ percentile: 99 }))).toThrow(IncompatibleStates);
    expect(() => percentile.merge(percentile.create(), percentile.create({ bins: 1024 }))).toThrow(IncompatibleStates);
    expect(() => mse.merge(mse.create(), mse.create({ symmetric: true }))).toThrow(IncompatibleStates);
    const j = JSON.parse(JSON.stringify(entropy.toJSON(entropy.create())));
    expect(() => percentile.fromJSON(j)).toThrow(InvalidState);
    expect(() => entropy.fromJSON({ ...j, counts: [1, 2] })).toThrow(/'counts' must be an array of 2048/);
  });
});
