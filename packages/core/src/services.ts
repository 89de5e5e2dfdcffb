import type { Model, QuantaError } from "@quanta/ir";
import type { Tensor } from "@quanta/tensor";
import { Context, Effect, Layer, type Stream } from "effect";

/** What a pipeline reports while it runs. */
export type ProgressEvent =
  | { readonly type: "pipeline-start"; readonly passes: readonly string[] }
  | { readonly type: "pass-start"; readonly pass: string; readonly index: number; readonly total: number }
  | { readonly type: "pass-progress"; readonly pass: string; readonly done: number; readonly total?: number; readonly message?: string }
  | { readonly type: "pass-end"; readonly pass: string; readonly index: number; readonly ms: number }
  | { readonly type: "warning"; readonly pass: string; readonly message: string }
  | { readonly type: "pipeline-end"; readonly ms: number };

/** Receives progress events (a terminal bar, log lines, a UI...). */
export class Progress extends Context.Tag("@quanta/core/Progress")<Progress, { readonly report: (event: ProgressEvent) => Effect.Effect<void> }>() {}

/** Progress that goes nowhere. */
export const silentProgress: Layer.Layer<Progress> = Layer.succeed(Progress, { report: () => Effect.void });

/** Progress into a callback (events in order). */
export const progressTo = (f: (e: ProgressEvent) => void): Layer.Layer<Progress> => Layer.succeed(Progress, { report: (e) => Effect.sync(() => f(e)) });

/** A runnable plan: what calibration and evaluation need of a backend. */
export interface RunnablePlan {
  run(
    feeds: Readonly<Record<string, Tensor>>,
    options?: { readonly observe?: ReadonlySet<string> | "all"; readonly onValue?: (name: string, t: Tensor) => void },
  ): Record<string, Tensor>;
}

/**
 * The backend passes run models on. Adapter packages (backend-cpu, -wasm, -webgpu) provide a Layer;
 * core never imports them.
 */
export class Backend extends Context.Tag("@quanta/core/Backend")<
  Backend,
  { readonly name: string; readonly plan: (model: Model) => RunnablePlan }
>() {}

/** A source of samples (named input tensors) for calibration or evaluation, streamed one at a time. */
export class Dataset extends Context.Tag("@quanta/core/Dataset")<
  Dataset,
  {
    /** Number of samples, when known. */
    readonly size?: number;
    readonly samples: Stream.Stream<Readonly<Record<string, Tensor>>, QuantaError>;
  }
>() {}
