import { inspect } from "node:util";
import { tensor } from "@quanta/tensor";
import { describe, expect, it } from "vitest";
import { InvalidGraph, Model, RewriteError, type Value, attr, constantOf, problems } from "../src/index.js";
import { chain, expectConsistent, ops, users, weights } from "./helpers.js";

describe("building graphs", () => {
  it("adds inputs, constants, nodes and outputs with exact use-def lists", () => {
    const m = new Model("onnx");
    const g = m.graph;
    const x = g.addInput("x", { elem: "float32", shape: ["N", 3, null] });
    const t = tensor("float32", [3], new Float32Array([1, 2, 3]));
    const w = g.addConstant("w", constantOf(t));
    expect(w.isConstant).toBe(true);
    expect(w.type).toEqual({ elem: "float32", shape: [3] });
    expect(w.constant?.byteLength).toBe(12);
    expect(w.constant?.load()).toBe(t);
    expect(g.initializers).toEqual([w]);
    expect(x.isGraphInput).toBe(true);
    expect(w.isGraphInput).toBe(false);
    expect(x.type?.shape).toEqual(["N", 3, null]);

    const mul = g.addNode({ op: "Mul", name: "mul", inputs: [x, w], outputs: ["m"], attributes: { k: attr.int(2) } });
    const m0 = mul.outputs[0]!;
    const relu = g.addNode({ op: "Relu", inputs: [m0, null], outputs: ["r", null] });
    g.addOutput(relu.outputs[0]!);

    expect(mul.int("k")).toBe(2);
    expect(mul.int("missing", 7)).toBe(7);
    expect(m0.producer).toBe(mul);
    expect(x.uses).toEqual([{ node: mul, index: 0 }]);
    expect(w.uses).toEqual([{ node: mul, index: 1 }]);
    expect(m0.uses).toEqual([{ node: relu, index: 0 }]);
    expect(relu.inputs).toEqual([m0, null]);
    expect(relu.outputs[1]).toBeNull();
    expect(relu.outputs[0]!.isGraphOutput).toBe(true);
    expect(m0.isGraphOutput).toBe(false);
    expect(ops(g)).toEqual(["Mul", "Relu"]);
    expect(g.value("m")).toBe(m0);
    expect([...g.values()].map((v) => v.name)).toEqual(["x", "w", "m", "r"]);
    expectConsistent(m);
  });

  it("derives fresh names for constants and node outputs but not for inputs", () => {
    const m = new Model("onnx");
    const g = m.graph;
    const x = g.addInput("x");
    expect(() => g.addInput("x")).toThrow(InvalidGraph);
    const c1 = g.addConstant("x", weights([2]));
    expect(c1.name).toBe("x_1");
    expect(() => g.addConstant("x", weights([2]), { exact: true })).toThrow(InvalidGraph);
    const n = g.addNode({ op: "Relu", inputs: [x], outputs: ["x", "x"] });
    expect(n.outputs.map((o) => o?.name)).toEqual(["x_2", "x_3"]);
    expectConsistent(m);
  });

  it("uses an existing unproduced value as an output, and refuses defined ones without changing anything", () => {
    const m = new Model("onnx");
    const g = m.graph;
    const x = g.addInput("x");
    const w = g.addConstant("w", weights([1]));
    const y = g.newValue("y");
    const n = g.addNode({ op: "Relu", inputs: [x], outputs: [y] });
    expect(y.producer).toBe(n);
    for (const out of [y, x, w]) {
      expect(() => g.addNode({ op: "Neg", inputs: [x], outputs: [out] })).toThrow(RewriteError);
    }
    const z = g.newValue("z");
    expect(() => g.addNode({ op: "Split", inputs: [x], outputs: [z, z] })).toThrow(RewriteError);
    // Failed calls left no trace: no use of x, no node, no new value.
    expect(users(x)).toEqual(["Relu#0"]);
    expect(ops(g)).toEqual(["Relu"]);
    expect(z.producer).toBeUndefined();
    expect([...g.values()].map((v) => v.name)).toEqual(["x", "w", "y", "z"]);
    const other = new Model("onnx").graph.addInput("o");
    expect(() => g.addNode({ op: "Neg", inputs: [other], outputs: ["q"] })).toThrow(RewriteError);
    expect(() => g.addNode({ op: "Neg", inputs: [x], outputs: [other] })).toThrow(RewriteError);
    expect(g.value("q")).toBeUndefined();
    expect(users(x)).toEqual(["Relu#0"]);
    expectConsistent(m);
  });

  it("places a node before another with `before`", () => {
    const { m, g, x, b } = chain();
    const n = g.addNode({ op: "Sigmoid", inputs: [x], outputs: ["s"], before: b });
    expect(ops(g)).toEqual(["Relu", "Sigmoid", "Neg", "Add"]);
    const other = new Model("onnx");
    const foreign = other.graph.addNode({ op: "Relu", inputs: [], outputs: ["f"] });
    expect(() => g.addNode({ op: "Neg", inputs: [x], outputs: ["q"], before: foreign })).toThrow(RewriteError);
    expect(users(x)).toEqual(["Sigmoid#0", "relu#0"]);
    g.removeNode(n);
    expect(() => g.addNode({ op: "Neg", inputs: [x], outputs: ["q2"], before: n })).toThrow(/not in graph/);
    expectConsistent(m);
  });

  it("opset lookup treats '' and 'ai.onnx' alike", () => {
    const m = new Model("onnx");
    m.opsets = [
      { domain: "ai.onnx", version: 17 },
      { domain: "com.microsoft", version: 1 },
    ];
    expect(m.opset()).toBe(17);
    expect(m.opset("")).toBe(17);
    expect(m.opset("com.microsoft")).toBe(1);
    expect(m.opset("ai.onnx.ml")).toBeUndefined();
  });
});

describe("setInput", () => {
  it("moves a use from one value to another, appends, and clears", () => {
    const { m, g, x, a, b } = chain();
    const av = a.outputs[0]!;
    b.setInput(0, x);
    expect(users(av)).toEqual([]);
    expect(users(x)).toEqual(["neg#0", "relu#0"]);
    b.setInput(1, av);
    expect(b.inputs).toEqual([x, av]);
    expect(users(av)).toEqual(["neg#1"]);
    b.setInput(1, null);
    expect(b.inputs).toEqual([x, null]);
    expect(users(av)).toEqual([]);
    // The same value on two inputs is two uses.
    b.setInput(1, x);
    expect(users(x)).toEqual(["neg#0", "neg#1", "relu#0"]);
    b.setInput(1, x);
    expect(users(x)).toEqual(["neg#0", "neg#1", "relu#0"]);
    g.removeNode(a);
    expectConsistent(m);
  });

  it("refuses bad indexes and invisible values without touching use lists", () => {
    const { m, a, x } = chain();
    expect(() => a.setInput(-1, x)).toThrow(RewriteError);
    expect(() => a.setInput(5, x)).toThrow(RewriteError);
    expect(() => a.setInput(0.5, x)).toThrow(RewriteError);
    const foreign = new Model("onnx").graph.addInput("f");
    expect(() => a.setInput(0, foreign)).toThrow(/not visible/);
    expect(a.inputs).toEqual([x]);
    expect(users(x)).toEqual(["relu#0"]);
    expectConsistent(m);
  });
});

describe("replaceUses", () => {
  it("redirects node inputs and graph outputs", () => {
    const { m, g, x, a, add } = chain();
    const y = add.outputs[0]!;
    const id = g.addNode({ op: "Identity", inputs: [x], outputs: ["i"] });
    g.replaceUses(y, id.outputs[0]!);
    expect(g.outputs).toEqual([id.outputs[0]]);
    expect(y.isGraphOutput).toBe(false);
    g.replaceUses(a.outputs[0]!, x);
    expect(users(x)).toEqual(["Identity#0", "neg#0", "relu#0"]);
    expect(users(a.outputs[0]!)).toEqual([]);
    expectConsistent(m);
  });

  it("keeps graph outputs with keepOutputs", () => {
    const { m, g, add } = chain();
    const y = add.outputs[0]!;
    const n = g.addNode({ op: "Relu", inputs: [y], outputs: ["z"] });
    g.replaceUses(y, g.value("b")!, { keepOutputs: true });
    expect(g.outputs).toEqual([y]);
    expect(n.inputs[0]!.name).toBe("b");
    expect(users(y)).toEqual([]);
    expectConsistent(m);
  });

  it("leaves the uses by `except` alone (a node computed from the old value)", () => {
    const { m, g, a, b } = chain();
    const av = a.outputs[0]!;
    const q = g.addNode({ op: "QuantizeLinear", inputs: [av], outputs: ["aq"], before: b });
    g.replaceUses(av, q.outputs[0]!, { except: q });
    expect(users(av)).toEqual(["QuantizeLinear#0"]);
    expect(b.inputs[0]).toBe(q.outputs[0]);
    expectConsistent(m);
  });

  it("fails without change when the new value is not visible to a consumer", () => {
    const { m, g, x, a } = chain();
    const ifNode = g.addNode({ op: "If", inputs: [x], outputs: ["o"] });
    const sub = g.subgraph("then", ifNode);
    ifNode.attributes.set("then_branch", { type: "graph", value: sub });
    const inner = sub.addNode({ op: "Neg", inputs: [a.outputs[0]!], outputs: ["inner"] });
    sub.addOutput(inner.outputs[0]!);
    // Replacing a (read by nodes in both graphs) by a value of the subgraph must fail as a whole.
    expect(() => g.replaceUses(a.outputs[0]!, inner.outputs[0]!)).toThrow(RewriteError);
    expect(users(a.outputs[0]!)).toEqual(["Neg#0", "neg#0"]);
    expectConsistent(m);
  });
});

describe("insertOnEdge", () => {
  it("inserts on all consumers, right after the producer, and takes over graph outputs", () => {
    const { m, g, a, b } = chain();
    const av = a.outputs[0]!;
    const extra = g.addNode({ op: "Sigmoid", inputs: [av], outputs: ["s"] });
    g.addOutput(av);
    const q = g.insertOnEdge(av, { op: "Quant", name: "q" });
    const qv = q.outputs[0]!;
    expect(qv.name).toBe("a_Quant");
    expect(ops(g)).toEqual(["Relu", "Quant", "Neg", "Add", "Sigmoid"]);
    expect(q.inputs).toEqual([av]);
    expect(users(av)).toEqual(["q#0"]);
    expect(users(qv)).toEqual(["Sigmoid#0", "neg#0"]);
    expect(b.inputs[0]).toBe(qv);
    expect(extra.inputs[0]).toBe(qv);
    expect(g.outputs.map((v) => v.name)).toEqual(["y", "a_Quant"]);
    expectConsistent(m);
  });

  it("keeps graph outputs with keepOutputs", () => {
    const { m, g, a } = chain();
    const av = a.outputs[0]!;
    g.addOutput(av);
    const q = g.insertOnEdge(av, { op: "Quant", keepOutputs: true });
    expect(g.outputs.map((v) => v.name)).toEqual(["y", "a"]);
    expect(users(av)).toEqual(["Quant#0"]);
    expect(users(q.outputs[0]!)).toEqual(["neg#0"]);
    expectConsistent(m);
  });

  it("inserts for a chosen consumer only", () => {
    const { m, g, a, b } = chain();
    const av = a.outputs[0]!;
    const s = g.addNode({ op: "Sigmoid", name: "sig", inputs: [av], outputs: ["s"] });
    g.addOutput(av);
    const use = av.uses.find((u) => u.node === s)!;
    const c = g.insertOnEdge(av, { op: "Cast", consumers: [use], attributes: { to: attr.int(10) } });
    expect(s.inputs[0]).toBe(c.outputs[0]);
    expect(b.inputs[0]).toBe(av);
    expect(users(av)).toEqual(["Cast#0", "neg#0"]);
    expect(g.outputs.map((v) => v.name)).toEqual(["y", "a"]);
    expect(c.int("to")).toBe(10);
    expect(ops(g)).toEqual(["Relu", "Cast", "Neg", "Add", "Sigmoid"]);
    expectConsistent(m);
  });

  it("refuses consumers that do not read the value, without change", () => {
    const { m, g, a, b, x } = chain();
    const bogus = { node: b, index: 0 };
    expect(() => g.insertOnEdge(x, { op: "Cast", consumers: [bogus] })).toThrow(RewriteError);
    expect(() => g.insertOnEdge(a.outputs[0]!, { op: "Cast", outputs: [null] })).toThrow(RewriteError);
    expect(ops(g)).toEqual(["Relu", "Neg", "Add"]);
    expect(g.value("x_Cast")).toBeUndefined();
    expectConsistent(m);
  });

  it("on a graph output that no node reads", () => {
    const { m, g, add } = chain();
    const y = add.outputs[0]!;
    const n = g.insertOnEdge(y, { op: "Identity", outputs: ["y_out"] });
    expect(g.outputs.map((v) => v.name)).toEqual(["y_out"]);
    expect(users(y)).toEqual(["Identity#0"]);
    expect(ops(g)).toEqual(["Relu", "Neg", "Add", "Identity"]);
    expect(n.outputs[0]!.isGraphOutput).toBe(true);
    expectConsistent(m);
  });

  it("on a graph input goes to the start of the graph", () => {
    const { m, g, x, a } = chain();
    const n = g.insertOnEdge(x, { op: "Cast" });
    expect(ops(g)).toEqual(["Cast", "Relu", "Neg", "Add"]);
    expect(a.inputs[0]).toBe(n.outputs[0]);
    expect(users(x)).toEqual(["Cast#0"]);
    expect(x.isGraphInput).toBe(true);
    expectConsistent(m);
  });

  it("on a constant goes to the start of the graph", () => {
    const { m, g, w, add } = chain();
    const dq = g.insertOnEdge(w, { op: "DequantizeLinear", name: "dq" });
    expect(ops(g)).toEqual(["DequantizeLinear", "Relu", "Neg", "Add"]);
    expect(add.inputs[1]).toBe(dq.outputs[0]);
    expect(users(w)).toEqual(["dq#0"]);
    expectConsistent(m);
  });

  it("with extra inputs goes after the last of their producers", () => {
    const { m, g, a, b } = chain();
    const av = a.outputs[0]!;
    const bv = b.outputs[0]!;
    const mul = g.insertOnEdge(av, { op: "Mul", inputs: [av, bv], consumers: [] });
    expect(ops(g)).toEqual(["Relu", "Neg", "Mul", "Add"]);
    expect(mul.inputs).toEqual([av, bv]);
    expect(g.topologicalOrder().map((n) => n.op)).toEqual(ops(g));
    expectConsistent(m);
  });

  it("honours an explicit `before`", () => {
    const { m, g, a, add } = chain();
    g.insertOnEdge(a.outputs[0]!, { op: "Cast", before: add, consumers: [] });
    expect(ops(g)).toEqual(["Relu", "Neg", "Cast", "Add"]);
    expectConsistent(m);
  });

  it("inserted several times on the same edge, the last one is closest to the producer", () => {
    const { m, g, a } = chain();
    const av = a.outputs[0]!;
    g.insertOnEdge(av, { op: "First" });
    g.insertOnEdge(av, { op: "Second" });
    expect(ops(g)).toEqual(["Relu", "Second", "First", "Neg", "Add"]);
    expect(g.topologicalOrder().map((n) => n.op)).toEqual(ops(g));
    expectConsistent(m);
  });
});

describe("removeNode", () => {
  it("removes a node with replacements (Identity-style) and drops its values", () => {
    const { m, g, x, a, b } = chain();
    g.removeNode(a, [x]);
    expect(ops(g)).toEqual(["Neg", "Add"]);
    expect(b.inputs[0]).toBe(x);
    expect(users(x)).toEqual(["neg#0"]);
    expect(g.value("a")).toBeUndefined();
    expect(a.outputs[0]!.producer).toBeUndefined();
    expectConsistent(m);
  });

  it("removes an unused node without replacements", () => {
    const { m, g, x } = chain();
    const n = g.addNode({ op: "Sigmoid", inputs: [x, x], outputs: ["s"] });
    expect(users(x)).toEqual(["Sigmoid#0", "Sigmoid#1", "relu#0"]);
    g.removeNode(n);
    expect(users(x)).toEqual(["relu#0"]);
    expect(ops(g)).toEqual(["Relu", "Neg", "Add"]);
    expect(g.value("s")).toBeUndefined();
    expectConsistent(m);
  });

  it("replaces a graph output", () => {
    const { m, g, add, b } = chain();
    g.removeNode(add, [b.outputs[0]!]);
    expect(g.outputs.map((v) => v.name)).toEqual(["b"]);
    expect(users(g.value("w")!)).toEqual([]);
    expectConsistent(m);
  });

  it("fails with no change when a used output has no replacement", () => {
    const { m, g, a, b, add } = chain();
    const snapshot = () => ({ ops: ops(g), a: users(a.outputs[0]!), x: users(g.value("x")!), outs: [...g.outputs] });
    const before = snapshot();
    expect(() => g.removeNode(a)).toThrow(RewriteError);
    expect(() => g.removeNode(add)).toThrow(/still used/); // only a graph output
    expect(() => g.removeNode(b, [undefined])).toThrow(RewriteError);
    expect(() => g.removeNode(a, [a.outputs[0]!])).toThrow(RewriteError); // by itself
    const foreign = new Model("onnx").graph.addInput("f");
    expect(() => g.removeNode(a, [foreign])).toThrow(RewriteError);
    expect(snapshot()).toEqual(before);
    expect(g.value("a")).toBe(a.outputs[0]);
    expectConsistent(m);
  });

  it("refuses a node that is not in the graph", () => {
    const { m, g, a } = chain();
    const other = new Model("onnx");
    const n = other.graph.addNode({ op: "Relu", inputs: [], outputs: ["r"] });
    expect(() => g.removeNode(n)).toThrow(RewriteError);
    g.removeNode(g.nodes[2]!, [g.value("b")!]);
    g.removeNode(g.nodes[1]!, [a.outputs[0]!]);
    const removed = g.nodes.length;
    expect(removed).toBe(1);
    expectConsistent(m);
  });

  it("can remove every node while iterating a copy of the list", () => {
    const { m, g, x } = chain();
    for (const n of [...g.nodes].reverse()) g.removeNode(n, n.outputs.map(() => x));
    expect(g.nodes).toEqual([]);
    expect(g.outputs).toEqual([x]);
    expect(users(x)).toEqual([]);
    expectConsistent(m);
  });
});

describe("constantInPlace", () => {
  it("turns a Constant node's output into an initializer, keeping the value, its name, readers and output role", () => {
    const m = new Model("onnx");
    const g = m.graph;
    const x = g.addInput("x");
    const c = g.addNode({ op: "Constant", name: "c", inputs: [], outputs: ["k"] });
    const k = c.outputs[0]!;
    const add = g.addNode({ op: "Add", inputs: [x, k], outputs: ["y"] });
    g.addOutput(add.outputs[0]!);
    g.addOutput(k);
    const v = g.constantInPlace(c, constantOf(tensor("float32", [2], Float32Array.of(1, 2))));
    expect(v).toBe(k);
    expect(k.name).toBe("k");
    expect(k.producer).toBeUndefined();
    expect(k.constant!.shape).toEqual([2]);
    expect(g.initializers).toEqual([k]);
    expect(users(k)).toEqual(["Add#1"]);
    expect(g.outputs).toContain(k);
    expect(ops(g)).toEqual(["Add"]);
    expect(g.value("k")).toBe(k);
    expectConsistent(m);
  });

  it("refuses a node with inputs (nothing changes)", () => {
    const { m, g, add } = chain();
    expect(() => g.constantInPlace(add, constantOf(tensor("float32", [1], Float32Array.of(0))))).toThrow(RewriteError);
    expectConsistent(m);
  });
});

describe("removeValue", () => {
  it("removes unused constants and inputs", () => {
    const m = new Model("onnx");
    const g = m.graph;
    const x = g.addInput("x");
    const w = g.addConstant("w", weights([2]));
    const unusedIn = g.addInput("u");
    g.addOutput(g.addNode({ op: "Relu", inputs: [x], outputs: ["y"] }).outputs[0]!);
    g.removeValue(w);
    g.removeValue(unusedIn);
    expect(g.initializers).toEqual([]);
    expect(g.inputs).toEqual([x]);
    expect(g.value("w")).toBeUndefined();
    expect(unusedIn.isGraphInput).toBe(false);
    expectConsistent(m);
  });

  it("refuses used values, graph outputs, node outputs and foreign values", () => {
    const { m, g, x, w, a, add } = chain();
    expect(() => g.removeValue(x)).toThrow(/still used/);
    expect(() => g.removeValue(w)).toThrow(/still used/);
    expect(() => g.removeValue(add.outputs[0]!)).toThrow(/still used/);
    const s = g.addNode({ op: "Relu", inputs: [x], outputs: ["s"] });
    expect(() => g.removeValue(s.outputs[0]!)).toThrow(/remove the node/);
    const foreign = new Model("onnx").graph.addInput("f");
    expect(() => g.removeValue(foreign)).toThrow(RewriteError);
    const c = g.addConstant("c", weights([1]));
    g.addOutput(c);
    expect(() => g.removeValue(c)).toThrow(/still used/);
    expect(g.initializers.map((v) => v.name)).toEqual(["w", "c"]);
    expect(users(a.outputs[0]!)).toEqual(["neg#0"]);
    expectConsistent(m);
  });

  it("removes an initializer that is also listed as a graph input (IR < 4)", () => {
    const m = new Model("onnx");
    const g = m.graph;
    const w = g.addConstant("w", weights([2]));
    g.inputs.push(w);
    expect(w.isGraphInput).toBe(true);
    g.removeValue(w);
    expect(g.inputs).toEqual([]);
    expect(g.initializers).toEqual([]);
    expect(w.isGraphInput).toBe(false);
    expectConsistent(m);
  });
});

describe("names", () => {
  it("renames values, rejecting names in use anywhere in the model", () => {
    const { m, g, a, x } = chain();
    const av = a.outputs[0]!;
    av.rename("relu_out");
    expect(av.name).toBe("relu_out");
    expect(g.value("relu_out")).toBe(av);
    expect(g.value("a")).toBeUndefined();
    expect(() => av.rename("x")).toThrow(RewriteError);
    expect(() => x.rename("relu_out")).toThrow(/name in use/);
    // The old name stays reserved.
    expect(() => x.rename("a")).toThrow(RewriteError);
    av.rename("relu_out");
    expect(av.name).toBe("relu_out");
    // A subgraph's names count too.
    const ifNode = g.addNode({ op: "If", inputs: [x], outputs: ["o"] });
    const sub = g.subgraph("then", ifNode);
    ifNode.attributes.set("then_branch", { type: "graph", value: sub });
    sub.addOutput(sub.addNode({ op: "Neg", inputs: [x], outputs: ["inner"] }).outputs[0]!);
    expect(() => x.rename("inner")).toThrow(RewriteError);
    expectConsistent(m);
  });

  it("does not bring a removed value back by renaming it", () => {
    const { m, g, w, add } = chain();
    g.removeNode(add, [g.value("b")!]);
    g.removeValue(w);
    w.rename("w2");
    expect(g.value("w2")).toBeUndefined();
    expectConsistent(m);
  });

  it("uniqueName avoids every name ever used in the model and is repeatable", () => {
    const { g, a } = chain();
    expect(g.uniqueName("fresh")).toBe("fresh");
    expect(g.uniqueName("a")).toBe("a_1");
    expect(g.uniqueName("a")).toBe("a_1");
    g.addConstant("a", weights([1]));
    expect(g.uniqueName("a")).toBe("a_2");
    g.removeNode(g.nodes[2]!, [g.value("b")!]);
    expect(g.uniqueName("y")).toBe("y_1");
    a.outputs[0]!.rename("renamed");
    expect(g.uniqueName("a")).toBe("a_2");
    const names = new Set<string>();
    for (let i = 0; i < 50; i++) names.add(g.addNode({ op: "Relu", inputs: [], outputs: ["t"] }).outputs[0]!.name);
    expect(names.size).toBe(50);
    expect(names.has("t")).toBe(true);
    expect(names.has("t_49")).toBe(true);
  });
});

describe("the nodes array", () => {
  it("stays a plain array that sees every rewrite, and direct edits are picked up", () => {
    const { m, g, a, b } = chain();
    const nodes = g.nodes;
    g.insertOnEdge(a.outputs[0]!, { op: "Cast" });
    expect(nodes).toBe(g.nodes);
    expect(nodes.map((n) => n.op)).toEqual(["Relu", "Cast", "Neg", "Add"]);
    expect(Array.isArray(nodes)).toBe(true);
    expect(nodes.length).toBe(4);
    // Direct edits: move Neg to the end, then keep rewriting.
    nodes.splice(nodes.indexOf(b), 1);
    nodes.push(b);
    expect(ops(g)).toEqual(["Relu", "Cast", "Add", "Neg"]);
    g.sort();
    expect(ops(g)).toEqual(["Relu", "Cast", "Neg", "Add"]);
    const s = g.insertOnEdge(b.outputs[0]!, { op: "Sigmoid" });
    expect(ops(g)).toEqual(["Relu", "Cast", "Neg", "Sigmoid", "Add"]);
    expect(g.hasNode(s)).toBe(true);
    g.removeNode(s, [b.outputs[0]!]);
    expect(g.hasNode(s)).toBe(false);
    expect(ops(g)).toEqual(["Relu", "Cast", "Neg", "Add"]);
    expectConsistent(m);
  });

  it("prints current content with util.inspect / console.log", () => {
    const { g, a } = chain();
    g.insertOnEdge(a.outputs[0]!, { op: "Cast" });
    expect(inspect(g.nodes, { depth: 0 })).toBe("[ [Node], [Node], [Node], [Node] ]");
    expect(Object.keys(g.nodes)).toEqual(["0", "1", "2", "3"]);
  });

  it("reports a node listed twice by a direct edit instead of corrupting the list", () => {
    const { m, g, a, x } = chain();
    g.nodes.push(a);
    expect(problems(m)).toContain("graph 'main': a node is listed twice");
    expect(() => g.insertOnEdge(x, { op: "Cast" })).toThrow(InvalidGraph);
    g.nodes.pop();
    g.insertOnEdge(x, { op: "Cast" });
    expect(ops(g)).toEqual(["Cast", "Relu", "Neg", "Add"]);
    expectConsistent(m);
  });
});

describe("graph inputs and outputs arrays", () => {
  it("isGraphInput / isGraphOutput follow direct edits", () => {
    const m = new Model("onnx");
    const g = m.graph;
    const x = g.addInput("x");
    const y = g.addInput("y");
    expect(y.isGraphInput).toBe(true);
    g.inputs.splice(1, 1);
    expect(y.isGraphInput).toBe(false);
    g.inputs[0] = y;
    expect(x.isGraphInput).toBe(false);
    expect(y.isGraphInput).toBe(true);
    g.outputs.push(x);
    expect(x.isGraphOutput).toBe(true);
    g.outputs.length = 0;
    expect(x.isGraphOutput).toBe(false);
  });

  it("a value of another graph cannot be an output", () => {
    const { g } = chain();
    const v: Value = new Model("onnx").graph.addInput("f");
    expect(() => g.addOutput(v)).toThrow(RewriteError);
  });
});
