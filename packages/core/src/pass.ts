import type { Model, QuantaError } from "@quanta/ir";
import type { Effect } from "effect";

/**
 * A key into the data that passes hand to each other (annotations, ranges, qparams...): a name and,
 * at the type level only, the type of the value.
 */
export interface Key<T> {
  readonly name: string;
  /** Phantom: never set. */
  readonly _type?: T;
}

export const key = <T>(name: string): Key<T> => ({ name });

/** Data shared by the passes of one run, keyed by `Key`s. */
export class PassData {
  private readonly map = new Map<string, unknown>();
  get<T>(k: Key<T>): T | undefined {
    return this.map.get(k.name) as T | undefined;
  }
  /** The value of `k`; a defect if a pass reads what the pipeline check guaranteed but nobody set. */
  need<T>(k: Key<T>): T {
    if (!this.map.has(k.name)) throw new Error(`no value for '${k.name}'`);
    return this.map.get(k.name) as T;
  }
  set<T>(k: Key<T>, value: T): void {
    this.map.set(k.name, value);
  }
  has(k: Key<unknown>): boolean {
    return this.map.has(k.name);
  }
}

export interface PassContext {
  readonly data: PassData;
  /** Reports progress inside the pass (done of total units). */
  readonly progress: (done: number, total?: number, message?: string) => Effect.Effect<void>;
  /** Records a warning (collected in the run's result; does not stop the pipeline). */
  readonly warn: (message: string) => Effect.Effect<void>;
}

/**
 * A pass: one step of a pipeline. `requires` names what must be provided before it runs (by an
 * earlier pass's `provides`, or by the pipeline's initial capabilities such as "model"); `provides`
 * names what it adds. The effect's R type lists the services it needs (Backend, Dataset, Progress...).
 */
export interface Pass<R = never> {
  readonly name: string;
  readonly requires: readonly string[];
  readonly provides: readonly string[];
  /** Why a requirement is needed or how to get it, shown when the pipeline check fails. */
  readonly hints?: Readonly<Record<string, string>>;
  run(model: Model, ctx: PassContext): Effect.Effect<Model, QuantaError, R>;
}
