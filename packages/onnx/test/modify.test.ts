/**
 * Edits of a real model survive writing: renames, attribute changes, replaced constants, inserted and
 * removed nodes. Everything not edited is written as it was, and onnxruntime-node runs the result.
 */
import { readFileSync } from "node:fs";
import { toBinary } from "@bufbuild/protobuf";
import { modelPath } from "@quanta/models";
import { attr, constantOf, type Model, problems } from "@quanta/ir";
import { tensor } from "@quanta/tensor";
import { NodeProtoSchema, type TensorProto, TensorProtoSchema } from "onnx-buf";
import { describe, expect, it } from "vitest";
import { type OnnxNodeOrigin, isOnnxTensorOrigin, readOnnx, writeOnnx } from "../src/index.js";
import { randomFloats, runOrt } from "./helpers.js";

const MEL_PATH = modelPath("openwakeword/melspectrogram");
const MEL = readFileSync(MEL_PATH);
const FEEDS = { input: { data: randomFloats(2 * 1280, 99, -3000, 3000), shape: [2, 1280] } };

const nodeBytes = (m: Model) => new Map(m.graph.nodes.map((n) => [n.name, Buffer.from(toBinary(NodeProtoSchema, (n.origin as OnnxNodeOrigin).proto))]));
const tensorBytes = (p: TensorProto) => Buffer.from(toBinary(TensorProtoSchema, p));
const find = (m: Model, name: string) => {
  const n = m.graph.nodes.find((x) => x.name === name);
  if (!n) throw new Error(`no node ${name}`);
  return n;
};

/** Edits that keep the model's function: rename, insert an Identity, drop a no-op Cast, re-encode a constant, restate an attribute. */
function neutralEdits(m: Model): void {
  const g = m.graph;
  g.value("real")!.rename("real_part");
  g.insertOnEdge(g.inputs[0]!, { op: "Identity", name: "inserted_identity" });
  // Cast_27 casts a float to float: remove it and feed its input to its consumer.
  const cast = find(m, "Cast_27");
  g.removeNode(cast, [cast.inputs[0]!]);
  // The Clip lower bound as a new constant (same value, no ONNX origin).
  const clip = g.value("onnx::Clip_39")!;
  clip.constant = constantOf(tensor("float32", [], Float32Array.from(clip.constant!.load().data as Float32Array)));
  // Conv strides restated as a new attribute with a new (equal) value, and the default auto_pad spelled out.
  find(m, "Conv_2").attributes.set("strides", attr.ints([160]));
  find(m, "Conv_3").attributes.set("auto_pad", attr.string("NOTSET"));
}

describe("editing openwakeword/melspectrogram", () => {
  it("neutral edits are written, read back, and leave the rest untouched", () => {
    const orig = readOnnx(MEL);
    const m = readOnnx(MEL);
    neutralEdits(m);
    expect(problems(m)).toEqual([]);
    const bytes = writeOnnx(m);
    const back = readOnnx(bytes);
    expect(problems(back)).toEqual([]);

    // The edits are there.
    const g = back.graph;
    expect(g.value("real")).toBeUndefined();
    expect(find(back, "Transpose_6").outputs[0]!.name).toBe("real_part");
    expect(find(back, "Pow_11").inputs[0]!.name).toBe("real_part");
    expect(g.nodes[0]!.name).toBe("inserted_identity");
    expect(g.nodes[0]!.inputs[0]!.name).toBe("input");
    expect(find(back, "Unsqueeze_1").inputs[0]).toBe(g.nodes[0]!.outputs[0]);
    expect(g.nodes.some((n) => n.op === "Cast")).toBe(false);
    expect(find(back, "Clip_28").inputs[1]!.name).toBe("onnx::Cast_34");
    expect(g.nodes.length).toBe(orig.graph.nodes.length);
    const clip = g.value("onnx::Clip_39")!.constant!;
    expect([...(clip.load().data as Float32Array)]).toEqual([...(orig.graph.value("onnx::Clip_39")!.constant!.load().data as Float32Array)]);
    expect(find(back, "Conv_2").ints("strides")).toEqual([160]);
    expect(find(back, "Conv_3").string("auto_pad")).toBe("NOTSET");
    expect([...find(back, "Conv_3").attributes.keys()]).toEqual([...find(orig, "Conv_3").attributes.keys(), "auto_pad"]);

    // Everything else is byte for byte what it was.
    const before = nodeBytes(orig);
    const after = nodeBytes(back);
    // (Conv_2's restated strides encode exactly as the exporter wrote them, so Conv_2 is unchanged.)
    const edited = new Set(["Transpose_6", "Pow_11", "Unsqueeze_1", "Clip_28", "Conv_3", "inserted_identity"]);
    for (const [name, b] of after) {
      if (edited.has(name)) expect(before.get(name)?.equals(b), name).not.toBe(true);
      else expect(before.get(name)?.equals(b), name).toBe(true);
    }
    for (const v of orig.graph.initializers) {
      if (v.name === "onnx::Clip_39") continue;
      const w = g.value(v.name)!.constant!;
      expect(isOnnxTensorOrigin(w.origin) && isOnnxTensorOrigin(v.constant!.origin)).toBe(true);
      expect(tensorBytes((w.origin as { proto: TensorProto }).proto).equals(tensorBytes((v.constant!.origin as { proto: TensorProto }).proto)), v.name).toBe(true);
    }
    expect(back.irVersion).toBe(orig.irVersion);
    expect(back.opsets).toEqual(orig.opsets);
    expect(back.producerName).toBe(orig.producerName);
    expect(g.inputs.map((v) => [v.name, v.type])).toEqual(orig.graph.inputs.map((v) => [v.name, v.type]));
    expect(g.outputs.map((v) => [v.name, v.type])).toEqual(orig.graph.outputs.map((v) => [v.name, v.type]));
  });

  it("neutral edits give the same outputs in onnxruntime-node", async () => {
    const m = readOnnx(MEL);
    neutralEdits(m);
    const [a, b] = [await runOrt(MEL_PATH, FEEDS), await runOrt(writeOnnx(m), FEEDS)];
    const x = a.output as Float32Array;
    const y = b.output as Float32Array;
    expect(x.length).toBeGreaterThan(100);
    expect(y).toEqual(x);
  });

  it("edits that change the function change the outputs as predicted", async () => {
    const m = readOnnx(MEL);
    const g = m.graph;
    // Double the mel filter bank (an initializer): +10*log10(2) dB everywhere, as the top-dB clamp moves with the maximum.
    const melW = g.value("1.melW")!;
    const w = melW.constant!.load().data as Float32Array;
    melW.constant = constantOf(tensor("float32", melW.constant!.shape, w.map((v) => v * 2)));
    // The reference level (a Constant node's tensor attribute) from 0 to 5 dB: -5 dB everywhere.
    find(m, "Constant_22").attributes.set("value", attr.tensor(constantOf(tensor("float32", [], Float32Array.of(5)))));
    const bytes = writeOnnx(m);
    const back = readOnnx(bytes);
    expect([...(back.graph.value("1.melW")!.constant!.load().data as Float32Array).subarray(0, 5)]).toEqual([...w.subarray(0, 5)].map((v) => v * 2));
    const ref = find(back, "Constant_22").attr("value");
    expect(ref?.type === "tensor" && [...(ref.value.load().data as Float32Array)]).toEqual([5]);
    // The Constant node keeps its name and output; its other attributes are unchanged.
    expect(find(back, "Constant_22").outputs[0]!.name).toBe("onnx::Sub_30");

    const base = (await runOrt(MEL_PATH, FEEDS)).output as Float32Array;
    const edited = (await runOrt(bytes, FEEDS)).output as Float32Array;
    expect(edited.length).toBe(base.length);
    const shift = 10 * Math.log10(2) - 5;
    let worst = 0;
    for (let i = 0; i < base.length; i++) worst = Math.max(worst, Math.abs(edited[i]! - base[i]! - shift));
    expect(worst).toBeLessThan(1e-3);
  });

  it("a node removed without a replacement for its used output is refused, and the model is unchanged", () => {
    const m = readOnnx(MEL);
    expect(() => m.graph.removeNode(find(m, "Log_17"))).toThrow(/still used/);
    expect(Buffer.compare(Buffer.from(writeOnnx(m)), MEL)).toBe(0);
  });

  it("a renamed graph input and output are written under their new names", async () => {
    const m = readOnnx(MEL);
    m.graph.inputs[0]!.rename("audio");
    m.graph.outputs[0]!.rename("features");
    const bytes = writeOnnx(m);
    const back = readOnnx(bytes);
    expect(back.graph.inputs.map((v) => v.name)).toEqual(["audio"]);
    expect(back.graph.outputs.map((v) => v.name)).toEqual(["features"]);
    expect(back.graph.inputs[0]!.type).toEqual(m.graph.inputs[0]!.type);
    const out = await runOrt(bytes, { audio: FEEDS.input });
    expect(out.features).toEqual((await runOrt(MEL_PATH, FEEDS)).output);
  });
});
