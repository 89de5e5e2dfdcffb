import { Model } from "@quanta/ir";
import { Context, Effect, Exit, Fiber, Layer } from "effect";
import { describe, expect, it } from "vitest";
import { type Pass, type ProgressEvent, key, pipeline, progressTo, silentProgress } from "../src/index.js";

const ranges = key<Map<string, [number, number]>>("ranges");

const annotate: Pass = {
  name: "annotate",
  requires: ["model"],
  provides: ["annotations"],
  run: (m) => Effect.succeed(m),
};
const calibrate: Pass = {
  name: "calibrate",
  requires: ["annotations"],
  provides: ["ranges"],
  run: (m, ctx) =>
    Effect.gen(function* () {
      ctx.data.set(ranges, new Map([["x", [-1, 1]]]));
      yield* ctx.progress(1, 1);
      return m;
    }),
};
const lower: Pass = {
  name: "lower",
  requires: ["ranges"],
  provides: ["lowered"],
  hints: { ranges: "add a calibration pass (static mode needs calibration data)" },
  run: (m, ctx) =>
    Effect.gen(function* () {
      if (!ctx.data.need(ranges).has("x")) return yield* Effect.die("no range");
      yield* ctx.warn("kept 'Softmax' in float");
      m.docString = "lowered";
      return m;
    }),
};

describe("pipeline", () => {
  it("runs passes in order with progress events and shared data", async () => {
    const events: ProgressEvent[] = [];
    const result = await Effect.runPromise(
      Effect.flatMap(pipeline([annotate, calibrate, lower]), (p) => p.run(new Model("onnx"))).pipe(Effect.provide(progressTo((e) => events.push(e)))),
    );
    expect(result.model.docString).toBe("lowered");
    expect(result.warnings).toEqual([{ pass: "lower", message: "kept 'Softmax' in float" }]);
    expect(events.map((e) => e.type)).toEqual([
      "pipeline-start",
      "pass-start",
      "pass-end",
      "pass-start",
      "pass-progress",
      "pass-end",
      "pass-start",
      "warning",
      "pass-end",
      "pipeline-end",
    ]);
  });

  it("reports a missing requirement before any pass runs, with the pass's hint", async () => {
    let ran = false;
    const spy: Pass = { name: "spy", requires: [], provides: ["annotations"], run: (m) => Effect.sync(() => ((ran = true), m)) };
    const exit = await Effect.runPromiseExit(pipeline([spy, lower]));
    expect(ran).toBe(false);
    expect(Exit.isFailure(exit)).toBe(true);
    if (Exit.isFailure(exit) && exit.cause._tag === "Fail") {
      expect(exit.cause.error._tag).toBe("MissingRequirement");
      expect(exit.cause.error.message).toMatch(/pass 'lower' requires 'ranges'.*add a calibration pass/);
    }
  });

  it("rejects empty pipelines and duplicate passes", async () => {
    const e1 = await Effect.runPromise(Effect.flip(pipeline([])));
    expect(e1._tag).toBe("PipelineError");
    const e2 = await Effect.runPromise(Effect.flip(pipeline([annotate, annotate])));
    expect(e2.message).toMatch(/appears twice/);
  });

  it("is frozen: the pass list cannot change after it is built", async () => {
    const list = [annotate];
    const p = await Effect.runPromise(pipeline(list));
    list.push(calibrate);
    expect(p.passes).toHaveLength(1);
    expect(Object.isFrozen(p.passes)).toBe(true);
  });

  it("wraps a pass's defect with the pass's name, as a typed failure", async () => {
    const broken: Pass = { name: "broken", requires: [], provides: [], run: () => Effect.sync(() => { throw new TypeError("oops"); }) };
    const err = await Effect.runPromise(Effect.flip(Effect.flatMap(pipeline([broken]), (p) => p.run(new Model("onnx")))).pipe(Effect.provide(silentProgress)));
    expect(err._tag).toBe("PassFailed");
    expect(err.message).toBe("pass 'broken' failed: oops");
  });

  it("carries the services passes need in its type and can be interrupted", async () => {
    class Clock extends Context.Tag("test/Clock")<Clock, { readonly tick: Effect.Effect<void> }>() {}
    let ticks = 0;
    const slow: Pass<Clock> = {
      name: "slow",
      requires: [],
      provides: [],
      run: (m) => Effect.gen(function* () {
        const clock = yield* Clock;
        for (;;) {
          yield* clock.tick;
          yield* Effect.sleep(1);
          if (ticks > 1e6) return m;
        }
      }),
    };
    const layer = Layer.merge(silentProgress, Layer.succeed(Clock, { tick: Effect.sync(() => void ticks++) }));
    const fiber = Effect.runFork(Effect.flatMap(pipeline([slow]), (p) => p.run(new Model("onnx"))).pipe(Effect.provide(layer)));
    await new Promise((r) => setTimeout(r, 30));
    const exit = await Effect.runPromise(Fiber.interrupt(fiber));
    expect(Exit.isInterrupted(exit)).toBe(true);
    expect(ticks).toBeGreaterThan(0);
  });
});
