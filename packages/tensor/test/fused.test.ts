import { describe, expect, it } from "vitest";
import {
  InvalidQuantParams,
  ShapeError,
  computeQParamsPerChannel,
  minMaxAlongAxis,
  quantizeInt8SymmetricFast,
  quantizeInt8SymmetricFastColumns,
  quantizeLinear,
  quantizeValues,
  tensor,
} from "../src/index.js";
import { f32Bits, rng, runOrt } from "./ort-helpers.js";

/*
 * The fused per-channel symmetric int8 paths (rows: axis 0, columns: axis 1) against the unfused
 * reference: minMaxAlongAxis -> computeQParamsPerChannel (onnxruntime, symmetric) -> quantizeValues /
 * quantizeLinear, and against an independent division-based reference per element.
 */

type Axis = 0 | 1;

function fused(x: Float32Array, rows: number, cols: number, axis: Axis, narrow: boolean): { scale: Float32Array; q: Int8Array } {
  const q = new Int8Array(rows * cols).fill(99);
  const scale = new Float32Array(axis === 0 ? rows : cols).fill(Number.NaN);
  if (axis === 0) quantizeInt8SymmetricFast(x, rows, cols, q, scale, narrow);
  else quantizeInt8SymmetricFastColumns(x, rows, cols, q, scale, narrow);
  return { scale, q };
}

/** Parameters and values through the unfused, general functions. */
function unfused(x: Float32Array, rows: number, cols: number, axis: Axis, narrow: boolean): { scale: Float32Array; q: Int8Array } {
  const { min, max } = minMaxAlongAxis(x, [rows, cols], axis);
  const p = computeQParamsPerChannel(min, max, { dtype: "int8", symmetric: true, narrowRange: narrow, convention: "onnxruntime" });
  expect(p.zeroPoint.every((z) => z === 0)).toBe(true);
  const q = new Int8Array(rows * cols);
  quantizeValues(x, [rows, cols], { scale: p.scale, axis }, narrow ? -127 : -128, 127, q);
  return { scale: p.scale, q };
}

/** The specification: divide in float32, round half to even, saturate; NaN -> qmin. */
function reference(x: number, s: number, qmin: number): number {
  const v = Math.fround(Math.fround(x) / Math.fround(s));
  if (Number.isNaN(v)) return qmin;
  const f = Math.floor(v);
  const d = v - f;
  const r = d > 0.5 ? f + 1 : d < 0.5 ? f : f % 2 === 0 ? f : f + 1;
  return Math.min(127, Math.max(qmin, r));
}

function expectSame(x: Float32Array, rows: number, cols: number, axis: Axis, narrow: boolean): void {
  const a = fused(x, rows, cols, axis, narrow);
  const b = unfused(x, rows, cols, axis, narrow);
  expect(f32Bits(a.scale)).toEqual(f32Bits(b.scale));
  let bad = -1;
  for (let i = 0; i < a.q.length && bad < 0; i++) {
    const s = b.scale[axis === 0 ? Math.floor(i / cols) : i % cols]!;
    if (a.q[i] !== b.q[i] || a.q[i] !== reference(x[i]!, s, narrow ? -127 : -128)) bad = i;
  }
  expect(bad, bad >= 0 ? `element ${bad}: x=${x[bad]} fused=${a.q[bad]} reference=${b.q[bad]}` : "").toBe(-1);
  if (!narrow && !x.some(Number.isNaN)) {
    // the full range is plain QuantizeLinear int8 (NaN would give -128 there too, but keep it simple)
    const ql = quantizeLinear(tensor("float32", [rows, cols], x), { scale: b.scale, axis }, "int8").data;
    expect(Array.from(a.q)).toEqual(Array.from(ql));
  }
}

/**
 * A [rows, cols] matrix whose channels (rows for axis 0, columns for axis 1) have absmax values over
 * many binades; most elements sit at or next to the ties (k + 0.5) * scale of their channel's scale,
 * and every channel holds ±absmax (quotients at ±127 narrow, ±127.5 full range).
 */
function tieMatrix(rows: number, cols: number, axis: Axis, narrow: boolean, seed: number): Float32Array {
  const r = rng(seed);
  const x = new Float32Array(rows * cols);
  const nch = axis === 0 ? rows : cols;
  const len = axis === 0 ? cols : rows;
  const at = (c: number, k: number) => (axis === 0 ? c * cols + k : k * cols + c);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let c = 0; c < nch; c++) {
    const amax = Math.fround((r() + 0.01) * 2 ** Math.floor(r() * 40 - 20));
    const { scale } = computeQParamsPerChannel([-amax], [amax], { dtype: "int8", symmetric: true, narrowRange: narrow });
    const s = scale[0]!;
    for (let k = 0; k < len; k++) {
      const t = r();
      if (t < 0.7) {
        f[0] = (Math.floor(r() * 256) - 128 + 0.5) * s;
        u[0]! += Math.floor(r() * 7) - 3;
        x[at(c, k)] = Math.abs(f[0]!) <= amax ? f[0]! : 0;
      } else {
        x[at(c, k)] = (r() * 2 - 1) * amax;
      }
    }
    if (len > 0) x[at(c, Math.floor(r() * len))] = amax;
    if (len > 1) x[at(c, Math.floor(r() * len))] = -amax;
  }
  return x;
}

const layouts: [string, Axis][] = [
  ["rows (axis 0)", 0],
  ["columns (axis 1)", 1],
];

describe.each(layouts)("fused per-channel symmetric int8, %s", (_name, axis) => {
  it.each([true, false])("== unfused qparams + quantize on random values over many binades (narrow %s)", (narrow) => {
    const rows = 256;
    const cols = 1024;
    const r = rng(11 + axis);
    const x = new Float32Array(rows * cols);
    for (let i = 0; i < x.length; i++) x[i] = (r() - 0.5) * 2 ** Math.floor(r() * 30 - 15);
    expectSame(x, rows, cols, axis, narrow);
  });

  it.each([true, false])("== unfused on constructed ties and ±absmax, odd sizes (narrow %s)", (narrow) => {
    for (const [rows, cols] of [
      [257, 1031],
      [67, 131],
      [3, 5],
      [1, 9],
      [9, 1],
      [4, 4],
    ] as const) {
      expectSame(tieMatrix(rows, cols, axis, narrow, rows * 7 + cols), rows, cols, axis, narrow);
    }
  });

  it("ties really occur in the constructed data (both directions of round half to even)", () => {
    const rows = 64;
    const cols = 256;
    const x = tieMatrix(rows, cols, axis, true, 5);
    const { scale } = fused(x, rows, cols, axis, true);
    let ties = 0;
    for (let i = 0; i < x.length; i++) {
      const v = Math.fround(x[i]! / scale[axis === 0 ? Math.floor(i / cols) : i % cols]!);
      if (v - Math.floor(v) === 0.5) ties++;
    }
    expect(ties).toBeGreaterThan(1000);
  });

  it.each([true, false])("all-zero, -0, subnormal, huge and NaN channels; zero-size matrices (narrow %s)", (narrow) => {
    const rows = 6;
    const cols = 7;
    const x = tieMatrix(rows, cols, axis, narrow, 3);
    const set = (c: number, k: number, v: number) => {
      x[axis === 0 ? c * cols + k : k * cols + c] = v;
    };
    const len = axis === 0 ? cols : rows;
    for (let k = 0; k < len; k++) {
      set(0, k, k % 2 ? -0 : 0); // zeros (scale 1)
      set(1, k, k % 3 ? 1e-45 * k : -3e-39); // subnormals: 2 * absmax / 254 < FLT_MIN -> scale 1, all 0
      set(2, k, k % 2 ? 3.4028234663852886e38 : -1e38); // float32 max: 2 * absmax overflows float32
      set(3, k, Number.NaN); // all NaN: scale 1, NaN -> qmin
      set(4, k, k === 1 ? Number.NaN : k === 2 ? Number.NaN : set.length + k - 3); // NaN among values
    }
    expectSame(x, rows, cols, axis, narrow);
    const { scale, q } = fused(x, rows, cols, axis, narrow);
    expect(scale[0]).toBe(1);
    expect(scale[1]).toBe(1);
    expect(scale[3]).toBe(1);
    const qmin = narrow ? -127 : -128;
    const atq = (c: number, k: number) => q[axis === 0 ? c * cols + k : k * cols + c];
    expect(atq(3, 0)).toBe(qmin);
    expect(atq(4, 1)).toBe(qmin);
    for (let k = 0; k < len; k++) expect(atq(1, k)).toBe(0);
    for (const [r, c] of [
      [0, 5],
      [5, 0],
      [0, 0],
    ] as const) {
      expectSame(new Float32Array(0), r, c, axis, narrow);
    }
  });

  it("±Inf throws InvalidQuantParams (also next to NaN); short arrays and bad shapes throw ShapeError", () => {
    const q = new Int8Array(8);
    const s = new Float32Array(4);
    const run = (x: Float32Array, rows: number, cols: number) => () =>
      axis === 0 ? quantizeInt8SymmetricFast(x, rows, cols, q, s) : quantizeInt8SymmetricFastColumns(x, rows, cols, q, s);
    expect(run(Float32Array.of(1, Number.POSITIVE_INFINITY, 2, 3), 2, 2)).toThrow(InvalidQuantParams);
    expect(run(Float32Array.of(1, Number.NEGATIVE_INFINITY, 2, 3), 2, 2)).toThrow(InvalidQuantParams);
    expect(run(Float32Array.of(Number.NaN, Number.NEGATIVE_INFINITY, Number.NaN, 3), 2, 2)).toThrow(InvalidQuantParams);
    expect(run(new Float32Array(3), 2, 2)).toThrow(ShapeError);
    expect(run(new Float32Array(8), -1, 2)).toThrow(ShapeError);
    expect(run(new Float32Array(8), 2, 1.5)).toThrow(ShapeError);
    const few = new Float32Array(1);
    expect(() =>
      axis === 0 ? quantizeInt8SymmetricFast(new Float32Array(4), 2, 2, q, few) : quantizeInt8SymmetricFastColumns(new Float32Array(4), 2, 2, q, few),
    ).toThrow(ShapeError);
  });

  it("works on views (non-zero byteOffset) and leaves the rest of `out` alone", () => {
    const rows = 5;
    const cols = 6;
    const big = new Float32Array(rows * cols + 3);
    const r = rng(9);
    for (let i = 0; i < big.length; i++) big[i] = r() * 4 - 2;
    const x = big.subarray(3);
    const sBig = new Float32Array(8);
    const scales = sBig.subarray(1, 1 + (axis === 0 ? rows : cols));
    const out = new Int8Array(rows * cols + 2).fill(77);
    if (axis === 0) quantizeInt8SymmetricFast(x, rows, cols, out, scales);
    else quantizeInt8SymmetricFastColumns(x, rows, cols, out, scales);
    const want = unfused(x, rows, cols, axis, true);
    expect(f32Bits(scales)).toEqual(f32Bits(want.scale));
    expect(Array.from(out.subarray(0, rows * cols))).toEqual(Array.from(want.q));
    expect(Array.from(out.subarray(rows * cols))).toEqual([77, 77]);
    expect(sBig[0]).toBe(0);
  });
});

describe("fused per-column int8 == onnxruntime", () => {
  it.each([true, false])("QuantizeLinear along axis 1 with the fused scales, ties included (narrow %s)", async (narrow) => {
    const rows = 48;
    const cols = 96;
    const x = tieMatrix(rows, cols, 1, narrow, 31);
    const { scale, q } = fused(x, rows, cols, 1, narrow);
    const ref = await runOrt({
      opset: 13,
      inputs: [{ name: "x", dtype: "float32", shape: [rows, cols], data: x }],
      inits: [
        { name: "s", dtype: "float32", shape: [cols], data: scale },
        { name: "z", dtype: "int8", shape: [cols], data: new Int8Array(cols) },
      ],
      nodes: [{ op: "QuantizeLinear", inputs: ["x", "s", "z"], outputs: ["q"], attrs: { axis: 1 } }],
      outputs: [{ name: "q", dtype: "int8" }],
    });
    expect(Array.from(q)).toEqual(Array.from(ref.q!));
  });
});

describe("fused layouts agree with each other", () => {
  it("columns of x == rows of its transpose", () => {
    const rows = 33;
    const cols = 70;
    const x = tieMatrix(rows, cols, 1, true, 21);
    const xt = new Float32Array(x.length);
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) xt[j * rows + i] = x[i * cols + j]!;
    const a = fused(x, rows, cols, 1, true);
    const b = fused(xt, cols, rows, 0, true);
    expect(f32Bits(a.scale)).toEqual(f32Bits(b.scale));
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) expect(a.q[i * cols + j]).toBe(b.q[j * rows + i]);
  });
});
