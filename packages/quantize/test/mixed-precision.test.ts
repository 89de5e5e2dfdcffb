// Mixed precision (`Scheme.int16Weights`, `quanta quantize --int16`): the weights of the named nodes are
// quantized to int16 per channel while the rest keep the scheme's type; the files run in onnxruntime-node
// and the named layers come out closer to float.
import { readFileSync } from "node:fs";
import type { Model, Node, Value } from "@quanta/ir";
import { modelPath } from "@quanta/models";
import { readOnnx, writeOnnx } from "@quanta/onnx";
import { PRESETS, type Scheme, withChanges } from "@quanta/schemes";
import { describe, expect, it } from "vitest";
import { feedsOf, quantize, runOrt, sqnr } from "./helpers.js";

const cls = "ocr/ch_ppocr_mobile_v2.0_cls_infer";
const bytes = readFileSync(modelPath(cls));
const samples = [feedsOf(cls, 1), feedsOf(cls, 2)];

/** The weight DequantizeLinear of a node (its input 1), if any. */
const weightDq = (n: Node): Node | undefined => (n.inputs[1]?.producer?.op === "DequantizeLinear" ? n.inputs[1].producer : undefined);
const elemOf = (v: Value | null | undefined) => v?.constant?.elem;
const layers = (m: Model, op: string) => m.graph.nodes.filter((n) => n.op === op);

async function run(scheme: Scheme, data = samples, options: Parameters<typeof quantize>[3] = {}) {
  const q = await quantize(readOnnx(bytes), scheme, data, options);
  const out = writeOnnx(q.model);
  return { model: q.model, bytes: out };
}

describe("mixed precision: int16 weights or activations on chosen nodes", async () => {
  const ref = await runOrt(bytes, samples);
  const int8 = await run(PRESETS.weightOnlyInt8());
  const int8Sqnr = sqnr(ref, await runOrt(int8.bytes, samples));

  it("weight-only: nodes matched by op type get int16 weights, the rest int8; the file grows by one byte per int16 weight", async () => {
    const mixed = await run(withChanges(PRESETS.weightOnlyInt8(), { int16Weights: ["Conv"] }));
    const convs = layers(mixed.model, "Conv");
    expect(convs.length).toBe(53);
    for (const n of convs) {
      const dq = weightDq(n)!;
      expect(elemOf(dq.inputs[0])).toBe("int16");
      expect(dq.domain).toBe("com.microsoft"); // opset 13: int16 DequantizeLinear is onnxruntime's
      expect(dq.inputs[1]!.constant!.shape.length).toBe(1); // per channel
    }
    expect(elemOf(weightDq(layers(mixed.model, "MatMul")[0]!)!.inputs[0])).toBe("int8");
    for (const level of ["all", "disabled"] as const) expect(sqnr(ref, await runOrt(mixed.bytes, samples, level))).toBeGreaterThan(int8Sqnr);
    const convWeights = convs.reduce((a, n) => a + weightDq(n)!.inputs[0]!.constant!.shape.reduce((x, y) => x * y, 1), 0);
    expect(mixed.bytes.length - int8.bytes.length).toBeGreaterThan(convWeights * 0.99);
    expect(mixed.bytes.length - int8.bytes.length).toBeLessThan(convWeights * 1.01 + 4096);
  });

  it("weight-only: one node by name; patterns match as in exclusions", async () => {
    const one = await run(withChanges(PRESETS.weightOnlyInt8(), { int16Weights: ["p2o.Conv.3"] }));
    const wide = layers(one.model, "Conv").filter((n) => elemOf(weightDq(n)!.inputs[0]) === "int16");
    expect(wide.map((n) => n.name)).toEqual(["p2o.Conv.3"]);
    const glob = await run(withChanges(PRESETS.weightOnlyInt8(), { int16Weights: ["p2o.Conv.1?"] }));
    expect(layers(glob.model, "Conv").filter((n) => elemOf(weightDq(n)!.inputs[0]) === "int16").length).toBe(10);
    expect(Number.isFinite(sqnr(ref, await runOrt(one.bytes, samples)))).toBe(true);
  });

  it("int16 everywhere is about as exact as float; int8 is not (embedding model, 96 outputs per window)", async () => {
    const id = "openwakeword/embedding_model";
    const fp32 = readFileSync(modelPath(id));
    const data = [feedsOf(id, 1), feedsOf(id, 2), feedsOf(id, 3)];
    const r = await runOrt(fp32, data);
    const q8 = writeOnnx((await quantize(readOnnx(fp32), PRESETS.weightOnlyInt8())).model);
    const q16 = writeOnnx((await quantize(readOnnx(fp32), withChanges(PRESETS.weightOnlyInt8(), { int16Weights: ["*"] }))).model);
    const s8 = sqnr(r, await runOrt(q8, data));
    const s16 = sqnr(r, await runOrt(q16, data));
    // int16 rounding is 256x finer (48 dB); what is left is float rounding of the unfused graph.
    expect(s16).toBeGreaterThan(s8 + 30);
  });

  it("static: int16 weights with uint8 activations and an int32 bias of scale s_in * s_w", async () => {
    const calib = [feedsOf(cls, 3), feedsOf(cls, 4), feedsOf(cls, 5)];
    const q = await run(withChanges(PRESETS.int8Static("uint8", "mse"), { int16Weights: ["p2o.Conv.2"] }), calib);
    const n = q.model.graph.nodes.find((x) => x.name === "p2o.Conv.2")!;
    const w = weightDq(n)!;
    expect(elemOf(w.inputs[0])).toBe("int16");
    const b = n.inputs[2]!.producer!;
    expect(b.op).toBe("DequantizeLinear");
    expect(elemOf(b.inputs[0])).toBe("int32");
    const x = n.inputs[0]!.producer!;
    expect(x.op).toBe("DequantizeLinear");
    const sIn = (x.inputs[1]!.constant!.load().data as Float32Array)[0]!;
    const sW = w.inputs[1]!.constant!.load().data as Float32Array;
    const sB = b.inputs[1]!.constant!.load().data as Float32Array;
    for (let i = 0; i < sB.length; i++) expect(sB[i]).toBeCloseTo(Math.fround(sIn * sW[i]!), 12);
    const s = sqnr(ref, await runOrt(q.bytes, samples));
    expect(s).toBeGreaterThan(10);
  });

  it("a block-wise int4 scheme's int16 nodes take per-channel int16 (no blocks)", async () => {
    const q = await run(withChanges(PRESETS.weightOnlyInt4(32), { int16Weights: ["p2o.MatMul.0"] }));
    const mm = layers(q.model, "MatMul")[0]!;
    const dq = weightDq(mm)!;
    expect(elemOf(dq.inputs[0])).toBe("int16");
    expect(dq.attributes.has("block_size")).toBe(false);
    expect(Number.isFinite(sqnr(ref, await runOrt(q.bytes, samples)))).toBe(true);
  });

  it("int4 with int8Weights: those nodes keep int8 per channel, int16 wins where a node is in both lists, 8-bit schemes ignore it; the file runs in onnxruntime", async () => {
    const all4 = await run(PRESETS.weightOnlyInt4(32, "int4"));
    const some8 = await run(withChanges(PRESETS.weightOnlyInt4(32, "int4"), { int8Weights: ["p2o.Conv.8", "p2o.Conv.1?"], int16Weights: ["p2o.Conv.11"] }));
    const dqOf = (m: Model, name: string) => weightDq(m.graph.nodes.find((n) => n.name === name)!)!;
    for (const name of ["p2o.Conv.8", "p2o.Conv.14", "p2o.Conv.17"]) {
      expect(elemOf(dqOf(all4.model, name).inputs[0]), name).toBe("int4");
      const dq = dqOf(some8.model, name);
      expect(elemOf(dq.inputs[0]), name).toBe("int8");
      expect(dq.attributes.has("block_size")).toBe(false);
      expect(dq.inputs[1]!.constant!.shape).toEqual([dq.inputs[0]!.constant!.shape[0]]);
    }
    expect(elemOf(dqOf(some8.model, "p2o.Conv.11").inputs[0])).toBe("int16");
    expect(elemOf(dqOf(some8.model, "p2o.Conv.20").inputs[0])).toBe(elemOf(dqOf(all4.model, "p2o.Conv.20").inputs[0]));
    // (these synthetic inputs put the classifier where any rounding flips it: accuracy is for the eval's real data)
    expect(Number.isFinite(sqnr(ref, await runOrt(some8.bytes, samples)))).toBe(true);
    // An 8-bit scheme has nothing to keep at int8: the same file.
    expect(Buffer.from((await run(withChanges(PRESETS.weightOnlyInt8(), { int8Weights: ["Conv"] }))).bytes).equals(Buffer.from(int8.bytes))).toBe(true);
  });

  it("static: int16 activations on chosen nodes (inputs and output); a tensor shared with an 8-bit node takes int16", async () => {
    const calib = [feedsOf(cls, 3), feedsOf(cls, 4), feedsOf(cls, 5)];
    const q = await run(withChanges(PRESETS.int8Static("uint8", "mse"), { int16Activations: ["p2o.Conv.2"] }), calib);
    const n = q.model.graph.nodes.find((x) => x.name === "p2o.Conv.2")!;
    const x = n.inputs[0]!.producer!;
    expect(x.op).toBe("DequantizeLinear");
    expect(elemOf(x.inputs[2])).toBe("int16");
    // Its input and its output edge are the int16 Q/DQ pairs (at least two); the rest stays uint8.
    const u8 = q.model.graph.nodes.filter((d) => d.op === "QuantizeLinear" && elemOf(d.inputs[2]) === "uint8").length;
    const i16 = q.model.graph.nodes.filter((d) => d.op === "QuantizeLinear" && elemOf(d.inputs[2]) === "int16").length;
    expect(u8).toBeGreaterThan(50);
    expect(i16).toBe(2);
    expect(sqnr(ref, await runOrt(q.bytes, samples))).toBeGreaterThan(10);
  });

  it("QOperator: int16-activation nodes stay QDQ, the others become QLinear operators", async () => {
    const calib = [feedsOf(cls, 3), feedsOf(cls, 4), feedsOf(cls, 5)];
    const plain = await run(PRESETS.int8Static("uint8", "mse"), calib, { format: "qoperator" });
    const mixed = await run(withChanges(PRESETS.int8Static("uint8", "mse"), { int16Activations: ["p2o.Conv.2"] }), calib, { format: "qoperator" });
    const count = (m: Model, op: string) => m.graph.nodes.filter((n) => n.op === op).length;
    expect(count(plain.model, "QLinearConv")).toBeGreaterThan(40);
    expect(mixed.model.graph.nodes.find((n) => n.name === "p2o.Conv.2")?.op).toBe("Conv");
    expect(count(mixed.model, "QLinearConv")).toBeGreaterThan(count(plain.model, "QLinearConv") - 4);
    for (const level of ["all", "disabled"] as const) expect(Number.isFinite(sqnr(ref, await runOrt(mixed.bytes, samples, level)))).toBe(true);
  });
});
