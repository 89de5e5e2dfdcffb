export * from "./dtype.js";
export * from "./tensor.js";
export * from "./quantize.js";
export * from "./qparams.js";
