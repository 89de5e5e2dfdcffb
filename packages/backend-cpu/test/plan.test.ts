import { Model, attr, constantOf } from "@quanta/ir";
import { type Tensor, tensor } from "@quanta/tensor";
import { describe, expect, it } from "vitest";
import { type Kernel, cpuBackend, kernelTable } from "../src/index.js";

/** A test kernel: y = x + 1 on float32, allocating from the pool. */
const AddOne: Kernel = {
  op: "AddOne",
  domain: "test",
  prepare: () => (inputs, rt) => {
    const x = inputs[0]!;
    const y = rt.alloc("float32", x.shape);
    const a = x.data as Float32Array;
    for (let i = 0; i < a.length; i++) y.data[i] = a[i]! + 1;
    return [y];
  },
};

function chain(n: number): Model {
  const m = new Model("onnx");
  m.opsets = [
    { domain: "", version: 17 },
    { domain: "test", version: 1 },
  ];
  const g = m.graph;
  let v = g.addInput("x", { elem: "float32", shape: ["batch", 4] });
  for (let i = 0; i < n; i++) v = g.addNode({ op: "AddOne", domain: "test", name: `add${i}`, inputs: [v], outputs: [`v${i}`] }).outputs[0]!;
  g.addOutput(v);
  return m;
}

const x = (vals: number[]) => tensor("float32", [1, 4], Float32Array.from(vals));

describe("execution plan", () => {
  it("runs a chain many times with recycled buffers and correct results", () => {
    const plan = cpuBackend({ kernels: [AddOne] }).plan(chain(10));
    for (let r = 0; r < 3; r++) {
      const out = plan.run({ x: x([r, 1, 2, 3]) });
      expect([...(out.v9!.data as Float32Array)]).toEqual([r + 10, 11, 12, 13]);
    }
  });

  it("hands any intermediate tensor to an observer without rewriting the graph", () => {
    const model = chain(5);
    const plan = cpuBackend({ kernels: [AddOne] }).plan(model);
    const seen: Record<string, number[]> = {};
    plan.run({ x: x([0, 0, 0, 0]) }, { observe: new Set(["v1", "v3"]), onValue: (name, t) => (seen[name] = [...(t.data as Float32Array)]) });
    expect(seen).toEqual({ v1: [2, 2, 2, 2], v3: [4, 4, 4, 4] });
    const all: string[] = [];
    plan.run({ x: x([0, 0, 0, 0]) }, { observe: "all", onValue: (name) => all.push(name) });
    expect(all).toEqual(["v0", "v1", "v2", "v3", "v4"]);
    expect(model.graph.nodes).toHaveLength(5);
  });

  it("reports unsupported ops when the plan is built, naming op, domain, version and node", () => {
    expect(() => cpuBackend().plan(chain(2))).toThrow(/unsupported op test::AddOne \(opset 1\) at node 'add0'.*2 nodes unsupported in all: test::AddOne/);
    try {
      cpuBackend().plan(chain(1));
    } catch (e) {
      expect(e).toMatchObject({ _tag: "UnsupportedOp", op: "AddOne", domain: "test", version: 1, node: "add0" });
    }
  });

  it("names the input and the expected shape on bad inputs", () => {
    const plan = cpuBackend({ kernels: [AddOne] }).plan(chain(1));
    expect(() => plan.run({ x: tensor("float32", [1, 5]) })).toThrow("input 'x': expected float32[batch, 4], got float32[1, 5]");
    expect(() => plan.run({ x: tensor("int32", [1, 4]) })).toThrow(/input 'x': expected float32\[batch, 4\], got int32\[1, 4\]/);
    expect(() => plan.run({})).toThrow(/input 'x': expected float32\[batch, 4\], got nothing/);
    expect(() => plan.run({ x: x([1, 2, 3, 4]), y: x([1, 2, 3, 4]) })).toThrow(/input 'y'.*an input the model does not have/);
  });

  it("runs If subgraphs that read outer-scope values, with constants and Identity", () => {
    const m = new Model("onnx");
    m.opsets = [
      { domain: "", version: 17 },
      { domain: "test", version: 1 },
    ];
    const g = m.graph;
    const c = g.addInput("cond", { elem: "bool", shape: [] });
    const v = g.addInput("v", { elem: "float32", shape: [1, 4] });
    const k = g.addConstant("k", constantOf(tensor("float32", [1, 4], Float32Array.of(9, 9, 9, 9))));
    const node = g.addNode({ op: "If", inputs: [c], outputs: ["out"] });
    const then = g.subgraph("then", node);
    then.addOutput(then.addNode({ op: "AddOne", domain: "test", inputs: [v], outputs: ["t1"] }).outputs[0]!);
    const els = g.subgraph("else", node);
    els.addOutput(els.addNode({ op: "Identity", inputs: [k], outputs: ["e1"] }).outputs[0]!);
    node.attributes.set("then_branch", { type: "graph", value: then });
    node.attributes.set("else_branch", { type: "graph", value: els });
    const cst = g.addNode({ op: "Constant", inputs: [], outputs: ["c7"], attributes: { value_float: attr.float(7) } });
    g.addOutput(node.outputs[0]!);
    g.addOutput(cst.outputs[0]!);
    const plan = cpuBackend({ kernels: [AddOne] }).plan(m);
    const t = (b: boolean) => tensor("bool", [], Uint8Array.of(b ? 1 : 0));
    const vv = x([1, 2, 3, 4]);
    expect([...(plan.run({ cond: t(true), v: vv }).out!.data as Float32Array)]).toEqual([2, 3, 4, 5]);
    const r = plan.run({ cond: t(false), v: vv });
    expect([...(r.out!.data as Float32Array)]).toEqual([9, 9, 9, 9]);
    expect([...(r.c7!.data as Float32Array)]).toEqual([7]);
  });

  it("keeps the kernel table per instance: extra kernels are preferred, nothing global changes", () => {
    const Shout: Kernel = { op: "Identity", prepare: () => (ins, rt) => [fill(rt.alloc("float32", ins[0]!.shape), 42)] };
    const m = new Model("onnx");
    m.opsets = [{ domain: "", version: 17 }];
    const a = m.graph.addInput("a", { elem: "float32", shape: [2] });
    m.graph.addOutput(m.graph.addNode({ op: "Identity", inputs: [a], outputs: ["b"] }).outputs[0]!);
    const feeds = { a: tensor("float32", [2], Float32Array.of(1, 2)) };
    expect([...(cpuBackend({ kernels: [Shout] }).plan(m).run(feeds).b!.data as Float32Array)]).toEqual([42, 42]);
    expect([...(cpuBackend().plan(m).run(feeds).b!.data as Float32Array)]).toEqual([1, 2]);
    expect(cpuBackend({ table: kernelTable(Shout) }).kernels.size).toBe(1);
  });
});

function fill(t: Tensor<"float32">, v: number): Tensor<"float32"> {
  t.data.fill(v);
  return t;
}
