import { describe, expect, it } from "vitest";
import { type Graph, InvalidGraph, Model, type Node, RewriteError, type Value, attr, outerReads, problems } from "../src/index.js";
import { expectConsistent, f32, ops, users, weights } from "./helpers.js";

/** Attaches a new subgraph to `owner` under attribute `key`. */
function branch(owner: Node, key: string, name: string): Graph {
  const sub = owner.graph.subgraph(name, owner);
  owner.attributes.set(key, { type: "graph", value: sub });
  return sub;
}

/**
 * main: x -> Relu -> r ; cond ; If(cond) { then: Mul(r, x) ; else: Neg(k) with k produced by a main node }
 * The If reads r and k only through its subgraphs.
 */
function ifModel() {
  const m = new Model("onnx");
  const g = m.graph;
  const x = g.addInput("x", f32());
  const cond = g.addInput("cond", { elem: "bool", shape: [] });
  const ifNode = g.addNode({ op: "If", name: "if", inputs: [cond], outputs: ["out"] });
  const relu = g.addNode({ op: "Relu", name: "relu", inputs: [x], outputs: ["r"] });
  const kNode = g.addNode({ op: "Sigmoid", name: "k", inputs: [x], outputs: ["k"] });
  const r = relu.outputs[0]!;
  const k = kNode.outputs[0]!;
  const then = branch(ifNode, "then_branch", "then");
  const mul = then.addNode({ op: "Mul", name: "mul", inputs: [r, x], outputs: ["t"] });
  then.addOutput(mul.outputs[0]!);
  const els = branch(ifNode, "else_branch", "else");
  const neg = els.addNode({ op: "Neg", name: "negk", inputs: [k], outputs: ["e"] });
  els.addOutput(neg.outputs[0]!);
  g.addOutput(ifNode.outputs[0]!);
  return { m, g, x, cond, ifNode, relu, kNode, r, k, then, els, mul, neg };
}

describe("If with then/else subgraphs", () => {
  it("builds, registers outer uses and validates", () => {
    const { m, g, ifNode, then, els, r, x, k, mul, neg } = ifModel();
    expect(ifNode.subgraphs()).toEqual([then, els]);
    expect(then.parent).toBe(ifNode);
    expect(then.scope).toBe(g.scope);
    expect(users(r)).toEqual(["mul#0"]);
    expect(users(x)).toEqual(["k#0", "mul#1", "relu#0"]);
    expect(users(k)).toEqual(["negk#0"]);
    expect(mul.graph).toBe(then);
    expect(then.value("r")).toBe(r);
    expect(then.value("r", false)).toBeUndefined();
    expect(els.value("t")).toBeUndefined();
    expect(g.nestedGraphs()).toEqual([then, els]);
    expect(neg.inputs[0]).toBe(k);
    expectConsistent(m);
  });

  it("outerReads contains outer values, including values produced by outer nodes", () => {
    const { then, els, r, x, k } = ifModel();
    expect(outerReads(then)).toEqual(new Set<Value>([r, x]));
    expect(outerReads(els)).toEqual(new Set<Value>([k]));
    // Values defined inside are not outer reads.
    const inner = then.addNode({ op: "Relu", inputs: [then.value("t")!], outputs: ["t2"] });
    expect(outerReads(then).has(inner.outputs[0]!)).toBe(false);
  });

  it("outerReads and topologicalOrder see an outer value passed straight to a subgraph output", () => {
    const m = new Model("onnx");
    const g = m.graph;
    const x = g.addInput("x");
    const ifNode = g.addNode({ op: "If", inputs: [g.addInput("c")], outputs: ["o"] });
    const p = g.addNode({ op: "Relu", inputs: [x], outputs: ["p"] });
    const then = branch(ifNode, "then_branch", "then");
    then.addOutput(p.outputs[0]!); // no node of `then` reads p
    g.addOutput(ifNode.outputs[0]!);
    expect(outerReads(then)).toEqual(new Set([p.outputs[0]]));
    expect(g.topologicalOrder()).toEqual([p, ifNode]);
    // Removing p must see that use: without a replacement it is refused...
    expect(() => g.removeNode(p)).toThrow(RewriteError);
    // ...and a replacement reaches the subgraph output.
    g.removeNode(p, [x]);
    expect(then.outputs).toEqual([x]);
    expectConsistent(m);
  });

  it("topologicalOrder puts the If after the producers of the values its subgraphs read", () => {
    const { m, g, ifNode, relu, kNode } = ifModel();
    expect(ops(g)).toEqual(["If", "Relu", "Sigmoid"]);
    expect(g.topologicalOrder()).toEqual([relu, kNode, ifNode]);
    g.sort();
    expect(g.nodes).toEqual([relu, kNode, ifNode]);
    expectConsistent(m);
  });

  it("insertOnEdge on an outer value rewires the subgraph consumers", () => {
    const { m, g, r, mul, then } = ifModel();
    g.sort();
    const q = g.insertOnEdge(r, { op: "Quant" });
    expect(mul.inputs[0]).toBe(q.outputs[0]);
    expect(users(r)).toEqual(["Quant#0"]);
    expect(ops(g)).toEqual(["Relu", "Quant", "Sigmoid", "If"]);
    expect(outerReads(then).has(q.outputs[0]!)).toBe(true);
    expectConsistent(m);
  });

  it("insertOnEdge inside a subgraph on an outer value only touches the subgraph", () => {
    const { m, g, x, then, mul, relu } = ifModel();
    const c = then.insertOnEdge(x, { op: "Cast" });
    expect(then.nodes.map((n) => n.op)).toEqual(["Cast", "Mul"]);
    expect(mul.inputs[1]).toBe(c.outputs[0]);
    expect(relu.inputs[0]).toBe(x);
    expect(c.outputs[0]!.graph).toBe(then);
    expect(ops(g)).toEqual(["If", "Relu", "Sigmoid"]);
    // A consumer outside the subgraph cannot be chosen.
    const outside = x.uses.find((u) => u.node === relu)!;
    expect(() => then.insertOnEdge(x, { op: "Cast", consumers: [outside] })).toThrow(RewriteError);
    expectConsistent(m);
  });

  it("removing an outer producer replaces its uses in subgraphs", () => {
    const { m, g, x, relu, mul } = ifModel();
    g.removeNode(relu, [x]);
    expect(mul.inputs[0]).toBe(x);
    expect(users(x)).toEqual(["k#0", "mul#0", "mul#1"]);
    expectConsistent(m);
  });

  it("removing the If drops the uses its subgraphs held on outer values", () => {
    const { m, g, ifNode, relu, r, k, x } = ifModel();
    g.removeNode(ifNode, [x]);
    expect(users(r)).toEqual([]);
    expect(users(k)).toEqual([]);
    // So the producers can go now.
    g.removeNode(relu);
    expect(ops(g)).toEqual(["Sigmoid"]);
    expect(m.allGraphs().map((s) => s.name)).toEqual(["main"]);
    expectConsistent(m);
  });

  it("a subgraph node cannot read a value of a sibling subgraph", () => {
    const { m, els, then } = ifModel();
    const t = then.value("t")!;
    expect(() => els.addNode({ op: "Neg", inputs: [t], outputs: ["bad"] })).toThrow(RewriteError);
    expect(() => els.addOutput(t)).toThrow(RewriteError);
    expectConsistent(m);
  });

  it("subgraph() refuses an owner from another graph", () => {
    const { g, then, mul } = ifModel();
    expect(() => g.subgraph("body", mul)).toThrow(RewriteError);
    expect(then.subgraph("body", mul).parent).toBe(mul);
  });
});

describe("scoping", () => {
  it("sibling subgraphs may reuse a name", () => {
    const { m, then, els } = ifModel();
    const a = then.addInput("iter");
    const b = els.addInput("iter");
    expect(a).not.toBe(b);
    expect(then.value("iter")).toBe(a);
    expect(els.value("iter")).toBe(b);
    const c = then.addNode({ op: "Relu", inputs: [a], outputs: ["inner"] });
    expect(c.outputs[0]!.name).toBe("inner");
    // Fresh names avoid names of siblings.
    const d = els.addNode({ op: "Relu", inputs: [b], outputs: ["inner"] });
    expect(d.outputs[0]!.name).toBe("inner_1");
    expectConsistent(m);
  });

  it("a subgraph may not redefine a name of an enclosing graph, nor the reverse", () => {
    const { m, g, then, ifNode } = ifModel();
    expect(() => then.addInput("x")).toThrow(InvalidGraph);
    expect(() => then.addInput("r")).toThrow(InvalidGraph);
    expect(() => then.addConstant("k", weights([1]), { exact: true })).toThrow(InvalidGraph);
    // Two levels down.
    const loop = then.addNode({ op: "Loop", inputs: [], outputs: ["lo"] });
    const body = branch(loop, "body", "body");
    expect(() => body.addInput("t")).toThrow(InvalidGraph);
    expect(() => body.addInput("cond")).toThrow(InvalidGraph);
    body.addInput("i");
    // The enclosing graph cannot take a name a nested graph defines.
    expect(() => g.addInput("i")).toThrow(InvalidGraph);
    expect(() => g.addInput("t")).toThrow(InvalidGraph);
    expect(ifNode.subgraphs()).toHaveLength(2);
    expect(problems(m)).toEqual([]);
  });

  it("problems() reports a name redefined behind the API's back", () => {
    const { m, then } = ifModel();
    const v = then.newValue("shadow");
    then.valueMap.delete("shadow");
    then.valueMap.set("x", v);
    expect(problems(m).some((p) => p.includes("'x' redefines a value of enclosing graph 'main'"))).toBe(true);
  });
});

describe("nested Loop inside If", () => {
  function nested() {
    const base = ifModel();
    const { m, g, then, r } = base;
    const tripCount = g.addConstant("M", weights([]));
    const loop = then.addNode({ op: "Loop", name: "loop", inputs: [tripCount, null, then.value("t")!], outputs: ["lo"] });
    then.outputs[0] = loop.outputs[0]!;
    const body = branch(loop, "body", "body");
    const i = body.addInput("i", { elem: "int64", shape: [] });
    const c = body.addInput("c_in", { elem: "bool", shape: [] });
    const carried = body.addInput("carried", f32());
    // Reads r, two levels up, produced by a node of the main graph.
    const add = body.addNode({ op: "Add", name: "deep", inputs: [carried, r], outputs: ["acc"] });
    body.addOutput(c);
    body.addOutput(add.outputs[0]!);
    return { ...base, m, loop, body, i, add };
  }

  it("validates and lists every graph depth first", () => {
    const { m, then, els, body, r, loop } = nested();
    expect(m.allGraphs().map((s) => s.name)).toEqual(["main", "then", "body", "else"]);
    expect(body.parent).toBe(loop);
    expect(body.value("r")).toBe(r);
    expect(users(r)).toEqual(["deep#1", "mul#0"]);
    expect(outerReads(body)).toEqual(new Set([r]));
    expect(outerReads(then).has(r)).toBe(true);
    expect(outerReads(then).has(body.value("carried")!)).toBe(false);
    expect(then.nestedGraphs()).toEqual([body]);
    expect(els.nestedGraphs()).toEqual([]);
    expectConsistent(m);
  });

  it("topological order of the main graph accounts for reads two levels down", () => {
    const { m, g, ifNode, relu, kNode, mul, then } = nested();
    // Drop the direct read of r in `then`: only the Loop body reads it now.
    then.removeNode(mul, [then.value("x")!]);
    expect(outerReads(then).has(g.value("r")!)).toBe(true);
    expect(g.topologicalOrder()).toEqual([relu, kNode, ifNode]);
    expectConsistent(m);
  });

  it("rewrites reach the Loop body", () => {
    const { m, g, r, add, relu } = nested();
    const q = g.insertOnEdge(r, { op: "Quant" });
    expect(add.inputs[1]).toBe(q.outputs[0]);
    g.removeNode(q, [r]);
    expect(add.inputs[1]).toBe(r);
    expect(() => g.removeNode(relu)).toThrow(RewriteError);
    expectConsistent(m);
  });

  it("model.allGraphs() includes extra top-level graphs and their subgraphs", () => {
    const { m } = nested();
    const second = m.addGraph("second");
    const n = second.addNode({ op: "If", inputs: [second.addInput("c2")], outputs: ["o2"] });
    branch(n, "then_branch", "second_then").addOutput(second.value("c2")!);
    second.addOutput(n.outputs[0]!);
    expect(m.graphs).toEqual([second]);
    expect(m.allGraphs().map((s) => s.name)).toEqual(["main", "then", "body", "else", "second", "second_then"]);
    expectConsistent(m);
  });
});

describe("graphs attributes", () => {
  it("subgraphs() lists graph and graphs attributes in attribute order", () => {
    const m = new Model("onnx");
    const g = m.graph;
    const n = g.addNode({ op: "Custom", inputs: [], outputs: ["o"], attributes: { alpha: attr.float(1) } });
    const a = g.subgraph("a", n);
    const b = g.subgraph("b", n);
    const c = g.subgraph("c", n);
    n.attributes.set("one", { type: "graph", value: a });
    n.attributes.set("many", { type: "graphs", value: [b, c] });
    expect(n.subgraphs()).toEqual([a, b, c]);
    expect(m.allGraphs()).toEqual([g, a, b, c]);
    g.addOutput(n.outputs[0]!);
    expectConsistent(m);
  });

  it("a subgraph created without an owner is found once its parent is set", () => {
    const m = new Model("onnx");
    const g = m.graph;
    const x = g.addInput("x");
    const n = g.addNode({ op: "If", inputs: [x], outputs: ["o"] });
    const sub = g.subgraph("then");
    n.attributes.set("then_branch", { type: "graph", value: sub });
    expect(problems(m)).toEqual(["graph 'main': subgraph 'then' of If has the wrong parent"]);
    sub.parent = n;
    sub.addOutput(x);
    g.addOutput(n.outputs[0]!);
    expect(g.nestedGraphs()).toEqual([sub]);
    expect(() => g.removeValue(x)).toThrow(/still used/);
    expectConsistent(m);
  });
});
