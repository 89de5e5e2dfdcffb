import { type Model, QuantaError } from "@quanta/ir";
import { Effect } from "effect";
import { MissingRequirement, PassFailed, PipelineError } from "./errors.js";
import { type Pass, type PassContext, PassData } from "./pass.js";
import { Progress } from "./services.js";

/** Union of the services the passes need. */
type ServicesOf<P extends readonly Pass<unknown>[]> = P[number] extends Pass<infer R> ? R : never;

export interface PipelineResult {
  readonly model: Model;
  readonly data: PassData;
  readonly warnings: readonly { pass: string; message: string }[];
}

/** A frozen, checked sequence of passes. */
export interface Pipeline<R> {
  readonly passes: readonly Pass<R>[];
  /** Capabilities present before the first pass. */
  readonly initial: readonly string[];
  /** Runs the passes in order on `model`; fails with the first typed error (non-Quanta errors become PassFailed). */
  run(model: Model): Effect.Effect<PipelineResult, QuantaError, R | Progress>;
}

/**
 * Checks that every pass's requirements are provided by the initial capabilities or an earlier pass.
 * Returns the first problem as a typed error, or undefined.
 */
export function checkPasses(passes: readonly Pass<unknown>[], initial: readonly string[] = ["model"]): MissingRequirement | PipelineError | undefined {
  if (passes.length === 0) return new PipelineError("a pipeline needs at least one pass");
  const names = new Set<string>();
  const have = new Set(initial);
  for (const p of passes) {
    if (names.has(p.name)) return new PipelineError(`pass '${p.name}' appears twice`);
    names.add(p.name);
    for (const r of p.requires) if (!have.has(r)) return new MissingRequirement(p.name, r, p.hints?.[r] ?? "");
    for (const c of p.provides) have.add(c);
  }
  return undefined;
}

/**
 * Builds a pipeline: the pass list is copied and frozen, and checked now — a missing requirement
 * is an error before any work starts.
 */
export function pipeline<const P extends readonly Pass<unknown>[]>(
  passes: P,
  options: { readonly initial?: readonly string[] } = {},
): Effect.Effect<Pipeline<ServicesOf<P>>, MissingRequirement | PipelineError> {
  const initial = Object.freeze([...(options.initial ?? ["model"])]);
  const frozen = Object.freeze([...passes]) as readonly Pass<ServicesOf<P>>[];
  const problem = checkPasses(frozen, initial);
  if (problem) return Effect.fail(problem);
  return Effect.succeed(
    Object.freeze({
      passes: frozen,
      initial,
      run: (model: Model) => runPasses(frozen, model),
    }),
  );
}

function runPasses<R>(passes: readonly Pass<R>[], input: Model): Effect.Effect<PipelineResult, QuantaError, R | Progress> {
  return Effect.gen(function* () {
    const progress = yield* Progress;
    const data = new PassData();
    const warnings: { pass: string; message: string }[] = [];
    const t0 = performance.now();
    yield* progress.report({ type: "pipeline-start", passes: passes.map((p) => p.name) });
    let model = input;
    for (const [index, pass] of passes.entries()) {
      yield* progress.report({ type: "pass-start", pass: pass.name, index, total: passes.length });
      const t = performance.now();
      const ctx: PassContext = {
        data,
        progress: (done, total, message) =>
          progress.report({ type: "pass-progress", pass: pass.name, done, ...(total !== undefined ? { total } : {}), ...(message !== undefined ? { message } : {}) }),
        warn: (message) =>
          Effect.zipRight(
            Effect.sync(() => warnings.push({ pass: pass.name, message })),
            progress.report({ type: "warning", pass: pass.name, message }),
          ),
      };
      model = yield* Effect.suspend(() => pass.run(model, ctx)).pipe(
        Effect.catchAllDefect((d) => Effect.fail(d instanceof QuantaError ? d : new PassFailed(pass.name, d))),
      );
      yield* progress.report({ type: "pass-end", pass: pass.name, index, ms: performance.now() - t });
    }
    yield* progress.report({ type: "pipeline-end", ms: performance.now() - t0 });
    return { model, data, warnings };
  });
}
