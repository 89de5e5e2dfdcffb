import { describe, expect, it } from "vitest";
import {
  DTYPES,
  InvalidQuantParams,
  type QuantParams,
  computeQParams,
  computeQParamsPerChannel,
  dequantizeInt4,
  dequantizeInt8,
  dequantizeInt32,
  dequantizeLinear,
  dynamicQuantizeLinear,
  getInt4,
  minMaxAlongAxis,
  quantLayout,
  quantParamShape,
  quantizeFloat8e4m3fn,
  quantizeInt4,
  quantizeInt8,
  quantizeInt8SymmetricFast,
  quantizeInt16,
  quantizeInt32,
  quantizeLinear,
  quantizeUint4,
  quantizeUint8,
  quantizeUint16,
  quantizeValues,
  tensor,
  unpackInt4,
  unpackUint4,
} from "../src/index.js";
import { f32Bits, rng, runOrt } from "./ort-helpers.js";

/** The specification, written independently of the kernels: divide in float32, round half to even, saturate; NaN -> qmin (onnxruntime). */
function reference(x: number, s: number, zp: number, qmin: number, qmax: number): number {
  const v = Math.fround(Math.fround(x) / Math.fround(s));
  if (Number.isNaN(v)) return qmin;
  const f = Math.floor(v);
  const d = v - f;
  const r = d > 0.5 ? f + 1 : d < 0.5 ? f : f % 2 === 0 ? f : f + 1;
  const q = r + zp;
  return Math.min(qmax, Math.max(qmin, q)); // q is not NaN here
}

/** Random float32 values over many binades, and their scales. */
function randomValues(n: number, seed: number): Float32Array {
  const r = rng(seed);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = (r() - 0.5) * 2 ** Math.floor(r() * 30 - 15);
  return x;
}

/**
 * Values at and next to every tie (k + 0.5) * s for k across the int8 range: the float32 nearest to the
 * tie and its 3 neighbours on each side. For scales with many significant bits most of them are not
 * exact ties, yet some divide to a float32 quotient that is exactly k + 0.5 ("collapsing near-ties").
 */
function tieValues(scales: Float32Array, kmin: number, kmax: number): { x: Float32Array; s: Float32Array } {
  const per = (kmax - kmin + 1) * 7;
  const x = new Float32Array(scales.length * per);
  const s = new Float32Array(x.length);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  let i = 0;
  for (const sc of scales) {
    for (let k = kmin; k <= kmax; k++) {
      f[0] = (k + 0.5) * sc;
      const b = u[0]!;
      for (let d = -3; d <= 3; d++) {
        u[0] = b + d;
        s[i] = sc;
        x[i++] = f[0]!;
      }
    }
  }
  return { x, s };
}

function randomScales(n: number, seed: number): Float32Array {
  const r = rng(seed);
  return new Float32Array(n).map((_, i) => (i % 3 === 0 ? Math.fround((1 + Math.floor(r() * 64)) * 2 ** -(4 + Math.floor(r() * 12))) : Math.fround(r() * 2 ** Math.floor(r() * 16 - 12) + 1e-9)));
}

describe("reciprocal kernels == division (the specification), bit for bit", () => {
  const kernels = [
    ["int8", (x: Float32Array, s: number, z: number, out: Int32Array) => {
      const o = new Int8Array(x.length);
      quantizeInt8(x, 0, x.length, s, z, o, 0);
      out.set(o);
    }],
    ["uint8", (x: Float32Array, s: number, z: number, out: Int32Array) => {
      const o = new Uint8Array(x.length);
      quantizeUint8(x, 0, x.length, s, z, o, 0);
      out.set(o);
    }],
    ["int16", (x: Float32Array, s: number, z: number, out: Int32Array) => {
      const o = new Int16Array(x.length);
      quantizeInt16(x, 0, x.length, s, z, o, 0);
      out.set(o);
    }],
    ["uint16", (x: Float32Array, s: number, z: number, out: Int32Array) => {
      const o = new Uint16Array(x.length);
      quantizeUint16(x, 0, x.length, s, z, o, 0);
      out.set(o);
    }],
    ["int32", (x: Float32Array, s: number, z: number, out: Int32Array) => quantizeInt32(x, 0, x.length, s, z, out, 0)],
    ["int4", (x: Float32Array, s: number, z: number, out: Int32Array) => {
      const o = new Uint8Array((x.length + 1) >> 1);
      quantizeInt4(x, 0, x.length, s, z, o, 0);
      out.set(unpackInt4(o, x.length));
    }],
    ["uint4", (x: Float32Array, s: number, z: number, out: Int32Array) => {
      const o = new Uint8Array((x.length + 1) >> 1);
      quantizeUint4(x, 0, x.length, s, z, o, 0);
      out.set(unpackUint4(o, x.length));
    }],
  ] as const;

  it("2M random values x 16 scales per dtype (with zero points)", () => {
    const x = randomValues(1 << 17, 1);
    x[0] = Number.NaN;
    x[1] = Number.POSITIVE_INFINITY;
    x[2] = Number.NEGATIVE_INFINITY;
    x[3] = -0;
    x[4] = 1e-45;
    const scales = randomScales(16, 2);
    const out = new Int32Array(x.length);
    for (const [dtype, kernel] of kernels) {
      const { min, max } = DTYPES[dtype];
      for (const [j, s] of scales.entries()) {
        const z = j % 2 === 0 ? 0 : Math.round(min / 3 + (max - min) / 4);
        kernel(x, s, z, out);
        let bad = -1;
        for (let i = 0; i < x.length && bad < 0; i++) if (out[i] !== reference(x[i]!, s, z, min, max)) bad = i;
        expect(bad, `${dtype} s=${s} z=${z} x=${x[bad]}`).toBe(-1);
      }
    }
  });

  it("1.4M values at and next to ties, including near-ties whose float32 quotient is an exact tie", () => {
    const scales = randomScales(1000, 3);
    const { x, s } = tieValues(scales, -130, 129);
    const o = new Int8Array(1);
    let collapsing = 0;
    let naiveWrong = 0;
    for (let i = 0; i < x.length; i++) {
      const xi = x[i]!;
      const si = s[i]!;
      quantizeInt8(x, i, 1, si, 0, o, 0);
      const want = reference(xi, si, 0, -128, 127);
      if (o[0] !== want) expect(`${xi} / ${si}: got ${o[0]}`).toBe(`want ${want}`);
      const q = Math.fround(xi / si);
      if (q - Math.floor(q) === 0.5 && xi / si !== q) {
        collapsing++;
        // rounding the double product directly (no float32 rounding) gets these wrong half the time
        const naive = Math.max(-128, Math.min(127, xi * (1 / si) + 6755399441055744 - 6755399441055744));
        if (naive !== want) naiveWrong++;
      }
    }
    // the constructed set really exercises the subtle case
    expect(collapsing).toBeGreaterThan(1000);
    expect(naiveWrong).toBeGreaterThan(100);
  });

  it("quantizeValues (custom range) agrees with the reference", () => {
    const x = randomValues(50000, 4);
    const out = new Int32Array(x.length);
    const p: QuantParams = { scale: Float32Array.of(0.01, 0.3), zeroPoint: Int32Array.of(3, -2), axis: 1 };
    quantizeValues(x, [25000, 2], p, -127, 127, out);
    for (let i = 0; i < x.length; i++) expect(out[i]).toBe(reference(x[i]!, p.scale[i % 2]!, p.zeroPoint![i % 2]!, -127, 127));
  });
});

describe("quantizeInt8SymmetricFast", () => {
  it("== quantizeLinear with onnxruntime per-channel symmetric qparams, on 1M random values and constructed ties", () => {
    const rows = 256;
    const cols = 4096;
    const x = randomValues(rows * cols, 5);
    // rows of ties for the scale each row will get: fill a row, compute its scale, place ties
    const r = rng(6);
    for (let row = 0; row < rows; row += 2) {
      const base = row * cols;
      const amax = Math.fround(r() * 10 + 0.01);
      x[base] = amax;
      const s = computeQParams(-amax, amax, { dtype: "int8", symmetric: true }).scale;
      const f = new Float32Array(1);
      const u = new Uint32Array(f.buffer);
      for (let i = 1; i < cols; i++) {
        f[0] = (Math.floor(r() * 254) - 127 + 0.5) * s;
        u[0]! += Math.floor(r() * 5) - 2;
        if (Math.abs(f[0]!) <= amax) x[base + i] = f[0]!;
      }
    }
    const q = new Int8Array(rows * cols);
    const scales = new Float32Array(rows);
    quantizeInt8SymmetricFast(x, rows, cols, q, scales);
    const { min, max } = minMaxAlongAxis(x, [rows, cols], 0);
    const p = computeQParamsPerChannel(min, max, { dtype: "int8", symmetric: true, convention: "onnxruntime" });
    expect(f32Bits(scales)).toEqual(f32Bits(p.scale));
    const exact = quantizeLinear(tensor("float32", [rows, cols], x), { ...p, axis: 0 }, "int8").data;
    let bad = -1;
    for (let i = 0; i < q.length && bad < 0; i++) if (q[i] !== exact[i] || q[i] !== reference(x[i]!, scales[Math.floor(i / cols)]!, 0, -127, 127)) bad = i;
    expect(bad).toBe(-1);
  });

  it("== onnxruntime QuantizeLinear (per axis 0) with its scales", async () => {
    const rows = 32;
    const cols = 512;
    const x = randomValues(rows * cols, 7);
    const q = new Int8Array(rows * cols);
    const scales = new Float32Array(rows);
    quantizeInt8SymmetricFast(x, rows, cols, q, scales, false);
    const ref = await runOrt({
      opset: 13,
      inputs: [{ name: "x", dtype: "float32", shape: [rows, cols], data: x }],
      inits: [
        { name: "s", dtype: "float32", shape: [rows], data: scales },
        { name: "z", dtype: "int8", shape: [rows], data: new Int8Array(rows) },
      ],
      nodes: [{ op: "QuantizeLinear", inputs: ["x", "s", "z"], outputs: ["q"], attrs: { axis: 0 } }],
      outputs: [{ name: "q", dtype: "int8" }],
    });
    expect(Array.from(q)).toEqual(Array.from(ref.q!));
  });

  it("all-zero rows get scale 1; NaN is skipped for the absmax and quantizes to qmin; Inf throws", () => {
    const q = new Int8Array(6);
    const s = new Float32Array(2);
    quantizeInt8SymmetricFast(Float32Array.of(0, 0, 0, Number.NaN, 2, -1), 2, 3, q, s);
    expect(Array.from(s)).toEqual([1, Math.fround(2 / 127)]);
    expect(Array.from(q)).toEqual([0, 0, 0, -127, 127, -64]);
    expect(() => quantizeInt8SymmetricFast(Float32Array.of(1, Number.POSITIVE_INFINITY), 1, 2, q, s)).toThrow(InvalidQuantParams);
  });
});

describe("low-level kernels", () => {
  it("write only [outOffset, outOffset + n); 4-bit kernels keep the neighbouring nibbles", () => {
    const x = Float32Array.of(9, 1, 2, 3, 9);
    const o = new Int8Array(7).fill(99);
    quantizeInt8(x, 1, 3, 1, 0, o, 2);
    expect(Array.from(o)).toEqual([99, 99, 1, 2, 3, 99, 99]);
    for (const start of [0, 1, 2, 3]) {
      for (const n of [0, 1, 2, 3]) {
        const p = new Uint8Array(4).fill(0xaa); // nibbles -6 everywhere
        quantizeInt4(Float32Array.of(1, -2, 3), 0, n, 1, 0, p, start);
        const got = Array.from({ length: 8 }, (_, i) => getInt4(p, i));
        const want = Array.from({ length: 8 }, (_, i) => (i >= start && i < start + n ? [1, -2, 3][i - start]! : -6));
        expect(got, `start ${start} n ${n}`).toEqual(want);
      }
    }
  });

  it("dequantize kernels: float32((q - zp) * scale); int32 wraps q - zp like onnxruntime", () => {
    const out = new Float32Array(3);
    dequantizeInt8(Int8Array.of(-128, 0, 127), 0, 3, 0.1, -3, out, 0);
    expect(Array.from(out)).toEqual([-125, 3, 130].map((d) => Math.fround(d * Math.fround(0.1))));
    dequantizeInt32(Int32Array.of(-2147483648, 2147483647, 5), 0, 3, 0.1, 5, out, 0);
    expect(Array.from(out)).toEqual([Math.fround(Math.fround(2147483643) * Math.fround(0.1)), Math.fround(Math.fround(2147483642) * Math.fround(0.1)), 0]);
    dequantizeInt4(Uint8Array.of(0x8f, 0x07), 1, 2, 2, 1, out, 1);
    expect(Array.from(out.subarray(1))).toEqual([-18, 12]);
  });

  it("NaN -> qmin, +Inf -> qmax, -Inf -> qmin for every integer dtype and granularity; float8: NaN, saturation", () => {
    const x = Float32Array.of(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 3e38, -3e38, 0);
    for (const dtype of ["int8", "uint8", "int16", "uint16", "int32", "int4", "uint4"] as const) {
      const { min, max } = DTYPES[dtype];
      const z = dtype.startsWith("u") ? 1 : -1;
      const zs = (n: number) => new Int32Array(n).fill(z);
      const cases: [number[], QuantParams][] = [
        [[6], { scale: Float32Array.of(0.5), zeroPoint: zs(1) }],
        [[2, 3], { scale: Float32Array.of(0.5, 0.25, 1), zeroPoint: zs(3), axis: 1 }], // per axis, last axis
        [[2, 3], { scale: Float32Array.of(0.5, 0.25), zeroPoint: zs(2), axis: 0 }], // per axis, leading axis
        [[2, 3], { scale: Float32Array.of(0.5, 0.25, 1, 2), zeroPoint: zs(4), axis: 1, blockSize: 2 }], // blocks along the last axis
        [[2, 3], { scale: Float32Array.of(0.5, 0.25, 1, 2, 4, 8), zeroPoint: zs(6), axis: 0, blockSize: 1 }], // blocks along a leading axis
      ];
      for (const [shape, p] of cases) {
        const q = quantizeLinear(tensor("float32", shape, x), p, dtype);
        const vals = dtype === "int4" ? Array.from(unpackInt4(q.data as Uint8Array, 6)) : dtype === "uint4" ? Array.from(unpackUint4(q.data as Uint8Array, 6)) : Array.from(q.data as ArrayLike<number>);
        expect(vals, `${dtype} [${shape}] axis ${p.axis} block ${p.blockSize}`).toEqual([min, max, min, max, min, z]);
      }
    }
    const f8 = new Uint8Array(6);
    quantizeFloat8e4m3fn(x, 0, 6, 1, f8, 0);
    expect(Array.from(f8)).toEqual([0x7f, 0x7e, 0xfe, 0x7e, 0xfe, 0]);
    quantizeFloat8e4m3fn(x, 0, 6, 1, f8, 0, false);
    expect(Array.from(f8)).toEqual([0x7f, 0x7f, 0xff, 0x7f, 0xff, 0]);
  });
});

describe("tensor level: validation, layouts", () => {
  const x = tensor("float32", [2, 6], Float32Array.from({ length: 12 }, (_, i) => i - 6));
  const tag = (f: () => unknown): string | undefined => {
    try {
      f();
    } catch (e) {
      return (e as { _tag?: string })._tag;
    }
    return undefined;
  };
  it("bad parameters throw tagged errors", () => {
    expect(tag(() => quantizeLinear(x, { scale: Float32Array.of(1, 2, 3) }, "int8"))).toBe("InvalidQuantParams"); // axis 1 has 6
    expect(tag(() => quantizeLinear(x, { scale: Float32Array.of(1, 2), axis: 2 }, "int8"))).toBe("InvalidQuantParams");
    expect(tag(() => quantizeLinear(x, { scale: Float32Array.of(1), zeroPoint: Int32Array.of(200) }, "int8"))).toBe("InvalidQuantParams");
    expect(tag(() => quantizeLinear(x, { scale: Float32Array.of(1), zeroPoint: Int32Array.of(1, 2) }, "int8"))).toBe("InvalidQuantParams");
    expect(tag(() => quantizeLinear(x, { scale: Float32Array.of(1), zeroPoint: Int32Array.of(1) }, "float8e4m3fn"))).toBe("InvalidQuantParams");
    expect(tag(() => quantizeLinear(x, { scale: Float32Array.of(0) }, "int8"))).toBe("InvalidQuantParams");
    expect(tag(() => quantizeLinear(x, { scale: Float32Array.of(Number.NaN) }, "int8"))).toBe("InvalidQuantParams");
    expect(tag(() => quantizeLinear(x, { scale: Float32Array.of(Number.POSITIVE_INFINITY) }, "int8"))).toBe("InvalidQuantParams");
    expect(tag(() => quantizeLinear(x, { scale: Float32Array.of(1, 1), axis: 1, blockSize: 0.5 }, "int8"))).toBe("InvalidQuantParams");
    expect(tag(() => quantizeLinear(x, { scale: Float32Array.of(1, 1), axis: 1, blockSize: 4 }, "int8"))).toBe("InvalidQuantParams"); // needs 2 * 2
    expect(tag(() => dequantizeLinear({ dtype: "int8", shape: [3], data: new Int8Array(2) }, { scale: Float32Array.of(1) }))).toBe("ShapeError");
  });
  it("layouts: ONNX default axis 1, negative axes, block shapes", () => {
    expect(quantLayout([2, 6], { scale: new Float32Array(6) })).toMatchObject({ mode: "axis", outer: 2, dim: 6, inner: 1 });
    expect(quantLayout([2, 6], { scale: new Float32Array(2), axis: -2 })).toMatchObject({ mode: "axis", outer: 1, dim: 2, inner: 6 });
    expect(quantLayout([2, 6], { scale: new Float32Array(1), axis: 0 })).toMatchObject({ mode: "tensor" });
    expect(quantLayout([4, 5, 6], { scale: new Float32Array(4 * 3 * 6), axis: 1, blockSize: 2 })).toMatchObject({ mode: "block", outer: 4, dim: 5, inner: 6, block: 2 });
    expect(quantParamShape([4, 5, 6], { axis: 1, blockSize: 2 })).toEqual([4, 3, 6]);
    expect(quantParamShape([4, 5, 6], { axis: -1 })).toEqual([6]);
    expect(quantParamShape([4, 5, 6])).toEqual([]);
  });
  it("round trip per granularity; int32 for biases saturates to the int32 range", () => {
    const p = { scale: Float32Array.of(0.5, 2), zeroPoint: Int32Array.of(0, 3), axis: 0 };
    const q = quantizeLinear(x, p, "int8");
    expect(Array.from(q.data)).toEqual([-12, -10, -8, -6, -4, -2, 3, 3, 4, 5, 5, 5]); // 0.5 -> 0 and 2.5 -> 2: ties to even
    expect(Array.from(dequantizeLinear(q, p).data)).toEqual([-6, -5, -4, -3, -2, -1, 0, 0, 2, 4, 4, 4]);
    const b = quantizeLinear(tensor("float32", [3], Float32Array.of(1e12, -1e12, 2.5)), { scale: Float32Array.of(1) }, "int32");
    expect(Array.from(b.data)).toEqual([2147483647, -2147483648, 2]);
  });
  it("dynamicQuantizeLinear: all zeros -> scale 1, zp 0; zero point ties to even", () => {
    const z = dynamicQuantizeLinear(tensor("float32", [3], new Float32Array(3)));
    expect([z.scale, z.zeroPoint, ...z.y.data]).toEqual([1, 0, 0, 0, 0]);
    expect(dynamicQuantizeLinear(tensor("float32", [2], Float32Array.of(-2.5, 252.5))).zeroPoint).toBe(2);
    expect(dynamicQuantizeLinear(tensor("float32", [2], Float32Array.of(-3.5, 251.5))).zeroPoint).toBe(4);
  });
});
