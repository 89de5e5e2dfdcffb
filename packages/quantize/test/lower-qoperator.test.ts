// QOperator lowering of static int8 on real models: QLinearConv / QLinearMatMul / com.microsoft
// QLinearAdd, QLinearMul, QLinearGlobalAveragePool, QLinearSigmoid, with QuantizeLinear at each
// quantized region's entry and DequantizeLinear at its exit; run in onnxruntime-node and on our backend.
import { validate } from "@quanta/ir";
import { PRESETS } from "@quanta/schemes";
import { describe, expect, it } from "vitest";
import { floatReference, measure, ops, quantizeReal } from "./lowering-harness.js";

const u8 = PRESETS.int8Static("uint8");
const s8 = PRESETS.int8Static("int8");

describe("QOperator format (static int8)", () => {
  it("openwakeword/alexa_v0.1: each Gemm becomes a 1x1 QLinearConv with an int32 bias, Relu fused", async () => {
    const id = "openwakeword/alexa_v0.1";
    const ref = await floatReference(id);
    const q = await quantizeReal(id, u8, { format: "qoperator" });
    expect(validate(q.model)).toBeUndefined();
    // one QuantizeLinear in (after Flatten), one DequantizeLinear out (before the float Sigmoid of the graph output)
    expect(ops(q.model)).toEqual({ Flatten: 1, QuantizeLinear: 1, Unsqueeze: 3, QLinearConv: 3, Squeeze: 3, DequantizeLinear: 1, Sigmoid: 1 });
    const conv = q.model.graph.nodes.filter((n) => n.op === "QLinearConv");
    for (const n of conv) {
      expect(n.inputs[3]!.constant!.elem).toBe("int8");
      expect(n.inputs[3]!.constant!.shape.slice(2)).toEqual([1, 1]);
      expect(n.inputs[8]!.constant!.elem).toBe("int32");
    }
    const qm = await measure(id, q.model, ref);
    const d = await quantizeReal(id, u8);
    const dm = await measure(id, d.model, ref);
    // Measured 42.2 dB for both on 16 held-out samples (calibration: 8 others): the QDQ form that
    // onnxruntime fuses is the same integer computation.
    expect(qm.sqnr).toBeGreaterThan(38);
    expect(Math.abs(qm.sqnr - dm.sqnr)).toBeLessThan(0.5);
    // Integer kernels on both sides: same outputs to float rounding of the final DequantizeLinear.
    expect(qm.maxDiff).toBeLessThan(1e-6);
    expect(qm.ratio).toBeLessThan(0.27);
  });

  it("openwakeword/hey_jarvis_v0.1: Gemm, Add, Mul and Sigmoid in integer form, the layer norms' float ops between", async () => {
    const id = "openwakeword/hey_jarvis_v0.1";
    const ref = await floatReference(id);
    const q = await quantizeReal(id, u8, { format: "qoperator" });
    expect(ops(q.model)).toMatchObject({ QLinearConv: 3, QLinearAdd: 4, QLinearMul: 2, QLinearSigmoid: 1, ReduceMean: 4, Sqrt: 2, Div: 2 });
    for (const op of ["Gemm", "Add", "Mul", "Sigmoid"]) expect(ops(q.model)[op], op).toBeUndefined();
    expect(q.model.opset("com.microsoft")).toBe(1);
    const qm = await measure(id, q.model, ref);
    const dm = await measure(id, (await quantizeReal(id, u8)).model, ref);
    // Measured 31.2 dB, equal to the QDQ form (static int8 quantizes the layer norms' Add/Mul too).
    expect(qm.sqnr).toBeGreaterThan(27);
    expect(Math.abs(qm.sqnr - dm.sqnr)).toBeLessThan(0.5);
    expect(qm.maxDiff).toBeLessThan(1e-6);
  });

  for (const [name, scheme, measured] of [
    ["uint8", u8, 18.1],
    ["int8", s8, 18.5],
  ] as const) {
    it(`ocr/ch_ppocr_mobile_v2.0_cls_infer, ${name} activations: every Conv, Add, Mul, GlobalAveragePool and the MatMul in integer form`, async () => {
      const id = "ocr/ch_ppocr_mobile_v2.0_cls_infer";
      const ref = await floatReference(id);
      const q = await quantizeReal(id, scheme, { format: "qoperator" });
      expect(validate(q.model)).toBeUndefined();
      const h = ops(q.model);
      // The 18 HardSwish layers written as Add, Clip, Mul, Div are fused to Mul(x, HardSigmoid(x)) first: 8 Adds stay.
      expect(h).toMatchObject({ QLinearConv: 53, QLinearMatMul: 1, QLinearAdd: 8, QLinearMul: 27, QLinearGlobalAveragePool: 10 });
      for (const op of ["Conv", "MatMul", "Add", "Mul", "GlobalAveragePool", "Clip", "Relu"]) expect(h[op], op).toBeUndefined();
      // Relu and Clip(0, 6) are implemented by the output's saturation (zero point at the bottom of the range).
      // What stays float: HardSigmoid, the head (Softmax...).
      expect(h.QuantizeLinear).toBeLessThan(40);
      // No Q/DQ pair back to back: every DequantizeLinear feeds a float op or a graph output.
      for (const n of q.model.graph.nodes.filter((n) => n.op === "DequantizeLinear")) {
        for (const u of n.outputs[0]!.uses) expect(u.node.op).not.toBe("QuantizeLinear");
      }
      const qm = await measure(id, q.model, ref);
      // This 2-class classifier is sensitive to 8-bit activations (`measured` dB on 16 held-out samples; weight-only int8 gives ~42 dB).
      expect(qm.sqnr).toBeGreaterThan(measured - 4);
      // Integer ops all the way (the float ops between see identical inputs): our backend = onnxruntime.
      expect(qm.maxDiff).toBeLessThan(1e-6);
      if (name === "uint8") {
        // onnxruntime fuses the QDQ form into the same integer ops: the same accuracy, in a larger file.
        const dm = await measure(id, (await quantizeReal(id, scheme)).model, ref);
        expect(Math.abs(qm.sqnr - dm.sqnr)).toBeLessThan(1);
        expect(qm.ratio).toBeLessThan(dm.ratio);
      }
    });
  }
});
