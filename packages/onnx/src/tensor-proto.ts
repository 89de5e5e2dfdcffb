import { fromBinary } from "@bufbuild/protobuf";
import type { Tensor } from "@quanta/tensor";
import { TensorProtoSchema } from "onnx-buf";
import { OnnxParseError } from "./errors.js";
import { constantFromProto } from "./read.js";

/** Decodes a serialized TensorProto (an ONNX test-data `.pb` file) into its name and tensor. */
export function decodeTensorProto(bytes: Uint8Array, source?: string): { name: string; tensor: Tensor } {
  let p: ReturnType<typeof fromBinary<typeof TensorProtoSchema>>;
  try {
    p = fromBinary(TensorProtoSchema, bytes, { readUnknownFields: true });
  } catch (e) {
    throw new OnnxParseError((e as Error).message, source);
  }
  return { name: p.name, tensor: constantFromProto(p, source ?? (p.name || "tensor")).load() };
}
