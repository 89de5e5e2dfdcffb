import { tensor } from "@quanta/tensor";
import { describe, expect, it } from "vitest";
import { Model, type Node, attr, constantOf, describe as describeNode, problems, summarize, traitsOf, validate } from "../src/index.js";
import { expectConsistent, weights } from "./helpers.js";

describe("summarize", () => {
  it("summarizes a model with a subgraph", () => {
    const m = new Model("onnx");
    m.producerName = "pytorch";
    m.producerVersion = "2.1";
    m.irVersion = 8n;
    m.opsets = [
      { domain: "", version: 17 },
      { domain: "com.microsoft", version: 1 },
    ];
    const g = m.graph;
    const x = g.addInput("x", { elem: "float32", shape: ["batch", 4] });
    const cond = g.addInput("cond", { elem: "bool", shape: [] });
    const w = g.addConstant("w", weights([4, 4]));
    const b = g.addConstant("b", weights([4]));
    const gemm = g.addNode({ op: "Gemm", inputs: [x, w, b], outputs: ["h"] });
    const h = gemm.outputs[0]!;
    const ifNode = g.addNode({ op: "If", inputs: [cond], outputs: ["y"] });
    const then = g.subgraph("then", ifNode);
    ifNode.attributes.set("then_branch", { type: "graph", value: then });
    then.addNode({
      op: "Constant",
      inputs: [],
      outputs: ["one"],
      attributes: { value: attr.tensor(constantOf(tensor("int8", [3]))) },
    });
    const r = then.addNode({ op: "Relu", inputs: [h], outputs: ["t"] });
    then.addNode({ op: "Relu", inputs: [r.outputs[0]!], outputs: ["t2"] });
    then.addOutput(then.value("t2")!);
    const els = g.subgraph("else", ifNode);
    ifNode.attributes.set("else_branch", { type: "graph", value: els });
    const mnb = els.addNode({ op: "MatMulNBits", domain: "com.microsoft", inputs: [h, w], outputs: ["e"] });
    els.addOutput(mnb.outputs[0]!);
    g.addOutput(ifNode.outputs[0]!);
    expectConsistent(m);

    const s = summarize(m);
    expect(s.format).toBe("onnx");
    expect(s.producer).toBe("pytorch 2.1");
    expect(s.irVersion).toBe(8);
    expect(s.opsets).toEqual([
      { domain: "", version: 17 },
      { domain: "com.microsoft", version: 1 },
    ]);
    expect(s.inputs).toEqual([
      { name: "x", elem: "float32", shape: ["batch", 4] },
      { name: "cond", elem: "bool", shape: [] },
    ]);
    expect(s.outputs).toEqual([{ name: "y", elem: "unknown", shape: null }]);
    expect(s.graphs).toBe(3);
    expect(s.nodes).toBe(6);
    expect(s.ops).toEqual([
      { op: "Relu", count: 2 },
      { op: "Constant", count: 1 },
      { op: "Gemm", count: 1 },
      { op: "If", count: 1 },
      { op: "com.microsoft::MatMulNBits", count: 1 },
    ]);
    expect(s.parameters).toEqual([
      { elem: "float32", tensors: 2, elements: 20, bytes: 80 },
      { elem: "int8", tensors: 1, elements: 3, bytes: 3 },
    ]);
    expect(s.totalParameters).toBe(23);
    expect(s.totalParameterBytes).toBe(83);
    expect(describeNode(mnb)).toBe("com.microsoft::MatMulNBits");
  });

  it("leaves initializers listed as inputs out of the inputs", () => {
    const m = new Model("onnx");
    const w = m.graph.addConstant("w", weights([2]));
    m.graph.inputs.push(w);
    m.graph.addInput("x");
    expect(summarize(m).inputs.map((v) => v.name)).toEqual(["x"]);
  });
});

describe("TFLite fit", () => {
  function tfliteModel() {
    const m = new Model("tflite");
    m.producerName = "TOCO Converted.";
    const g = m.graph;
    g.name = "main";
    const inQ = { scale: new Float32Array([0.5]), zeroPoint: new BigInt64Array([-128n]) };
    const x = g.addInput("serving_default_x:0", { elem: "int8", shape: [1, 8, 8, 3] });
    x.quantization = inQ;
    const wq = g.addConstant("conv/weights", constantOf(tensor("int8", [4, 3, 3, 3])), { exact: true });
    wq.quantization = {
      scale: new Float32Array([0.1, 0.2, 0.3, 0.4]),
      zeroPoint: new BigInt64Array(4),
      axis: 0,
    };
    const bias = g.addConstant("conv/bias", constantOf(tensor("int32", [4])), { exact: true });
    const conv = g.addNode({
      op: "CONV_2D",
      domain: "tflite",
      inputs: [x, wq, bias],
      outputs: ["conv/out"],
      attributes: { padding: attr.string("SAME"), stride_w: attr.int(1), stride_h: attr.int(1), fused_activation_function: attr.string("RELU") },
    });
    const custom = g.addNode({
      op: "MyCustomNms",
      domain: "tflite.custom",
      inputs: [conv.outputs[0]!],
      outputs: ["boxes", "scores"],
      attributes: { custom_options: { type: "opaque", value: new Uint8Array([1, 2, 3]) } },
    });
    g.addOutput(custom.outputs[0]!);
    g.addOutput(custom.outputs[1]!);
    // A second top-level graph (a TFLite subgraph referenced by index, e.g. a WHILE body).
    const body = m.addGraph("while_body");
    const i = body.addInput("i", { elem: "int32", shape: [] });
    const one = body.addConstant("one", constantOf(tensor("int32", [], new Int32Array([1]))));
    const add = body.addNode({ op: "ADD", domain: "tflite", inputs: [i, one], outputs: ["i_next"] });
    body.addOutput(add.outputs[0]!);
    return { m, g, body, conv, custom, wq };
  }

  it("carries custom ops, opaque attributes and per-axis quantization, and validates", () => {
    const { m, custom, wq, body, conv } = tfliteModel();
    expect(m.format).toBe("tflite");
    expect(m.graphs).toEqual([body]);
    expect(body.scope).toBe(m.graph.scope);
    expect(body.parent).toBeUndefined();
    expect(m.allGraphs().map((g) => g.name)).toEqual(["main", "while_body"]);
    const opaque = custom.attr("custom_options");
    expect(opaque?.type).toBe("opaque");
    expect(opaque?.value).toEqual(new Uint8Array([1, 2, 3]));
    expect(wq.quantization?.axis).toBe(0);
    expect(Array.from(wq.quantization!.scale)).toEqual([0.1, 0.2, 0.3, 0.4].map(Math.fround));
    expect(conv.string("padding")).toBe("SAME");
    expect(describeNode(custom)).toBe("tflite.custom::MyCustomNms");
    expect(traitsOf({ name: "t", layout: "NHWC", table: {} }, custom.op, custom.domain)).toEqual({});
    expect(problems(m)).toEqual([]);
    expect(() => validate(m)).not.toThrow();
    expectConsistent(m);
  });

  it("summarizes every top-level graph", () => {
    const { m } = tfliteModel();
    const s = summarize(m);
    expect(s.format).toBe("tflite");
    expect(s.graphs).toBe(2);
    expect(s.nodes).toBe(3);
    expect(s.inputs).toEqual([{ name: "serving_default_x:0", elem: "int8", shape: [1, 8, 8, 3] }]);
    expect(s.outputs.map((o) => o.name)).toEqual(["boxes", "scores"]);
    expect(s.ops.map((o) => o.op).sort()).toEqual(["tflite.custom::MyCustomNms", "tflite::ADD", "tflite::CONV_2D"]);
    expect(s.parameters).toEqual([
      { elem: "int8", tensors: 1, elements: 108, bytes: 108 },
      { elem: "int32", tensors: 2, elements: 5, bytes: 20 },
    ]);
  });

  it("rewrites across a tflite model keep it valid", () => {
    const { m, g, conv, body } = tfliteModel();
    const convOut = conv.outputs[0]!;
    const q: Node = g.insertOnEdge(convOut, { op: "QUANTIZE", domain: "tflite" });
    q.outputs[0]!.quantization = { scale: new Float32Array([0.25]), zeroPoint: new BigInt64Array([3n]) };
    expect(g.nodes.map((n) => n.op)).toEqual(["CONV_2D", "QUANTIZE", "MyCustomNms"]);
    // Names are unique across the top-level graphs.
    expect(body.uniqueName("conv/out")).toBe("conv/out_1");
    expect(body.value("conv/out")).toBeUndefined();
    expectConsistent(m);
    expect(summarize(m).nodes).toBe(4);
  });
});
