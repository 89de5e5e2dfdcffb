import { QuantaError } from "@quanta/ir";

/** A pipeline lacks something a pass requires (found before any pass runs). */
export class MissingRequirement extends QuantaError {
  readonly _tag = "MissingRequirement";
  constructor(
    readonly pass: string,
    readonly requirement: string,
    readonly hint: string,
  ) {
    super(`pass '${pass}' requires '${requirement}', which no earlier pass provides${hint ? `: ${hint}` : ""}`);
  }
}

/** A pipeline was changed after it was frozen, or is empty / malformed. */
export class PipelineError extends QuantaError {
  readonly _tag = "PipelineError";
  constructor(readonly reason: string) {
    super(reason);
  }
}

/** A pass failed with an error that is not a QuantaError (a bug in the pass): wrapped with the pass's name. */
export class PassFailed extends QuantaError {
  readonly _tag = "PassFailed";
  constructor(
    readonly pass: string,
    override readonly cause: unknown,
  ) {
    super(`pass '${pass}' failed: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
}
