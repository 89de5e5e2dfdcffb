// Bias correction: after correction, each quantized layer's output mean per channel over the
// calibration data equals the float layer's (exactly, up to float rounding, for Conv with strides,
// padding and groups, Gemm with alpha/beta/transB, MatMul + Add, ConvTranspose with kernel = stride),
// where without it the means differ by the weight rounding error times the input means. The tap-mean
// kernel is checked against a naive im2col loop.
import { cpuBackend } from "@quanta/backend-cpu";
import { Model, type Value, attr, constantOf } from "@quanta/ir";
import { prng } from "@quanta/models";
import { PRESETS, withFloat16Params } from "@quanta/schemes";
import { tensor } from "@quanta/tensor";
import { Effect } from "effect";
import { describe, expect, it } from "vitest";
import { quantizationPipeline } from "../src/pipeline.js";
import { accumulateConvTapSums } from "../src/statistics.js";
import { type Feeds, servicesFor } from "./helpers.js";

const rand = (n: number, seed: number, lo = -1, hi = 1) => {
  const r = prng(seed);
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * r());
};
const f32 = (shape: number[], seed: number, lo?: number, hi?: number) => tensor("float32", shape, rand(shape.reduce((a, b) => a * b, 1), seed, lo, hi));

function onnxModel(): Model {
  const m = new Model("onnx");
  m.irVersion = 8n;
  m.opsets = [{ domain: "", version: 13 }];
  return m;
}

/** One layer reading graph input X (its mean far from 0, so weight rounding shifts the output mean). */
function layerModel(inputShape: number[], build: (m: Model, x: Value) => Value): Model {
  const m = onnxModel();
  const x = m.graph.addInput("X", { elem: "float32", shape: inputShape });
  m.graph.addOutput(build(m, x));
  return m;
}

const samplesFor = (shape: number[], n = 3): Feeds[] => Array.from({ length: n }, (_, i) => ({ X: f32(shape, 100 + i, 0.5, 3) }));

/** Per-channel output means over the samples (channel axis 1 for NC..., last axis for 2-D). */
function outputMeans(model: Model, samples: readonly Feeds[], channelAxis: 1 | -1): Float64Array {
  const plan = cpuBackend().plan(model);
  let sum: Float64Array | undefined;
  let count = 0;
  for (const s of samples) {
    const y = Object.values(plan.run(s))[0]!;
    const sh = y.shape;
    const c = channelAxis === 1 ? sh[1]! : sh[sh.length - 1]!;
    const inner = channelAxis === 1 ? sh.slice(2).reduce((a, b) => a * b, 1) : 1;
    const outer = y.data.length / (c * inner);
    sum ??= new Float64Array(c);
    const d = y.data as Float32Array;
    for (let o = 0; o < outer; o++) for (let ch = 0; ch < c; ch++) for (let i = 0; i < inner; i++) sum[ch]! += d[(o * c + ch) * inner + i]!;
    count += outer * inner;
  }
  return sum!.map((v) => v / count);
}

async function quantized(build: () => Model, samples: readonly Feeds[], biasCorrection: boolean, scheme = PRESETS.weightOnlyInt8()) {
  return Effect.runPromise(
    Effect.gen(function* () {
      const p = yield* quantizationPipeline(scheme, { biasCorrection });
      return yield* p.run(build());
    }).pipe(Effect.provide(servicesFor(samples))),
  );
}

/** Largest |mean_q - mean_f| with and without correction. */
async function meanErrors(build: () => Model, inputShape: number[], axis: 1 | -1, scheme = PRESETS.weightOnlyInt8()) {
  const samples = samplesFor(inputShape);
  const ref = outputMeans(build(), samples, axis);
  const err = async (on: boolean) => {
    const r = await quantized(build, samples, on, scheme);
    const m = outputMeans(r.model, samples, axis);
    let worst = 0;
    for (let i = 0; i < m.length; i++) worst = Math.max(worst, Math.abs(m[i]! - ref[i]!));
    return { worst, result: r };
  };
  const off = await err(false);
  const on = await err(true);
  let scale = 0;
  for (const v of ref) scale = Math.max(scale, Math.abs(v));
  return { off: off.worst, on: on.worst, scale, result: on.result };
}

describe("bias correction", () => {
  it("Conv 3x3, stride 2, asymmetric padding, with bias: output means equal the float model's", async () => {
    const build = () =>
      layerModel([1, 4, 9, 7], (m, x) => {
        const w = m.graph.addConstant("W", constantOf(f32([6, 4, 3, 3], 1, -2, 2)));
        const b = m.graph.addConstant("B", constantOf(f32([6], 2)));
        return m.graph.addNode({ op: "Conv", name: "conv", inputs: [x, w, b], outputs: ["Y"], attributes: { strides: attr.ints([2, 2]), pads: attr.ints([1, 0, 0, 1]) } }).outputs[0]!;
      });
    const e = await meanErrors(build, [1, 4, 9, 7], 1);
    expect(e.off).toBeGreaterThan(1e-3 * e.scale);
    expect(e.on).toBeLessThan(2e-6 * e.scale);
    expect(e.on * 100).toBeLessThan(e.off);
  });

  it("depthwise Conv without bias gets one; dilated 1-D Conv too", async () => {
    const dw = () =>
      layerModel([2, 5, 8, 8], (m, x) => {
        const w = m.graph.addConstant("W", constantOf(f32([5, 1, 3, 3], 3, -3, 3)));
        return m.graph.addNode({ op: "Conv", name: "dw", inputs: [x, w], outputs: ["Y"], attributes: { group: attr.int(5), pads: attr.ints([1, 1, 1, 1]) } }).outputs[0]!;
      });
    const e = await meanErrors(dw, [2, 5, 8, 8], 1);
    expect(e.on).toBeLessThan(2e-6 * e.scale);
    expect(e.on * 100).toBeLessThan(e.off);
    const conv = e.result.model.graph.nodes.find((n) => n.name === "dw")!;
    expect(conv.inputs[2]?.constant?.shape).toEqual([5]);

    const c1 = () =>
      layerModel([1, 3, 20], (m, x) => {
        const w = m.graph.addConstant("W", constantOf(f32([4, 3, 3], 4, -2, 2)));
        return m.graph.addNode({ op: "Conv", name: "c1", inputs: [x, w], outputs: ["Y"], attributes: { dilations: attr.ints([2]), pads: attr.ints([2, 1]), strides: attr.ints([3]) } }).outputs[0]!;
      });
    const e1 = await meanErrors(c1, [1, 3, 20], 1);
    expect(e1.on).toBeLessThan(2e-6 * e1.scale);
    expect(e1.on * 100).toBeLessThan(e1.off);
  });

  it("with float16 biases (withFloat16Params) a corrected bias and one added to a layer without one are float16 behind Cast; means still match", async () => {
    const half = withFloat16Params(PRESETS.weightOnlyInt8());
    const dw = () =>
      layerModel([2, 5, 8, 8], (m, x) => {
        const w = m.graph.addConstant("W", constantOf(f32([5, 1, 3, 3], 3, -3, 3)));
        return m.graph.addNode({ op: "Conv", name: "dw", inputs: [x, w], outputs: ["Y"], attributes: { group: attr.int(5), pads: attr.ints([1, 1, 1, 1]) } }).outputs[0]!;
      });
    const withBias = () =>
      layerModel([1, 4, 9, 7], (m, x) => {
        const w = m.graph.addConstant("W", constantOf(f32([6, 4, 3, 3], 1, -2, 2)));
        const b = m.graph.addConstant("B", constantOf(f32([6], 2)));
        return m.graph.addNode({ op: "Conv", name: "conv", inputs: [x, w, b], outputs: ["Y"] }).outputs[0]!;
      });
    for (const [build, shape, name] of [[dw, [2, 5, 8, 8], "dw"], [withBias, [1, 4, 9, 7], "conv"]] as const) {
      const e = await meanErrors(build, [...shape], 1, half);
      const conv = e.result.model.graph.nodes.find((n) => n.name === name)!;
      const cast = conv.inputs[2]!.producer!;
      expect(cast.op, name).toBe("Cast");
      expect(cast.inputs[0]!.constant!.elem).toBe("float16");
      // float16 rounding of the bias (2^-11 of it) is what is left of the mean error.
      expect(e.on * 20).toBeLessThan(e.off);
    }
  });

  it("Gemm (transB, alpha, beta), MatMul + Add and ConvTranspose (kernel = stride)", async () => {
    const gemm = () =>
      layerModel([5, 16], (m, x) => {
        const w = m.graph.addConstant("W", constantOf(f32([8, 16], 5, -2, 2)));
        const c = m.graph.addConstant("C", constantOf(f32([8], 6)));
        return m.graph.addNode({ op: "Gemm", name: "gemm", inputs: [x, w, c], outputs: ["Y"], attributes: { transB: attr.int(1), alpha: attr.float(0.5), beta: attr.float(2) } }).outputs[0]!;
      });
    const eg = await meanErrors(gemm, [5, 16], -1);
    expect(eg.on).toBeLessThan(2e-6 * eg.scale);
    expect(eg.on * 100).toBeLessThan(eg.off);

    const mm = () =>
      layerModel([2, 3, 16], (m, x) => {
        const w = m.graph.addConstant("W", constantOf(f32([16, 8], 7, -2, 2)));
        const b = m.graph.addConstant("B", constantOf(f32([8], 8)));
        const y = m.graph.addNode({ op: "MatMul", name: "mm", inputs: [x, w], outputs: ["mmY"] }).outputs[0]!;
        return m.graph.addNode({ op: "Add", name: "add", inputs: [y, b], outputs: ["Y"] }).outputs[0]!;
      });
    const em = await meanErrors(mm, [2, 3, 16], -1);
    expect(em.on).toBeLessThan(2e-6 * em.scale);
    expect(em.on * 100).toBeLessThan(em.off);
    // The Add's old constant is gone (no unused initializer left behind).
    expect(em.result.model.graph.initializers.some((v) => v.name === "B")).toBe(false);

    const ct = () =>
      layerModel([1, 4, 5, 6], (m, x) => {
        const w = m.graph.addConstant("W", constantOf(f32([4, 3, 2, 2], 9, -2, 2)));
        return m.graph.addNode({ op: "ConvTranspose", name: "ct", inputs: [x, w], outputs: ["Y"], attributes: { strides: attr.ints([2, 2]) } }).outputs[0]!;
      });
    const ec = await meanErrors(ct, [1, 4, 5, 6], 1);
    expect(ec.on).toBeLessThan(2e-6 * ec.scale);
    expect(ec.on * 100).toBeLessThan(ec.off);
  });

  it("static int8: a Conv without bias gets an int32 bias behind DequantizeLinear, and means get closer", async () => {
    const build = () =>
      layerModel([1, 4, 8, 8], (m, x) => {
        const w = m.graph.addConstant("W", constantOf(f32([6, 4, 1, 1], 11, -2, 2)));
        return m.graph.addNode({ op: "Conv", name: "conv", inputs: [x, w], outputs: ["Y"] }).outputs[0]!;
      });
    const e = await meanErrors(build, [1, 4, 8, 8], 1, PRESETS.int8Static("uint8", "minmax"));
    expect(e.on).toBeLessThan(e.off);
    const conv = e.result.model.graph.nodes.find((n) => n.op === "Conv")!;
    const dq = conv.inputs[2]?.producer;
    expect(dq?.op).toBe("DequantizeLinear");
    expect(dq?.inputs[0]?.constant?.elem).toBe("int32");
  });

  it("weight-only: per-input-channel scales where a loud input channel makes them the better choice", async () => {
    // Channel 0 of the input is 100x louder than the others, and its weights are small: per output
    // channel, the large weights of the quiet channels set the step and channel 0's weights round to
    // a few levels; per input channel they get their own fine step.
    const shape = [1, 6, 5, 5];
    const build = () =>
      layerModel(shape, (m, x) => {
        const w = f32([8, 6, 1, 1], 21, -1, 1);
        for (let o = 0; o < 8; o++) w.data[o * 6] = w.data[o * 6]! * 0.01;
        return m.graph.addNode({ op: "Conv", name: "conv", inputs: [x, m.graph.addConstant("W", constantOf(w))], outputs: ["Y"] }).outputs[0]!;
      });
    const samples: Feeds[] = Array.from({ length: 3 }, (_, i) => {
      const t = f32(shape, 300 + i, -1, 1);
      for (let j = 0; j < 25; j++) t.data[j] = t.data[j]! * 100;
      return { X: t };
    });
    const err = async (on: boolean) => {
      const r = await quantized(build, samples, on);
      const plan = cpuBackend().plan(r.model);
      const ref = cpuBackend().plan(build());
      let noise = 0;
      for (const s of samples) {
        const a = Object.values(ref.run(s))[0]!.data as Float32Array;
        const b = Object.values(plan.run(s))[0]!.data as Float32Array;
        for (let i = 0; i < a.length; i++) noise += (a[i]! - b[i]!) ** 2;
      }
      const dq = r.model.graph.nodes.find((n) => n.op === "DequantizeLinear")!;
      return { noise, axis: dq.attributes.get("axis")?.value };
    };
    const off = await err(false);
    const on = await err(true);
    expect(off.axis).toBe(0n);
    expect(on.axis).toBe(1n);
    expect(on.noise * 10).toBeLessThan(off.noise);

    // A Gemm with transB = 1 gets its weight stored [K, N] with transB = 0, so that the per-input-channel
    // DequantizeLinear runs along axis 0 (onnxruntime's fast path).
    const gemm = () =>
      layerModel([4, 6], (m, x) => {
        const w = f32([8, 6], 22, -1, 1);
        for (let o = 0; o < 8; o++) w.data[o * 6] = w.data[o * 6]! * 0.01;
        return m.graph.addNode({ op: "Gemm", name: "gemm", inputs: [x, m.graph.addConstant("W", constantOf(w))], outputs: ["Y"], attributes: { transB: attr.int(1) } }).outputs[0]!;
      });
    const gs: Feeds[] = Array.from({ length: 3 }, (_, i) => {
      const t = f32([4, 6], 400 + i, -1, 1);
      for (let r = 0; r < 4; r++) t.data[r * 6] = t.data[r * 6]! * 100;
      return { X: t };
    });
    const r = await quantized(gemm, gs, true);
    const node = r.model.graph.nodes.find((n) => n.op === "Gemm")!;
    expect(node.attributes.get("transB")?.value).toBe(0n);
    const dq = node.inputs[1]!.producer!;
    expect(dq.op).toBe("DequantizeLinear");
    expect(dq.attributes.get("axis")?.value ?? 0n).toBe(0n);
    expect(dq.inputs[0]!.constant!.shape).toEqual([6, 8]);
    const ref = cpuBackend().plan(gemm());
    const got = cpuBackend().plan(r.model);
    for (const s of gs) {
      const a = Object.values(ref.run(s))[0]!.data as Float32Array;
      const b = Object.values(got.run(s))[0]!.data as Float32Array;
      let sig = 0;
      let noise = 0;
      for (let i = 0; i < a.length; i++) {
        sig += a[i]! ** 2;
        noise += (a[i]! - b[i]!) ** 2;
      }
      expect(10 * Math.log10(sig / noise)).toBeGreaterThan(35);
    }
  });

  it("tap sums equal a naive loop over output positions (strides, pads, dilations)", () => {
    const r = prng(5);
    for (let trial = 0; trial < 40; trial++) {
      const pick = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
      const [n, c, h, w] = [pick(1, 2), pick(1, 3), pick(1, 9), pick(1, 9)];
      const [kh, kw, sy, sx, dy, dx] = [pick(1, 3), pick(1, 3), pick(1, 3), pick(1, 3), pick(1, 2), pick(1, 2)];
      const [py, px, pye, pxe] = [pick(0, 2), pick(0, 2), pick(0, 2), pick(0, 2)];
      const oh = Math.floor((h + py + pye - dy * (kh - 1) - 1) / sy) + 1;
      const ow = Math.floor((w + px + pxe - dx * (kw - 1) - 1) / sx) + 1;
      if (oh <= 0 || ow <= 0) continue;
      const x = rand(n * c * h * w, trial);
      const got = new Float64Array(c * kh * kw);
      const count = accumulateConvTapSums(x, n, c, h, w, kh, kw, sy, sx, py, px, dy, dx, oh, ow, got);
      expect(count).toBe(n * oh * ow);
      const want = new Float64Array(c * kh * kw);
      for (let b = 0; b < n; b++)
        for (let ch = 0; ch < c; ch++)
          for (let oy = 0; oy < oh; oy++)
            for (let ox = 0; ox < ow; ox++)
              for (let ky = 0; ky < kh; ky++)
                for (let kx = 0; kx < kw; kx++) {
                  const iy = oy * sy - py + ky * dy;
                  const ix = ox * sx - px + kx * dx;
                  if (iy >= 0 && iy < h && ix >= 0 && ix < w) want[(ch * kh + ky) * kw + kx]! += x[((b * c + ch) * h + iy) * w + ix]!;
                }
      for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i]!, 9);
    }
  });
});
