import { describe, expect, it } from "vitest";
import { Model, type Node, attr, channelAxis, extendDialect, onnxDialect, tfliteDialect, traitsOf } from "../src/index.js";

const node = (op: string, attributes: Record<string, ReturnType<typeof attr.int>> = {}): Node =>
  new Model("onnx").graph.addNode({ op, inputs: [], outputs: [], attributes });

describe("onnxDialect", () => {
  it("is NCHW and knows Conv's weight and bias", () => {
    expect(onnxDialect.name).toBe("onnx");
    expect(onnxDialect.layout).toBe("NCHW");
    const conv = traitsOf(onnxDialect, "Conv");
    expect(conv.quantizable).toBe(true);
    expect(conv.activationInputs).toEqual([0]);
    expect(conv.weights).toEqual([
      { input: 1, role: "weight", channelAxis: 0 },
      { input: 2, role: "bias", channelAxis: 0 },
    ]);
    expect(traitsOf(onnxDialect, "Conv", "ai.onnx")).toBe(conv);
  });

  it("resolves Gemm's weight axis from transB", () => {
    const w = traitsOf(onnxDialect, "Gemm").weights![0]!;
    expect(channelAxis(w, node("Gemm"), 2)).toBe(1);
    expect(channelAxis(w, node("Gemm", { transB: attr.int(0) }), 2)).toBe(1);
    expect(channelAxis(w, node("Gemm", { transB: attr.int(1) }), 2)).toBe(0);
    const bias = traitsOf(onnxDialect, "Gemm").weights![1]!;
    expect(bias.role).toBe("bias");
    expect(channelAxis(bias, node("Gemm"), 1)).toBe(0);
  });

  it("puts MatMul's channels on the last axis (-1 -> rank-1)", () => {
    const w = traitsOf(onnxDialect, "MatMul").weights![0]!;
    expect(w.channelAxis).toBe(-1);
    expect(channelAxis(w, node("MatMul"), 2)).toBe(1);
    expect(channelAxis(w, node("MatMul"), 3)).toBe(2);
    expect(channelAxis(traitsOf(onnxDialect, "ConvTranspose").weights![0]!, node("ConvTranspose"), 4)).toBe(1);
  });

  it("marks data-movement ops as keeping quantization parameters", () => {
    for (const op of ["Reshape", "Transpose", "MaxPool", "Concat"]) expect(traitsOf(onnxDialect, op).keepsQParams, op).toBe(true);
    expect(traitsOf(onnxDialect, "Conv").keepsQParams).toBeUndefined();
    expect(traitsOf(onnxDialect, "Concat").activationInputs).toEqual([]);
  });

  it("marks Relu and Clip as fusable activations", () => {
    expect(traitsOf(onnxDialect, "Relu").fusableActivation).toBe(true);
    expect(traitsOf(onnxDialect, "Clip").fusableActivation).toBe(true);
    expect(traitsOf(onnxDialect, "Sigmoid").fusableActivation).toBeUndefined();
  });

  it("keys other domains as domain::op", () => {
    expect(Object.hasOwn(onnxDialect.table, "com.microsoft::MatMulNBits")).toBe(true);
    expect(traitsOf(onnxDialect, "MatMulNBits", "com.microsoft")).toBe(onnxDialect.table["com.microsoft::MatMulNBits"]);
    expect(traitsOf(onnxDialect, "MatMulNBits")).toEqual({});
    expect(traitsOf(onnxDialect, "Conv", "com.microsoft")).toEqual({});
  });

  it("answers {} for unknown ops, including names of Object.prototype members", () => {
    for (const op of ["NoSuchOp", "constructor", "toString", "__proto__", "hasOwnProperty"]) {
      expect(traitsOf(onnxDialect, op), op).toEqual({});
      expect(traitsOf(tfliteDialect, op), op).toEqual({});
    }
  });

  it("cannot be changed through the traits it hands out", () => {
    const conv = traitsOf(onnxDialect, "Conv");
    expect(Object.isFrozen(onnxDialect.table)).toBe(true);
    expect(Object.isFrozen(conv)).toBe(true);
    expect(Object.isFrozen(conv.weights)).toBe(true);
    expect(Object.isFrozen(conv.weights![0])).toBe(true);
    expect(Object.isFrozen(traitsOf(onnxDialect, "Reshape").activationInputs)).toBe(true);
    expect(() => {
      (conv as { quantizable?: boolean }).quantizable = false;
    }).toThrow(TypeError);
    expect(traitsOf(onnxDialect, "Conv").quantizable).toBe(true);
  });
});

describe("tfliteDialect", () => {
  it("is NHWC with depthwise weights' channels on axis 3", () => {
    expect(tfliteDialect.layout).toBe("NHWC");
    const dw = traitsOf(tfliteDialect, "DEPTHWISE_CONV_2D");
    expect(dw.weights![0]).toEqual({ input: 1, role: "weight", channelAxis: 3 });
    expect(channelAxis(dw.weights![0]!, node("DEPTHWISE_CONV_2D"), 4)).toBe(3);
    expect(traitsOf(tfliteDialect, "CONV_2D").weights![0]!.channelAxis).toBe(0);
    expect(traitsOf(tfliteDialect, "FULLY_CONNECTED").weights![0]!.channelAxis).toBe(0);
    expect(traitsOf(tfliteDialect, "TRANSPOSE_CONV").activationInputs).toEqual([2]);
    for (const op of ["RESHAPE", "TRANSPOSE", "MAX_POOL_2D", "CONCATENATION"]) expect(traitsOf(tfliteDialect, op).keepsQParams, op).toBe(true);
    for (const op of ["RELU", "RELU6"]) expect(traitsOf(tfliteDialect, op).fusableActivation, op).toBe(true);
    expect(traitsOf(tfliteDialect, "Conv")).toEqual({});
  });
});

describe("extendDialect", () => {
  it("adds and replaces entries without touching the base", () => {
    const baseConv = traitsOf(onnxDialect, "Conv");
    const baseKeys = Object.keys(onnxDialect.table).length;
    const ext = extendDialect(onnxDialect, {
      "custom.domain::MyConv": { quantizable: true, weights: [{ input: 1, role: "weight", channelAxis: 0 }] },
      Conv: { quantizable: false },
    });
    expect(ext.name).toBe("onnx");
    expect(ext.layout).toBe("NCHW");
    expect(traitsOf(ext, "MyConv", "custom.domain").quantizable).toBe(true);
    expect(traitsOf(ext, "Conv")).toEqual({ quantizable: false });
    expect(traitsOf(ext, "Relu")).toBe(traitsOf(onnxDialect, "Relu"));
    expect(traitsOf(onnxDialect, "Conv")).toBe(baseConv);
    expect(traitsOf(onnxDialect, "MyConv", "custom.domain")).toEqual({});
    expect(Object.keys(onnxDialect.table)).toHaveLength(baseKeys);
    expect(Object.isFrozen(ext.table)).toBe(true);
    expect(extendDialect(tfliteDialect, {}, "tflite-edge").name).toBe("tflite-edge");
    expect(extendDialect(tfliteDialect, {}, "tflite-edge").layout).toBe("NHWC");
  });
});
