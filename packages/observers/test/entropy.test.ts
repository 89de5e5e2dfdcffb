import { describe, expect, it } from "vitest";
import { entropyThreshold } from "../src/entropy.js";
import { channelHistogram } from "../src/histogram.js";
import { entropy, InvalidOption } from "../src/index.js";
import { concat, gaussian, uniform } from "./helpers.js";

/**
 * TensorRT's recipe written out directly (O(i) per candidate), on the bins with exact zeros removed:
 * the reference the prefix-sum implementation must agree with.
 */
function referenceThreshold(binsIn: Float64Array, zeros: number, width: number, amax: number, levels: number): number {
  const bins = Float64Array.from(binsIn);
  bins[0] = bins[0]! - zeros;
  let n = bins.length;
  while (n > 0 && bins[n - 1] === 0) n--;
  const total = bins.reduce((a, b) => a + b, 0);
  let first = 0;
  while (bins[first] === 0) first++;
  if (n <= levels || first + levels > n) return amax;
  let best = Number.POSITIVE_INFINITY;
  let bestI = n;
  for (let i = first + levels; i <= n; i++) {
    const p = Array.from(bins.subarray(0, i));
    const outliers = total - p.reduce((a, b) => a + b, 0);
    p[i - 1] = p[i - 1]! + outliers;
    const group = (j: number) => Math.floor((j * levels) / i);
    const mass = new Array<number>(levels).fill(0);
    const positions = new Array<number>(levels).fill(0);
    for (let j = 0; j < i; j++) {
      mass[group(j)] = mass[group(j)]! + bins[j]!;
      if (p[j]! > 0) positions[group(j)] = positions[group(j)]! + 1;
    }
    const q = p.map((pj, j) => (pj > 0 ? mass[group(j)]! / positions[group(j)]! : 0));
    const ps = p.reduce((a, b) => a + b, 0);
    const qs = q.reduce((a, b) => a + b, 0);
    if (qs === 0) continue;
    let kl = 0;
    for (let j = 0; j < i; j++) {
      if (p[j]! === 0) continue;
      if (q[j]! === 0) {
        kl = Number.POSITIVE_INFINITY;
        break;
      }
      kl += (p[j]! / ps) * Math.log(p[j]! / ps / (q[j]! / qs));
    }
    if (kl <= best + 1e-12 * Math.abs(best)) {
      if (kl < best - 1e-12 * Math.abs(best) || i > bestI) bestI = i;
      best = Math.min(best, kl);
    }
  }
  return Math.min(bestI * width, amax);
}

function threshold(data: Float32Array, opts: { levels?: number; bins?: number } = {}): number {
  const s = entropy.create(opts);
  entropy.update(s, data);
  return entropy.range(s).max[0]!;
}

describe("entropy (KL, TensorRT style)", () => {
  it("Gaussian with outliers: threshold well below the max, between 3 and 5 sigma", () => {
    const sigma = 0.7;
    const outliers = new Float32Array(100).map((_, i) => (i % 2 ? 1 : -1) * 30 * sigma);
    const s = entropy.create();
    entropy.update(s, concat(gaussian(1_000_000, sigma, 1), outliers));
    const r = entropy.range(s);
    const t = r.max[0]!;
    expect(t / sigma).toBeGreaterThan(3);
    expect(t / sigma).toBeLessThan(5);
    expect(t).toBeLessThan((30 * sigma) / 4);
    expect(r.min[0]).toBe(-t);
  });

  it("uniform data: threshold near the max", () => {
    const t = threshold(uniform(1_000_000, -1, 1, 2));
    expect(t).toBeGreaterThan(0.95);
    expect(t).toBeLessThanOrEqual(1);
  });

  it("matches the recipe written out directly, for several distributions", () => {
    const cases: [Float32Array, number, number][] = [
      [concat(gaussian(50_000, 1, 3), Float32Array.of(12, -15)), 32, 512],
      [uniform(20_000, -2, 2, 4), 32, 256],
      [concat(new Float32Array(5000), gaussian(20_000, 1, 5).map(Math.abs)), 16, 256],
      [gaussian(30_000, 1, 6).map((x) => Math.exp(x)), 64, 512],
    ];
    for (const [data, levels, bins] of cases) {
      const s = entropy.create({ levels, bins });
      entropy.update(s, data);
      const h = channelHistogram(s, 0)!;
      const fast = entropyThreshold(h, levels);
      const ref = referenceThreshold(h.counts, h.zeros, h.width, h.amax, levels);
      expect(fast).toBe(ref);
    }
  });

  it("exact zeros (a ReLU spike) do not move the threshold", () => {
    const g = gaussian(200_000, 1, 7).map(Math.abs);
    expect(threshold(concat(new Float32Array(300_000), g))).toBe(threshold(g));
  });

  it("one-signed data gives [0, t]; coarse data (few used bins) keeps its max", () => {
    const relu = gaussian(100_000, 1, 8).map((x) => Math.max(0, x));
    const s = entropy.create();
    entropy.update(s, relu);
    const r = entropy.range(s);
    expect(r.min[0]).toBe(0);
    expect(r.max[0]).toBeGreaterThan(2.5);
    const few = Float32Array.of(0.5, 1, 1.5, 2, -2);
    const c = entropy.create({ levels: 128, bins: 256 });
    entropy.update(c, few);
    expect([...entropy.range(c).min, ...entropy.range(c).max]).toEqual([-2, 2]);
  });

  it("data far from 0 (an offset or one-signed distribution) is not clipped to just above min |x|", () => {
    // Regression: candidates started at `levels` bins from 0 whatever the data, so the first bin holding
    // data gave a kept part of one bin, KL 0, and a range of width ~one bin (hard-sigmoid gates
    // [0.14, 0.30] came out as [0.1448, 0.1450]).
    const u = uniform(100_000, 0.5, 1, 9);
    const s = entropy.create();
    entropy.update(s, u);
    const r = entropy.range(s);
    expect(r.min[0]!).toBeGreaterThanOrEqual(0.5);
    expect(r.min[0]!).toBeLessThan(0.5001);
    expect(r.max[0]!).toBeGreaterThan(0.95);
    const neg = entropy.create();
    entropy.update(neg, u.map((x) => -x));
    const rn = entropy.range(neg);
    expect(rn.min[0]!).toBeLessThan(-0.95);
    // A narrow band far out: fewer than `levels` bins of its own span, the full range is kept.
    const band = gaussian(50_000, 0.001, 10).map((x) => 5 + x);
    const b = entropy.create();
    entropy.update(b, band);
    expect([entropy.range(b).min[0], entropy.range(b).max[0]]).toEqual([Math.min(...band), Math.max(...band)]);
  });

  it("checks its options", () => {
    expect(() => entropy.create({ levels: 128, bins: 200 })).toThrow(InvalidOption);
    expect(() => entropy.create({ levels: 1 })).toThrow(/levels/);
  });
});
