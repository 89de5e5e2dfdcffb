export * from "./dtype.js";
export * from "./tensor.js";
