// Elementwise kernels: unary math and activations, broadcast binary ops, variadic ops, Where, Cast.
export * from "./unary.js";
export * from "./binary.js";
export * from "./variadic.js";
export * from "./cast.js";
