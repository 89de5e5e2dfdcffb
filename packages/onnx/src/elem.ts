import type { ElemType } from "@quanta/ir";

/** ONNX TensorProto.DataType numbers by element type. */
export const ONNX_DATA_TYPE: { readonly [E in ElemType]: number } = {
  undefined: 0,
  float32: 1,
  uint8: 2,
  int8: 3,
  uint16: 4,
  int16: 5,
  int32: 6,
  int64: 7,
  string: 8,
  bool: 9,
  float16: 10,
  float64: 11,
  uint32: 12,
  uint64: 13,
  complex64: 14,
  complex128: 15,
  bfloat16: 16,
  float8e4m3fn: 17,
  float8e4m3fnuz: 18,
  float8e5m2: 19,
  float8e5m2fnuz: 20,
  uint4: 21,
  int4: 22,
  float4e2m1: 23,
  float8e8m0: 24,
  uint2: 25,
  int2: 26,
};

const BY_NUMBER: (ElemType | undefined)[] = [];
for (const [k, v] of Object.entries(ONNX_DATA_TYPE)) BY_NUMBER[v] = k as ElemType;

/** Element type of an ONNX data type number, or undefined for numbers this version does not know. */
export const elemFromOnnx = (n: number): ElemType | undefined => BY_NUMBER[n];

/** Bits per element of every element type ("string" has no fixed size: 0). */
export const ELEM_BITS: { readonly [E in ElemType]: number } = {
  undefined: 0,
  string: 0,
  float32: 32,
  float64: 64,
  float16: 16,
  bfloat16: 16,
  float8e4m3fn: 8,
  float8e4m3fnuz: 8,
  float8e5m2: 8,
  float8e5m2fnuz: 8,
  float8e8m0: 8,
  float4e2m1: 4,
  int2: 2,
  uint2: 2,
  int4: 4,
  uint4: 4,
  int8: 8,
  uint8: 8,
  int16: 16,
  uint16: 16,
  int32: 32,
  uint32: 32,
  int64: 64,
  uint64: 64,
  bool: 8,
  complex64: 64,
  complex128: 128,
};

/** Bytes of `count` packed elements. */
export const elemBytes = (e: ElemType, count: number): number => Math.ceil((count * ELEM_BITS[e]) / 8);
