import { describe, expect, it } from "vitest";
import { InvalidRange, type QParamOptions, computeQParams, computeQParamsPerChannel, quantRange } from "../src/index.js";

const f = Math.fround;
const q = (rmin: number, rmax: number, o: QParamOptions) => computeQParams(rmin, rmax, o);

describe("onnxruntime convention (quant_utils.compute_scale_zp)", () => {
  const ort = (dtype: QParamOptions["dtype"], symmetric: boolean, extra: Partial<QParamOptions> = {}): QParamOptions => ({ dtype, symmetric, convention: "onnxruntime", ...extra });
  it("asymmetric", () => {
    expect(q(-1, 2, ort("uint8", false))).toEqual({ scale: f(3 / 255), zeroPoint: 85 });
    expect(q(-1, 2, ort("int8", false))).toEqual({ scale: f(3 / 255), zeroPoint: -43 });
    expect(q(-1, 2, ort("uint16", false))).toEqual({ scale: f(3 / 65535), zeroPoint: 21845 });
    expect(q(-1, 2, ort("int16", false))).toEqual({ scale: f(3 / 65535), zeroPoint: -10923 });
    expect(q(-1, 2, ort("uint4", false))).toEqual({ scale: f(3 / 15), zeroPoint: 5 });
  });
  it("symmetric ranges: int8 [-127, 127], uint8 [0, 254], int16 [-32767, 32767], uint16 [0, 65534], int4 full", () => {
    expect(q(-1, 2, ort("int8", true))).toEqual({ scale: f(2 / 127), zeroPoint: 0 });
    expect(q(-1, 2, ort("uint8", true))).toEqual({ scale: f(4 / 254), zeroPoint: 127 });
    expect(q(-1, 2, ort("int16", true))).toEqual({ scale: f(2 / 32767), zeroPoint: 0 });
    expect(q(-1, 2, ort("uint16", true))).toEqual({ scale: f(4 / 65534), zeroPoint: 32767 });
    expect(q(-1, 2, ort("int4", true))).toEqual({ scale: f(4 / 15), zeroPoint: 0 }); // round(-0.5) = 0
    expect(q(-1, 2, ort("int4", true, { narrowRange: true }))).toEqual({ scale: f(2 / 7), zeroPoint: 0 });
  });
  it("reduce_range: uint8 [0, 127], int8 [-64, 64]", () => {
    expect(quantRange(ort("uint8", false, { reduceRange: true }))).toEqual([0, 127]);
    expect(quantRange(ort("int8", true, { reduceRange: true }))).toEqual([-64, 64]);
    expect(q(-1, 2, ort("uint8", false, { reduceRange: true }))).toEqual({ scale: f(3 / 127), zeroPoint: 42 });
    expect(q(-1, 2, ort("int8", true, { reduceRange: true }))).toEqual({ scale: f(4 / 128), zeroPoint: 0 });
    // onnxruntime's ONNX_INT_TYPE_REDUCED_RANGE also has uint16 [0, 32767], int16 [-16384, 16384], uint4 [0, 7], int4 [-4, 3]
    expect(quantRange(ort("int16", true, { reduceRange: true }))).toEqual([-16384, 16384]);
    expect(quantRange(ort("uint4", false, { reduceRange: true }))).toEqual([0, 7]);
    expect(q(-1, 2, ort("int4", true, { reduceRange: true }))).toEqual({ scale: f(4 / 7), zeroPoint: 0 }); // round(-0.5) = 0
  });
  it("all-zero, tiny and one-sided ranges", () => {
    expect(q(0, 0, ort("uint8", false))).toEqual({ scale: 1, zeroPoint: 0 });
    expect(q(0, 0, ort("int8", true))).toEqual({ scale: 1, zeroPoint: 0 });
    expect(q(0, 1e-40, ort("uint8", false))).toEqual({ scale: 1, zeroPoint: 0 });
    expect(q(1, 3, ort("uint8", false))).toEqual({ scale: f(3 / 255), zeroPoint: 0 });
    expect(q(-3, -1, ort("uint8", false))).toEqual({ scale: f(3 / 255), zeroPoint: 255 });
    expect(q(-3, -1, ort("int8", false))).toEqual({ scale: f(3 / 255), zeroPoint: 127 });
    expect(q(1, 3, ort("int8", true))).toEqual({ scale: f(3 / 127), zeroPoint: 0 });
  });
  it("zero point ties round half to even", () => {
    expect(q(-0.5, 254.5, ort("uint8", false))).toEqual({ scale: 1, zeroPoint: 0 });
    expect(q(-1.5, 253.5, ort("uint8", false))).toEqual({ scale: 1, zeroPoint: 2 });
    expect(q(-2.5, 252.5, ort("uint8", false))).toEqual({ scale: 1, zeroPoint: 2 });
  });
  it("rmax - rmin is a float32 subtraction, the division float64", () => {
    const rmin = f(-0.1);
    const rmax = f(0.7);
    expect(q(rmin, rmax, ort("uint8", false)).scale).toBe(f(f(rmax - rmin) / 255));
  });
});

describe("pytorch convention", () => {
  const pt = (dtype: QParamOptions["dtype"], symmetric: boolean, extra: Partial<QParamOptions> = {}): QParamOptions => ({ dtype, symmetric, convention: "pytorch", ...extra });
  it("symmetric qint8: absmax / 127.5, zp 0; quint8: zp 128", () => {
    expect(q(-1, 2, pt("int8", true))).toEqual({ scale: f(2 / 127.5), zeroPoint: 0 });
    expect(q(-1, 2, pt("uint8", true))).toEqual({ scale: f(2 / 127.5), zeroPoint: 128 });
  });
  it("asymmetric", () => {
    expect(q(-1, 2, pt("uint8", false))).toEqual({ scale: f(3 / 255), zeroPoint: 85 });
    expect(q(-1, 2, pt("int8", false))).toEqual({ scale: f(3 / 255), zeroPoint: -43 });
  });
  it("reduce_range: qint8 [-64, 63], quint8 [0, 127]", () => {
    expect(quantRange(pt("int8", false, { reduceRange: true }))).toEqual([-64, 63]);
    expect(q(-1, 2, pt("uint8", false, { reduceRange: true }))).toEqual({ scale: f(3 / 127), zeroPoint: 42 });
    expect(q(-1, 2, pt("int8", false, { reduceRange: true }))).toEqual({ scale: f(3 / 127), zeroPoint: -22 });
  });
  it("all-zero and one-sided: scale at least float32 epsilon", () => {
    expect(q(0, 0, pt("int8", true))).toEqual({ scale: 2 ** -23, zeroPoint: 0 });
    expect(q(0, 0, pt("uint8", false))).toEqual({ scale: 2 ** -23, zeroPoint: 0 });
    expect(q(0, 0, pt("int8", false))).toEqual({ scale: 2 ** -23, zeroPoint: -128 });
    expect(q(1, 3, pt("uint8", false))).toEqual({ scale: f(3 / 255), zeroPoint: 0 });
    expect(q(-3, -1, pt("uint8", false))).toEqual({ scale: f(3 / 255), zeroPoint: 255 });
  });
});

describe("tflite convention", () => {
  const tfl = (dtype: QParamOptions["dtype"], symmetric: boolean, extra: Partial<QParamOptions> = {}): QParamOptions => ({ dtype, symmetric, convention: "tflite", ...extra });
  it("weights: int8 symmetric [-127, 127], zp 0", () => {
    expect(quantRange(tfl("int8", true))).toEqual([-127, 127]);
    expect(q(-1, 2, tfl("int8", true))).toEqual({ scale: f(2 / 127), zeroPoint: 0 });
    expect(q(-3, 1, tfl("int8", true))).toEqual({ scale: f(3 / 127), zeroPoint: 0 });
  });
  it("activations: int8 asymmetric [-128, 127]", () => {
    expect(q(-1, 2, tfl("int8", false))).toEqual({ scale: f(3 / 255), zeroPoint: -43 });
    expect(q(1, 3, tfl("int8", false))).toEqual({ scale: f(3 / 255), zeroPoint: -128 });
    expect(q(-3, -1, tfl("int8", false))).toEqual({ scale: f(3 / 255), zeroPoint: 127 });
    // zero point ties round half away from zero
    expect(q(-1.5, 253.5, tfl("int8", false))).toEqual({ scale: 1, zeroPoint: -127 }); // -126.5 -> -127
    expect(q(-1.5, 253.5, { dtype: "int8", symmetric: false, convention: "onnxruntime" })).toEqual({ scale: 1, zeroPoint: -126 });
  });
  it("all-zero: scale 1, zp qmin (asymmetric) or 0 (symmetric)", () => {
    expect(q(0, 0, tfl("int8", false))).toEqual({ scale: 1, zeroPoint: -128 });
    expect(q(0, 0, tfl("int8", true))).toEqual({ scale: 1, zeroPoint: 0 });
  });
});

describe("invalid ranges and per-channel", () => {
  it("NaN and Inf throw a tagged InvalidRange", () => {
    for (const [a, b] of [
      [Number.NaN, 1],
      [0, Number.POSITIVE_INFINITY],
      [Number.NEGATIVE_INFINITY, 0],
    ] as const) {
      for (const convention of ["onnxruntime", "pytorch", "tflite"] as const) {
        let err: unknown;
        try {
          computeQParams(a, b, { dtype: "int8", symmetric: false, convention });
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(InvalidRange);
        expect((err as InvalidRange)._tag).toBe("InvalidRange");
      }
    }
  });
  it("scales are never 0, NaN or infinite", () => {
    for (const convention of ["onnxruntime", "pytorch", "tflite"] as const) {
      for (const symmetric of [true, false]) {
        for (const [a, b] of [
          [0, 0],
          [-1e-45, 1e-45],
          [-3.4e38, 3.4e38],
          [0, 3.4e38],
        ]) {
          const s = computeQParams(a!, b!, { dtype: "int8", symmetric, convention }).scale;
          expect(Number.isFinite(s) && s > 0, `${convention} ${symmetric} [${a}, ${b}]: ${s}`).toBe(true);
        }
      }
    }
  });
  it("per channel", () => {
    const r = computeQParamsPerChannel(Float32Array.of(-1, 0, -3), Float32Array.of(2, 0, -1), { dtype: "uint8", symmetric: false });
    expect(Array.from(r.scale)).toEqual([f(3 / 255), 1, f(3 / 255)]);
    expect(Array.from(r.zeroPoint)).toEqual([85, 0, 255]);
    expect(() => computeQParamsPerChannel(Float32Array.of(0, Number.NaN), Float32Array.of(1, 1), { dtype: "int8", symmetric: true })).toThrow(InvalidRange);
  });
});
