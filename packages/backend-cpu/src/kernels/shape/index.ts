// Kernels of this group; each file exports its kernel(s) under the op name.
export {};
