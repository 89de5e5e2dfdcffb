import { describe, expect, it } from "vitest";
import { channelHistogram } from "../src/histogram.js";
import { InvalidOption, mse } from "../src/index.js";
import { gridError } from "../src/mse.js";
import { concat, gaussian, uniform } from "./helpers.js";

/** Real mean squared error of a symmetric grid [-t, t] with `levels` levels over the samples. */
function symmetricError(data: Float32Array, t: number, levels: number): number {
  const qmax = (levels - 1) / 2;
  const step = (2 * t) / (levels - 1);
  let e = 0;
  for (let i = 0; i < data.length; i++) {
    const x = data[i]!;
    const q = Math.max(-qmax, Math.min(qmax, Math.round(x / step))) * step;
    e += (x - q) * (x - q);
  }
  return e / data.length;
}

/** Real mean squared error of the asymmetric grid over [min(L, 0), max(H, 0)] (zero point rounded, as qparams do). */
function asymmetricError(data: Float32Array, lo: number, hi: number, levels: number): number {
  const L = Math.min(lo, 0);
  const H = Math.max(hi, 0);
  const scale = (H - L) / (levels - 1);
  const zp = Math.round(-L / scale);
  let e = 0;
  for (let i = 0; i < data.length; i++) {
    const x = data[i]!;
    const q = Math.max(0, Math.min(levels - 1, Math.round(x / scale) + zp));
    const d = x - (q - zp) * scale;
    e += d * d;
  }
  return e / data.length;
}

function fit(data: Float32Array, opts: Parameters<typeof mse.create>[0]): [number, number] {
  const s = mse.create(opts);
  mse.update(s, data);
  const r = mse.range(s);
  return [r.min[0]!, r.max[0]!];
}

describe("mse", () => {
  it("symmetric 8-bit on a Gaussian: about 4 sigma, within 1% of the best error found by brute force", () => {
    const sigma = 1.5;
    const data = gaussian(1_000_000, sigma, 1);
    const [lo, t] = fit(data, { symmetric: true });
    expect(lo).toBe(-t);
    expect(t / sigma).toBeGreaterThan(3.5);
    expect(t / sigma).toBeLessThan(4.5);
    // the same data through the observer and through a brute-force search of the real error
    const sample = data.subarray(0, 100_000);
    const [, ts] = fit(sample, { symmetric: true });
    let best = Number.POSITIVE_INFINITY;
    for (let k = 0; k <= 150; k++) best = Math.min(best, symmetricError(sample, sigma * (3 + (2 * k) / 150), 255));
    expect(symmetricError(sample, ts, 255)).toBeLessThan(best * 1.01);
  });

  it("symmetric 4-bit (15 levels) clips harder: about 2.5 sigma", () => {
    const data = gaussian(1_000_000, 1, 2);
    const [, t] = fit(data, { symmetric: true, levels: 15 });
    expect(t).toBeGreaterThan(2.2);
    expect(t).toBeLessThan(2.8);
    const sample = data.subarray(0, 100_000);
    const [, ts] = fit(sample, { symmetric: true, levels: 15 });
    let best = Number.POSITIVE_INFINITY;
    for (let k = 0; k <= 150; k++) best = Math.min(best, symmetricError(sample, 1.5 + (2 * k) / 150, 15));
    expect(symmetricError(sample, ts, 15)).toBeLessThan(best * 1.02);
  });

  it("uniform data: the range stays near the max", () => {
    const [lo, hi] = fit(uniform(1_000_000, -1, 1, 3), {});
    expect(lo).toBeLessThan(-0.98);
    expect(hi).toBeGreaterThan(0.98);
    const [, t] = fit(uniform(1_000_000, -1, 1, 3), { symmetric: true });
    expect(t).toBeGreaterThan(0.98);
  });

  it("asymmetric on skewed data: clips the long tail, within 3% of a brute-force grid search", () => {
    // exponential tail to the right, a little mass to the left of 0
    const g = uniform(30_000, 0, 1, 4).map((u) => -Math.log(1 - u) - 0.3);
    const [lo, hi] = fit(g, { levels: 16 });
    const max = g.reduce((a, b) => Math.max(a, b));
    expect(hi).toBeLessThan(max * 0.75);
    expect(lo).toBeLessThan(0);
    const sample = g;
    let best = Number.POSITIVE_INFINITY;
    for (let i = 0; i <= 15; i++) {
      for (let j = 0; j <= 24; j++) best = Math.min(best, asymmetricError(sample, -0.3 * (i / 15), 3 + (4 * j) / 24, 16));
    }
    expect(asymmetricError(sample, lo, hi, 16)).toBeLessThan(best * 1.03);
  });

  it("post-ReLU data (half zeros): [0, H] with exact zeros costing nothing", () => {
    const relu = concat(new Float32Array(500_000), gaussian(500_000, 1, 5).map(Math.abs));
    const [lo, hi] = fit(relu, { levels: 16 });
    expect(lo).toBe(0);
    const [, hiNoZeros] = fit(relu.subarray(500_000), { levels: 16 });
    expect(hi).toBe(hiNoZeros);
  });

  it("a few far outliers are kept when clipping them costs more than the coarser grid", () => {
    const data = concat(gaussian(100_000, 1, 6), new Float32Array(1000).fill(20));
    const [, hi] = fit(data, {});
    expect(hi).toBeGreaterThanOrEqual(20 - (hi + 5) / 255);
  });

  it("the exact grid error of the histogram matches the real error of the samples", () => {
    const data = concat(gaussian(200_000, 1, 7), new Float32Array(1000));
    for (const [symmetric, lo, hi, levels] of [
      [false, -2.5, 3, 16],
      [false, -4.2, 4.9, 256],
      [true, -3, 3, 15],
    ] as const) {
      const s = mse.create({ symmetric });
      mse.update(s, data);
      const step = (hi - lo) / (levels - 1);
      const g0 = symmetric ? lo : -Math.round(-lo / step) * step;
      const model = gridError(channelHistogram(s, 0)!, g0, step, levels) / data.length;
      const real = symmetric ? symmetricError(data, hi, levels) : asymmetricError(data, lo, hi, levels);
      expect(Math.abs(model / real - 1)).toBeLessThan(0.02);
    }
  });

  it("data packed into a few grid steps (constant, or narrow and far from 0) keeps its observed range", () => {
    const far = gaussian(10_000, 0.01, 8).map((x) => x + 1000);
    const lo = far.reduce((a, b) => Math.min(a, b));
    const hi = far.reduce((a, b) => Math.max(a, b));
    expect(fit(far, {})).toEqual([lo, hi]);
    expect(fit(far, { symmetric: true })).toEqual([lo, hi]);
    expect(fit(new Float32Array(100).fill(-5), {})).toEqual([-5, -5]);
    expect(fit(new Float32Array(100).fill(5), { symmetric: true })).toEqual([5, 5]);
  });

  it("checks its options", () => {
    expect(() => mse.create({ levels: 1 })).toThrow(InvalidOption);
    expect(mse.create({ symmetric: true }).levels).toBe(255);
    expect(mse.create().levels).toBe(256);
  });
});
