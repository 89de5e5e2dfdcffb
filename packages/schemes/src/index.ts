export * from "./spec.js";
export * from "./presets.js";
export * from "./exclude.js";
