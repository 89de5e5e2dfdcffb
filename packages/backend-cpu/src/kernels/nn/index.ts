// Kernels of this group; each file exports its kernel(s) under the op name (helpers live in *_impl.ts).
export { Conv } from "./Conv.js";
export { ConvTranspose } from "./ConvTranspose.js";
export { AveragePool, GlobalAveragePool, GlobalLpPool, GlobalMaxPool, LpPool, MaxPool, MaxUnpool } from "./Pool.js";
export { Gemm } from "./Gemm.js";
export { MatMul } from "./MatMul.js";
export { ArgMax, ArgMin, ReduceL1, ReduceL2, ReduceLogSum, ReduceLogSumExp, ReduceMax, ReduceMean, ReduceMin, ReduceProd, ReduceSum, ReduceSumSquare } from "./Reduce.js";
export { Hardmax, LogSoftmax, Softmax } from "./Softmax.js";
export { BatchNormalization, GroupNormalization, InstanceNormalization, LayerNormalization, LRN, MeanVarianceNormalization } from "./Norm.js";
export { GRU, LSTM, RNN } from "./Rnn.js";
export { Resize, Upsample } from "./Resize.js";
export { CumSum } from "./CumSum.js";
export { Det } from "./Det.js";
export { TopK } from "./TopK.js";
export { Einsum } from "./Einsum.js";
