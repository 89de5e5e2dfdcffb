/**
 * Element types. Each dtype has one storage class (a typed array) and a size in bits.
 * 4-bit types are packed two per byte, low nibble first (the ONNX convention).
 * float16, bfloat16 and the fp8 types are stored as their raw bit patterns.
 */
export type DType =
  | "float32"
  | "float64"
  | "float16"
  | "bfloat16"
  | "float8e4m3fn"
  | "float8e5m2"
  | "int8"
  | "uint8"
  | "int16"
  | "uint16"
  | "int32"
  | "uint32"
  | "int64"
  | "uint64"
  | "bool"
  | "int4"
  | "uint4";

/** The typed array that stores each dtype. */
export interface StorageMap {
  float32: Float32Array;
  float64: Float64Array;
  float16: Uint16Array;
  bfloat16: Uint16Array;
  float8e4m3fn: Uint8Array;
  float8e5m2: Uint8Array;
  int8: Int8Array;
  uint8: Uint8Array;
  int16: Int16Array;
  uint16: Uint16Array;
  int32: Int32Array;
  uint32: Uint32Array;
  int64: BigInt64Array;
  uint64: BigUint64Array;
  bool: Uint8Array;
  int4: Uint8Array;
  uint4: Uint8Array;
}

export type Storage<D extends DType = DType> = StorageMap[D];

/** Integer dtypes that quantize/dequantize support (ONNX QuantizeLinear output types). */
export type QuantDType = "int8" | "uint8" | "int16" | "uint16" | "int32" | "int4" | "uint4";

/** Float8 dtypes. */
export type Float8DType = "float8e4m3fn" | "float8e5m2";

export interface DTypeInfo {
  readonly name: DType;
  /** Bits per element (4 for the packed types). */
  readonly bits: number;
  readonly kind: "float" | "int" | "uint" | "bool";
  /** Inclusive range for integer dtypes (as numbers; int64/uint64 limits are approximate). */
  readonly min: number;
  readonly max: number;
}

const info = (name: DType, bits: number, kind: DTypeInfo["kind"], min: number, max: number): DTypeInfo =>
  Object.freeze({ name, bits, kind, min, max });

/** Facts about every dtype. */
export const DTYPES: { readonly [D in DType]: DTypeInfo } = Object.freeze({
  float32: info("float32", 32, "float", -3.4028234663852886e38, 3.4028234663852886e38),
  float64: info("float64", 64, "float", -Number.MAX_VALUE, Number.MAX_VALUE),
  float16: info("float16", 16, "float", -65504, 65504),
  bfloat16: info("bfloat16", 16, "float", -3.3895313892515355e38, 3.3895313892515355e38),
  float8e4m3fn: info("float8e4m3fn", 8, "float", -448, 448),
  float8e5m2: info("float8e5m2", 8, "float", -57344, 57344),
  int8: info("int8", 8, "int", -128, 127),
  uint8: info("uint8", 8, "uint", 0, 255),
  int16: info("int16", 16, "int", -32768, 32767),
  uint16: info("uint16", 16, "uint", 0, 65535),
  int32: info("int32", 32, "int", -2147483648, 2147483647),
  uint32: info("uint32", 32, "uint", 0, 4294967295),
  int64: info("int64", 64, "int", -(2 ** 63), 2 ** 63), // ±2^63: the nearest doubles to the limits
  uint64: info("uint64", 64, "uint", 0, 2 ** 64),
  bool: info("bool", 8, "bool", 0, 1),
  int4: info("int4", 4, "int", -8, 7),
  uint4: info("uint4", 4, "uint", 0, 15),
});

export const isDType = (x: unknown): x is DType => typeof x === "string" && Object.hasOwn(DTYPES, x);

/** Bytes needed to store `count` elements of `dtype` (4-bit types round up to whole bytes). */
export const byteLength = (dtype: DType, count: number): number =>
  DTYPES[dtype].bits === 4 ? Math.ceil(count / 2) : count * (DTYPES[dtype].bits / 8);

/** Allocates zeroed storage for `count` elements. */
export function allocate<D extends DType>(dtype: D, count: number): Storage<D> {
  const s = allocateAny(dtype, count);
  return s as Storage<D>;
}

function allocateAny(dtype: DType, count: number): Storage {
  switch (dtype) {
    case "float32":
      return new Float32Array(count);
    case "float64":
      return new Float64Array(count);
    case "float16":
    case "bfloat16":
    case "uint16":
      return new Uint16Array(count);
    case "int8":
      return new Int8Array(count);
    case "uint8":
    case "bool":
    case "float8e4m3fn":
    case "float8e5m2":
      return new Uint8Array(count);
    case "int4":
    case "uint4":
      return new Uint8Array(Math.ceil(count / 2));
    case "int16":
      return new Int16Array(count);
    case "int32":
      return new Int32Array(count);
    case "uint32":
      return new Uint32Array(count);
    case "int64":
      return new BigInt64Array(count);
    case "uint64":
      return new BigUint64Array(count);
  }
}

/**
 * Views little-endian bytes as the storage of `dtype`. When `bytes` is not aligned for the
 * element size it is copied first (protobuf raw data is often misaligned), otherwise no copy is made.
 * Assumes a little-endian host (every platform JavaScript runs on today).
 */
export function fromBytes<D extends DType>(dtype: D, bytes: Uint8Array, count: number): Storage<D> {
  const need = byteLength(dtype, count);
  if (bytes.byteLength < need) {
    throw new RangeError(`fromBytes: ${dtype}[${count}] needs ${need} bytes, got ${bytes.byteLength}`);
  }
  const elem = DTYPES[dtype].bits >= 8 ? DTYPES[dtype].bits / 8 : 1;
  let src = bytes;
  if (bytes.byteOffset % elem !== 0) {
    src = new Uint8Array(need);
    src.set(bytes.subarray(0, need));
  }
  const len = DTYPES[dtype].bits === 4 ? need : count;
  return viewAs(dtype, src.buffer as ArrayBuffer, src.byteOffset, len) as Storage<D>;
}

function viewAs(dtype: DType, buf: ArrayBuffer, off: number, len: number): Storage {
  switch (dtype) {
    case "float32":
      return new Float32Array(buf, off, len);
    case "float64":
      return new Float64Array(buf, off, len);
    case "float16":
    case "bfloat16":
    case "uint16":
      return new Uint16Array(buf, off, len);
    case "int8":
      return new Int8Array(buf, off, len);
    case "uint8":
    case "bool":
    case "float8e4m3fn":
    case "float8e5m2":
    case "int4":
    case "uint4":
      return new Uint8Array(buf, off, len);
    case "int16":
      return new Int16Array(buf, off, len);
    case "int32":
      return new Int32Array(buf, off, len);
    case "uint32":
      return new Uint32Array(buf, off, len);
    case "int64":
      return new BigInt64Array(buf, off, len);
    case "uint64":
      return new BigUint64Array(buf, off, len);
  }
}

/** The bytes of a storage array (a view, no copy). */
export const toBytes = (data: Storage): Uint8Array => new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
