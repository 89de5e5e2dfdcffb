import { Context, Effect, Layer } from "effect";

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
