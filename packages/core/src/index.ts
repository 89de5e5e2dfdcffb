export * from "./errors.js";
export * from "./pass.js";
export * from "./pipeline.js";
export * from "./services.js";
