import { describe, expect, it } from "vitest";
import { InvalidOption, percentile } from "../src/index.js";
import { concat, gaussian, uniform } from "./helpers.js";

const range = (r: { min: Float32Array; max: Float32Array }) => ({ min: [...r.min], max: [...r.max] });

describe("percentile", () => {
  it("uniform 0..1, 1e6 samples: the 99th and 50th percentiles within a bin width", () => {
    const data = uniform(1_000_000, 0, 1, 1);
    for (const [p, expected] of [
      [99, 0.99],
      [50, 0.5],
    ] as const) {
      const s = percentile.create({ percentile: p });
      percentile.update(s, data);
      const r = percentile.range(s);
      expect(Math.abs(r.max[0]! - expected)).toBeLessThan(1 / 2048);
      expect(r.min[0]).toBeCloseTo(Math.fround(data.reduce((a, b) => Math.min(a, b))), 7); // observed min (> -t)
    }
  });

  it("asymmetric: cuts (100 - p) / 2 percent on each side of a histogram of x", () => {
    const s = percentile.create({ percentile: 98, symmetric: false });
    percentile.update(s, uniform(1_000_000, -1, 1, 2));
    const r = percentile.range(s);
    expect(Math.abs(r.min[0]! + 0.98)).toBeLessThan(2 / 2048);
    expect(Math.abs(r.max[0]! - 0.98)).toBeLessThan(2 / 2048);
  });

  it("default 99.999 on a Gaussian lands near the two-sided 1e-5 quantile (4.42 sigma)", () => {
    const s = percentile.create();
    percentile.update(s, gaussian(1_000_000, 2, 3));
    const r = percentile.range(s);
    expect(r.max[0]! / 2).toBeGreaterThan(4.1);
    expect(r.max[0]! / 2).toBeLessThan(4.8);
    expect(r.min[0]).toBe(-r.max[0]!);
  });

  it("100 gives the observed range; exact zeros sit at 0", () => {
    const data = gaussian(10_000, 1, 4);
    const s = percentile.create({ percentile: 100 });
    percentile.update(s, data);
    const lo = data.reduce((a, b) => Math.min(a, b));
    const hi = data.reduce((a, b) => Math.max(a, b));
    expect(range(percentile.range(s))).toEqual({ min: [lo], max: [hi] });

    const relu = concat(new Float32Array(70_000), uniform(30_000, 0, 1, 5));
    const half = percentile.create({ percentile: 50 });
    percentile.update(half, relu);
    expect(range(percentile.range(half))).toEqual({ min: [0], max: [0] });
    const p85 = percentile.create({ percentile: 85 });
    percentile.update(p85, relu);
    const r = percentile.range(p85);
    expect(r.min[0]).toBe(0);
    expect(Math.abs(r.max[0]! - 0.5)).toBeLessThan(0.01);
  });

  it("one-signed data keeps its observed end: [min, t] for positive data, [-t, max] for negative", () => {
    const pos = uniform(10_000, 5, 6, 6);
    const s = percentile.create({ percentile: 50 });
    percentile.update(s, pos);
    const r = percentile.range(s);
    expect(r.min[0]).toBe(pos.reduce((a, b) => Math.min(a, b)));
    expect(Math.abs(r.max[0]! - 5.5)).toBeLessThan(0.02);
    const n = percentile.create({ percentile: 50 });
    percentile.update(n, pos.map((x) => -x));
    expect(range(percentile.range(n))).toEqual({ min: [-r.max[0]!], max: [-r.min[0]!] });
    const tiny = percentile.create({ percentile: 1e-9 });
    percentile.update(tiny, pos);
    expect(range(percentile.range(tiny))).toEqual({ min: [r.min[0]], max: [r.min[0]] });
  });

  it("checks its options", () => {
    expect(() => percentile.create({ percentile: 0 })).toThrow(InvalidOption);
    expect(() => percentile.create({ percentile: 100.5 })).toThrow(InvalidOption);
    expect(() => percentile.create({ bins: 4 })).toThrow(/bins/);
  });
});
