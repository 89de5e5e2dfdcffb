// Helpers for Loop and Scan: which body outputs the body's run holds a reference to, and
// slicing / writing along an axis.
import type { Graph, Node } from "@quanta/ir";
import { type DType, type Tensor, allocate, isDType } from "@quanta/tensor";
import type { RunContext } from "../../kernel.js";
import { invalid } from "../util.js";
import { arr, copyND, is4, prod, size, strides } from "./common.js";

/**
 * Indices of the body outputs whose tensors the body's run holds one reference to (outputs produced
 * by a node of the body), one index per distinct value. Pass-through outputs (body inputs, outer
 * values, initializers) are not held.
 */
export function heldOutputs(body: Graph): number[] {
  const seen = new Set<unknown>();
  const out: number[] = [];
  body.outputs.forEach((v, i) => {
    if (v.graph === body && v.producer && !seen.has(v)) {
      seen.add(v);
      out.push(i);
    }
  });
  return out;
}

/** The element type a body output declares, for empty scan outputs. */
export function declaredType(body: Graph, i: number): { dtype: DType | undefined; shape: number[] | undefined } {
  const t = body.outputs[i]?.type;
  const dtype = t && isDType(t.elem) ? t.elem : undefined;
  const shape = t?.shape?.every((d) => typeof d === "number") ? (t.shape as number[]) : undefined;
  return { dtype, shape };
}

/**
 * Tracks the references a Loop/Scan kernel owes the pool: `take` records the held outputs of one
 * body run; `settle` releases every owed tensor not in `keep`.
 */
export class Owed {
  private list: Tensor[] = [];
  constructor(private readonly rt: RunContext) {}
  take(outs: readonly Tensor[], held: readonly number[]): void {
    for (const i of held) {
      const t = outs[i];
      if (t) this.list.push(t);
    }
  }
  has(t: Tensor): boolean {
    return this.list.includes(t);
  }
  /**
   * Releases what is not in `keep` (or everything); with `park`, what is in `park.when` moves to
   * `park.into` instead (kept there until that one settles).
   */
  settle(keep?: ReadonlySet<Tensor>, park?: { when: ReadonlySet<Tensor>; into: Owed }): void {
    const kept: Tensor[] = [];
    for (const t of this.list) {
      if (park?.when.has(t)) park.into.list.push(t);
      else if (keep?.has(t)) kept.push(t);
      else this.rt.release?.(t);
    }
    this.list = kept;
  }
}

/** A pooled copy of `t`. */
export function copyOf(rt: RunContext, t: Tensor): Tensor {
  const out = rt.alloc(t.dtype, t.shape);
  arr(out).set(arr(t));
  return out;
}

function no4(node: Node, t: Tensor): void {
  if (is4(t.dtype)) throw invalid(node, `${node.op}: scanning ${t.dtype} tensors is not supported`);
}

/** Slice `i` of `t` along `axis`, the axis removed (a view for axis 0, else a copy outside the pool). */
export function sliceAxis(node: Node, t: Tensor, axis: number, i: number): Tensor {
  no4(node, t);
  const shape = t.shape.filter((_, d) => d !== axis);
  if (axis === 0) {
    const n = size(shape);
    return { dtype: t.dtype, shape, data: arr(t).subarray(i * n, (i + 1) * n) as unknown as Tensor["data"] };
  }
  const out: Tensor = { dtype: t.dtype, shape, data: allocate(t.dtype, size(shape)) };
  const st = strides(t.shape);
  copyND(
    shape,
    arr(t),
    i * st[axis]!,
    st.filter((_, d) => d !== axis),
    arr(out),
    0,
    strides(shape),
  );
  return out;
}

/** Writes `part` as slice `i` of `out` along `axis`. */
export function writeAxis(node: Node, out: Tensor, axis: number, i: number, part: Tensor): void {
  no4(node, part);
  const want = out.shape.filter((_, d) => d !== axis);
  if (part.dtype !== out.dtype || part.shape.length !== want.length || part.shape.some((d, k) => d !== want[k])) {
    throw invalid(node, `${node.op}: scan output slice ${part.dtype}[${part.shape.join(",")}] does not match ${out.dtype}[${want.join(",")}]`);
  }
  const st = strides(out.shape);
  if (axis === 0) {
    arr(out).set(arr(part), i * prod(want));
    return;
  }
  copyND(want, arr(part), 0, strides(want), arr(out), i * st[axis]!, st.filter((_, d) => d !== axis));
}
