import type { Constant, ElemType } from "@quanta/ir";
import { ConstantUnavailable } from "@quanta/ir";
import { type DType, type Storage, type Tensor, allocate, fromBytes, isDType } from "@quanta/tensor";
import type { SparseTensorProto, TensorProto } from "onnx-buf";
import { ExternalDataError } from "./errors.js";

/** Random access to an external data file. */
export interface ExternalFile {
  readonly size: number;
  read(offset: number, length: number): Uint8Array;
}

/** Opens the external data file at `location` (relative to the model). */
export type ExternalDataResolver = (location: string) => ExternalFile;

/** Where an ONNX constant came from: lets the writer reproduce it byte for byte. */
export interface OnnxTensorOrigin {
  readonly format: "onnx";
  readonly proto: TensorProto;
  /** Set for sparse initializers (the dense `proto` is then the values tensor). */
  readonly sparse?: SparseTensorProto;
  readonly external?: { readonly location: string; readonly offset: number; readonly length: number; readonly file?: ExternalFile };
}

export const isOnnxTensorOrigin = (o: unknown): o is OnnxTensorOrigin =>
  typeof o === "object" && o !== null && (o as { format?: unknown }).format === "onnx" && "proto" in o;

/** A constant whose data stays in the decoded protobuf (a view into the file) or in external data until loaded. */
export class OnnxConstant implements Constant {
  constructor(
    readonly elem: ElemType,
    readonly shape: readonly number[],
    readonly count: number,
    readonly byteLength: number,
    readonly origin: OnnxTensorOrigin,
  ) {}

  load(): Tensor {
    const { proto, external, sparse } = this.origin;
    const name = proto.name || "(unnamed)";
    if (sparse) throw new ConstantUnavailable(name, "sparse initializers are carried through but not decoded");
    if (!isDType(this.elem)) throw new ConstantUnavailable(name, `element type ${this.elem} cannot be decoded into a tensor`);
    const dtype: DType = this.elem;
    const n = this.count;
    if (external) {
      return { dtype, shape: this.shape, data: fromBytes(dtype, readExternal(name, external), n) };
    }
    if (proto.rawData.length > 0 || n === 0) return { dtype, shape: this.shape, data: fromBytes(dtype, proto.rawData, n) };
    return { dtype, shape: this.shape, data: fromTypedFields(proto, dtype, n) };
  }
}

/** Reads a constant's external bytes; every failure (missing resolver, I/O error, short read) is an `ExternalDataError`. */
export function readExternal(name: string, external: NonNullable<OnnxTensorOrigin["external"]>): Uint8Array {
  const { file, location, offset, length } = external;
  if (!file) throw new ExternalDataError(name, `no resolver for external file '${location}'`);
  let bytes: Uint8Array;
  try {
    bytes = file.read(offset, length);
  } catch (e) {
    if (e instanceof ExternalDataError) throw e;
    throw new ExternalDataError(name, `cannot read bytes ${offset}..${offset + length} of '${location}': ${e instanceof Error ? e.message : String(e)}`);
  }
  if (bytes.byteLength !== length) throw new ExternalDataError(name, `read ${bytes.byteLength} bytes of '${location}' where ${length} were expected`);
  return bytes;
}

function fromTypedFields(p: TensorProto, dtype: DType, n: number): Storage {
  const out = allocate(dtype, n);
  switch (dtype) {
    case "float32":
      (out as Float32Array).set(p.floatData);
      return out;
    case "float64":
      (out as Float64Array).set(p.doubleData);
      return out;
    case "int64":
      (out as BigInt64Array).set(p.int64Data);
      return out;
    case "uint64":
      (out as BigUint64Array).set(p.uint64Data);
      return out;
    case "uint32": {
      const o = out as Uint32Array;
      for (let i = 0; i < n; i++) o[i] = Number(p.uint64Data[i]!);
      return out;
    }
    case "int4":
    case "uint4": {
      // Each int32_data entry holds two 4-bit elements (one packed byte).
      const o = out as Uint8Array;
      for (let i = 0; i < o.length; i++) o[i] = p.int32Data[i]! & 0xff;
      return out;
    }
    default: {
      // int8/uint8/int16/uint16/int32/bool and the raw bit patterns of float16/bfloat16/float8.
      const o = out as Int32Array;
      o.set(p.int32Data);
      return out;
    }
  }
}
