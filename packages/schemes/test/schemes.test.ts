import { describe, expect, it } from "vitest";
import { PRESETS, excluder, qrange, spec, withChanges } from "../src/index.js";

describe("specs", () => {
  it("fills defaults and freezes", () => {
    const s = spec({ dtype: "uint8" });
    expect(s).toMatchObject({ dtype: "uint8", symmetric: false, narrowRange: false, reduceRange: false, granularity: { kind: "tensor" }, observer: { name: "minmax" }, convention: "onnxruntime" });
    expect(Object.isFrozen(s)).toBe(true);
  });

  it("gives the integer range after narrow range and reduce range", () => {
    expect(qrange(spec({ dtype: "int8" }))).toEqual([-128, 127]);
    expect(qrange(spec({ dtype: "int8", narrowRange: true }))).toEqual([-127, 127]);
    expect(qrange(spec({ dtype: "uint8", narrowRange: true }))).toEqual([0, 255]);
    expect(qrange(spec({ dtype: "uint8", reduceRange: true }))).toEqual([0, 127]);
    expect(qrange(spec({ dtype: "int8", reduceRange: true }))).toEqual([-64, 64]);
    expect(qrange(spec({ dtype: "int16", narrowRange: true }))).toEqual([-32767, 32767]);
    expect(qrange(spec({ dtype: "int4" }))).toEqual([-8, 7]);
    expect(qrange(spec({ dtype: "uint4" }))).toEqual([0, 15]);
    expect(() => qrange(spec({ dtype: "float16" }))).toThrow(/no integer range/);
  });
});

describe("presets", () => {
  it("int8 static: per-channel symmetric int8 weights, asymmetric activations, int32 bias", () => {
    const s = PRESETS.int8Static("int8", "entropy");
    expect(s.mode).toBe("static");
    expect(s.weights).toMatchObject({ dtype: "int8", symmetric: true, narrowRange: true, granularity: { kind: "axis" } });
    expect(s.activations).toMatchObject({ dtype: "int8", symmetric: false, observer: { name: "entropy" } });
    expect(s.biasInt32).toBe(true);
  });

  it("covers a16w8, dynamic, weight-only int8/int4, fp16 and fp8", () => {
    expect(PRESETS.a16w8().activations).toMatchObject({ dtype: "int16", symmetric: true });
    expect(PRESETS.dynamicInt8()).toMatchObject({ mode: "dynamic", biasInt32: false, ops: ["MatMul", "Gemm", "Conv", "LSTM", "GRU"] });
    expect(PRESETS.weightOnlyInt8().mode).toBe("weight-only");
    expect(PRESETS.weightOnlyInt8().activations).toBeUndefined();
    expect(PRESETS.weightOnlyInt4(64, "uint4").weights).toMatchObject({ dtype: "uint4", symmetric: false, granularity: { kind: "block", blockSize: 64 } });
    expect(PRESETS.fp16()).toMatchObject({ mode: "float", weights: { dtype: "float16" } });
    expect(PRESETS.fp8e4m3().activations).toMatchObject({ dtype: "float8e4m3fn" });
  });

  it("adds exclusions and overrides without touching the preset", () => {
    const base = PRESETS.int8Static();
    const s = withChanges(base, { exclude: ["Softmax"], overrides: { logits: { dtype: "int16" } } });
    expect(s.exclude).toEqual(["Softmax"]);
    expect(s.overrides).toEqual({ logits: { dtype: "int16" } });
    expect(base.exclude).toEqual([]);
  });
});

describe("exclusions", () => {
  const ex = excluder(["Softmax", "conv_7", "*attn*", "MatMul_1?"]);
  it("match node names, op types and globs", () => {
    expect(ex({ name: "x", op: "Softmax" })).toBe("Softmax");
    expect(ex({ name: "conv_7", op: "Conv" })).toBe("conv_7");
    expect(ex({ name: "conv_70", op: "Conv" })).toBeUndefined();
    expect(ex({ name: "blocks.0.attn.proj", op: "MatMul" })).toBe("*attn*");
    expect(ex({ name: "MatMul_12", op: "MatMul" })).toBe("MatMul_1?");
    expect(ex({ name: "MatMul_123", op: "MatMul" })).toBeUndefined();
    expect(excluder(["a.b"])({ name: "axb", op: "X" })).toBeUndefined();
  });
});
