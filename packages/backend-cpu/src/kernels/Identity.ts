import type { Kernel } from "../kernel.js";

/** Identity: the output shares the input's buffer (kernels never write their inputs). */
export const Identity: Kernel = {
  op: "Identity",
  prepare: () => (inputs) => [inputs[0]],
};
