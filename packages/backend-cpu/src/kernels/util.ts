import type { Node } from "@quanta/ir";
import { type DType, type Tensor, size, strides } from "@quanta/tensor";
import { InvalidNode, UnsupportedOp } from "../errors.js";
import type { PrepareContext } from "../kernel.js";

export const nodeName = (n: Node): string => n.name || `${n.op}(${n.outputs[0]?.name ?? "?"})`;

export const invalid = (n: Node, reason: string): InvalidNode => new InvalidNode(nodeName(n), reason);
export const unsupported = (n: Node, ctx: PrepareContext, reason: string): UnsupportedOp => new UnsupportedOp(n.op, n.domain, ctx.opset, nodeName(n), reason);

/** Numpy-style broadcast of two shapes; throws on incompatible dims. */
export function broadcastShapes(a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new Error(`shapes [${a.join(",")}] and [${b.join(",")}] do not broadcast`);
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/**
 * Strides for reading a tensor of `shape` broadcast to `out` (0 on broadcast dims), as an Int32Array
 * of length out.length.
 */
export function broadcastStrides(shape: readonly number[], out: readonly number[]): Int32Array {
  const s = strides(shape);
  const r = new Int32Array(out.length);
  const off = out.length - shape.length;
  for (let i = 0; i < shape.length; i++) r[off + i] = shape[i] === 1 ? 0 : s[i]!;
  return r;
}

/** Normalises a possibly negative axis for a rank. */
export function normAxis(axis: number, rank: number, n?: Node): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= Math.max(rank, 1)) throw new Error(`axis ${axis} out of range for rank ${rank}${n ? ` in ${nodeName(n)}` : ""}`);
  return a;
}

/** An int64/int32 tensor's values as numbers. */
export function toNumbers(t: Tensor): number[] {
  const d = t.data;
  const out = new Array<number>(size(t.shape));
  for (let i = 0; i < out.length; i++) out[i] = Number(d[i] as number | bigint);
  return out;
}

/** A tensor that shares `t`'s data with another shape (no copy). */
export const reshaped = <D extends DType>(t: Tensor<D>, shape: readonly number[]): Tensor<D> => ({ dtype: t.dtype, shape: [...shape], data: t.data });

export const isFloat = (d: DType): boolean => d === "float32" || d === "float64" || d === "float16" || d === "bfloat16";
