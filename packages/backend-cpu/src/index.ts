export * from "./errors.js";
export * from "./kernel.js";
export { ExecutionPlan, type RunOptions, type PlanOptions } from "./plan.js";
export { cpuBackend, type CpuBackend, type CpuBackendOptions } from "./backend.js";
export * as helpers from "./kernels/util.js";
