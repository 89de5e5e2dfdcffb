// Every kernel of the CPU backend. Each file exports its kernel(s) under the op's name; the backend
// builds its table from this module's exports (nothing registers itself on import).
export * from "./Constant.js";
export * from "./Identity.js";
export * from "./If.js";
export * from "./elementwise/index.js";
export * from "./shape/index.js";
export * from "./nn/index.js";
export * from "./quant/index.js";
