export * from "./dtype.js";
export * from "./tensor.js";
export * from "./errors.js";
export * from "./convert.js";
export * from "./quantize.js";
export * from "./qparams.js";
export * from "./scan.js";
