// Tests of the nn kernels (Conv, pools, norms, Gemm/MatMul, recurrent ops, Resize, reductions...)
// against onnxruntime-node on one-node models, plus the sgemm helpers on odd sizes. The ONNX
// conformance suite covers the rest (tools/conformance).
import { type Attribute, Model, attr, constantOf } from "@quanta/ir";
import { writeOnnx } from "@quanta/onnx";
import type { DType, Tensor } from "@quanta/tensor";
import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { cpuBackend } from "../src/index.js";
import { floatToHalf, halfToFloat } from "../src/kernels/nn/float_impl.js";
import { gemmPacked, packA, packB, sgemm } from "../src/kernels/nn/sgemm_impl.js";

interface In {
  readonly t: Tensor;
  readonly constant?: boolean;
}

function oneNode(op: string, ins: readonly (In | null)[], attrs: Record<string, Attribute>, nOut: number, opset: number): Model {
  const m = new Model("onnx");
  m.irVersion = 8n;
  m.opsets = [{ domain: "", version: opset }];
  const g = m.graph;
  const vals = ins.map((x, i) => (x === null ? null : x.constant ? g.addConstant(`c${i}`, constantOf(x.t)) : g.addInput(`x${i}`, { elem: x.t.dtype, shape: [...x.t.shape] })));
  const node = g.addNode({ op, inputs: vals, outputs: Array.from({ length: nOut }, (_, k) => `y${k}`), attributes: attrs });
  for (const o of node.outputs) g.addOutput(o!);
  return m;
}

const asNumbers = (t: { data: ArrayLike<number | bigint> }, dtype: string): number[] => Array.from(t.data as ArrayLike<number>, (v) => (dtype === "float16" ? halfToFloat(v as number) : Number(v)));

/** Runs one node on both runtimes; returns the worst error of each output relative to its largest |value|. */
async function vsOrt(op: string, ins: readonly (In | null)[], attrs: Record<string, Attribute> = {}, nOut = 1, opset = 17): Promise<number> {
  const m = oneNode(op, ins, attrs, nOut, opset);
  const feeds: Record<string, Tensor> = {};
  const ofeeds: Record<string, ort.Tensor> = {};
  ins.forEach((x, i) => {
    if (!x || x.constant) return;
    feeds[`x${i}`] = x.t;
    ofeeds[`x${i}`] = new ort.Tensor(x.t.dtype as "float32", x.t.data as Float32Array, [...x.t.shape]);
  });
  const ours = cpuBackend().plan(m).run(feeds);
  const s = await ort.InferenceSession.create(writeOnnx(m), { graphOptimizationLevel: "disabled", intraOpNumThreads: 1, logSeverityLevel: 3 });
  const ref = await s.run(ofeeds);
  let worst = 0;
  for (let k = 0; k < nOut; k++) {
    const a = ours[`y${k}`]!;
    const b = ref[`y${k}`]!;
    expect(a.shape, `${op} output ${k} shape`).toEqual(b.dims.map(Number));
    expect(a.dtype).toBe(b.type === "float16" ? "float16" : b.type === "float64" ? "float64" : b.type);
    const x = asNumbers(a, a.dtype);
    const y = asNumbers(b as unknown as { data: ArrayLike<number> }, b.type);
    let md = 0;
    let mr = 0;
    for (let i = 0; i < y.length; i++) {
      md = Math.max(md, Math.abs(x[i]! - y[i]!));
      mr = Math.max(mr, Math.abs(y[i]!));
    }
    worst = Math.max(worst, md / Math.max(mr, 1e-30));
  }
  return worst;
}

let seed = 12345;
const rand = (n: number): Float32Array =>
  Float32Array.from({ length: n }, () => {
    seed = (seed * 1664525 + 1013904223) >>> 0;
    return (seed / 4294967296) * 2 - 1;
  });
const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const f32 = (shape: number[], constant = false): In => ({ t: { dtype: "float32", shape, data: rand(size(shape)) }, constant });
const f64 = (shape: number[], constant = false): In => ({ t: { dtype: "float64", shape, data: Float64Array.from(rand(size(shape))) }, constant });
const i64 = (v: number[], shape = [v.length]): In => ({ t: { dtype: "int64", shape, data: BigInt64Array.from(v.map(BigInt)) }, constant: true });
const i32 = (v: number[]): In => ({ t: { dtype: "int32", shape: [v.length], data: Int32Array.from(v) } });
const fl = (v: number[]): In => ({ t: { dtype: "float32", shape: [v.length], data: Float32Array.from(v) }, constant: true });
const TOL = 1e-5;

describe("sgemm", () => {
  it("packed GEMM matches a naive product on odd sizes, overwrite and accumulate", () => {
    for (const [M, N, K] of [
      [1, 1, 1],
      [1, 37, 5],
      [3, 9, 17],
      [8, 8, 8],
      [9, 17, 3],
      [13, 1, 29],
      [31, 33, 7],
      [64, 40, 130],
    ] as const) {
      const A = rand(M * K);
      const B = rand(K * N);
      const C0 = rand(M * N);
      const want = new Float64Array(M * N);
      for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) for (let k = 0; k < K; k++) want[i * N + j]! += A[i * K + k]! * B[k * N + j]!;
      const C = new Float32Array(M * N);
      gemmPacked(M, N, K, packA(M, K, A, 0, K, 1), packB(K, N, B, 0, N, 1), C, 0, N);
      for (let i = 0; i < M * N; i++) expect(C[i]).toBeCloseTo(want[i]!, 5);
      const D = Float32Array.from(C0);
      gemmPacked(M, N, K, packA(M, K, A, 0, K, 1), packB(K, N, B, 0, N, 1), D, 0, N, true);
      for (let i = 0; i < M * N; i++) expect(D[i]).toBeCloseTo(want[i]! + C0[i]!, 5);
      // Transposed operands through strides, alpha and beta, into a wider C.
      const At = new Float32Array(K * M);
      for (let i = 0; i < M; i++) for (let k = 0; k < K; k++) At[k * M + i] = A[i * K + k]!;
      const E = new Float32Array(M * (N + 3)).fill(1);
      sgemm(M, N, K, 2, At, 0, 1, M, B, 0, N, 1, 0.5, E, 0, N + 3);
      for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) expect(E[i * (N + 3) + j]).toBeCloseTo(2 * want[i * N + j]! + 0.5, 4);
      for (let i = 0; i < M; i++) expect(E[i * (N + 3) + N]).toBe(1);
    }
  });
});

describe("Conv / ConvTranspose vs onnxruntime", () => {
  const convCases: [number[], number[], Record<string, Attribute>, boolean][] = [
    [[1, 3, 17, 13], [5, 3, 3, 3], { pads: attr.ints([1, 1, 1, 1]) }, true],
    [[2, 4, 17, 13], [6, 2, 3, 2], { group: attr.int(2), strides: attr.ints([2, 1]), pads: attr.ints([1, 0, 2, 1]), dilations: attr.ints([1, 2]) }, false],
    [[1, 8, 9, 9], [8, 1, 3, 3], { group: attr.int(8), pads: attr.ints([1, 1, 1, 1]) }, true],
    [[1, 8, 11, 10], [8, 1, 5, 5], { group: attr.int(8), pads: attr.ints([2, 2, 2, 2]), strides: attr.ints([2, 1]) }, true],
    [[1, 8, 9, 9], [16, 1, 3, 3], { group: attr.int(8), strides: attr.ints([2, 2]), dilations: attr.ints([2, 1]), pads: attr.ints([2, 1, 0, 1]) }, true],
    [[2, 19, 7, 11], [37, 19, 1, 1], {}, true],
    [[1, 16, 7, 9], [24, 16, 1, 1], { strides: attr.ints([2, 2]) }, true],
    [[1, 3, 10, 10], [4, 3, 3, 3], { auto_pad: attr.string("SAME_UPPER"), strides: attr.ints([2, 2]) }, false],
    [[1, 3, 10, 11], [4, 3, 4, 3], { auto_pad: attr.string("SAME_LOWER"), strides: attr.ints([3, 2]) }, false],
    [[1, 3, 10, 11], [4, 3, 3, 3], { auto_pad: attr.string("VALID") }, true],
    [[1, 3, 20], [4, 3, 3], { pads: attr.ints([1, 1]) }, true],
    [[1, 4, 20], [4, 1, 3], { group: attr.int(4), pads: attr.ints([1, 2]), dilations: attr.ints([2]) }, true],
    [[1, 2, 5, 6, 7], [3, 2, 2, 3, 2], { pads: attr.ints([1, 0, 1, 0, 1, 1]), strides: attr.ints([1, 2, 1]) }, true],
    [[1, 32, 30, 30], [40, 32, 3, 3], { pads: attr.ints([1, 1, 1, 1]) }, true],
  ];
  for (const [xs, ws, at, bias] of convCases) {
    it(`Conv X[${xs}] W[${ws}] ${Object.keys(at).join(",")}`, async () => {
      for (const constant of [true, false]) {
        const ins = [f32(xs), f32(ws, constant), ...(bias ? [f32([ws[0]!], constant)] : [])];
        expect(await vsOrt("Conv", ins, at)).toBeLessThan(TOL);
      }
    });
  }
  const ctCases: [number[], number[], Record<string, Attribute>][] = [
    [[1, 4, 5, 6], [4, 3, 3, 3], { strides: attr.ints([2, 2]), pads: attr.ints([1, 1, 1, 1]), output_padding: attr.ints([1, 1]) }],
    [[2, 4, 5, 6], [4, 2, 3, 2], { group: attr.int(2), strides: attr.ints([2, 3]), dilations: attr.ints([2, 1]) }],
    [[1, 8, 10, 10], [8, 4, 2, 2], { strides: attr.ints([2, 2]) }],
    [[1, 3, 7], [3, 2, 4], { strides: attr.ints([3]), pads: attr.ints([1, 2]) }],
    [[1, 2, 3, 4, 3], [2, 2, 2, 3, 2], { strides: attr.ints([2, 1, 2]) }],
    [[1, 3, 4, 4], [3, 2, 3, 3], { strides: attr.ints([2, 2]), output_shape: attr.ints([9, 10]) }],
    [[1, 2, 4, 5], [2, 3, 3, 3], { strides: attr.ints([2, 2]), auto_pad: attr.string("SAME_UPPER") }],
    [[1, 2, 4, 5], [2, 3, 4, 4], { strides: attr.ints([2, 2]), auto_pad: attr.string("SAME_LOWER") }],
    [[1, 2, 4, 5], [2, 3, 2, 2], { strides: attr.ints([3, 3]), auto_pad: attr.string("SAME_UPPER") }],
  ];
  for (const [xs, ws, at] of ctCases) {
    it(`ConvTranspose X[${xs}] W[${ws}] ${Object.keys(at).join(",")}`, async () => {
      const M = ws[1]! * Number((at.group?.value as bigint | undefined) ?? 1n);
      expect(await vsOrt("ConvTranspose", [f32(xs), f32(ws, true), f32([M], true)], at)).toBeLessThan(TOL);
      expect(await vsOrt("ConvTranspose", [f32(xs), f32(ws)], at)).toBeLessThan(TOL);
    });
  }
});

describe("pooling vs onnxruntime", () => {
  const cases: [string, number[], Record<string, Attribute>, number][] = [
    ["MaxPool", [1, 2, 9, 9], { kernel_shape: attr.ints([3, 3]), strides: attr.ints([2, 2]), pads: attr.ints([1, 1, 1, 1]) }, 2],
    ["MaxPool", [1, 2, 9, 7], { kernel_shape: attr.ints([3, 2]), strides: attr.ints([2, 2]), ceil_mode: attr.int(1), storage_order: attr.int(1) }, 2],
    ["MaxPool", [2, 2, 8, 8], { kernel_shape: attr.ints([2, 2]), dilations: attr.ints([2, 2]), pads: attr.ints([1, 0, 1, 0]) }, 2],
    ["MaxPool", [1, 2, 4, 5, 6], { kernel_shape: attr.ints([2, 2, 3]), strides: attr.ints([1, 2, 2]) }, 2],
    ["MaxPool", [1, 3, 11], { kernel_shape: attr.ints([3]), auto_pad: attr.string("SAME_LOWER"), strides: attr.ints([2]) }, 1],
    ["AveragePool", [1, 2, 9, 9], { kernel_shape: attr.ints([3, 3]), strides: attr.ints([2, 2]), pads: attr.ints([1, 1, 1, 1]), count_include_pad: attr.int(1) }, 1],
    ["AveragePool", [1, 2, 9, 9], { kernel_shape: attr.ints([3, 3]), strides: attr.ints([2, 2]), pads: attr.ints([1, 1, 1, 1]), ceil_mode: attr.int(1), count_include_pad: attr.int(1) }, 1],
    ["AveragePool", [1, 2, 10, 9], { kernel_shape: attr.ints([3, 3]), strides: attr.ints([2, 2]), pads: attr.ints([1, 1, 1, 1]), ceil_mode: attr.int(1) }, 1],
    ["AveragePool", [1, 480, 3, 80], { kernel_shape: attr.ints([3, 2]), strides: attr.ints([3, 2]) }, 1],
    ["AveragePool", [1, 2, 11], { kernel_shape: attr.ints([3]), auto_pad: attr.string("SAME_UPPER"), strides: attr.ints([2]) }, 1],
    ["LpPool", [1, 2, 9, 9], { kernel_shape: attr.ints([3, 3]), strides: attr.ints([2, 2]), pads: attr.ints([1, 1, 1, 1]), p: attr.int(3) }, 1],
    ["GlobalLpPool", [1, 2, 9, 9], { p: attr.int(3) }, 1],
    ["GlobalAveragePool", [2, 3, 9, 9], {}, 1],
    ["GlobalMaxPool", [2, 3, 4, 5, 3], {}, 1],
  ];
  for (const [op, xs, at, nOut] of cases) {
    it(`${op} X[${xs}] ${Object.keys(at).join(",")}`, async () => {
      expect(await vsOrt(op, [f32(xs)], at, nOut, 18)).toBeLessThan(TOL);
    });
  }
  it("MaxUnpool of MaxPool indices", async () => {
    const x: In = { t: { dtype: "float32", shape: [1, 2, 2, 2], data: Float32Array.of(5, 6, 7, 8, 1, 2, 3, 4) } };
    const ind: In = { t: { dtype: "int64", shape: [1, 2, 2, 2], data: BigInt64Array.of(5n, 7n, 13n, 15n, 16n, 19n, 25n, 30n) } };
    expect(await vsOrt("MaxUnpool", [x, ind], { kernel_shape: attr.ints([2, 2]), strides: attr.ints([2, 2]) }, 1, 11)).toBe(0);
  });
  it("MaxPool on uint8 and float16", async () => {
    const u8: In = { t: { dtype: "uint8", shape: [1, 2, 6, 6], data: Uint8Array.from(rand(72), (v) => Math.floor((v + 1) * 127)) } };
    expect(await vsOrt("MaxPool", [u8], { kernel_shape: attr.ints([2, 2]), strides: attr.ints([2, 2]) }, 1, 12)).toBe(0);
    const h: In = { t: { dtype: "float16", shape: [1, 2, 6, 6], data: Uint16Array.from(rand(72), floatToHalf) } };
    expect(await vsOrt("MaxPool", [h], { kernel_shape: attr.ints([3, 3]), pads: attr.ints([1, 1, 1, 1]) }, 1, 12)).toBe(0);
  });
});

describe("Gemm / MatMul vs onnxruntime", () => {
  const mm: [number[], number[], boolean][] = [
    [[3, 4], [4, 5], false],
    [[13, 17], [17, 11], true],
    [[2, 3, 13, 17], [17, 9], true],
    [[2, 1, 5, 7], [3, 7, 6], false],
    [[7], [7, 3], true],
    [[4, 7], [7], false],
    [[7], [7], false],
    [[2, 3, 5, 7], [2, 3, 7, 4], true],
    [[5, 7], [3, 7, 4], true],
    [[1, 200], [200, 300], true],
    [[2, 0, 3], [3, 4], false],
  ];
  for (const [as, bs, c] of mm) {
    it(`MatMul [${as}] x [${bs}]${c ? " (constant B)" : ""}`, async () => {
      expect(await vsOrt("MatMul", [f32(as), f32(bs, c)])).toBeLessThan(TOL);
    });
  }
  it("MatMul float64", async () => {
    expect(await vsOrt("MatMul", [f64([2, 3, 5]), f64([5, 4])])).toBeLessThan(1e-12);
  });
  const gm: [number[], number[], number[] | null, Record<string, Attribute>, boolean][] = [
    [[5, 7], [7, 9], [9], {}, true],
    [[7, 5], [9, 7], [5, 1], { transA: attr.int(1), transB: attr.int(1), alpha: attr.float(0.5), beta: attr.float(2) }, true],
    [[1, 33], [33, 17], [1, 17], {}, false],
    [[3, 33], [17, 33], [], { transB: attr.int(1) }, true],
    [[3, 4], [4, 5], null, {}, true],
    [[3, 4], [4, 5], [3, 5], { beta: attr.float(0) }, true],
    [[2, 33], [17, 33], [17], { transB: attr.int(1), alpha: attr.float(1.5) }, false],
    [[33, 1], [33, 17], null, { transA: attr.int(1) }, false],
  ];
  for (const [as, bs, cs, at, c] of gm) {
    it(`Gemm [${as}] x [${bs}] + [${cs ?? "-"}] ${Object.keys(at).join(",")}`, async () => {
      expect(await vsOrt("Gemm", [f32(as), f32(bs, c), cs ? f32(cs) : null], at)).toBeLessThan(TOL);
    });
  }
  it("Gemm float64", async () => {
    expect(await vsOrt("Gemm", [f64([3, 5]), f64([4, 5]), f64([4])], { transB: attr.int(1), alpha: attr.float(0.25) })).toBeLessThan(1e-12);
  });
});

describe("recurrent ops vs onnxruntime", () => {
  const T = 5;
  const B = 3;
  const I = 4;
  const H = 6;
  for (const cell of ["LSTM", "GRU", "RNN"]) {
    const G = cell === "LSTM" ? 4 : cell === "GRU" ? 3 : 1;
    for (const dir of ["forward", "reverse", "bidirectional"]) {
      it(`${cell} ${dir}`, async () => {
        const D = dir === "bidirectional" ? 2 : 1;
        for (const lens of [null, [5, 2, 4]]) {
          for (const lbr of cell === "GRU" ? [0, 1] : [0]) {
            for (const constant of [true, false]) {
              const ins: (In | null)[] = [f32([T, B, I]), f32([D, G * H, I], constant), f32([D, G * H, H], constant), f32([D, 2 * G * H]), lens ? i32(lens) : null, f32([D, B, H])];
              if (cell === "LSTM") ins.push(f32([D, B, H]), f32([D, 3 * H]));
              const at: Record<string, Attribute> = { hidden_size: attr.int(H), direction: attr.string(dir) };
              if (cell === "GRU") at.linear_before_reset = attr.int(lbr);
              expect(await vsOrt(cell, ins, at, cell === "LSTM" ? 3 : 2, 14)).toBeLessThan(TOL);
            }
          }
        }
      });
    }
  }
  it("LSTM with clip, input_forget-free custom activations and default initial state", async () => {
    const at = { hidden_size: attr.int(H), clip: attr.float(0.3), activations: attr.strings(["HardSigmoid", "LeakyRelu", "Softsign"]), activation_alpha: attr.floats([0.3, 0.2]), activation_beta: attr.floats([0.4]) };
    expect(await vsOrt("LSTM", [f32([T, B, I]), f32([1, 4 * H, I]), f32([1, 4 * H, H])], at, 3, 14)).toBeLessThan(TOL);
    expect(await vsOrt("GRU", [f32([T, B, I]), f32([1, 3 * H, I]), f32([1, 3 * H, H])], { hidden_size: attr.int(H), activations: attr.strings(["Sigmoid", "Relu"]) }, 2, 14)).toBeLessThan(TOL);
  });
});

describe("Resize vs onnxruntime", () => {
  const coords = ["half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nn"];
  for (const mode of ["nearest", "linear", "cubic"]) {
    it(`Resize ${mode}`, async () => {
      for (const coord of coords) {
        if (coord === "tf_half_pixel_for_nn" && mode !== "nearest") continue;
        for (const nm of mode === "nearest" ? ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"] : ["round_prefer_floor"]) {
          const scaleSets: (In | null)[][] = [
            [null, fl([1, 1, 2, 3])],
            [null, null, i64([1, 2, 3, 4])],
            [null, null, i64([1, 2, 13, 6])],
            [null, null, i64([1, 2, 5, 11])],
          ];
          // align_corners with scales that do not give whole output lengths follows the ONNX reference, not onnxruntime.
          if (coord !== "align_corners") scaleSets.push([null, fl([1, 1, 0.6, 1.7])]);
          for (const extra of scaleSets) {
            for (const ex of mode === "cubic" ? [0, 1] : [0]) {
              const at = { mode: attr.string(mode), coordinate_transformation_mode: attr.string(coord), nearest_mode: attr.string(nm), exclude_outside: attr.int(ex) };
              expect(await vsOrt("Resize", [f32([1, 2, 5, 7]), ...extra], at, 1, 13), `${coord} ${nm}`).toBeLessThan(TOL);
            }
          }
        }
      }
    });
  }
  it("Resize opset 18/19: antialias, axes, keep_aspect_ratio_policy", async () => {
    for (const mode of ["linear", "cubic"]) {
      for (const [extra, more] of [
        [[null, fl([0.4, 0.7])], {}],
        [[null, null, i64([3, 4])], { keep_aspect_ratio_policy: attr.string("not_larger") }],
        [[null, null, i64([3, 4])], { keep_aspect_ratio_policy: attr.string("not_smaller") }],
      ] as [(In | null)[], Record<string, Attribute>][]) {
        expect(await vsOrt("Resize", [f32([1, 2, 9, 11]), ...extra], { mode: attr.string(mode), antialias: attr.int(1), axes: attr.ints([2, 3]), ...more }, 1, 18)).toBeLessThan(TOL);
      }
    }
  });
  it("Resize tf_crop_and_resize with extrapolation", async () => {
    for (const mode of ["nearest", "linear", "cubic"]) {
      const ins = [f32([1, 1, 6, 7]), fl([0, 0, 0.2, -0.1, 1, 1, 0.9, 1.2]), null, i64([1, 1, 4, 5])];
      expect(await vsOrt("Resize", ins, { mode: attr.string(mode), coordinate_transformation_mode: attr.string("tf_crop_and_resize"), extrapolation_value: attr.float(7) }, 1, 13)).toBeLessThan(TOL);
    }
  });
  it("Resize opset 10 and Upsample 9 (asymmetric, floor)", async () => {
    expect(await vsOrt("Resize", [f32([1, 2, 3, 4]), fl([1, 1, 2.5, 1.5])], { mode: attr.string("nearest") }, 1, 10)).toBeLessThan(TOL);
    expect(await vsOrt("Resize", [f32([1, 2, 3, 4]), fl([1, 1, 2, 3])], { mode: attr.string("linear") }, 1, 10)).toBeLessThan(TOL);
    expect(await vsOrt("Upsample", [f32([1, 2, 3, 4]), fl([1, 1, 2, 3])], { mode: attr.string("nearest") }, 1, 9)).toBeLessThan(TOL);
  });
});

describe("normalization vs onnxruntime", () => {
  it("BatchNormalization (inference, opset 9 and 15) and training_mode (14)", async () => {
    for (const opset of [9, 15]) expect(await vsOrt("BatchNormalization", [f32([2, 3, 4, 5]), f32([3], true), f32([3], true), f32([3], true), { t: { dtype: "float32", shape: [3], data: Float32Array.of(0.5, 1, 2) }, constant: true }], { epsilon: attr.float(1e-3) }, 1, opset)).toBeLessThan(TOL);
  });
  it("InstanceNormalization, LRN, MeanVarianceNormalization", async () => {
    expect(await vsOrt("InstanceNormalization", [f32([2, 3, 4, 5]), f32([3]), f32([3])], { epsilon: attr.float(1e-3) })).toBeLessThan(TOL);
    expect(await vsOrt("LRN", [f32([2, 7, 4, 5])], { size: attr.int(3), alpha: attr.float(0.01), beta: attr.float(0.7), bias: attr.float(1.5) })).toBeLessThan(TOL);
    expect(await vsOrt("LRN", [f32([1, 6, 3, 3])], { size: attr.int(5) })).toBeLessThan(TOL);
    expect(await vsOrt("MeanVarianceNormalization", [f32([2, 3, 4, 5])], {}, 1, 13)).toBeLessThan(TOL);
    expect(await vsOrt("MeanVarianceNormalization", [f32([2, 3, 4, 5])], { axes: attr.ints([1, 3]) }, 1, 13)).toBeLessThan(TOL);
  });
  it("LayerNormalization with Mean and InvStdDev, broadcast scale", async () => {
    expect(await vsOrt("LayerNormalization", [f32([2, 3, 4, 5]), f32([4, 5]), f32([4, 5])], { axis: attr.int(2) }, 3)).toBeLessThan(TOL);
    expect(await vsOrt("LayerNormalization", [f32([2, 3, 8]), f32([8])], { epsilon: attr.float(1e-2) }, 1)).toBeLessThan(TOL);
    expect(await vsOrt("LayerNormalization", [f32([2, 3, 4]), f32([1, 4]), f32([3, 1])], { axis: attr.int(1) }, 1)).toBeLessThan(TOL);
  });
  it("GroupNormalization (opset 18: per-group scale; opset 21: per-channel)", async () => {
    expect(await vsOrt("GroupNormalization", [f32([2, 6, 4, 5]), f32([3]), f32([3])], { num_groups: attr.int(3), epsilon: attr.float(1e-3) }, 1, 18)).toBeLessThan(TOL);
    expect(await vsOrt("GroupNormalization", [f32([2, 6, 4, 5]), f32([6]), f32([6])], { num_groups: attr.int(2) }, 1, 21)).toBeLessThan(TOL);
  });
});

describe("softmax, reductions and friends vs onnxruntime", () => {
  it("Softmax/LogSoftmax/Hardmax axis semantics before and after opset 13", async () => {
    for (const op of ["Softmax", "LogSoftmax", "Hardmax"]) {
      for (const opset of [11, 13]) {
        for (const axis of [0, 1, -1]) expect(await vsOrt(op, [f32([3, 4, 5])], { axis: attr.int(axis) }, 1, opset), `${op}-${opset} axis ${axis}`).toBeLessThan(TOL);
        expect(await vsOrt(op, [f32([3, 4, 5])], {}, 1, opset)).toBeLessThan(TOL);
      }
    }
  });
  it("Reduce* with axes attribute (opset 13) and input (opset 18), keepdims, noop_with_empty_axes", async () => {
    for (const op of ["ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"]) {
      const x = { t: { dtype: "float32" as DType, shape: [3, 4, 5], data: Float32Array.from(rand(60), (v) => v + 1.5) } };
      for (const keepdims of [0, 1]) {
        expect(await vsOrt(op, [x, i64([0, 2])], { keepdims: attr.int(keepdims) }, 1, 18), `${op}-18`).toBeLessThan(TOL);
        expect(await vsOrt(op, [x], { keepdims: attr.int(keepdims) }, 1, 18), `${op}-18 all`).toBeLessThan(TOL);
        if (op !== "ReduceSum") expect(await vsOrt(op, [x], { axes: attr.ints([-1, 1]), keepdims: attr.int(keepdims) }, 1, 13), `${op}-13`).toBeLessThan(TOL);
        else expect(await vsOrt(op, [x], { axes: attr.ints([-1, 1]), keepdims: attr.int(keepdims) }, 1, 11), `${op}-11`).toBeLessThan(TOL);
      }
      expect(await vsOrt(op, [x, i64([], [0])], { noop_with_empty_axes: attr.int(1) }, 1, 18)).toBeLessThan(TOL);
    }
  });
  it("ArgMax/ArgMin with select_last_index", async () => {
    const x = { t: { dtype: "float32" as DType, shape: [3, 4, 5], data: Float32Array.from(rand(60), (v) => Math.round(v * 2)) } };
    for (const op of ["ArgMax", "ArgMin"]) for (const last of [0, 1]) for (const axis of [0, 2, -2]) expect(await vsOrt(op, [x], { axis: attr.int(axis), select_last_index: attr.int(last), keepdims: attr.int(axis === 0 ? 0 : 1) }, 1, 13)).toBe(0);
  });
  it("TopK, CumSum, Det", async () => {
    for (const at of [{ axis: attr.int(1) }, { axis: attr.int(0), largest: attr.int(0) }] as Record<string, Attribute>[]) expect(await vsOrt("TopK", [f32([5, 7]), i64([3])], at, 2, 13)).toBe(0);
    for (const [ex, rev] of [
      [0, 0],
      [1, 0],
      [0, 1],
      [1, 1],
    ] as const) {
      expect(await vsOrt("CumSum", [f32([3, 4, 5]), i64([1], [])], { exclusive: attr.int(ex), reverse: attr.int(rev) }, 1, 14)).toBeLessThan(TOL);
      const ints: In = { t: { dtype: "int64", shape: [2, 5], data: BigInt64Array.from([1n, 2n, 3n, 4n, 5n, 9007199254740993n, 1n, 1n, 1n, 1n]) } };
      expect(await vsOrt("CumSum", [ints, i64([-1], [])], { exclusive: attr.int(ex), reverse: attr.int(rev) }, 1, 14)).toBe(0);
    }
    expect(await vsOrt("Det", [f32([3, 5, 5])], {}, 1, 13)).toBeLessThan(TOL);
  });
  it("Einsum equations (matmul fast path and generic loop)", async () => {
    const cases: [string, number[][]][] = [
      ["ij,jk->ik", [[3, 4], [4, 5]]],
      ["bij,bjk->bik", [[2, 3, 4], [2, 4, 5]]],
      ["ij,kj->ik", [[3, 4], [5, 4]]],
      ["bhqd,bhkd->bhqk", [[1, 2, 5, 8], [1, 2, 6, 8]]],
      ["...ij,...jk->...ik", [[2, 3, 4], [2, 4, 5]]],
      ["ii->i", [[4, 4]]],
      ["ii", [[4, 4]]],
      ["ij->", [[3, 4]]],
      ["ij->ji", [[3, 4]]],
      ["i,j->ij", [[3], [4]]],
      ["ij,jk,kl->il", [[2, 3], [3, 4], [4, 5]]],
      ["...ii->...i", [[3, 5, 5]]],
      ["bik,bkj", [[2, 3, 4], [2, 4, 5]]],
    ];
    for (const [eq, shapes] of cases) expect(await vsOrt("Einsum", shapes.map((s) => f32(s)), { equation: attr.string(eq) }, 1, 13), eq).toBeLessThan(TOL);
  });
  it("float16 inputs are computed in float32 (Softmax, LayerNormalization, Conv)", async () => {
    const h = (shape: number[]): In => ({ t: { dtype: "float16", shape, data: Uint16Array.from(rand(size(shape)), floatToHalf) } });
    expect(await vsOrt("Softmax", [h([3, 8])], {}, 1, 13)).toBeLessThan(2e-3);
    expect(await vsOrt("LayerNormalization", [h([3, 8]), h([8]), h([8])], {}, 1, 17)).toBeLessThan(2e-3);
    expect(await vsOrt("Conv", [h([1, 2, 5, 5]), h([3, 2, 3, 3])], {}, 1, 13)).toBeLessThan(2e-3);
  });
});
