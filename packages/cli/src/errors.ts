import { QuantaError } from "@quanta/ir";

/** The command line is wrong: unknown command or option, missing argument. Exit code 2. */
export class UsageError extends QuantaError {
  readonly _tag = "UsageError";
  constructor(readonly reason: string) {
    super(reason);
  }
}

/** A file cannot be read or written. */
export class FileError extends QuantaError {
  readonly _tag = "FileError";
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${path}: ${reason}`);
  }
}

/** The file is not in a format Quanta reads. */
export class UnknownFormat extends QuantaError {
  readonly _tag = "UnknownFormat";
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${path}: ${reason}`);
  }
}
