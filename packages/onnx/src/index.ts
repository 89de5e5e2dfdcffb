export { readOnnx, tensorType, type ReadOptions, type OnnxModelOrigin, type OnnxGraphOrigin, type OnnxNodeOrigin, type OnnxValueOrigin, type OnnxAttributeOrigin } from "./read.js";
export { writeOnnx, PROTOBUF_LIMIT, type WriteOptions, type ExternalDataSink } from "./write.js";
export { OnnxConstant, isOnnxTensorOrigin, type ExternalFile, type ExternalDataResolver, type OnnxTensorOrigin } from "./constant.js";
export { ONNX_DATA_TYPE, elemFromOnnx, elemBytes, ELEM_BITS } from "./elem.js";
export { OnnxParseError, OnnxInvalidModel, ExternalDataError, OnnxWriteError } from "./errors.js";

/** True when `bytes` looks like an ONNX protobuf (starts with a known ModelProto field). */
export function looksLikeOnnx(bytes: Uint8Array): boolean {
  // ModelProto fields 1 (ir_version, varint), 2-7 strings/varints, 8 opset_import, 7 graph: tags 0x08, 0x12, 0x1a, 0x22, 0x28, 0x32, 0x3a, 0x42.
  const b = bytes[0];
  return b !== undefined && [0x08, 0x12, 0x1a, 0x22, 0x28, 0x32, 0x3a, 0x42, 0x72].includes(b);
}
export { decodeTensorProto } from "./tensor-proto.js";
export { constantFromProto } from "./read.js";
