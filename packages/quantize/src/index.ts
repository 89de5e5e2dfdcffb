export * from "./keys.js";
export { preprocess, promoteConstants, foldBatchNorm } from "./preprocess.js";
export { annotate, annotatePass } from "./annotate.js";
export { calibrate, CalibrationError } from "./calibrate.js";
export { qparams, weightRanges } from "./qparams.js";
export { lowerOnnx, lowerToOnnx, type Int4Format } from "./lower-onnx.js";
export { standardPasses, quantizationPipeline, dialectOf } from "./pipeline.js";
export { upgradeToOpset13, OpsetUpgradeError } from "./upgrade.js";
