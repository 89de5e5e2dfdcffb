import type { Backend, Dataset, Pass } from "@quanta/core";
import { type Value, describe } from "@quanta/ir";
import { type AnyObserver, OBSERVERS } from "@quanta/observers";
import type { Tensor } from "@quanta/tensor";
import { Effect } from "effect";
import { CalibrationError } from "./errors.js";
import { ANNOTATIONS, RANGES, type Ranges } from "./keys.js";
import { INPUT_MEANS, meanObserver, meanTargets, streamSamples } from "./statistics.js";

export { CalibrationError };

/**
 * Calibration pass: streams the Dataset's samples through the Backend's plan of the float model,
 * observing every activation the annotations name (per tensor, with the observer its spec names).
 * Observer state is constant-size, so memory does not grow with the number of samples. In the same
 * run it records the input means of the quantized weight layers (for the bias-correction pass).
 */
export const calibrate: Pass<Backend | Dataset> = {
  name: "calibrate",
  requires: ["annotations", "needs-ranges"],
  provides: ["ranges", "input-means"],
  hints: { "needs-ranges": "calibration only applies to static quantization" },
  run: (model, ctx) =>
    Effect.gen(function* () {
      const ann = ctx.data.need(ANNOTATIONS);
      const watched = new Map<string, { value: Value; observer: AnyObserver; state: unknown }>();
      for (const [v, a] of ann.tensors) {
        if (a.kind !== "activation") continue;
        const observer = OBSERVERS[a.spec.observer.name] as unknown as AnyObserver;
        watched.set(v.name, { value: v, observer, state: observer.create(a.spec.observer.options ?? {}) });
      }
      const means = meanObserver(meanTargets(ann));
      const names = new Set([...watched.keys(), ...means.names]);
      yield* streamSamples(model, ctx, names, (name: string, t: Tensor) => {
        const w = watched.get(name);
        if (w && t.dtype === "float32") w.observer.update(w.state, t.data as Float32Array, t.shape);
        means.onValue(name, t);
      });
      const ranges: Ranges = new Map();
      for (const { value, observer, state } of watched.values()) {
        const r = observer.range(state);
        const min = r.min[0]!;
        const max = r.max[0]!;
        const counts = state as { count?: number; nanCount?: number; infCount?: number };
        if ((counts.nanCount ?? 0) > 0 || (counts.infCount ?? 0) > 0) {
          yield* ctx.warn(`'${value.name}' had ${counts.nanCount ?? 0} NaN and ${counts.infCount ?? 0} infinite values during calibration (ignored)`);
        }
        if (!Number.isFinite(min) || !Number.isFinite(max)) {
          return yield* Effect.fail(new CalibrationError(`no finite value observed for '${value.name}'${value.producer ? ` (output of ${describe(value.producer)})` : ""}`));
        }
        ranges.set(value, { min, max });
      }
      ctx.data.set(RANGES, ranges);
      ctx.data.set(INPUT_MEANS, means.result());
      return model;
    }),
};
