import { describe, expect, it } from "vitest";
import { Model, type Value, problems } from "../src/index.js";

// Budgets are generous (shared CI machines); the operations are linear, the old code was quadratic.
describe("large graphs", () => {
  it("builds a 20,000-node chain, inserts 10,000 nodes on edges and sorts, in a few seconds", () => {
    const t0 = performance.now();
    const m = new Model("onnx");
    const g = m.graph;
    const n = 20_000;
    const vals: Value[] = [g.addInput("x", { elem: "float32", shape: [1] })];
    for (let i = 0; i < n; i++) vals.push(g.addNode({ op: "Relu", inputs: [vals[i]!], outputs: [`v${i}`] }).outputs[0]!);
    g.addOutput(vals[n]!);
    for (let i = 0; i < n / 2; i++) g.insertOnEdge(vals[2 * i]!, { op: "Neg" });
    const order = g.topologicalOrder();
    g.sort();
    const elapsed = performance.now() - t0;

    expect(order).toHaveLength(n + n / 2);
    expect(g.nodes).toEqual(order);
    // Each Neg sits right after the producer of its input and feeds the next Relu.
    expect(g.nodes.slice(0, 5).map((x) => x.op)).toEqual(["Neg", "Relu", "Relu", "Neg", "Relu"]);
    expect(g.nodes[0]!.inputs[0]).toBe(vals[0]);
    expect(vals[2]!.uses).toHaveLength(1);
    expect(vals[2]!.uses[0]!.node.op).toBe("Neg");
    expect(vals[1]!.uses[0]!.node.op).toBe("Relu");
    expect(elapsed).toBeLessThan(5000);
    expect(problems(m)).toEqual([]);
  });

  it("removes 10,000 nodes and validates in a few seconds", () => {
    const m = new Model("onnx");
    const g = m.graph;
    const n = 20_000;
    const x = g.addInput("x");
    let v = x;
    for (let i = 0; i < n; i++) v = g.addNode({ op: i % 2 ? "Identity" : "Relu", inputs: [v], outputs: [`v${i}`] }).outputs[0]!;
    g.addOutput(v);
    const t0 = performance.now();
    for (const node of [...g.nodes]) if (node.op === "Identity") g.removeNode(node, [node.inputs[0]!]);
    const p = problems(m);
    const elapsed = performance.now() - t0;
    expect(p).toEqual([]);
    expect(g.nodes).toHaveLength(n / 2);
    expect(g.nodes.every((x) => x.op === "Relu")).toBe(true);
    expect(g.outputs[0]!.producer).toBe(g.nodes[n / 2 - 1]);
    expect(elapsed).toBeLessThan(5000);
  });

  it("adds nodes before others and many graph inputs quickly", () => {
    const m = new Model("onnx");
    const g = m.graph;
    const t0 = performance.now();
    const ins = Array.from({ length: 10_000 }, (_, i) => g.addInput(`in${i}`));
    const last = g.addNode({ op: "Sum", inputs: [], outputs: ["sum"] });
    for (const [i, v] of ins.entries()) {
      const node = g.addNode({ op: "Relu", inputs: [v], outputs: [`r${i}`], before: last });
      last.setInput(i, node.outputs[0]!);
    }
    let isInput = 0;
    for (const v of g.values()) if (v.isGraphInput) isInput++;
    const elapsed = performance.now() - t0;
    expect(isInput).toBe(10_000);
    expect(g.nodes[g.nodes.length - 1]).toBe(last);
    expect(g.nodes[0]!.inputs[0]).toBe(ins[0]);
    expect(elapsed).toBeLessThan(5000);
  });
});
