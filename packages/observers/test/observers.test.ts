import { describe, expect, it } from "vitest";
import { type AnyObserver, type JSONValue, type Observer, OBSERVERS, type ObserverName } from "../src/index.js";
import { gaussian } from "./helpers.js";

/** A pipeline step written once against the interface: create, update per batch, merge shards, range. */
function calibrateSharded(observer: AnyObserver, shards: Float32Array[][]) {
  const states = shards.map((batches) => {
    const s = observer.create();
    for (const b of batches) observer.update(s, b);
    return s;
  });
  const merged = states.reduce((a, b) => observer.merge(a, b));
  const revived = observer.fromJSON(JSON.parse(JSON.stringify(observer.toJSON(merged))) as JSONValue);
  return observer.range(revived);
}

/** A user's observer: absmax, symmetric (a few lines). */
interface AbsMax {
  amax: number;
}
const absmax: Observer<AbsMax> = {
  name: "absmax",
  create: () => ({ amax: 0 }),
  update(s, data) {
    for (let i = 0; i < data.length; i++) {
      const a = Math.abs(data[i]!);
      if (a > s.amax && a !== Number.POSITIVE_INFINITY) s.amax = a;
    }
  },
  merge: (a, b) => ({ amax: Math.max(a.amax, b.amax) }),
  range: (s) => ({ min: Float32Array.of(-s.amax), max: Float32Array.of(s.amax) }),
  toJSON: (s) => ({ amax: s.amax }),
  fromJSON: (j) => ({ amax: (j as { amax: number }).amax }),
};

describe("OBSERVERS", () => {
  it("holds the five built-ins under their names", () => {
    expect(Object.keys(OBSERVERS)).toEqual(["minmax", "ema", "percentile", "entropy", "mse"]);
    for (const name of Object.keys(OBSERVERS) as ObserverName[]) expect(OBSERVERS[name].name).toBe(name);
  });

  it("every built-in and a user's observer run through the same generic code", () => {
    const shards = [0, 1, 2].map((k) => [gaussian(5000, 1, 10 + k), gaussian(3000, 1.5, 20 + k)]);
    const all: Record<string, AnyObserver> = { ...OBSERVERS, absmax };
    for (const [name, observer] of Object.entries(all)) {
      const r = calibrateSharded(observer, shards);
      expect(r.min.length, name).toBe(1);
      expect(r.min[0]!, name).toBeLessThan(0);
      expect(r.max[0]!, name).toBeGreaterThan(2);
      expect(r.max[0]!, name).toBeLessThan(8);
    }
  });
});
