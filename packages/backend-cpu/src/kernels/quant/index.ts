// Kernels of this group; each file exports its kernel(s) under the op name (com.microsoft versions
// of ONNX ops get an "Ms" prefix).
export { QLinearAdd, QLinearMul } from "./binary.js";
export { ConvInteger, MsQLinearConv, QLinearConv } from "./conv.js";
export { MatMulInteger, QLinearMatMul } from "./matmul.js";
export { QLinearGlobalAveragePool, QLinearLeakyRelu, QLinearSigmoid } from "./misc.js";
export { MatMulNBits } from "./nbits.js";
export { DequantizeLinear, DynamicQuantizeLinear, MsDequantizeLinear, MsQuantizeLinear, QuantizeLinear } from "./qdq.js";
