import { describe, expect, it } from "vitest";
import { minmax, NonFiniteValues, ShapeMismatch, IncompatibleStates, InvalidState, InvalidOption } from "../src/index.js";
import { batches, gaussian, stateBytes } from "./helpers.js";

const f32 = (...v: number[]) => new Float32Array(v);
const range = (r: { min: Float32Array; max: Float32Array }) => ({ min: [...r.min], max: [...r.max] });

// NCHW [2, 3, 1, 2]: n0: c0 [1, 2], c1 [-3, 4], c2 [0, 0]; n1: c0 [5, -1], c1 [2, 2], c2 [7, -8]
const NCHW = f32(1, 2, -3, 4, 0, 0, 5, -1, 2, 2, 7, -8);
const SHAPE = [2, 3, 1, 2];

describe("minmax", () => {
  it("hand-computed per-tensor range, over several batches", () => {
    const s = minmax.create();
    minmax.update(s, f32(3, -1, 2));
    expect(range(minmax.range(s))).toEqual({ min: [-1], max: [3] });
    minmax.update(s, f32(0.5, 7.25));
    minmax.update(s, f32(-2.5));
    expect(range(minmax.range(s))).toEqual({ min: [-2.5], max: [7.25] });
    expect(s.count).toBe(6);
  });

  it("per channel on NCHW along axis 1, axis 0 and axis -1", () => {
    const c1 = minmax.create({ axis: 1 });
    minmax.update(c1, NCHW, SHAPE);
    expect(range(minmax.range(c1))).toEqual({ min: [-1, -3, -8], max: [5, 4, 7] });
    const c0 = minmax.create({ axis: 0 });
    minmax.update(c0, NCHW, SHAPE);
    expect(range(minmax.range(c0))).toEqual({ min: [-3, -8], max: [4, 7] });
    const last = minmax.create({ axis: -1 });
    minmax.update(last, NCHW, SHAPE);
    expect(range(minmax.range(last))).toEqual({ min: [-3, -8], max: [7, 4] });
  });

  it("skips NaN and ±Infinity and counts them", () => {
    const s = minmax.create();
    minmax.update(s, f32(Number.NaN, 1, Number.POSITIVE_INFINITY, -2, Number.NEGATIVE_INFINITY, Number.NaN));
    expect(range(minmax.range(s))).toEqual({ min: [-2], max: [1] });
    expect([s.count, s.nanCount, s.infCount]).toEqual([2, 2, 2]);
  });

  it('with nonFinite: "throw" names the counts and first index and leaves the state alone', () => {
    const s = minmax.create({ nonFinite: "throw" });
    minmax.update(s, f32(1, 2));
    const before = JSON.stringify(minmax.toJSON(s));
    let err: unknown;
    try {
      minmax.update(s, f32(-5, 0, Number.NaN, Number.POSITIVE_INFINITY, Number.NaN));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NonFiniteValues);
    expect(err).toMatchObject({ _tag: "NonFiniteValues", nanCount: 2, infCount: 1, firstIndex: 2, observer: "minmax" });
    expect(JSON.stringify(minmax.toJSON(s))).toBe(before);
  });

  it("empty data changes nothing; never-observed and all-NaN channels report [0, 0]", () => {
    const s = minmax.create();
    minmax.update(s, f32());
    expect(s.count).toBe(0);
    expect(range(minmax.range(s))).toEqual({ min: [0], max: [0] });
    const pc = minmax.create({ axis: 1 });
    minmax.update(pc, f32(), [0, 3]);
    expect(pc.channels).toBe(0);
    minmax.update(pc, f32(1, Number.NaN, 3), [1, 3]);
    expect(range(minmax.range(pc))).toEqual({ min: [1, 0, 3], max: [1, 0, 3] });
  });

  it("all-zero data gives [0, 0]", () => {
    const s = minmax.create();
    minmax.update(s, new Float32Array(100));
    expect(range(minmax.range(s))).toEqual({ min: [0], max: [0] });
  });

  it("typed errors for shapes, axes, channel counts and options", () => {
    expect(() => minmax.update(minmax.create(), f32(1, 2, 3), [2, 2])).toThrow(ShapeMismatch);
    expect(() => minmax.update(minmax.create({ axis: 1 }), f32(1, 2))).toThrow(/needs the data's shape/);
    expect(() => minmax.update(minmax.create({ axis: 2 }), f32(1, 2), [1, 2])).toThrow(/out of range/);
    const s = minmax.create({ axis: 0 });
    minmax.update(s, f32(1, 2), [2, 1]);
    expect(() => minmax.update(s, f32(1, 2, 3), [3, 1])).toThrow(/3 channels, the state has 2/);
    expect(() => minmax.create({ axis: 0.5 })).toThrow(InvalidOption);
    expect(() => minmax.merge(minmax.create(), minmax.create({ axis: 0 }))).toThrow(IncompatibleStates);
  });

  it("two shards merged give exactly the range of one run (per tensor and per channel)", () => {
    const data = gaussian(100_003, 2, 7);
    const one = minmax.create();
    for (const b of batches(data, [1000, 17, 4096])) minmax.update(one, b);
    const a = minmax.create();
    const b = minmax.create();
    minmax.update(a, data.subarray(0, 40_000));
    minmax.update(b, data.subarray(40_000));
    const m = minmax.merge(a, b);
    expect(range(minmax.range(m))).toEqual(range(minmax.range(one)));
    expect(range(minmax.range(minmax.merge(b, a)))).toEqual(range(minmax.range(one)));
    expect(m.count).toBe(data.length);
    // merging with a fresh state is the identity
    expect(range(minmax.range(minmax.merge(minmax.create(), one)))).toEqual(range(minmax.range(one)));

    const pa = minmax.create({ axis: 1 });
    const pb = minmax.create({ axis: 1 });
    const pall = minmax.create({ axis: 1 });
    minmax.update(pa, NCHW.subarray(0, 6), [1, 3, 1, 2]);
    minmax.update(pb, NCHW.subarray(6), [1, 3, 1, 2]);
    minmax.update(pall, NCHW, SHAPE);
    expect(range(minmax.range(minmax.merge(pa, pb)))).toEqual(range(minmax.range(pall)));
  });

  it("serialises through JSON text with identical ranges and counts", () => {
    for (const s of [minmax.create(), minmax.create({ axis: 1, nonFinite: "throw" })]) {
      const empty = minmax.fromJSON(JSON.parse(JSON.stringify(minmax.toJSON(s))));
      expect(range(minmax.range(empty))).toEqual(range(minmax.range(s)));
      if (s.axis === null) minmax.update(s, f32(1, Number.NaN, -3.3));
      else minmax.update(s, NCHW, SHAPE);
      const back = minmax.fromJSON(JSON.parse(JSON.stringify(minmax.toJSON(s))));
      expect(range(minmax.range(back))).toEqual(range(minmax.range(s)));
      expect(back).toEqual(s);
    }
    expect(() => minmax.fromJSON({ observer: "entropy" })).toThrow(InvalidState);
    expect(() => minmax.fromJSON([1, 2])).toThrow(InvalidState);
  });

  it("keeps a constant state size: 1 update vs 1000", () => {
    const one = minmax.create();
    const many = minmax.create();
    const data = gaussian(1000, 1, 3);
    minmax.update(one, data);
    for (let i = 0; i < 1000; i++) minmax.update(many, data);
    expect(stateBytes(many)).toBe(stateBytes(one));
  });

  it("updates 10M floats well under a second", () => {
    const data = gaussian(10_000_000, 1, 11);
    const s = minmax.create();
    minmax.update(s, data.subarray(0, 1000)); // warm up
    const t0 = performance.now();
    minmax.update(s, data);
    const ms = performance.now() - t0;
    expect(ms).toBeLessThan(500);
    expect(s.count).toBe(10_001_000);
  });
});
