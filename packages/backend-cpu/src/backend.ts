import type { Model, Node } from "@quanta/ir";
import { type Kernel, type KernelTable, findKernel, kernelTable } from "./kernel.js";
import * as all from "./kernels/index.js";
import { ExecutionPlan } from "./plan.js";

/** Every kernel exported by the kernels folder. */
const defaultKernels = (): readonly Kernel[] =>
  Object.values(all as Record<string, unknown>).flatMap((k) => (Array.isArray(k) ? (k as Kernel[]) : isKernel(k) ? [k] : []));

const isKernel = (k: unknown): k is Kernel => typeof k === "object" && k !== null && typeof (k as Kernel).prepare === "function" && typeof (k as Kernel).op === "string";

/** A backend: a name, a kernel table it owns, and plans built from it. */
export interface CpuBackend {
  readonly name: "cpu";
  readonly kernels: KernelTable;
  /** Does this backend have a kernel for the node at the model's opset? */
  supports(node: Node, opset: number): boolean;
  /** Builds an execution plan (throws UnsupportedOp / InvalidNode at plan time). */
  plan(model: Model): ExecutionPlan;
}

export interface CpuBackendOptions {
  /** Extra kernels, preferred over the built-in ones for the same op. */
  readonly kernels?: readonly Kernel[];
  /** Replace the built-in table entirely. */
  readonly table?: KernelTable;
}

/** The CPU reference backend. Each call makes an independent instance with its own immutable kernel table. */
export function cpuBackend(options: CpuBackendOptions = {}): CpuBackend {
  const table = options.table ?? kernelTable(defaultKernels(), options.kernels ?? []);
  return {
    name: "cpu",
    kernels: table,
    supports: (node, opset) => findKernel(table, node.op, node.domain, opset) !== undefined,
    plan: (model) => new ExecutionPlan(model, { kernels: table }),
  };
}
