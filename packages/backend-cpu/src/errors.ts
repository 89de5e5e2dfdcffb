import { QuantaError } from "@quanta/ir";

/** No kernel for an op (or for this version/attributes of it). Raised when the plan is built. */
export class UnsupportedOp extends QuantaError {
  readonly _tag = "UnsupportedOp";
  constructor(
    readonly op: string,
    readonly domain: string,
    readonly version: number | undefined,
    readonly node: string,
    readonly reason = "no kernel",
  ) {
    super(`unsupported op ${domain && domain !== "ai.onnx" ? `${domain}::` : ""}${op}${version !== undefined ? ` (opset ${version})` : ""} at node '${node}': ${reason}`);
  }
}

/** A node's attributes or input types are invalid for its op. Raised when the plan is built or at run time. */
export class InvalidNode extends QuantaError {
  readonly _tag = "InvalidNode";
  constructor(
    readonly node: string,
    readonly reason: string,
  ) {
    super(`node '${node}': ${reason}`);
  }
}

/** A model input is missing or has the wrong dtype or shape. */
export class InputMismatch extends QuantaError {
  readonly _tag = "InputMismatch";
  constructor(
    readonly input: string,
    readonly expected: string,
    readonly got: string,
  ) {
    super(`input '${input}': expected ${expected}, got ${got}`);
  }
}
