// Kernels of this group; each file exports its kernel(s) under the op name.
export * from "./Concat.js";
export * from "./DepthToSpace.js";
export * from "./Dropout.js";
export * from "./Expand.js";
export * from "./Gather.js";
export * from "./Generate.js";
export * from "./Loop.js";
export * from "./Pad.js";
export * from "./Reshape.js";
export * from "./ReverseSequence.js";
export * from "./Scan.js";
export * from "./Scatter.js";
export * from "./Select.js";
export * from "./Shape.js";
export * from "./Slice.js";
export * from "./Split.js";
export * from "./Transpose.js";
