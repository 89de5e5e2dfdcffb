import { type DType, type Storage, allocate, byteLength } from "./dtype.js";

/** A dense, contiguous, row-major tensor. `data` holds exactly `size(shape)` elements (4-bit types packed). */
export interface Tensor<D extends DType = DType> {
  readonly dtype: D;
  readonly shape: readonly number[];
  readonly data: Storage<D>;
}

/** Number of elements of a shape (1 for a scalar). */
export function size(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major strides in elements. */
export function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

/** Throws a RangeError unless every dim is a non-negative safe integer. */
export function assertShape(shape: readonly number[]): void {
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new RangeError(`invalid dimension ${d} in shape [${shape.join(",")}]`);
  }
}

/** Creates a tensor; allocates zeroed storage when `data` is omitted, else checks its length. */
export function tensor<D extends DType>(dtype: D, shape: readonly number[], data?: Storage<D>): Tensor<D> {
  assertShape(shape);
  const n = size(shape);
  if (data === undefined) return { dtype, shape: [...shape], data: allocate(dtype, n) };
  const want = byteLength(dtype, n);
  if (data.byteLength !== want) {
    throw new RangeError(`${dtype}[${shape.join(",")}] needs ${want} bytes of storage, got ${data.byteLength}`);
  }
  return { dtype, shape: [...shape], data };
}
