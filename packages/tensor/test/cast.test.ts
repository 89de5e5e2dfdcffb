import { describe, expect, it } from "vitest";
import {
  type DType,
  type Storage,
  type Tensor,
  bf16ArrayToF32,
  castTo,
  f8e4m3fnArrayToF32,
  f8e5m2ArrayToF32,
  packInt4,
  tensor,
  unpackInt4,
  unpackUint4,
} from "../src/index.js";
import { ONNX_TYPE, rng, runOrt } from "./ort-helpers.js";

/**
 * castTo against onnxruntime's Cast for every (source, target) pair of the 17 dtypes, on values that
 * include NaN, ±Inf, ±0, halves, values beyond every integer range and random bit patterns.
 */

const ALL: DType[] = ["float32", "float64", "float16", "bfloat16", "float8e4m3fn", "float8e5m2", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64", "bool", "int4", "uint4"];
const onnxType = (d: DType): number => ONNX_TYPE[d]!;

const r = rng(17);
const FLOATS: number[] = [0, -0, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0.5, -0.5, 1.5, 2.5, -2.5, 7.5, 8.5, -8.5, 15.5, 16, 127.5, 128.5, -128.5, 200.7, 255.5, 256.2, -129.3, 300, 40000.5, 65519, 65520, 70000.2, -70000, 2147483520, 2147483648, -2147483904, 3e9, -3e9, 4294967296, 5e18, 9.3e18, 1e20, -1e20, 448, 464, 470, 480, 490, 496, 57344, 61440, 65536, 1e-40, -1e-45, 3.4e38];
for (let i = 0; i < 1500; i++) FLOATS.push((r() - 0.5) * 2 ** Math.floor(r() * 80 - 20));
const F32_BITS = new Uint32Array(800).map(() => (r() * 2 ** 32) >>> 0);

/** Source values of a dtype, as storage. */
function source(dtype: DType): Tensor {
  let data: Storage;
  switch (dtype) {
    case "float32": {
      const f = Float32Array.from(FLOATS);
      const all = new Float32Array(f.length + F32_BITS.length);
      all.set(f);
      new Uint32Array(all.buffer).set(F32_BITS, f.length);
      data = all;
      break;
    }
    case "float64": {
      const d = Float64Array.from([...FLOATS, ...Array.from(new Float32Array(F32_BITS.buffer))]);
      // doubles next to float32 midpoints (double rounding through float32)
      for (let i = 0; i < 200; i++) d[i] = Math.fround(1 + i / 256) + 2 ** -24 * (i % 2 ? 1.0000001 : 0.9999999);
      data = d;
      break;
    }
    case "float16":
    case "bfloat16":
      data = Uint16Array.from({ length: 65536 }, (_, i) => i);
      break;
    case "float8e4m3fn":
    case "float8e5m2":
    case "uint8":
    case "int8":
      data = dtype === "int8" ? Int8Array.from({ length: 256 }, (_, i) => i - 128) : Uint8Array.from({ length: 256 }, (_, i) => i);
      break;
    case "int16":
    case "uint16":
    case "int32":
    case "uint32": {
      const vals = [0, 1, -1, 7, 8, -8, -9, 15, 16, 127, 128, -128, -129, 255, 256, 32767, 32768, -32768, -32769, 65535, 65536, 16777217, 2147483647, -2147483648];
      for (let i = 0; i < 500; i++) vals.push(Math.floor((r() - 0.5) * 2 ** 33));
      data = dtype === "int16" ? Int16Array.from(vals) : dtype === "uint16" ? Uint16Array.from(vals) : dtype === "int32" ? Int32Array.from(vals) : Uint32Array.from(vals);
      break;
    }
    case "int64":
    case "uint64": {
      const vals = [0n, 1n, -1n, 255n, 256n, -129n, 2n ** 31n, 2n ** 32n + 7n, 2n ** 53n + 1n, 2n ** 60n + 2n ** 36n + 1n, 2n ** 62n + 2n ** 38n, -(2n ** 63n), 2n ** 63n - 1n, 16777217n, -16777217n];
      for (let i = 0; i < 300; i++) vals.push(BigInt(Math.floor((r() - 0.5) * 2 ** 52)) * BigInt(1 + Math.floor(r() * 4096)));
      data = dtype === "int64" ? BigInt64Array.from(vals, (v) => BigInt.asIntN(64, v)) : BigUint64Array.from(vals, (v) => BigInt.asUintN(64, v));
      break;
    }
    case "bool":
      data = Uint8Array.of(0, 1, 1, 0);
      break;
    case "int4":
    case "uint4":
      data = packInt4(Array.from({ length: 16 }, (_, i) => i));
      break;
  }
  const n = dtype === "int4" || dtype === "uint4" ? 16 : data.length;
  return tensor(dtype, [n], data);
}

/** What onnxruntime-node can return directly; others go through a second Cast. */
const VIA: Partial<Record<DType, DType>> = { bfloat16: "float32", float8e4m3fn: "float32", float8e5m2: "float32", int4: "int8", uint4: "int8" };

/** Comparable values of a cast result (floats as bit patterns, NaN kept with its sign). */
function comparable(t: Tensor): (number | bigint | string)[] {
  const n = t.shape[0]!;
  switch (t.dtype) {
    case "bfloat16":
      return f32Words(bf16ArrayToF32(t.data as Uint16Array));
    case "float8e4m3fn":
      return f32Words(f8e4m3fnArrayToF32(t.data as Uint8Array));
    case "float8e5m2":
      return f32Words(f8e5m2ArrayToF32(t.data as Uint8Array));
    case "float32":
      return f32Words(t.data as Float32Array);
    case "float64":
      return Array.from(new BigUint64Array((t.data as Float64Array).slice().buffer), (b) => `0x${b.toString(16)}`);
    case "int4":
      return Array.from(unpackInt4(t.data as Uint8Array, n));
    case "uint4":
      return Array.from(unpackUint4(t.data as Uint8Array, n));
    default:
      return Array.from(t.data as ArrayLike<number | bigint>, (v) => v);
  }
}
const f32Words = (f: Float32Array) => Array.from(new Uint32Array(f.slice().buffer), (b) => `0x${b.toString(16)}`);

function ortComparable(dst: DType, data: ArrayLike<number | bigint | boolean>): (number | bigint | string)[] {
  const via = VIA[dst] ?? dst;
  if (via === "float32") return f32Words(Float32Array.from(data as ArrayLike<number>));
  if (via === "float64") return Array.from(new BigUint64Array(Float64Array.from(data as ArrayLike<number>).buffer), (b) => `0x${b.toString(16)}`);
  if (dst === "uint4") return Array.from(data as ArrayLike<number>, (v) => v);
  return Array.from(data as ArrayLike<number | bigint | boolean>, (v) => (typeof v === "boolean" ? Number(v) : v));
}

describe("castTo == onnxruntime Cast for every dtype pair", () => {
  for (const src of ALL) {
    it(`from ${src}`, async () => {
      const t = source(src);
      const bad: string[] = [];
      const unsupported: string[] = [];
      for (const dst of ALL) {
        const via = VIA[dst];
        const nodes = [{ op: "Cast", inputs: ["x"], outputs: ["c"], attrs: { to: onnxType(dst) } }];
        if (via) nodes.push({ op: "Cast", inputs: ["c"], outputs: ["y"], attrs: { to: onnxType(via) } });
        let ref: Record<string, ArrayLike<number>>;
        try {
          ref = await runOrt({
            opset: 21,
            inputs: [],
            inits: [{ name: "x", dtype: src, shape: t.shape, data: t.data }],
            nodes,
            outputs: [{ name: via ? "y" : "c", dtype: via ?? dst }],
          });
        } catch (e) {
          unsupported.push(`${dst}: ${String(e).slice(0, 80)}`);
          continue;
        }
        const want = ortComparable(dst, ref[via ? "y" : "c"]!);
        const got = comparable(castTo(t, dst));
        let shown = 0;
        for (let i = 0; i < want.length && shown < 3; i++) {
          if (got[i] !== want[i]) {
            bad.push(`${src} -> ${dst} [${i}]: got ${String(got[i])}, onnxruntime ${String(want[i])}`);
            shown++;
          }
        }
      }
      expect(bad).toEqual([]);
      expect(unsupported).toEqual([]);
    });
  }
});
