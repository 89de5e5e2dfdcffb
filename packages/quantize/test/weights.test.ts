// quantizeWeight: the fused per-channel int8 kernels (rows: Conv/Gemm-transB weights; columns: MatMul
// [K, N] weights) give the same parameters and bytes as the general path (ranges, computeQParams,
// quantizeLinear), on random weights with ties and zero channels, and on every weight of a real model.
import { readFileSync } from "node:fs";
import { modelPath } from "@quanta/models";
import { readOnnx } from "@quanta/onnx";
import { PRESETS } from "@quanta/schemes";
import { Model, constantOf } from "@quanta/ir";
import { type Tensor, tensor } from "@quanta/tensor";
import { describe, expect, it } from "vitest";
import { quantizeWeight } from "../src/qparams.js";
import { quantize } from "./helpers.js";

const spec = PRESETS.int8Static().weights as Parameters<typeof quantizeWeight>[1];
const full = { ...spec, narrowRange: false };

function same(t: Tensor<"float32">, s: typeof spec, axis: number) {
  const a = quantizeWeight(t, s, axis);
  const b = quantizeWeight(t, s, axis, undefined, { fast: false });
  expect([...a.qparams.scale]).toEqual([...b.qparams.scale]);
  expect([...a.qparams.zeroPoint]).toEqual([...b.qparams.zeroPoint]);
  expect(a.qparams.axis).toBe(b.qparams.axis);
  expect(a.quantized.dtype).toBe(b.quantized.dtype);
  expect(Buffer.from((a.quantized.data as Int8Array).buffer).equals(Buffer.from((b.quantized.data as Int8Array).buffer))).toBe(true);
}

describe("quantizeWeight", () => {
  it("fused rows and columns equal the general path on random weights", () => {
    let seed = 7;
    const rand = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
    for (const [r, c] of [
      [64, 48],
      [1, 9],
      [33, 1],
      [17, 130],
    ] as const) {
      const d = new Float32Array(r * c);
      for (let i = 0; i < d.length; i++) d[i] = rand() * 10 ** Math.floor(rand() * 3);
      d.fill(0, 0, c); // an all-zero row
      if (r > 3) d[2 * c] = 127 / 254; // ties after scaling in row 2 (absmax fixed below)
      const t = tensor("float32", [r, c], d);
      for (const s of [spec, full]) {
        same(t, s, 0);
        same(t, s, 1);
      }
    }
    // A 4-D conv weight per output channel.
    const w = new Float32Array(8 * 3 * 3 * 3).map((_, i) => Math.sin(i * 1.7) * (1 + (i % 5)));
    same(tensor("float32", [8, 3, 3, 3], w), spec, 0);
  });

  it("fused path equals the general path on every weight of the PP-OCRv4 recogniser", () => {
    const m = readOnnx(readFileSync(modelPath("ocr/ch_PP-OCRv4_rec_infer")));
    let n = 0;
    for (const g of m.allGraphs()) {
      for (const node of g.nodes) {
        if (node.op !== "Constant") continue;
        const a = node.attributes.get("value");
        const t = a && "value" in a ? (a.value as { load?: () => Tensor }).load?.() : undefined;
        if (!t || t.dtype !== "float32" || t.shape.length < 2 || t.data.length < 64) continue;
        same(t as Tensor<"float32">, spec, 0);
        if (t.shape.length === 2) same(t as Tensor<"float32">, spec, 1);
        n++;
      }
    }
    expect(n).toBeGreaterThan(40);
  });
});

describe("NaN and infinite weights", () => {
  function matmul(w: Float32Array): Model {
    const m = new Model("onnx");
    m.irVersion = 8n;
    m.opsets = [{ domain: "", version: 13 }];
    const g = m.graph;
    const x = g.addInput("X", { elem: "float32", shape: [1, 4] });
    const b = g.addConstant("W", constantOf(tensor("float32", [4, 2], w)), { exact: true });
    const n = g.addNode({ op: "MatMul", inputs: [x, b], outputs: ["Y"] });
    g.outputs.push(n.outputs[0]!);
    return m;
  }
  for (const [what, bad, message] of [
    ["NaN", Number.NaN, /weight 'W' holds 1 NaN values/],
    ["infinite", Number.POSITIVE_INFINITY, /weight 'W' holds 0 NaN and infinite values/],
  ] as const) {
    it(`a weight holding a ${what} value fails with NonFiniteWeight naming it`, async () => {
      const w = Float32Array.of(1, 2, 3, 4, 5, 6, 7, 8);
      w[5] = bad;
      await expect(quantize(matmul(w), PRESETS.weightOnlyInt8())).rejects.toThrow(message);
    });
  }
});
