// upgradeToOpset21 (block-wise and int4 DequantizeLinear need opset 21): the rewritten model computes
// the same in onnxruntime-node as the original, and what cannot be rewritten is reported before any change.
import { Model, attr, constantOf } from "@quanta/ir";
import { prng } from "@quanta/models";
import { writeOnnx } from "@quanta/onnx";
import { PRESETS } from "@quanta/schemes";
import { tensor } from "@quanta/tensor";
import { describe, expect, it } from "vitest";
import { OpsetUpgradeError } from "../src/upgrade.js";
import { opset21Blockers, upgradeToOpset21 } from "../src/upgrade19.js";
import { quantize, runOrt } from "./helpers.js";

const rand = (n: number, seed: number) => {
  const r = prng(seed);
  return Float32Array.from({ length: n }, () => r() * 4 - 2);
};

function model(opset: number, build: (m: Model) => void): Model {
  const m = new Model("onnx");
  m.irVersion = 8n;
  m.opsets = [{ domain: "", version: opset }];
  build(m);
  return m;
}

async function same(m: Model, feeds: Record<string, ReturnType<typeof tensor>>) {
  const before = await runOrt(writeOnnx(m), [feeds], "disabled");
  expect(opset21Blockers(m)).toEqual([]);
  upgradeToOpset21(m);
  expect(m.opset("")).toBe(21);
  const after = await runOrt(writeOnnx(m), [feeds], "disabled");
  for (const [k, t] of Object.entries(before[0]!)) expect([...after[0]![k]!.data]).toEqual([...t.data]);
  return m;
}

describe("upgradeToOpset21", () => {
  it("GroupNormalization-18: per-group scale and bias become per-channel (same outputs)", async () => {
    const m = model(18, (m) => {
      const g = m.graph;
      const x = g.addInput("X", { elem: "float32", shape: [2, 6, 3, 3] });
      const s = g.addConstant("scale", constantOf(tensor("float32", [3], Float32Array.of(0.5, 2, -1))));
      const b = g.addConstant("bias", constantOf(tensor("float32", [3], Float32Array.of(0.1, -0.2, 0.3))));
      const n = g.addNode({ op: "GroupNormalization", name: "gn", inputs: [x, s, b], outputs: ["Y"], attributes: { num_groups: attr.int(3) } });
      g.addOutput(n.outputs[0]!);
    });
    const up = await same(m, { X: tensor("float32", [2, 6, 3, 3], rand(108, 1)) });
    const gn = up.graph.nodes.find((n) => n.op === "GroupNormalization")!;
    expect([...(gn.inputs[1]!.constant!.load().data as Float32Array)]).toEqual([0.5, 0.5, 2, 2, -1, -1]);
  });

  it("GridSample-16: bilinear becomes linear (same outputs)", async () => {
    const m = model(16, (m) => {
      const g = m.graph;
      const x = g.addInput("X", { elem: "float32", shape: [1, 2, 4, 4] });
      const grid = g.addInput("G", { elem: "float32", shape: [1, 3, 3, 2] });
      const n = g.addNode({ op: "GridSample", name: "gs", inputs: [x, grid], outputs: ["Y"], attributes: { mode: attr.string("bilinear"), align_corners: attr.int(1) } });
      g.addOutput(n.outputs[0]!);
    });
    const up = await same(m, { X: tensor("float32", [1, 2, 4, 4], rand(32, 2)), G: tensor("float32", [1, 3, 3, 2], rand(18, 3).map((v) => v / 2)) });
    expect(up.graph.nodes[0]!.string("mode")).toBe("linear");
  });

  it("reports DFT-17 and a GroupNormalization with a computed scale before changing anything", () => {
    const m = model(17, (m) => {
      const g = m.graph;
      const x = g.addInput("X", { elem: "float32", shape: [1, 8, 1] });
      const d = g.addNode({ op: "DFT", name: "dft", inputs: [x], outputs: ["F"], attributes: { axis: attr.int(1) } });
      const s = g.addInput("S", { elem: "float32", shape: [1] });
      const b = g.addConstant("b", constantOf(tensor("float32", [1], Float32Array.of(0))));
      const n = g.addNode({ op: "GroupNormalization", name: "gn", inputs: [d.outputs[0]!, s, b], outputs: ["Y"], attributes: { num_groups: attr.int(1) } });
      g.addOutput(n.outputs[0]!);
    });
    const blockers = opset21Blockers(m);
    expect(blockers).toHaveLength(2);
    expect(blockers[0]).toMatch(/DFT/);
    expect(blockers[1]).toMatch(/GroupNormalization/);
    expect(() => upgradeToOpset21(m)).toThrow(OpsetUpgradeError);
    expect(m.opset("")).toBe(17);
    expect(m.graph.nodes.find((n) => n.op === "DFT")!.int("axis")).toBe(1);
  });
});

describe("block-wise int8 weights on a model that cannot reach opset 21", () => {
  it("keeps one scale per channel (never float) and says why", async () => {
    const m = model(17, (m) => {
      const g = m.graph;
      const x = g.addInput("X", { elem: "float32", shape: [1, 8, 1] });
      const d = g.addNode({ op: "DFT", name: "dft", inputs: [x], outputs: ["F"], attributes: { axis: attr.int(1) } });
      const flat = g.addNode({ op: "Flatten", name: "flat", inputs: [d.outputs[0]!], outputs: ["flat"] });
      const w = g.addConstant("w", constantOf(tensor("float32", [16, 64], rand(16 * 64, 4))));
      const mm = g.addNode({ op: "MatMul", name: "mm", inputs: [flat.outputs[0]!, w], outputs: ["Y"] });
      g.addOutput(mm.outputs[0]!);
    });
    const r = await quantize(m, PRESETS.weightOnlyInt8(32));
    expect(r.model.opset("")).toBe(17);
    const dq = r.model.graph.nodes.find((n) => n.op === "DequantizeLinear")!;
    expect(dq.inputs[0]!.constant!.elem).toBe("int8");
    expect(dq.attributes.has("block_size")).toBe(false);
    expect(dq.inputs[1]!.constant!.shape).toEqual([64]);
    expect(r.warnings.map((w) => w.message).join("\n")).toMatch(/DFT/);
  });
});
