import { describe, expect, it } from "vitest";
import { ShapeError, absMax, absMaxAlongAxis, broadcastShapes, computeQParams, computeQParamsPerChannel, minMax, minMaxAlongAxis } from "../src/index.js";

describe("scans", () => {
  it("minMax skips and counts NaN; ±Inf count as values; empty gives (+Inf, -Inf)", () => {
    expect(minMax(Float32Array.of(3, Number.NaN, -2, 7, Number.NaN))).toEqual({ min: -2, max: 7, nanCount: 2 });
    expect(minMax(Float32Array.of(Number.NaN, 1))).toEqual({ min: 1, max: 1, nanCount: 1 });
    expect(minMax(Float32Array.of(Number.NEGATIVE_INFINITY, 0))).toEqual({ min: Number.NEGATIVE_INFINITY, max: 0, nanCount: 0 });
    expect(minMax(new Float32Array(0))).toEqual({ min: Number.POSITIVE_INFINITY, max: Number.NEGATIVE_INFINITY, nanCount: 0 });
    expect(minMax(Float32Array.of(9, 1, 2, 9), 1, 2)).toEqual({ min: 1, max: 2, nanCount: 0 });
    expect(absMax(Float32Array.of(-3, Number.NaN, 2))).toBe(3);
    expect(absMax(Float32Array.of(Number.NaN))).toBe(0);
  });

  it("per channel and per block, in the quantization-parameter layout", () => {
    // [2, 3, 4]: axis 1 channels; blocks of 2 along axis 1 (2 blocks) for each index of axes 0 and 2
    const x = Float32Array.from({ length: 24 }, (_, i) => (i % 5) - 2 + (i === 13 ? Number.NaN : 0));
    const c = minMaxAlongAxis(x, [2, 3, 4], 1);
    const ref = (pred: (i: number) => boolean) => {
      const v = Array.from(x).filter((_, i) => pred(i) && !Number.isNaN(x[i]!));
      return [Math.min(...v), Math.max(...v)];
    };
    for (let ch = 0; ch < 3; ch++) expect([c.min[ch], c.max[ch]]).toEqual(ref((i) => Math.floor(i / 4) % 3 === ch));
    expect(c.nanCount).toBe(1);
    expect(c.shape).toEqual([3]);
    const b = minMaxAlongAxis(x, [2, 3, 4], 1, 2);
    expect(b.shape).toEqual([2, 2, 4]);
    for (let o = 0; o < 2; o++) {
      for (let blk = 0; blk < 2; blk++) {
        for (let k = 0; k < 4; k++) {
          const idx = (o * 2 + blk) * 4 + k;
          expect([b.min[idx], b.max[idx]]).toEqual(ref((i) => Math.floor(i / 12) === o && Math.floor((Math.floor(i / 4) % 3) / 2) === blk && i % 4 === k));
        }
      }
    }
    const a = absMaxAlongAxis(x, [2, 3, 4], -2);
    for (let ch = 0; ch < 3; ch++) expect(a[ch]).toBe(Math.max(Math.abs(c.min[ch]!), Math.abs(c.max[ch]!)));
    const ab = absMaxAlongAxis(x, [2, 3, 4], 1, 2);
    for (let i = 0; i < ab.length; i++) expect(ab[i]).toBe(Math.max(Math.abs(b.min[i]!), Math.abs(b.max[i]!)));
  });

  it("feeds computeQParamsPerChannel; empty groups count as [0, 0]", () => {
    const r = minMaxAlongAxis(new Float32Array(0), [0, 3], 1);
    expect(Array.from(r.min)).toEqual([Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY]);
    const p = computeQParamsPerChannel(r.min, r.max, { dtype: "uint8", symmetric: false });
    expect(Array.from(p.scale)).toEqual([1, 1, 1]);
    expect(computeQParams(Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, { dtype: "int8", symmetric: true })).toEqual({ scale: 1, zeroPoint: 0 });
  });

  it("errors and broadcasting", () => {
    expect(() => minMaxAlongAxis(new Float32Array(6), [2, 3], 2)).toThrow(ShapeError);
    expect(() => minMaxAlongAxis(new Float32Array(5), [2, 3], 0)).toThrow(ShapeError);
    expect(broadcastShapes([2, 1, 3], [4, 1], [3])).toEqual([2, 4, 3]);
    expect(broadcastShapes([], [5])).toEqual([5]);
    expect(broadcastShapes([0, 1], [1, 3])).toEqual([0, 3]);
    expect(() => broadcastShapes([2, 3], [4, 3])).toThrow(ShapeError);
  });
});
