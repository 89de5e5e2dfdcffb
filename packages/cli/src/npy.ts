import { type DType, type Tensor, allocate, byteLength, size } from "@quanta/tensor";
import { QuantaError } from "@quanta/ir";

/** A .npy file Quanta cannot read (bad magic, header, dtype, length...). */
export class NpyError extends QuantaError {
  readonly _tag = "NpyError";
  constructor(
    readonly source: string,
    readonly reason: string,
  ) {
    super(`${source}: ${reason}`);
  }
}

const DESCR: Record<string, DType> = {
  "<f4": "float32",
  "<f8": "float64",
  "<f2": "float16",
  "|i1": "int8",
  "|u1": "uint8",
  "<i2": "int16",
  "<u2": "uint16",
  "<i4": "int32",
  "<u4": "uint32",
  "<i8": "int64",
  "<u8": "uint64",
  "|b1": "bool",
};
const BY_DTYPE: Partial<Record<DType, string>> = Object.fromEntries(Object.entries(DESCR).map(([k, v]) => [v, k]));

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** Decodes a NumPy .npy file (versions 1-3, little-endian, C order) into a tensor (data copied, aligned). */
export function decodeNpy(bytes: Uint8Array, source = "array.npy"): Tensor {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw new NpyError(source, "not a .npy file (bad magic)");
  const major = bytes[6]!;
  const headerLen = major === 1 ? bytes[8]! | (bytes[9]! << 8) : major === 2 || major === 3 ? new DataView(bytes.buffer, bytes.byteOffset + 8, 4).getUint32(0, true) : -1;
  if (headerLen < 0) throw new NpyError(source, `unsupported .npy version ${major}`);
  const start = major === 1 ? 10 : 12;
  if (start + headerLen > bytes.length) throw new NpyError(source, "truncated header");
  const header = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(bytes.subarray(start, start + headerLen));
  const descr = header.match(/'descr'\s*:\s*'([^']*)'/)?.[1];
  const fortran = header.match(/'fortran_order'\s*:\s*(True|False)/)?.[1];
  const shapeText = header.match(/'shape'\s*:\s*\(([^)]*)\)/)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) throw new NpyError(source, "malformed header");
  const dtype = DESCR[descr === "<b1" ? "|b1" : descr === "<i1" ? "|i1" : descr === "<u1" ? "|u1" : descr];
  if (!dtype) throw new NpyError(source, `unsupported dtype '${descr}' (little-endian numeric and bool only)`);
  if (fortran === "True") throw new NpyError(source, "Fortran-order arrays are not supported: save with np.ascontiguousarray");
  const shape = shapeText
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => {
      if (!/^\d+$/.test(s)) throw new NpyError(source, `bad dimension '${s}'`);
      return Number(s);
    });
  const n = size(shape);
  const need = byteLength(dtype, n);
  const body = bytes.subarray(start + headerLen);
  if (body.length !== need) throw new NpyError(source, `holds ${body.length} data bytes, but ${descr}${JSON.stringify(shape)} needs ${need}`);
  const data = allocate(dtype, n);
  new Uint8Array(data.buffer, data.byteOffset, data.byteLength).set(body);
  return { dtype, shape, data };
}

/** Encodes a tensor as a version 1.0 .npy file. */
export function encodeNpy(t: Tensor): Uint8Array {
  const descr = BY_DTYPE[t.dtype];
  if (!descr) throw new NpyError("output", `${t.dtype} tensors cannot be written as .npy`);
  const shape = t.shape.length === 1 ? `(${t.shape[0]},)` : `(${t.shape.join(", ")})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  const total = 10 + header.length + 1;
  header += " ".repeat((64 - (total % 64)) % 64) + "\n";
  const out = new Uint8Array(10 + header.length + t.data.byteLength);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  out[8] = header.length & 0xff;
  out[9] = header.length >> 8;
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), 10 + header.length);
  return out;
}
