import { describe, expect, it } from "vitest";
import { InvalidGraph, Model, QuantaError, problems, validate } from "../src/index.js";
import { chain } from "./helpers.js";

describe("problems() / validate()", () => {
  it("finds nothing in a well-formed model", () => {
    const { m } = chain();
    expect(problems(m)).toEqual([]);
    expect(() => validate(m)).not.toThrow();
  });

  it("reports a dangling input: a value removed behind the API's back but still read", () => {
    const { m, g } = chain();
    g.valueMap.delete("w");
    g.initializers.length = 0;
    expect(problems(m)).toEqual(["graph 'main': Add 'add' input 1 reads 'w', which is not defined"]);
    let err: unknown;
    try {
      validate(m);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidGraph);
    expect(err).toBeInstanceOf(QuantaError);
    expect((err as InvalidGraph)._tag).toBe("InvalidGraph");
    expect((err as Error).name).toBe("InvalidGraph");
    expect((err as Error).message).toBe("graph 'main': Add 'add' input 1 reads 'w', which is not defined");
  });

  it("reports a read of a value whose producer was dropped from the node list", () => {
    const { m, g, a } = chain();
    g.nodes.splice(g.nodes.indexOf(a), 1);
    expect(problems(m)).toEqual(["graph 'main': producer of 'a' was removed", "graph 'main': 'x' is used by Relu 'relu', which was removed"]);
  });

  it("reports stale and missing use-list entries", () => {
    const { m, a, b, x } = chain();
    // b's input is changed without updating use lists: a keeps a stale use, x misses one.
    b.inputs[0] = x;
    expect(problems(m).sort()).toEqual(["graph 'main': stale use of 'a' by Neg 'neg'", "graph 'main': use list of 'x' misses Neg 'neg'"]);
    b.inputs[0] = a.outputs[0]!;
    expect(problems(m)).toEqual([]);
    x.uses.push({ node: a, index: 0 });
    expect(problems(m)).toEqual(["graph 'main': use of 'x' by Relu 'relu' is listed twice"]);
  });

  it("reports a use list that lost its entries when many nodes read the value", () => {
    const { m, g, x } = chain();
    for (let i = 0; i < 20; i++) g.addNode({ op: "Sigmoid", name: `s${i}`, inputs: [x], outputs: [`s${i}`] });
    expect(problems(m)).toEqual([]);
    x.uses.splice(3, 1);
    expect(problems(m)).toHaveLength(1);
    expect(problems(m)[0]).toMatch(/^graph 'main': use list of 'x' misses /);
  });

  it("reports a subgraph with the wrong parent", () => {
    const { m, g, x, a } = chain();
    const ifNode = g.addNode({ op: "If", name: "if", inputs: [x], outputs: ["o"] });
    const sub = g.subgraph("then", a); // owned by the wrong node
    sub.addOutput(x);
    ifNode.attributes.set("then_branch", { type: "graph", value: sub });
    expect(problems(m)).toEqual(["graph 'main': subgraph 'then' of If 'if' has the wrong parent"]);
    sub.parent = ifNode;
    expect(problems(m)).toEqual([]);
  });

  it("reports cycles", () => {
    const { m, a, b } = chain();
    a.setInput(0, b.outputs[0]!);
    expect(problems(m)).toEqual(["cycle through Relu 'relu' -> Neg 'neg' -> Relu 'relu' (graph 'main')"]);
    expect(() => validate(m)).toThrow(/^cycle through/);
  });

  it("reports unsourced values, unregistered outputs and foreign reads", () => {
    const { m, g, a, b, add } = chain();
    const loose = g.newValue("loose");
    b.setInput(1, loose);
    expect(problems(m)).toEqual(["graph 'main': 'loose' read by Neg 'neg' has no producer"]);
    b.setInput(1, null);
    g.valueMap.delete("b");
    expect(problems(m)).toContain("graph 'main': output 'b' of Neg 'neg' is not registered");
    g.valueMap.set("b", b.outputs[0]!);
    const other = new Model("onnx").graph;
    const f = other.addInput("f");
    add.inputs.push(f);
    f.uses.push({ node: add, index: 2 });
    expect(problems(m)).toEqual(["graph 'main': Add 'add' reads 'f' from a graph that does not enclose it"]);
    add.inputs.pop();
    f.uses.pop();
    g.outputs.push(f);
    expect(problems(m)).toEqual(["graph 'main': output 'f' comes from a graph that does not enclose it"]);
    g.outputs.pop();
    a.outputs[0]!.producer = b;
    expect(problems(m)).toContain("graph 'main': output 'a' of Relu 'relu' names another producer");
  });

  it("counts the other problems in validate()'s message", () => {
    const { m, g } = chain();
    g.valueMap.delete("w");
    g.valueMap.delete("x");
    expect(() => validate(m)).toThrow("graph 'main': input 'x' is not defined in the graph (and 3 more problems)");
  });
});
