import { describe, expect, it } from "vitest";
import {
  bf16ArrayToF32,
  bf16ToF32,
  castTo,
  f8e4m3fnArrayToF32,
  f8e4m3fnToF32,
  f8e5m2ArrayToF32,
  f8e5m2ToF32,
  f16ArrayToF32,
  f16ToF32,
  f32ArrayToBf16,
  f32ArrayToF8e4m3fn,
  f32ArrayToF8e5m2,
  f32ArrayToF16,
  f32ToBf16,
  f32ToF8e4m3fn,
  f32ToF8e5m2,
  f32ToF16,
  packInt4,
  tensor,
  unpackInt4,
  unpackUint4,
} from "../src/index.js";
import { f32Bits, rng, runOrt } from "./ort-helpers.js";

const bitsOf = (x: number) => new Uint32Array(Float32Array.of(x).buffer)[0]!;
const fromBits = (b: number) => new Float32Array(Uint32Array.of(b).buffer)[0]!;

interface Format {
  name: string;
  codes: number; // number of codes (2^bits)
  decode: (c: number) => number;
  encode: (x: number) => number;
  signBit: number;
}

const F16: Format = { name: "float16", codes: 65536, decode: f16ToF32, encode: f32ToF16, signBit: 0x8000 };
const E4M3: Format = { name: "float8e4m3fn", codes: 256, decode: f8e4m3fnToF32, encode: (x) => f32ToF8e4m3fn(x), signBit: 0x80 };
const E5M2: Format = { name: "float8e5m2", codes: 256, decode: f8e5m2ToF32, encode: (x) => f32ToF8e5m2(x, false), signBit: 0x80 };

/** Independent reference: the nearest finite positive value of the format (ties to the even code), by search. */
function reference(f: Format) {
  const pos: { v: number; c: number }[] = [];
  for (let c = 0; c < f.signBit; c++) {
    const v = f.decode(c);
    if (Number.isFinite(v)) pos.push({ v, c });
  }
  pos.sort((a, b) => a.v - b.v);
  const max = pos[pos.length - 1]!.v;
  return {
    pos,
    max,
    nearest(x: number): number {
      const a = Math.abs(x);
      let lo = 0;
      let hi = pos.length - 1;
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        if (pos[mid]!.v <= a) lo = mid;
        else hi = mid;
      }
      const l = pos[lo]!;
      const h = pos[hi]!;
      const c = a - l.v < h.v - a ? l.c : a - l.v > h.v - a ? h.c : l.c % 2 === 0 ? l.c : h.c;
      return (x < 0 || Object.is(x, -0) ? f.signBit : 0) | c;
    },
  };
}

function checkFormat(f: Format) {
  const ref = reference(f);
  it(`${f.name}: every code decodes and re-encodes to itself (NaN stays NaN)`, () => {
    const bad: number[] = [];
    for (let c = 0; c < f.codes; c++) {
      const v = f.decode(c);
      if (Number.isNaN(v) ? !Number.isNaN(f.decode(f.encode(v))) : f.encode(v) !== c) bad.push(c);
    }
    expect(bad).toEqual([]);
  });
  it(`${f.name}: midpoints tie to even, neighbours of midpoints round to the nearer value, random values agree with a search`, () => {
    const vals: number[] = [];
    for (let i = 0; i + 1 < ref.pos.length; i++) {
      const m = (ref.pos[i]!.v + ref.pos[i + 1]!.v) / 2;
      expect(Math.fround(m)).toBe(m); // midpoints are float32 values
      vals.push(m, fromBits(bitsOf(m) + 1), fromBits(bitsOf(m) - 1));
    }
    const r = rng(3);
    for (let i = 0; i < 20000; i++) vals.push(Math.fround(ref.max * r() * r() * r()));
    for (let i = 0; i < 2000; i++) vals.push(Math.fround(ref.pos[1]!.v * 3 * r())); // subnormal range
    const bad: string[] = [];
    for (const v of vals) {
      for (const x of [v, -v]) {
        if (Math.abs(x) <= ref.max && f.encode(x) !== ref.nearest(x)) bad.push(`${f.name}(${x}) = ${f.encode(x)}, want ${ref.nearest(x)}`);
      }
    }
    expect(bad).toEqual([]);
  });
}

describe("float16", () => {
  checkFormat(F16);
  it("decodes known values; array versions agree with scalars over all 65536 codes", () => {
    expect(f16ToF32(0x3c00)).toBe(1);
    expect(f16ToF32(0x0001)).toBe(2 ** -24);
    expect(f16ToF32(0x03ff)).toBe(1023 * 2 ** -24);
    expect(f16ToF32(0x0400)).toBe(2 ** -14);
    expect(f16ToF32(0x7bff)).toBe(65504);
    expect(f16ToF32(0x7c00)).toBe(Number.POSITIVE_INFINITY);
    expect(f16ToF32(0xfc00)).toBe(Number.NEGATIVE_INFINITY);
    expect(Object.is(f16ToF32(0x8000), -0)).toBe(true);
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const f = f16ArrayToF32(all);
    expect(f32Bits(f)).toEqual(f32Bits(Array.from(all, f16ToF32)));
    // NaN payloads are dropped (sign | 0x7E00), as onnxruntime
    expect(Array.from(f32ArrayToF16(f))).toEqual(Array.from(all, (h) => ((h & 0x7c00) === 0x7c00 && h & 0x3ff ? (h & 0x8000) | 0x7e00 : h)));
  });
  it("overflow, underflow, NaN", () => {
    expect(f32ToF16(65519.99)).toBe(0x7bff);
    expect(f32ToF16(65520)).toBe(0x7c00); // tie between 65504 and 65536 (Inf): to even
    expect(f32ToF16(-1e6)).toBe(0xfc00);
    expect(f32ToF16(Number.POSITIVE_INFINITY)).toBe(0x7c00);
    expect(f32ToF16(2 ** -25)).toBe(0); // half of the smallest subnormal: tie to 0
    expect(f32ToF16(2 ** -25 * 1.0000001)).toBe(1);
    expect(f32ToF16(-(2 ** -26))).toBe(0x8000);
    expect(f32ToF16(1e-45)).toBe(0);
    expect(f32ToF16(Number.NaN)).toBe(0x7e00);
    expect(f32ToF16(2 ** -14 - 2 ** -25)).toBe(0x0400); // rounds up into the smallest normal
  });
});

describe("bfloat16", () => {
  it("round trips all 65536 codes; rounds to nearest even", () => {
    const bad: number[] = [];
    for (let h = 0; h < 65536; h++) {
      const v = bf16ToF32(h);
      if (Number.isNaN(v) ? (f32ToBf16(v) & 0x7fc0) !== 0x7fc0 : f32ToBf16(v) !== h) bad.push(h);
    }
    expect(bad).toEqual([]);
    expect(f32ToBf16(fromBits(0x3f808000))).toBe(0x3f80); // tie, even below
    expect(f32ToBf16(fromBits(0x3f818000))).toBe(0x3f82); // tie, even above
    expect(f32ToBf16(fromBits(0x3f808001))).toBe(0x3f81);
    expect(f32ToBf16(fromBits(0x7f7fffff))).toBe(0x7f80); // rounds to Inf
    expect(f32ToBf16(fromBits(0x00000001))).toBe(0); // float32 subnormal
    expect(f32ToBf16(fromBits(0x00008000))).toBe(0); // tie to even (0)
    expect(f32ToBf16(fromBits(0x00018000))).toBe(2);
    const x = Float32Array.of(1, -2.5, 3.3, 1e-40, Number.NaN, Number.NEGATIVE_INFINITY);
    const b = f32ArrayToBf16(x);
    expect(Array.from(b)).toEqual(Array.from(x, f32ToBf16));
    expect(f32Bits(bf16ArrayToF32(b))).toEqual(f32Bits(Array.from(b, bf16ToF32)));
  });
});

describe("float8e4m3fn", () => {
  checkFormat(E4M3);
  it("known values, saturation and NaN", () => {
    expect(f8e4m3fnToF32(0x7e)).toBe(448);
    expect(f8e4m3fnToF32(0x01)).toBe(2 ** -9);
    expect(f8e4m3fnToF32(0x08)).toBe(2 ** -6);
    expect(Number.isNaN(f8e4m3fnToF32(0x7f))).toBe(true);
    expect(Number.isNaN(f8e4m3fnToF32(0xff))).toBe(true);
    expect(f8e4m3fnToF32(0x78)).toBe(256); // S.1111.000 is a number (no Inf)
    expect(f32ToF8e4m3fn(Number.POSITIVE_INFINITY)).toBe(0x7e);
    expect(f32ToF8e4m3fn(Number.NEGATIVE_INFINITY)).toBe(0xfe);
    expect(f32ToF8e4m3fn(Number.POSITIVE_INFINITY, false)).toBe(0x7f);
    expect(f32ToF8e4m3fn(Number.NEGATIVE_INFINITY, false)).toBe(0xff);
    expect(f32ToF8e4m3fn(1e9)).toBe(0x7e);
    expect(f32ToF8e4m3fn(464)).toBe(0x7e); // tie between 448 and 480 (NaN code): even
    expect(f32ToF8e4m3fn(470, false)).toBe(0x7f);
    expect(f32ToF8e4m3fn(485, false)).toBe(0x7e); // onnxruntime's quirk: 480 <= |x| < 496 -> 448
    expect(f32ToF8e4m3fn(-490, false)).toBe(0xfe);
    expect(f32ToF8e4m3fn(496, false)).toBe(0x7f);
    expect(f32ToF8e4m3fn(1e9, false)).toBe(0x7f);
    expect(f32ToF8e4m3fn(Number.NaN)).toBe(0x7f);
    expect(f32ToF8e4m3fn(fromBits(0xffc00000))).toBe(0xff);
    expect(f32ToF8e4m3fn(2 ** -10)).toBe(0); // tie to 0
    expect(f32ToF8e4m3fn(2 ** -10 * 1.5)).toBe(1);
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    const f = f8e4m3fnArrayToF32(all);
    expect(f32Bits(f)).toEqual(f32Bits(Array.from(all, f8e4m3fnToF32)));
    expect(Array.from(f32ArrayToF8e4m3fn(f))).toEqual(Array.from(all));
  });
});

describe("float8e5m2", () => {
  checkFormat(E5M2);
  it("known values, saturation, Inf and NaN", () => {
    expect(f8e5m2ToF32(0x7b)).toBe(57344);
    expect(f8e5m2ToF32(0x7c)).toBe(Number.POSITIVE_INFINITY);
    expect(f8e5m2ToF32(0xfc)).toBe(Number.NEGATIVE_INFINITY);
    expect(f8e5m2ToF32(0x01)).toBe(2 ** -16);
    for (const c of [0x7d, 0x7e, 0x7f, 0xfd, 0xfe, 0xff]) expect(Number.isNaN(f8e5m2ToF32(c))).toBe(true);
    expect(f32ToF8e5m2(Number.POSITIVE_INFINITY)).toBe(0x7b);
    expect(f32ToF8e5m2(Number.POSITIVE_INFINITY, false)).toBe(0x7c);
    expect(f32ToF8e5m2(Number.NEGATIVE_INFINITY, false)).toBe(0xfc);
    expect(f32ToF8e5m2(1e9)).toBe(0x7b);
    expect(f32ToF8e5m2(61439, false)).toBe(0x7b);
    expect(f32ToF8e5m2(61440, false)).toBe(0x7f); // onnxruntime's quirk: rounding past 57344 gives NaN
    expect(f32ToF8e5m2(-65535, false)).toBe(0xff);
    expect(f32ToF8e5m2(65536, false)).toBe(0x7c);
    expect(f32ToF8e5m2(Number.NaN)).toBe(0x7f);
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    expect(f32Bits(f8e5m2ArrayToF32(all))).toEqual(f32Bits(Array.from(all, f8e5m2ToF32)));
    expect(Array.from(f32ArrayToF8e5m2(f8e5m2ArrayToF32(all), undefined, false))).toEqual(Array.from(all, (c) => ((c & 0x7f) > 0x7c ? c | 0x7f : c)));
  });
});

describe("conversions == onnxruntime Cast", () => {
  const r = rng(9);
  const vals: number[] = [0, -0, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 65504, 65519, 65520, 448, 464, 470, 480, 490, 496, 57344, 61439, 61440, 65535, 65536, 3.4e38];
  for (const f of [F16, E4M3, E5M2]) {
    const ref = reference(f);
    for (let i = 0; i + 1 < ref.pos.length; i++) {
      const m = (ref.pos[i]!.v + ref.pos[i + 1]!.v) / 2;
      vals.push(m, fromBits(bitsOf(m) + 1), fromBits(bitsOf(m) - 1));
    }
  }
  for (let i = 0; i < 30000; i++) vals.push(fromBits((r() * 2 ** 32) >>> 0));
  const all = Float32Array.from([...vals, ...vals.map((v) => -v)]);
  const n = all.length;
  const cast = (to: number, saturate?: number) => ({ op: "Cast", inputs: ["x"], outputs: ["c"], attrs: { to, ...(saturate === undefined ? {} : { saturate }) } });
  it("float16", async () => {
    const ref = await runOrt({ opset: 21, inputs: [{ name: "x", dtype: "float32", shape: [n], data: all }], nodes: [cast(10)], outputs: [{ name: "c", dtype: "float16" }] });
    const ours = f32ArrayToF16(all);
    const got = Array.from(ours, (h, i) => (Number.isNaN(all[i]!) ? 0x7e00 : h));
    const want = Array.from(ref.c as Uint16Array, (h, i) => (Number.isNaN(all[i]!) ? 0x7e00 : h));
    expect(got).toEqual(want);
  });
  it("bfloat16", async () => {
    const ref = await runOrt({
      opset: 21,
      inputs: [{ name: "x", dtype: "float32", shape: [n], data: all }],
      nodes: [cast(16), { op: "Cast", inputs: ["c"], outputs: ["y"], attrs: { to: 1 } }],
      outputs: [{ name: "y", dtype: "float32" }],
    });
    expect(f32Bits(bf16ArrayToF32(f32ArrayToBf16(all)))).toEqual(f32Bits(ref.y!));
  });
  for (const [to, name, enc, dec] of [
    [17, "float8e4m3fn", f32ArrayToF8e4m3fn, f8e4m3fnArrayToF32],
    [19, "float8e5m2", f32ArrayToF8e5m2, f8e5m2ArrayToF32],
  ] as const) {
    for (const saturate of [1, 0]) {
      it(`${name} saturate=${saturate}`, async () => {
        const ref = await runOrt({
          opset: 21,
          inputs: [{ name: "x", dtype: "float32", shape: [n], data: all }],
          nodes: [cast(to, saturate), { op: "Cast", inputs: ["c"], outputs: ["y"], attrs: { to: 1 } }],
          outputs: [{ name: "y", dtype: "float32" }],
        });
        expect(f32Bits(dec(enc(all, undefined, saturate === 1)))).toEqual(f32Bits(ref.y!));
      });
    }
  }
});

describe("int4 packing", () => {
  it("packs low nibble first; odd counts leave the last high nibble 0", () => {
    expect(Array.from(packInt4([1, 2, 3]))).toEqual([0x21, 0x03]);
    expect(Array.from(packInt4([-1, -8, 7]))).toEqual([0x8f, 0x07]);
    expect(Array.from(unpackInt4(Uint8Array.of(0x8f, 0x07), 3))).toEqual([-1, -8, 7]);
    expect(Array.from(unpackUint4(Uint8Array.of(0x8f, 0x07), 3))).toEqual([15, 8, 7]);
    const out = new Uint8Array(2).fill(0xff);
    packInt4([1, 2, 3], out);
    expect(Array.from(out)).toEqual([0x21, 0x03]);
  });
});

describe("castTo (onnxruntime semantics; every dtype pair is checked against onnxruntime in cast.test.ts)", () => {
  it("float -> integers: truncation toward zero, then two's-complement wrap; NaN/Inf -> INT_MIN bits", () => {
    const t = tensor("float32", [8], Float32Array.of(1.9, -1.9, 300, -300, Number.NaN, Number.POSITIVE_INFINITY, -0.5, 127.5));
    expect(Array.from(castTo(t, "int8").data)).toEqual([1, -1, 44, -44, 0, 0, 0, 127]);
    expect(Array.from(castTo(t, "uint8").data)).toEqual([1, 255, 44, 212, 0, 0, 0, 127]);
    expect(Array.from(castTo(t, "int32").data)).toEqual([1, -1, 300, -300, -2147483648, -2147483648, 0, 127]);
    expect(Array.from(castTo(t, "int64").data)).toEqual([1n, -1n, 300n, -300n, -(2n ** 63n), -(2n ** 63n), 0n, 127n]);
    expect(Array.from(castTo(t, "uint32").data)).toEqual([1, 4294967295, 300, 4294966996, 2147483648, 0, 0, 127]);
    expect(Array.from(castTo(t, "bool").data)).toEqual([1, 1, 1, 1, 1, 1, 1, 1]);
    // int4: round half away from zero, keep the low nibble
    expect(Array.from(unpackInt4(castTo(t, "int4").data, 8))).toEqual([2, -2, -4, 4, 0, 0, -1, 0]);
  });
  it("integers wrap; floats round to nearest even", () => {
    const t = tensor("int32", [4], Int32Array.of(300, -1, 65537, -129));
    expect(Array.from(castTo(t, "int8").data)).toEqual([44, -1, 1, 127]);
    expect(Array.from(castTo(t, "uint16").data)).toEqual([300, 65535, 1, 65407]);
    expect(Array.from(unpackInt4(castTo(t, "int4").data, 4))).toEqual([-4, -1, 1, -1]);
    expect(Array.from(castTo(tensor("int64", [2], BigInt64Array.of(2n ** 40n + 5n, -1n)), "int32").data)).toEqual([5, -1]);
    expect(Array.from(castTo(tensor("int64", [1], BigInt64Array.of(2n ** 60n + 2n ** 36n + 1n)), "float32").data)).toEqual([Math.fround(2 ** 60 + 2 ** 37)]);
    expect(Array.from(castTo(tensor("float32", [2], Float32Array.of(1, 65520)), "float16").data)).toEqual([0x3c00, 0x7c00]);
    expect(Array.from(castTo(tensor("float16", [2], Uint16Array.of(0x3c00, 0xc000)), "float32").data)).toEqual([1, -2]);
    expect(Array.from(castTo(tensor("float32", [2], Float32Array.of(1000, Number.POSITIVE_INFINITY)), "float8e4m3fn", { saturate: false }).data)).toEqual([0x7f, 0x7f]);
    expect(Array.from(castTo(tensor("float32", [2], Float32Array.of(1000, Number.POSITIVE_INFINITY)), "float8e4m3fn").data)).toEqual([0x7e, 0x7e]);
    expect(Array.from(castTo(tensor("uint4", [3], packInt4([15, 1, 9])), "float32").data)).toEqual([15, 1, 9]);
    expect(Array.from(castTo(tensor("uint4", [3], packInt4([15, 1, 9])), "int4").data)).toEqual(Array.from(packInt4([15, 1, 9])));
  });
});
