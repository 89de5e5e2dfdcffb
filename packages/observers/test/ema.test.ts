import { describe, expect, it } from "vitest";
import { ema, IncompatibleStates, InvalidOption, type MovingAverageState } from "../src/index.js";
import { gaussian, rng, stateBytes } from "./helpers.js";

const f32 = (...v: number[]) => new Float32Array(v);
const range = (r: { min: Float32Array; max: Float32Array }) => ({ min: [...r.min], max: [...r.max] });
const NCHW = f32(1, 2, -3, 4, 0, 0, 5, -1, 2, 2, 7, -8);
const SHAPE = [2, 3, 1, 2];

/** Random batches with drifting ranges. */
function makeBatches(count: number, seed: number): Float32Array[] {
  const r = rng(seed);
  const out: Float32Array[] = [];
  for (let b = 0; b < count; b++) out.push(gaussian(50 + Math.floor(r() * 200), 0.5 + 3 * r(), seed * 1000 + b));
  return out;
}

describe("ema (moving-average minmax)", () => {
  it("hand-computed with c = 0.5: the first batch initialises, then running += c * (batch - running)", () => {
    const s = ema.create({ constant: 0.5 });
    ema.update(s, f32(4, 6));
    expect(range(ema.range(s))).toEqual({ min: [4], max: [6] });
    ema.update(s, f32(0, 10));
    expect(range(ema.range(s))).toEqual({ min: [2], max: [8] });
    ema.update(s, f32(2, 3, 2.5));
    expect(range(ema.range(s))).toEqual({ min: [2], max: [5.5] });
    expect(s.batches[0]).toBe(3);
  });

  it("hand-computed with the default c = 0.01 (onnxruntime's averaging_constant)", () => {
    const s = ema.create();
    ema.update(s, f32(1, 2, 3));
    ema.update(s, f32(0, 5)); // 1 + 0.01 * (0 - 1) = 0.99, 3 + 0.01 * (5 - 3) = 3.02
    ema.update(s, f32(-1, 4)); // 0.99 + 0.01 * (-1 - 0.99) = 0.9701, 3.02 + 0.01 * (4 - 3.02) = 3.0298
    expect(s.min[0]).toBeCloseTo(0.9701, 14);
    expect(s.max[0]).toBeCloseTo(3.0298, 14);
    const r = ema.range(s);
    expect(r.min[0]).toBe(Math.fround(s.min[0]!));
    expect(r.max[0]).toBe(Math.fround(s.max[0]!));
  });

  it('average: "mean" is the plain mean of per-batch mins and maxes (onnxruntime with one flush)', () => {
    const s = ema.create({ average: "mean" });
    ema.update(s, f32(1, 2, 3));
    ema.update(s, f32(0, 5));
    ema.update(s, f32(-1, 4));
    expect(range(ema.range(s))).toEqual({ min: [0], max: [4] });
  });

  it("per channel along axis 1, and channels without finite values skip the batch", () => {
    const s = ema.create({ axis: 1, constant: 0.5 });
    ema.update(s, NCHW, SHAPE); // c0 [-1, 5], c1 [-3, 4], c2 [-8, 7]
    ema.update(s, NCHW.map((x) => 2 * x), SHAPE); // c0 [-2, 10], c1 [-6, 8], c2 [-16, 14]
    expect(range(ema.range(s))).toEqual({ min: [-1.5, -4.5, -12], max: [7.5, 6, 10.5] });
    // channel 1 all NaN: not a batch for it
    ema.update(s, f32(0, 0, Number.NaN, Number.NaN, 0, 0), [1, 3, 1, 2]);
    expect(range(ema.range(s))).toEqual({ min: [-0.75, -4.5, -6], max: [3.75, 6, 5.25] });
    expect([...s.batches]).toEqual([3, 2, 3]);
    expect(s.nanCount).toBe(2);
  });

  it("merge(a, b) equals running a's batches then b's, and is associative", () => {
    const bs = makeBatches(60, 5);
    const one = ema.create({ constant: 0.1 });
    for (const b of bs) ema.update(one, b);
    const part = (from: number, to: number) => {
      const s = ema.create({ constant: 0.1 });
      for (const b of bs.slice(from, to)) ema.update(s, b);
      return s;
    };
    const close = (s: MovingAverageState) => {
      expect(s.min[0]).toBeCloseTo(one.min[0]!, 12);
      expect(s.max[0]).toBeCloseTo(one.max[0]!, 12);
      expect(s.batches[0]).toBe(60);
    };
    close(ema.merge(part(0, 25), part(25, 60)));
    close(ema.merge(part(0, 1), part(1, 60)));
    close(ema.merge(part(0, 59), part(59, 60)));
    close(ema.merge(ema.merge(part(0, 10), part(10, 30)), part(30, 60)));
    close(ema.merge(part(0, 10), ema.merge(part(10, 30), part(30, 60))));
    // with an empty state: identity on either side
    close(ema.merge(ema.create({ constant: 0.1 }), one));
    close(ema.merge(one, ema.create({ constant: 0.1 })));
    // order matters, like the average itself
    const swapped = ema.merge(part(25, 60), part(0, 25));
    expect(Math.abs(swapped.min[0]! - one.min[0]!)).toBeGreaterThan(1e-6);
  });

  it('merge adds sums for "mean" (commutative), and refuses different constants', () => {
    const a = ema.create({ average: "mean" });
    const b = ema.create({ average: "mean" });
    ema.update(a, f32(1, 3));
    ema.update(b, f32(-1, 5));
    ema.update(b, f32(0, 4));
    expect(range(ema.range(ema.merge(a, b)))).toEqual({ min: [0], max: [4] });
    expect(range(ema.range(ema.merge(b, a)))).toEqual({ min: [0], max: [4] });
    expect(() => ema.merge(ema.create(), ema.create({ constant: 0.5 }))).toThrow(IncompatibleStates);
    expect(() => ema.create({ constant: 0 })).toThrow(InvalidOption);
  });

  it("serialises through JSON text with identical ranges; state size is flat", () => {
    const s = ema.create({ axis: 1 });
    ema.update(s, NCHW, SHAPE);
    ema.update(s, NCHW.map((x) => x / 3), SHAPE);
    const back = ema.fromJSON(JSON.parse(JSON.stringify(ema.toJSON(s))));
    expect(back).toEqual(s);
    expect(range(ema.range(back))).toEqual(range(ema.range(s)));

    const one = ema.create();
    const many = ema.create();
    const data = gaussian(500, 1, 9);
    ema.update(one, data);
    for (let i = 0; i < 1000; i++) ema.update(many, data);
    expect(stateBytes(many)).toBe(stateBytes(one));
  });

  it("empty data is not a batch; all-zero data gives [0, 0]", () => {
    const s = ema.create();
    ema.update(s, f32());
    expect(s.batches[0]).toBe(0);
    ema.update(s, new Float32Array(10));
    expect(range(ema.range(s))).toEqual({ min: [0], max: [0] });
  });
});
