import { cpuBackend } from "@quanta/backend-cpu";
import { type Attribute, Model, attr, validate } from "@quanta/ir";
import { prng } from "@quanta/models";
import { readOnnx, writeOnnx } from "@quanta/onnx";
import { type Tensor, tensor } from "@quanta/tensor";
import { describe, expect, it } from "vitest";
import { OpsetUpgradeError, upgradeToOpset13 } from "../src/upgrade.js";

const rand = (n: number, seed: number) => {
  const r = prng(seed);
  return Float32Array.from({ length: n }, () => r() * 4 - 2);
};

interface Case {
  readonly name: string;
  readonly opset: number;
  readonly op: string;
  readonly shape: readonly number[];
  readonly attributes?: Record<string, Attribute>;
  /** Number of outputs (Split, TopK, Dropout with mask...). */
  readonly outputs?: number;
}

/** A one-node model: input X of `shape`, outputs Y0..Yn. */
function oneNode(c: Case): Model {
  const m = new Model("onnx");
  m.irVersion = 6n;
  m.opsets = [{ domain: "", version: c.opset }];
  const g = m.graph;
  const x = g.addInput("X", { elem: "float32", shape: [...c.shape] });
  const n = g.addNode({ op: c.op, name: `${c.op}_node`, inputs: [x], outputs: Array.from({ length: c.outputs ?? 1 }, (_, i) => `Y${i}`), attributes: c.attributes ?? {} });
  for (const o of n.outputs) g.addOutput(o!);
  return m;
}

function run(m: Model, x: Tensor): Record<string, Tensor> {
  return cpuBackend().plan(m).run({ X: x });
}

const CASES: Case[] = [
  { name: "Clip-6 min/max attributes", opset: 9, op: "Clip", shape: [2, 5], attributes: { min: attr.float(-0.5), max: attr.float(1.25) } },
  { name: "Clip-6 max only", opset: 10, op: "Clip", shape: [7], attributes: { max: attr.float(0.3) } },
  { name: "Slice-1 starts/ends/axes", opset: 9, op: "Slice", shape: [4, 6], attributes: { starts: attr.ints([1, 2]), ends: attr.ints([3, 100]), axes: attr.ints([0, 1]) } },
  { name: "Slice-1 without axes", opset: 9, op: "Slice", shape: [4, 6], attributes: { starts: attr.ints([0, 1]), ends: attr.ints([2, -1]) } },
  { name: "Squeeze-11 axes", opset: 11, op: "Squeeze", shape: [1, 3, 1, 2], attributes: { axes: attr.ints([0, 2]) } },
  { name: "Unsqueeze-11 axes", opset: 11, op: "Unsqueeze", shape: [3, 2], attributes: { axes: attr.ints([0, 3]) } },
  { name: "Split-11 split", opset: 11, op: "Split", shape: [2, 7], attributes: { axis: attr.int(1), split: attr.ints([3, 4]) }, outputs: 2 },
  { name: "ReduceSum-11 axes", opset: 11, op: "ReduceSum", shape: [2, 3, 4], attributes: { axes: attr.ints([1]), keepdims: attr.int(0) } },
  { name: "TopK-1 k", opset: 9, op: "TopK", shape: [3, 8], attributes: { k: attr.int(3) }, outputs: 2 },
  { name: "Pad-2 pads/value", opset: 9, op: "Pad", shape: [2, 3], attributes: { pads: attr.ints([1, 0, 0, 2]), value: attr.float(1.5) } },
  { name: "Dropout-10 ratio", opset: 10, op: "Dropout", shape: [2, 3], attributes: { ratio: attr.float(0.3) } },
  { name: "Softmax-11 axis last", opset: 11, op: "Softmax", shape: [2, 3, 5], attributes: { axis: attr.int(2) } },
  { name: "Softmax-11 axis 1 of 3-D (2-D coercion)", opset: 11, op: "Softmax", shape: [2, 3, 5], attributes: { axis: attr.int(1) } },
  { name: "Softmax-9 default axis of 4-D", opset: 9, op: "Softmax", shape: [2, 3, 2, 2] },
  { name: "LogSoftmax-11 axis 1 of 3-D", opset: 11, op: "LogSoftmax", shape: [2, 4, 3], attributes: { axis: attr.int(1) } },
  { name: "Hardmax-11 axis 0 of 3-D", opset: 11, op: "Hardmax", shape: [2, 3, 2], attributes: { axis: attr.int(0) } },
];

describe("upgradeToOpset13", () => {
  for (const c of CASES) {
    it(`${c.name}: same outputs on the CPU backend before and after`, () => {
      const before = oneNode(c);
      const n = c.shape.reduce((a, b) => a * b, 1);
      const x = tensor("float32", [...c.shape], rand(n, n + c.opset));
      const want = run(before, x);
      const after = oneNode(c);
      expect(upgradeToOpset13(after)).toBe(c.opset);
      expect(after.opset("")).toBe(13);
      expect(after.irVersion).toBeGreaterThanOrEqual(7n);
      validate(after);
      // The upgraded node carries no attribute that opset 13 moved to an input.
      for (const node of after.graph.nodes) for (const k of ["min", "max", "starts", "ends", "axes", "split", "k", "pads", "value", "ratio"]) expect(node.attributes.has(k)).toBe(false);
      // It survives an ONNX round trip, and gives the same values.
      const got = run(readOnnx(writeOnnx(after)), x);
      expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
      for (const [k, t] of Object.entries(want)) {
        expect(got[k]!.shape).toEqual(t.shape);
        expect(Array.from(got[k]!.data as ArrayLike<number | bigint>, Number)).toEqual(Array.from(t.data as ArrayLike<number | bigint>, Number));
      }
    });
  }

  it("rewrites Softmax with a non-last axis as Flatten -> Softmax(axis 1) -> Reshape to the input's shape, keeping the output's name", () => {
    const m = oneNode({ name: "", opset: 11, op: "Softmax", shape: [2, 3, 5], attributes: { axis: attr.int(1) } });
    upgradeToOpset13(m);
    expect(m.graph.nodes.map((n) => n.op)).toEqual(["Flatten", "Softmax", "Shape", "Reshape"]);
    const flatten = m.graph.nodes[0]!;
    expect(flatten.int("axis")).toBe(1);
    expect(m.graph.nodes[1]!.int("axis")).toBe(1);
    expect(m.graph.outputs[0]!.name).toBe("Y0");
    expect(m.graph.outputs[0]!.producer!.op).toBe("Reshape");
    // Opset-11 semantics: each batch row of the input flattened at axis 1 (3 x 5 values) sums to 1.
    const y = run(m, tensor("float32", [2, 3, 5], rand(30, 3))).Y0!;
    expect(y.shape).toEqual([2, 3, 5]);
    const d = y.data as Float32Array;
    for (let b = 0; b < 2; b++) expect(d.subarray(b * 15, b * 15 + 15).reduce((a, v) => a + v, 0)).toBeCloseTo(1, 5);
    expect(d.subarray(0, 5).reduce((a, v) => a + v, 0)).toBeLessThan(0.9);
  });

  it("keeps Softmax whose axis is the last one as a single node with axis -1", () => {
    const m = oneNode({ name: "", opset: 11, op: "Softmax", shape: [2, 3, 5], attributes: { axis: attr.int(2) } });
    upgradeToOpset13(m);
    expect(m.graph.nodes.map((n) => n.op)).toEqual(["Softmax"]);
    expect(m.graph.nodes[0]!.int("axis")).toBe(-1);
  });

  it("leaves opset-13+ models alone and refuses opsets below 9 and Upsample", () => {
    const m13 = oneNode({ name: "", opset: 13, op: "Relu", shape: [2] });
    const before = writeOnnx(m13);
    expect(upgradeToOpset13(m13)).toBe(13);
    expect(writeOnnx(m13)).toEqual(before);
    expect(() => upgradeToOpset13(oneNode({ name: "", opset: 8, op: "Relu", shape: [2] }))).toThrow(OpsetUpgradeError);
    expect(() => upgradeToOpset13(oneNode({ name: "", opset: 9, op: "Upsample", shape: [1, 1, 2, 2] }))).toThrow(OpsetUpgradeError);
  });

  it("upgrades nodes inside subgraphs too", () => {
    const m = new Model("onnx");
    m.irVersion = 6n;
    m.opsets = [{ domain: "", version: 11 }];
    const g = m.graph;
    const cond = g.addInput("cond", { elem: "bool", shape: [] });
    const x = g.addInput("X", { elem: "float32", shape: [1, 3] });
    const node = g.addNode({ op: "If", inputs: [cond], outputs: ["Y"] });
    const then = g.subgraph("then", node);
    node.attributes.set("then_branch", { type: "graph", value: then });
    const t = then.addNode({ op: "Unsqueeze", inputs: [x], outputs: ["t_out"], attributes: { axes: attr.ints([0]) } });
    then.addOutput(t.outputs[0]!);
    const other = g.subgraph("else", node);
    node.attributes.set("else_branch", { type: "graph", value: other });
    const e = other.addNode({ op: "Unsqueeze", inputs: [x], outputs: ["e_out"], attributes: { axes: attr.ints([2]) } });
    other.addOutput(e.outputs[0]!);
    g.addOutput(node.outputs[0]!);
    upgradeToOpset13(m);
    expect(t.attributes.has("axes")).toBe(false);
    expect(Array.from(t.inputs[1]!.constant!.load().data as BigInt64Array)).toEqual([0n]);
    expect(Array.from(e.inputs[1]!.constant!.load().data as BigInt64Array)).toEqual([2n]);
    const x0 = tensor("float32", [1, 3], Float32Array.of(1, 2, 3));
    const plan = cpuBackend().plan(m);
    expect(plan.run({ cond: tensor("bool", [], Uint8Array.of(1)), X: x0 }).Y!.shape).toEqual([1, 1, 3]);
    expect(plan.run({ cond: tensor("bool", [], Uint8Array.of(0)), X: x0 }).Y!.shape).toEqual([1, 3, 1]);
  });
});
