import { tensor } from "@quanta/tensor";
import { expect } from "vitest";
import { type Graph, Model, type Node, type Value, constantOf, problems } from "../src/index.js";

export const f32 = (shape: number[] = [1, 4]) => ({ elem: "float32" as const, shape });

/** A float32 constant of the given shape. */
export const weights = (shape: number[]) => constantOf(tensor("float32", shape));

/** Every value of `g` and its nested graphs, in a stable order. */
function allValues(m: Model): Value[] {
  const out: Value[] = [];
  for (const g of m.allGraphs()) for (const v of g.values()) out.push(v);
  return out;
}

const useKey = (n: Node, i: number, names: Map<Node, string>) => `${names.get(n) ?? `?${n.op}`}#${i}`;

/**
 * Checks that every use list and producer in the model is exactly what the node lists imply,
 * and that `problems()` finds nothing.
 */
export function expectConsistent(m: Model): void {
  const names = new Map<Node, string>();
  const wrong: string[] = [];
  let k = 0;
  const expected = new Map<Value, string[]>();
  for (const g of m.allGraphs()) {
    for (const n of g.nodes) {
      names.set(n, `${g.name}/${n.op}${k++}`);
      for (const o of n.outputs) if (o && o.producer !== n) wrong.push(`producer of '${o.name}'`);
    }
  }
  for (const g of m.allGraphs()) {
    for (const n of g.nodes) {
      for (const [i, v] of n.inputs.entries()) {
        if (!v) continue;
        const l = expected.get(v) ?? [];
        l.push(useKey(n, i, names));
        expected.set(v, l);
      }
    }
  }
  for (const v of allValues(m)) {
    const got = v.uses.map((u) => useKey(u.node, u.index, names)).sort();
    const want = (expected.get(v) ?? []).sort();
    if (got.join() !== want.join()) wrong.push(`uses of '${v.name}': [${got.join(", ")}], expected [${want.join(", ")}]`);
    if (v.producer && !v.producer.outputs.includes(v)) wrong.push(`'${v.name}' is not among its producer's outputs`);
  }
  // Values read by nodes but not registered anywhere are reported by problems().
  expect(wrong).toEqual([]);
  expect(problems(m)).toEqual([]);
}

/** x -> Relu(a) -> Neg(b) -> y, plus a constant w read by an Add. */
export function chain(): { m: Model; g: Graph; x: Value; a: Node; b: Node; w: Value; add: Node } {
  const m = new Model("onnx");
  const g = m.graph;
  const x = g.addInput("x", f32());
  const w = g.addConstant("w", weights([1, 4]));
  const a = g.addNode({ op: "Relu", name: "relu", inputs: [x], outputs: ["a"] });
  const b = g.addNode({ op: "Neg", name: "neg", inputs: [a.outputs[0]!], outputs: ["b"] });
  const add = g.addNode({ op: "Add", name: "add", inputs: [b.outputs[0]!, w], outputs: ["y"] });
  g.addOutput(add.outputs[0]!);
  return { m, g, x, a, b, w, add };
}

/** The ops of `g`'s nodes, in list order. */
export const ops = (g: Graph) => g.nodes.map((n) => n.op);

/** Names of a value's users as "op#index", sorted. */
export const users = (v: Value) => v.uses.map((u) => `${u.node.name || u.node.op}#${u.index}`).sort();
