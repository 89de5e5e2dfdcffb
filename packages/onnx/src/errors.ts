import { QuantaError } from "@quanta/ir";

/** The bytes are not a decodable ONNX protobuf (truncated, corrupt, or not ONNX at all). */
export class OnnxParseError extends QuantaError {
  readonly _tag = "OnnxParseError";
  constructor(
    readonly reason: string,
    readonly source?: string,
  ) {
    super(`${source ? `${source}: ` : ""}not a readable ONNX model: ${reason}`);
  }
}

/** The protobuf decoded but does not describe a valid model (dangling names, bad tensor data, cycles...). */
export class OnnxInvalidModel extends QuantaError {
  readonly _tag = "OnnxInvalidModel";
  constructor(
    readonly reason: string,
    /** Where: "graph 'main' / node 'Conv_3'", "initializer 'w'"... */
    readonly where: string,
  ) {
    super(`invalid ONNX model: ${reason} (${where})`);
  }
}

/** External data could not be resolved or read. */
export class ExternalDataError extends QuantaError {
  readonly _tag = "ExternalDataError";
  constructor(
    readonly tensor: string,
    readonly reason: string,
  ) {
    super(`external data of '${tensor}': ${reason}`);
  }
}

/** The model cannot be written as asked (too large without external data, unknown element type...). */
export class OnnxWriteError extends QuantaError {
  readonly _tag = "OnnxWriteError";
  constructor(readonly reason: string) {
    super(`cannot write ONNX model: ${reason}`);
  }
}
