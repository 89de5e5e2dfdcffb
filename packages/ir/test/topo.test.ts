import { describe, expect, it } from "vitest";
import { InvalidGraph, Model, type Node } from "../src/index.js";
import { expectConsistent } from "./helpers.js";

/** Diamond x -> a -> (b, c) -> d, plus an independent e, added in the order given by `order`. */
function diamond(order: string[]) {
  const m = new Model("onnx");
  const g = m.graph;
  const x = g.addInput("x");
  const vals = new Map([["x", x]]);
  const inputsOf: Record<string, string[]> = { a: ["x"], b: ["a"], c: ["a"], d: ["b", "c"], e: ["x"] };
  // Outputs first so that nodes can be added in any order.
  for (const k of Object.keys(inputsOf)) vals.set(k, g.newValue(k));
  const nodes = new Map<string, Node>();
  for (const k of order) {
    const n = g.addNode({ op: k.toUpperCase(), name: k, inputs: inputsOf[k]!.map((i) => vals.get(i)!), outputs: [vals.get(k)!] });
    nodes.set(k, n);
  }
  g.addOutput(vals.get("d")!);
  g.addOutput(vals.get("e")!);
  return { m, g, nodes };
}

const names = (ns: readonly Node[]) => ns.map((n) => n.name);

describe("topologicalOrder", () => {
  it("keeps an already sorted list as it is", () => {
    const { g } = diamond(["a", "b", "c", "d", "e"]);
    expect(names(g.topologicalOrder())).toEqual(["a", "b", "c", "d", "e"]);
    const { g: g2 } = diamond(["e", "a", "c", "b", "d"]);
    expect(names(g2.topologicalOrder())).toEqual(["e", "a", "c", "b", "d"]);
  });

  it("sorts an out-of-order list, staying as close to it as possible", () => {
    const { g } = diamond(["d", "c", "e", "b", "a"]);
    // e is ready at once; a unlocks c then b (c comes first in the list), then d.
    expect(names(g.topologicalOrder())).toEqual(["e", "a", "c", "b", "d"]);
    // The list itself is unchanged until sort().
    expect(names(g.nodes)).toEqual(["d", "c", "e", "b", "a"]);
    g.sort();
    expect(names(g.nodes)).toEqual(["e", "a", "c", "b", "d"]);
  });

  it("is deterministic (same answer twice) and sort() is idempotent", () => {
    const { m, g } = diamond(["b", "d", "a", "e", "c"]);
    const first = names(g.topologicalOrder());
    expect(names(g.topologicalOrder())).toEqual(first);
    g.sort();
    expect(names(g.nodes)).toEqual(first);
    g.sort();
    expect(names(g.nodes)).toEqual(first);
    expectConsistent(m);
  });

  it("counts a node reading the same value twice once", () => {
    const m = new Model("onnx");
    const g = m.graph;
    const v = g.newValue("v");
    const sq = g.addNode({ op: "Mul", inputs: [v, v], outputs: ["sq"] });
    const p = g.addNode({ op: "Relu", inputs: [g.addInput("x")], outputs: [v] });
    expect(g.topologicalOrder()).toEqual([p, sq]);
  });

  it("throws InvalidGraph naming the nodes of a cycle", () => {
    const m = new Model("onnx");
    const g = m.graph;
    const x = g.addInput("x");
    const p = g.newValue("p");
    const q = g.newValue("q");
    g.addNode({ op: "Relu", name: "before", inputs: [x], outputs: ["pre"] });
    g.addNode({ op: "Add", name: "n1", inputs: [x, q], outputs: [p] });
    g.addNode({ op: "Neg", name: "n2", inputs: [p], outputs: [q] });
    // Downstream of the cycle, listed first: must not be the one named.
    g.addNode({ op: "Sigmoid", name: "after", inputs: [q], outputs: ["post"] });
    let err: unknown;
    try {
      g.topologicalOrder();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidGraph);
    const e = err as InvalidGraph;
    expect(e._tag).toBe("InvalidGraph");
    expect(e.reason).toMatch(/^cycle through /);
    expect(e.reason).toContain("Add 'n1'");
    expect(e.reason).toContain("Neg 'n2'");
    expect(e.reason).not.toContain("after");
    expect(e.where).toBe("graph 'main'");
    expect(() => g.sort()).toThrow(InvalidGraph);
  });

  it("detects a node that reads its own output", () => {
    const m = new Model("onnx");
    const g = m.graph;
    const v = g.newValue("v");
    g.addNode({ op: "Relu", name: "self", inputs: [v], outputs: [v] });
    expect(() => g.topologicalOrder()).toThrow("cycle through Relu 'self' -> Relu 'self'");
  });

  it("sorts a long reversed chain (more nodes than a call may take arguments)", () => {
    const m = new Model("onnx");
    const g = m.graph;
    const n = 140_000;
    const vals = Array.from({ length: n + 1 }, (_, i) => (i === 0 ? g.addInput("v0") : g.newValue(`v${i}`)));
    for (let i = n - 1; i >= 0; i--) g.addNode({ op: "Relu", inputs: [vals[i]!], outputs: [vals[i + 1]!] });
    g.addOutput(vals[n]!);
    g.sort();
    expect(g.nodes[0]!.inputs[0]).toBe(vals[0]);
    expect(g.nodes[n - 1]!.outputs[0]).toBe(vals[n]);
    let sorted = true;
    for (let i = 1; i < n; i++) if (g.nodes[i]!.inputs[0] !== g.nodes[i - 1]!.outputs[0]) sorted = false;
    expect(sorted).toBe(true);
  });
});
