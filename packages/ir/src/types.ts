import type { DType, Tensor } from "@quanta/tensor";
import type { Graph } from "./graph.js";

/**
 * Element types a value may have. `DType`s can be decoded into tensors; the others
 * (strings, complex, exotic float formats) are carried through losslessly but not computed on.
 */
export type ElemType =
  | DType
  | "string"
  | "complex64"
  | "complex128"
  | "float8e4m3fnuz"
  | "float8e5m2fnuz"
  | "float8e8m0"
  | "float4e2m1"
  | "int2"
  | "uint2"
  | "undefined";

/** A dimension: a known size, a symbolic name, or unknown (`null`). */
export type Dim = number | string | null;

/** The type of a tensor value. `shape` undefined means the rank is unknown. */
export interface TensorType {
  readonly elem: ElemType;
  readonly shape?: readonly Dim[];
}

/**
 * Quantization parameters attached to a value, as formats with typed quantization (TFLite) store them.
 * ONNX expresses quantization with QuantizeLinear/DequantizeLinear nodes instead and leaves this unset.
 */
export interface ValueQuantization {
  readonly scale: Float32Array;
  readonly zeroPoint: BigInt64Array;
  /** Channel axis for per-axis parameters. */
  readonly axis?: number;
  readonly min?: Float32Array;
  readonly max?: Float32Array;
}

/**
 * Constant data (an initializer, or a tensor attribute). Data stays where the format left it
 * (for example a view into the file) until `load()` decodes it; `load()` does not cache, so a
 * caller that drops the tensor drops the copy.
 */
export interface Constant {
  readonly elem: ElemType;
  readonly shape: readonly number[];
  /** Bytes of the stored data (packed for 4-bit types). */
  readonly byteLength: number;
  /** Decodes the data. Throws `ConstantUnavailable` for element types that are not a `DType`. */
  load(): Tensor;
  /** Format-specific payload that lets the writer reproduce the original bytes; absent for new constants. */
  readonly origin?: unknown;
}

/** Wraps an in-memory tensor as a constant. */
export function constantOf(t: Tensor): Constant {
  return {
    elem: t.dtype,
    shape: t.shape,
    byteLength: t.data.byteLength,
    load: () => t,
  };
}

export type Attribute =
  | { readonly type: "float"; readonly value: number; readonly origin?: unknown }
  | { readonly type: "int"; readonly value: bigint; readonly origin?: unknown }
  | { readonly type: "string"; readonly value: string; readonly origin?: unknown }
  | { readonly type: "tensor"; readonly value: Constant; readonly origin?: unknown }
  | { readonly type: "graph"; readonly value: Graph; readonly origin?: unknown }
  | { readonly type: "floats"; readonly value: readonly number[]; readonly origin?: unknown }
  | { readonly type: "ints"; readonly value: readonly bigint[]; readonly origin?: unknown }
  | { readonly type: "strings"; readonly value: readonly string[]; readonly origin?: unknown }
  | { readonly type: "tensors"; readonly value: readonly Constant[]; readonly origin?: unknown }
  | { readonly type: "graphs"; readonly value: readonly Graph[]; readonly origin?: unknown }
  /** A format-specific attribute kind (sparse tensors, type protos, references to a function's attributes...). */
  | { readonly type: "opaque"; readonly value: unknown; readonly origin?: unknown };

export type AttributeType = Attribute["type"];

export const attr = {
  float: (value: number): Attribute => ({ type: "float", value }),
  int: (value: number | bigint): Attribute => ({ type: "int", value: BigInt(value) }),
  string: (value: string): Attribute => ({ type: "string", value }),
  tensor: (value: Constant): Attribute => ({ type: "tensor", value }),
  floats: (value: readonly number[]): Attribute => ({ type: "floats", value: [...value] }),
  ints: (value: readonly (number | bigint)[]): Attribute => ({ type: "ints", value: value.map((v) => BigInt(v)) }),
  strings: (value: readonly string[]): Attribute => ({ type: "strings", value: [...value] }),
};

/** An operator-set import: a domain ("" is the default ONNX domain) and its version. */
export interface OpsetImport {
  readonly domain: string;
  readonly version: number;
}

export interface MetadataEntry {
  readonly key: string;
  readonly value: string;
}
