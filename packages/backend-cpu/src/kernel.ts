import type { Graph, Node } from "@quanta/ir";
import type { DType, Tensor } from "@quanta/tensor";

/** An input as a kernel sees it: a tensor, or undefined for an omitted optional input. */
export type Input = Tensor | undefined;

/** What a kernel may ask for while the plan is built. */
export interface PrepareContext {
  /** Version of the node's domain imported by the model (default domain: the ONNX opset). */
  readonly opset: number;
  /** Plans a subgraph (If/Loop/Scan body) with the same kernels. */
  planSubgraph(graph: Graph): SubgraphPlan;
  /** The constant value of input `index` when it is an initializer (or Constant output), else undefined. */
  constantInput(index: number): Tensor | undefined;
}

/** What a kernel may use while it runs. */
export interface RunContext {
  /** Allocates a zeroed output tensor (buffers are recycled from values that are no longer needed). */
  alloc<D extends DType>(dtype: D, shape: readonly number[]): Tensor<D>;
  /** Runs a planned subgraph with the given inputs; outer-scope values come from the running graph. */
  runSubgraph(plan: SubgraphPlan, inputs: readonly Input[]): Tensor[];
  /**
   * Drops one reference to a pooled tensor so that its buffer can be reused once nothing else holds it:
   * for a tensor from `alloc` that the kernel does not return, or for an output of `runSubgraph`
   * produced by a node inside the subgraph (the subgraph's run holds one reference to each such
   * output, per distinct output value) once the kernel is done with it (Loop/Scan iterations).
   * Never for inputs, outer-scope values or pass-through outputs. Optional: contexts without it just
   * let such buffers go to the garbage collector.
   */
  release?(t: Tensor): void;
}

/** A prepared kernel: computes a node's outputs (one tensor per output; undefined for omitted optional outputs). */
export type KernelFn = (inputs: readonly Input[], ctx: RunContext) => readonly (Tensor | undefined)[];

/**
 * A kernel: `prepare` runs once per node when the plan is built (read and check attributes,
 * precompute what does not depend on input values) and returns the function run for each inference.
 * It throws `UnsupportedOp` / `InvalidNode` for what it cannot do, so that the failure shows at plan time.
 */
export interface Kernel {
  readonly op: string;
  /** "" (default ONNX domain), "com.microsoft", ... */
  readonly domain?: string;
  /** Opset versions this kernel implements, inclusive; default: all. */
  readonly versions?: readonly [number, number];
  prepare(node: Node, ctx: PrepareContext): KernelFn;
}

/** An opaque planned subgraph, run through `RunContext.runSubgraph`. */
export interface SubgraphPlan {
  readonly graph: Graph;
}

/** Kernels by `domain::op` ("" domain: just `op`), each list ordered by preference. Immutable; owned by a backend instance. */
export type KernelTable = ReadonlyMap<string, readonly Kernel[]>;

export const kernelKey = (op: string, domain = ""): string => (domain && domain !== "ai.onnx" ? `${domain}::${op}` : op);

/** Builds a table from kernels and lists of kernels (later entries are preferred for the same op). */
export function kernelTable(...entries: readonly (Kernel | readonly Kernel[])[]): KernelTable {
  const t = new Map<string, Kernel[]>();
  for (const e of entries) {
    for (const k of Array.isArray(e) ? (e as readonly Kernel[]) : [e as Kernel]) {
      const key = kernelKey(k.op, k.domain);
      const list = t.get(key) ?? [];
      list.unshift(k);
      t.set(key, list);
    }
  }
  return t;
}

/** Picks the kernel of `table` that implements `op` at `opset`, if any. */
export function findKernel(table: KernelTable, op: string, domain: string, opset: number): Kernel | undefined {
  const list = table.get(kernelKey(op, domain));
  return list?.find((k) => !k.versions || (opset >= k.versions[0] && opset <= k.versions[1]));
}
