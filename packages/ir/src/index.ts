export * from "./errors.js";
export * from "./types.js";
export * from "./graph.js";
export * from "./validate.js";
export * from "./dialect.js";
export * from "./summary.js";
