// The smallest weight-only files: float16 scales and biases (`withFloat16Params`, `--float16-params`)
// and 4-bit per-channel weights where a 4-bit scheme has no axis to block along
// (`Scheme.unblockedWeights`, `--unblocked-weights 4bit`). Checked on PP-OCR cls (depthwise convs, a
// 3-channel stem, BatchNorm-folded biases) and an openWakeWord head (Gemm with a bias -> MatMulNBits),
// in onnxruntime-node.
import { readFileSync } from "node:fs";
import { type Model, type Node, type Value, constantOf } from "@quanta/ir";
import { modelPath } from "@quanta/models";
import { readOnnx, writeOnnx } from "@quanta/onnx";
import { PRESETS, type Scheme, spec, withChanges, withFloat16Params } from "@quanta/schemes";
import { type Tensor, dequantizeLinear, f16ArrayToF32, f16ToF32, f32ToF16, quantizeLinear, tensor } from "@quanta/tensor";
import { describe, expect, it } from "vitest";
import { quantizeWeight } from "../src/qparams.js";
import { feedsOf, quantize, runOrt, sqnr } from "./helpers.js";

const cls = "ocr/ch_ppocr_mobile_v2.0_cls_infer";
const fp32 = readFileSync(modelPath(cls));
const samples = [feedsOf(cls, 1), feedsOf(cls, 2)];

const int4 = PRESETS.weightOnlyInt4(32, "int4");
const unblocked = (s: Scheme): Scheme => Object.freeze({ ...s, unblockedWeights: "4bit" as const });

async function run(scheme: Scheme, data: typeof samples = [], biasCorrection = false) {
  const q = await quantize(readOnnx(fp32), scheme, data, { biasCorrection });
  return { model: q.model, bytes: writeOnnx(q.model), warnings: q.warnings };
}

const convs = (m: Model) => m.graph.nodes.filter((n) => n.op === "Conv");
/** The weight DequantizeLinear of a node (its input 1). */
const weightDq = (n: Node): Node => {
  const p = n.inputs[1]!.producer!;
  expect(p.op).toBe("DequantizeLinear");
  return p;
};
/** The float16 constant behind a Cast feeding `v`, or undefined when `v` is not a Cast's output. */
const halfBehind = (v: Value | null | undefined): Value | undefined => {
  const c = v?.producer;
  if (c?.op !== "Cast") return undefined;
  expect(c.int("to", 0)).toBe(1);
  expect(c.inputs[0]!.constant!.elem).toBe("float16");
  return c.inputs[0]!;
};
const halves = (v: Value) => f16ArrayToF32(v.constant!.load().data as Uint16Array);
/** The float32 values a weight DequantizeLinear produces (float16 scales behind Cast followed). */
function dequantized(dq: Node): Float32Array {
  const h = halfBehind(dq.inputs[1]);
  const scale = h ? halves(h) : (dq.inputs[1]!.constant!.load().data as Float32Array);
  const q = dq.inputs[0]!.constant!.load() as Tensor<"int8">;
  const block = dq.attributes.get("block_size");
  const axis = Number(dq.attributes.get("axis")?.value ?? 1);
  return dequantizeLinear(q, { scale, zeroPoint: new Int32Array(scale.length), axis, ...(block ? { blockSize: Number(block.value) } : {}) }).data as Float32Array;
}
/** A quantized constant's integers (int4 unpacked, low nibble first). */
function ints(v: Value): Int32Array {
  const t = v.constant!.load();
  const n = t.shape.reduce((a, b) => a * b, 1);
  if (t.dtype !== "int4") return Int32Array.from(t.data as Int8Array);
  const d = t.data as Uint8Array;
  return Int32Array.from({ length: n }, (_, i) => ((((d[i >> 1]! >> ((i & 1) * 4)) & 0xf) ^ 8) - 8));
}

describe("float16 scales and biases; 4-bit weights without blocks", async () => {
  const ref = await runOrt(fp32, samples);
  const plain = await run(int4);
  const half = await run(withFloat16Params(int4));
  const smallest = await run(unblocked(withFloat16Params(int4)));

  it("every Conv's weight scales and bias are float16 behind a Cast; the integers are the float32 run's up to scale rounding", () => {
    const folded = new Map(convs(plain.model).map((n) => [n.name, n.inputs[2]!.constant!.load().data as Float32Array]));
    expect(convs(half.model).length).toBe(53);
    let totalMoved = 0;
    let total = 0;
    for (const n of convs(half.model)) {
      const dq = weightDq(n);
      const h = halfBehind(dq.inputs[1]);
      expect(h, n.name).toBeDefined();
      const dq32 = weightDq(convs(plain.model).find((c) => c.name === n.name)!);
      const s32 = dq32.inputs[1]!.constant!.load().data as Float32Array;
      const s16 = halves(h!);
      expect(s16.length).toBe(s32.length);
      // Each stored scale is the float32 one rounded to the nearest float16 (a relative change of at
      // most 2^-11).
      for (let i = 0; i < s16.length; i++) {
        expect(s16[i]).toBe(f16ToF32(f32ToF16(s32[i]!)));
        expect(Math.abs(s16[i]! / s32[i]! - 1)).toBeLessThanOrEqual(2 ** -11);
      }
      // The integers: those of the float32 scales but for the few weights the slightly different step
      // moves to the next integer (one step; toward zero where the step grew): a block's most negative
      // weight at -7.5 steps (symmetric int4: absmax / 7.5) and others near a rounding boundary.
      const [qa, qb] = [ints(dq.inputs[0]!), ints(dq32.inputs[0]!)];
      expect(qa.length).toBe(qb.length);
      let moved = 0;
      for (let i = 0; i < qa.length; i++) {
        if (qa[i] === qb[i]) continue;
        moved++;
        expect(Math.abs(qa[i]! - qb[i]!)).toBe(1);
        // Per channel (axis 0, as every per-axis Conv weight here): only a channel whose step changed
        // moves, toward zero where it grew, away where it shrank (zero points are 0).
        if (!dq.attributes.has("block_size")) {
          expect(dq.int("axis", 1)).toBe(0);
          const c = Math.floor(i / (qa.length / s16.length));
          expect(s16[c]).not.toBe(s32[c]);
          if (s16[c]! > s32[c]!) expect(Math.abs(qa[i]!)).toBeLessThan(Math.abs(qb[i]!));
          else expect(Math.abs(qa[i]!)).toBeGreaterThan(Math.abs(qb[i]!));
        }
      }
      expect(moved).toBeLessThanOrEqual(s16.length + Math.max(4, qa.length * 0.01));
      totalMoved += moved;
      total += qa.length;
      // The bias: float16 copies of the float32 file's (BatchNorm-folded) biases.
      const b = halfBehind(n.inputs[2]);
      expect(b, n.name).toBeDefined();
      const want = folded.get(n.name)!;
      const got = halves(b!);
      for (let i = 0; i < want.length; i++) expect(got[i]).toBe(f16ToF32(f32ToF16(want[i]!)));
    }
    expect(totalMoved).toBeGreaterThan(0);
    expect(totalMoved).toBeLessThan(total * 0.03);
    // The MatMul's 4-bit weight is MatMulNBits, whose scales take A's type: float32.
    const mm = half.model.graph.nodes.find((n) => n.op === "MatMulNBits")!;
    expect(mm.inputs[2]!.constant!.elem).toBe("float32");
  });

  it("the file shrinks by about two bytes per scale and bias, less the Cast nodes", () => {
    let params = 0;
    for (const n of convs(half.model)) params += weightDq(n).inputs[1]!.producer!.inputs[0]!.constant!.shape.reduce((a, b) => a * b, 1) + n.inputs[2]!.producer!.inputs[0]!.constant!.shape[0]!;
    const saved = plain.bytes.length - half.bytes.length;
    expect(saved).toBeGreaterThan(params * 2 - 106 * 40);
    expect(saved).toBeLessThan(params * 2);
  });

  it("unblocked 4-bit: the depthwise and stem convs take int4 per output channel instead of int8", () => {
    let depthwise = 0;
    for (const n of convs(smallest.model)) {
      const dq = weightDq(n);
      const q = dq.inputs[0]!.constant!;
      expect(q.elem, n.name).toBe("int4");
      const before = weightDq(convs(plain.model).find((c) => c.name === n.name)!);
      if (before.inputs[0]!.constant!.elem === "int8") {
        depthwise++;
        expect(dq.attributes.has("block_size")).toBe(false);
        expect(dq.int("axis", 1)).toBe(0);
        expect(halves(halfBehind(dq.inputs[1])!).length).toBe(q.shape[0]);
      }
    }
    expect(depthwise).toBeGreaterThan(10);
  });

  it("PP-OCR cls int4 with both is at most 18% of the fp32 file (21.8% without); onnxruntime runs every variant, with and without graph optimizations", async () => {
    expect(plain.bytes.length / fp32.length).toBeGreaterThan(0.21);
    expect(smallest.bytes.length / fp32.length).toBeLessThan(0.18);
    // onnxruntime reads the float16 values as we mean them: the file with each Cast replaced by a
    // float32 constant of the same values gives the same outputs. (Output accuracy is the eval's, on
    // real text: these synthetic inputs put the classifier where one moved integer changes it by
    // 20 dB, so the int4 files are 3-5 dB from float here.)
    for (const q of [half, smallest]) {
      const inlined = readOnnx(q.bytes);
      for (const n of [...inlined.graph.nodes]) {
        const h = n.op === "Cast" ? n.inputs[0]?.constant : undefined;
        if (h?.elem !== "float16") continue;
        inlined.graph.replaceUses(n.outputs[0]!, inlined.graph.addConstant(`x${n.outputs[0]!.name}`, constantOf(tensor("float32", h.shape, f16ArrayToF32(h.load().data as Uint16Array)))));
      }
      expect(sqnr(await runOrt(writeOnnx(inlined), samples), await runOrt(q.bytes, samples))).toBeGreaterThan(100);
      expect(Number.isFinite(sqnr(ref, await runOrt(q.bytes, samples)))).toBe(true);
    }
    // Graph optimizations fold the Casts: the same outputs either way.
    const [a, b] = [await runOrt(smallest.bytes, samples, "all"), await runOrt(smallest.bytes, samples, "disabled")];
    expect(sqnr(a, b)).toBeGreaterThan(100);
  });

  it("same input, same bytes", async () => {
    expect(Buffer.from((await run(unblocked(withFloat16Params(int4)))).bytes).equals(Buffer.from(smallest.bytes))).toBe(true);
  });

  it("int8 weight-only takes float16 scales too (per channel, and per block): each layer's weight error stays that of float32 scales", async () => {
    const float = (await quantize(readOnnx(fp32), { ...PRESETS.weightOnlyInt8(), exclude: ["*"] }, [])).model;
    const floatWeight = (name: string) => float.graph.nodes.find((n) => n.name === name)!.inputs[1]!.constant!.load().data as Float32Array;
    for (const s of [PRESETS.weightOnlyInt8(), PRESETS.weightOnlyInt8(64)]) {
      const q = await run(withFloat16Params(s));
      const base = await run(s);
      let [e16, e32] = [0, 0];
      for (const n of convs(q.model)) {
        const dq = weightDq(n);
        expect(dq.inputs[0]!.constant!.elem).toBe("int8");
        expect(halfBehind(dq.inputs[1]), n.name).toBeDefined();
        expect(halfBehind(n.inputs[2]), n.name).toBeDefined();
        const w = floatWeight(n.name);
        const err = (d: Float32Array) => d.reduce((a, x, i) => a + (x - w[i]!) ** 2, 0);
        const layer16 = err(dequantized(dq));
        const layer32 = err(dequantized(weightDq(convs(base.model).find((c) => c.name === n.name)!)));
        expect(layer16, n.name).toBeLessThan(layer32 * 1.25 + 1e-12);
        e16 += layer16;
        e32 += layer32;
      }
      expect(e16).toBeLessThan(e32 * 1.05);
      // It runs; (one flipped integer of p2o.Conv.5 moves these synthetic inputs' output by 27 dB, so
      // output accuracy is the eval's, on real text: cls 61.8 -> 53.3 dB at 27.9% of fp32.)
      const r = await runOrt(q.bytes, samples);
      expect(Number.isFinite(sqnr(ref, r))).toBe(true);
    }
  });

  it("with bias correction the corrected biases are the float16 ones", async () => {
    const calib = [feedsOf(cls, 3), feedsOf(cls, 4), feedsOf(cls, 5)];
    const corrected = await run(withFloat16Params(int4), calib, true);
    let changed = 0;
    for (const n of convs(corrected.model)) {
      const b = halfBehind(n.inputs[2]);
      expect(b, n.name).toBeDefined();
      const before = halves(halfBehind(convs(half.model).find((c) => c.name === n.name)!.inputs[2])!);
      if (halves(b!).some((x, i) => x !== before[i])) changed++;
    }
    expect(changed).toBeGreaterThan(10);
    expect(Number.isFinite(sqnr(ref, await runOrt(corrected.bytes, samples)))).toBe(true);
  });

  it("a bias beyond float16's range keeps float32; the other biases are float16", async () => {
    const m = readOnnx(fp32);
    // A squeeze-excite conv with its own bias, from a Constant node (the others get theirs from
    // BatchNormalization).
    const conv = m.graph.nodes.find((x) => x.op === "Conv" && x.inputs[2]?.producer?.op === "Constant")!;
    const a = conv.inputs[2]!.producer!.attributes.get("value");
    if (a?.type !== "tensor") throw new Error("expected a tensor Constant");
    const b = Float32Array.from(a.value.load().data as Float32Array);
    b[0] = 1e6;
    conv.setInput(2, m.graph.addConstant("huge_bias", constantOf(tensor("float32", [b.length], b))));
    const q = await quantize(m, withFloat16Params(int4), []);
    const kept = convs(q.model).filter((x) => !halfBehind(x.inputs[2]));
    expect(kept.map((x) => x.name)).toEqual([conv.name]);
    expect(kept[0]!.inputs[2]!.constant!.elem).toBe("float32");
    expect((kept[0]!.inputs[2]!.constant!.load().data as Float32Array)[0]).toBe(1e6);
  });

  it("a weight whose scales fall below float16's normal range keeps float32 scales (quantizeWeight)", () => {
    const s = spec({ dtype: "int4", symmetric: true, granularity: { kind: "axis" }, scaleDtype: "float16" });
    const w = tensor("float32", [2, 8], Float32Array.from({ length: 16 }, (_, i) => (i < 8 ? 0.3 : 1e-5) * Math.sin(i + 1)));
    const tiny = quantizeWeight(w, s as typeof s & { dtype: "int4" }, 0);
    expect(tiny.qparams.scaleDtype).toBeUndefined();
    const ok = tensor("float32", [2, 8], Float32Array.from({ length: 16 }, (_, i) => 0.3 * Math.sin(i + 1)));
    const r = quantizeWeight(ok, s as typeof s & { dtype: "int4" }, 0);
    expect(r.qparams.scaleDtype).toBe("float16");
    for (const x of r.qparams.scale) expect(f16ToF32(f32ToF16(x))).toBe(x);
    // The integers are those of the rounded scales.
    const again = quantizeLinear(ok as Tensor<"float32">, { scale: r.qparams.scale, zeroPoint: r.qparams.zeroPoint, axis: 0 }, "int4");
    expect(Buffer.from(again.data as Uint8Array).equals(Buffer.from(r.quantized.data as Uint8Array))).toBe(true);
  });
});

describe("where float16 scales do not apply", () => {
  it("int16 weights (mixed precision) keep float32 scales; the int8 layers take float16", async () => {
    const q = await quantize(readOnnx(fp32), withChanges(withFloat16Params(PRESETS.weightOnlyInt8()), { int16Weights: ["p2o.Conv.3"] }), []);
    for (const n of convs(q.model)) {
      const dq = weightDq(n);
      const wide = n.name === "p2o.Conv.3";
      expect(dq.inputs[0]!.constant!.elem, n.name).toBe(wide ? "int16" : "int8");
      expect(!!halfBehind(dq.inputs[1]), n.name).toBe(!wide);
    }
  });

  it("static and dynamic schemes ignore a spec's float16 scales (their integer operators read float32); withFloat16Params refuses them and float weights", async () => {
    const st = PRESETS.int8Static("uint8", "minmax");
    const forced: Scheme = { ...st, weights: { ...st.weights, scaleDtype: "float16" } };
    const q = await quantize(readOnnx(fp32), forced, samples);
    expect(q.model.graph.nodes.filter((n) => n.op === "Cast" && n.inputs[0]?.constant?.elem === "float16").length).toBe(0);
    for (const n of convs(q.model)) expect(weightDq(n).inputs[1]!.constant!.elem).toBe("float32");
    expect(() => withFloat16Params(st)).toThrow(/weight-only/);
    expect(() => withFloat16Params(PRESETS.dynamicInt8())).toThrow(/weight-only/);
    expect(() => withFloat16Params(PRESETS.fp16())).toThrow(/weight-only/);
    expect(() => withFloat16Params({ ...PRESETS.weightOnlyInt8(), weights: spec({ dtype: "float16", symmetric: true }) })).toThrow(/integer weights/);
    // Nor can a per-tensor override bring them back in static mode.
    // (the weight's name after preprocessing: BatchNorm folded into it)
    const name = convs((await quantize(readOnnx(fp32), { ...PRESETS.weightOnlyInt8(), exclude: ["*"] }, [])).model)[0]!.inputs[1]!.name;
    const over = await quantize(readOnnx(fp32), { ...st, overrides: { [name]: { scaleDtype: "float16" } } }, samples);
    expect(over.model.graph.nodes.filter((n) => n.op === "Cast" && n.inputs[0]?.constant?.elem === "float16").length).toBe(0);
    // (the same override in weight-only mode does give that one weight float16 scales)
    const wo = await quantize(readOnnx(fp32), { ...PRESETS.weightOnlyInt8(), overrides: { [name]: { scaleDtype: "float16" } } }, []);
    expect(convs(wo.model).filter((n) => halfBehind(weightDq(n).inputs[1])).length).toBe(1);
    expect(withFloat16Params(int4).name).toBe("weight-only-int4-b32+fp16-params");
  });
});

describe("float16 parameters on a Gemm head (openWakeWord)", () => {
  it("4-bit Gemm weights become MatMulNBits with float32 scales and bias; onnxruntime runs it", async () => {
    const id = "openwakeword/hey_rhasspy_v0.1";
    const bytes = readFileSync(modelPath(id));
    const data = [feedsOf(id, 1), feedsOf(id, 2)];
    const r = await runOrt(bytes, data);
    const q = await quantize(readOnnx(bytes), withFloat16Params(int4), []);
    const nbits = q.model.graph.nodes.filter((n) => n.op === "MatMulNBits");
    expect(nbits.length).toBeGreaterThan(0);
    for (const n of nbits) {
      expect(n.inputs[2]!.constant!.elem).toBe("float32");
      if (n.inputs[5]) expect(n.inputs[5].constant!.elem).toBe("float32");
    }
    expect(sqnr(r, await runOrt(writeOnnx(q.model), data))).toBeGreaterThan(15);
  });
});
