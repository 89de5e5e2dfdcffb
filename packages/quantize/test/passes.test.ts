import { cpuBackend } from "@quanta/backend-cpu";
import { MissingRequirement, type PassContext, PassData, pipeline } from "@quanta/core";
import { Model, type Node, type Value, attr, constantOf, onnxDialect, validate } from "@quanta/ir";
import { modelPath, prng } from "@quanta/models";
import { PRESETS, spec, withChanges } from "@quanta/schemes";
import { type Tensor, tensor } from "@quanta/tensor";
import { Effect } from "effect";
import { describe, expect, it } from "vitest";
import { annotate, annotatePass } from "../src/annotate.js";
import { CalibrationError, calibrate } from "../src/calibrate.js";
import { ANNOTATIONS, QPARAMS, QUANTIZED, RANGES, type Ranges } from "../src/keys.js";
import { lowerOnnx } from "../src/lower-onnx.js";
import { dropDefaultAttributes, foldBatchNorm, foldConstants, fuseHardSwish, preprocess, promoteConstants, shareConstants } from "../src/preprocess.js";
import { qparams } from "../src/qparams.js";
import { sharedZeroPoint } from "../src/lower-util.js";
import { quantize, runOrt, servicesFor } from "./helpers.js";
import { readOnnx, writeOnnx } from "@quanta/onnx";
import { readFileSync } from "node:fs";

const rand = (n: number, seed: number, lo = -1, hi = 1) => {
  const r = prng(seed);
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * r());
};
const f32 = (shape: number[], seed: number, lo?: number, hi?: number) => tensor("float32", shape, rand(shape.reduce((a, b) => a * b, 1), seed, lo, hi));
const konst = (m: Model, name: string, t: Tensor) => m.graph.addConstant(name, constantOf(t), { exact: true });

function onnxModel(opset = 13): Model {
  const m = new Model("onnx");
  m.irVersion = 8n;
  m.opsets = [{ domain: "", version: opset }];
  return m;
}

const same = (a: Tensor, b: Tensor, tol = 0) => {
  expect(b.shape).toEqual(a.shape);
  const x = a.data as Float32Array;
  const y = b.data as Float32Array;
  let worst = 0;
  let mag = 0;
  for (let i = 0; i < x.length; i++) {
    worst = Math.max(worst, Math.abs(x[i]! - y[i]!));
    mag = Math.max(mag, Math.abs(x[i]!));
  }
  expect(worst).toBeLessThanOrEqual(tol * Math.max(1, mag));
};

/** Round half to even (independent of @quanta/tensor's). */
const rne = (x: number) => {
  const f = Math.floor(x);
  const d = x - f;
  return d > 0.5 ? f + 1 : d < 0.5 ? f : f % 2 === 0 ? f : f + 1;
};

/** A context for running one pass by hand. */
function context(data = new PassData()): PassContext & { warnings: string[] } {
  const warnings: string[] = [];
  return { data, warnings, progress: () => Effect.void, warn: (m) => Effect.sync(() => void warnings.push(m)) };
}

describe("foldConstants", () => {
  it("folds constant chains (weight -> Slice -> Concat -> MatMul) into one weight, drops the unused source, keeps DequantizeLinear and graph outputs", () => {
    const m = onnxModel();
    const g = m.graph;
    const x = g.addInput("X", { elem: "float32", shape: [1, 4] });
    const w = konst(m, "W", f32([4, 6], 3));
    const i64 = (name: string, v: number[]) => konst(m, name, tensor("int64", [v.length], BigInt64Array.from(v.map(BigInt))));
    const s1 = g.addNode({ op: "Slice", inputs: [w, i64("s0", [0]), i64("e0", [3]), i64("a0", [1])], outputs: ["w1"] }).outputs[0]!;
    const s2 = g.addNode({ op: "Slice", inputs: [w, i64("s1", [3]), i64("e1", [6]), i64("a1", [1])], outputs: ["w2"] }).outputs[0]!;
    const cat = g.addNode({ op: "Concat", inputs: [s2, s1], outputs: ["wc"], attributes: { axis: attr.int(1) } }).outputs[0]!;
    const y = g.addNode({ op: "MatMul", name: "mm", inputs: [x, cat], outputs: ["Y"] }).outputs[0]!;
    g.addOutput(y);
    // A quantized weight behind DequantizeLinear stays as it is; so does a constant graph output.
    const q = konst(m, "Q", tensor("int8", [2], Int8Array.of(1, -2)));
    const dq = g.addNode({ op: "DequantizeLinear", inputs: [q, konst(m, "qs", tensor("float32", [], Float32Array.of(0.5)))], outputs: ["dq"] }).outputs[0]!;
    g.addOutput(g.addNode({ op: "Neg", inputs: [dq], outputs: ["Z"] }).outputs[0]!);
    g.addOutput(g.addNode({ op: "Identity", inputs: [q], outputs: ["Qout"] }).outputs[0]!);
    const feeds = { X: f32([1, 4], 4) };
    const want = cpuBackend().plan(m).run(feeds);
    expect(foldConstants(m, (mm) => cpuBackend().plan(mm))).toBe(3);
    validate(m);
    expect(g.nodes.map((n) => n.op)).toEqual(["MatMul", "DequantizeLinear", "Neg", "Identity"]);
    const mm = g.nodes[0]!;
    expect(mm.inputs[1]!.constant!.shape).toEqual([4, 6]);
    expect(g.value("W")).toBeUndefined(); // the source weight nobody reads any more
    const got = cpuBackend().plan(m).run(feeds);
    for (const k of ["Y", "Z", "Qout"]) expect(Buffer.from(got[k]!.data.buffer).equals(Buffer.from(want[k]!.data.buffer))).toBe(true);
    expect(foldConstants(m, (mm2) => cpuBackend().plan(mm2))).toBe(0);
  });
});

describe("promoteConstants", () => {
  it("turns Constant nodes (tensor, value_float, value_ints) into initializers, with the same outputs", () => {
    const m = onnxModel();
    const g = m.graph;
    const x = g.addInput("X", { elem: "float32", shape: [2, 3] });
    const c1 = g.addNode({ op: "Constant", name: "c1", inputs: [], outputs: ["k1"], attributes: { value: attr.tensor(constantOf(f32([2, 3], 1))) } }).outputs[0]!;
    const c2 = g.addNode({ op: "Constant", name: "c2", inputs: [], outputs: ["k2"], attributes: { value_float: attr.float(0.5) } }).outputs[0]!;
    const c3 = g.addNode({ op: "Constant", name: "c3", inputs: [], outputs: ["k3"], attributes: { value_ints: attr.ints([3, 2]) } }).outputs[0]!;
    const a = g.addNode({ op: "Add", inputs: [x, c1], outputs: ["a"] }).outputs[0]!;
    const b = g.addNode({ op: "Mul", inputs: [a, c2], outputs: ["b"] }).outputs[0]!;
    const y = g.addNode({ op: "Reshape", inputs: [b, c3], outputs: ["Y"] }).outputs[0]!;
    g.addOutput(y);
    const feeds = { X: f32([2, 3], 2) };
    const want = cpuBackend().plan(m).run(feeds).Y!;
    expect(promoteConstants(m)).toBe(3);
    validate(m);
    expect(g.nodes.map((n) => n.op)).toEqual(["Add", "Mul", "Reshape"]);
    for (const n of g.nodes) for (const i of n.inputs.slice(1)) expect(i!.constant).toBeDefined();
    expect(Array.from(g.nodes[2]!.inputs[1]!.constant!.load().data as BigInt64Array)).toEqual([3n, 2n]);
    same(want, cpuBackend().plan(m).run(feeds).Y!);
    expect(promoteConstants(m)).toBe(0);
    // The initializers keep the Constant nodes' output names (no "_1" copies).
    expect(g.initializers.map((v) => v.name).sort()).toEqual(["k1", "k2", "k3"]);
  });
});

describe("fuseHardSwish", () => {
  // x * relu6(x + 3) / 6 in the three orders exporters write it. x is a Conv's output with scalar
  // constants, or (mul-sixth) the rank-4 graph input with [1]-shaped ones (fused: x's rank is known).
  function hardSwishNet(variant: "mul-div" | "div-mul" | "mul-sixth") {
    const m = onnxModel();
    const g = m.graph;
    const input = g.addInput("X", { elem: "float32", shape: [2, 3, 4, 4] });
    const one = variant === "mul-sixth" ? [1] : [];
    const k = (name: string, v: number, shape: number[] = []) => konst(m, name, tensor("float32", shape, Float32Array.of(v)));
    const y0 = variant === "mul-sixth" ? input : g.addNode({ op: "Conv", name: "conv", inputs: [input, konst(m, "W", f32([3, 3, 1, 1], 5)), konst(m, "B", f32([3], 6))], outputs: ["c"] }).outputs[0]!;
    const a = g.addNode({ op: "Add", name: "add", inputs: [y0, k("three", 3, one)], outputs: ["a"] }).outputs[0]!;
    const r = g.addNode({ op: "Clip", name: "clip", inputs: [a, k("lo", 0), k("hi", 6)], outputs: ["r"] }).outputs[0]!;
    let y: Value;
    if (variant === "div-mul") {
      const d = g.addNode({ op: "Div", name: "div", inputs: [r, k("six", 6)], outputs: ["d"] }).outputs[0]!;
      y = g.addNode({ op: "Mul", name: "mul", inputs: [d, y0], outputs: ["hswish"] }).outputs[0]!;
    } else {
      const p = g.addNode({ op: "Mul", name: "mul", inputs: [y0, r], outputs: ["p"] }).outputs[0]!;
      y =
        variant === "mul-div"
          ? g.addNode({ op: "Div", name: "div", inputs: [p, k("six", 6)], outputs: ["hswish"] }).outputs[0]!
          : g.addNode({ op: "Mul", name: "scale", inputs: [k("sixth", Math.fround(1 / 6), one), p], outputs: ["hswish"] }).outputs[0]!;
    }
    g.addOutput(y);
    return m;
  }

  for (const variant of ["mul-div", "div-mul", "mul-sixth"] as const) {
    it(`${variant}: Add, Clip(0, 6), Mul, Div become Mul(x, HardSigmoid(x; 1/6, 0.5)) with the same outputs in onnxruntime and the CPU backend`, async () => {
      const m = hardSwishNet(variant);
      // Inputs across the knees at -3 and 3.
      const feeds = [{ X: f32([2, 3, 4, 4], 7, -8, 8) }];
      const want = cpuBackend().plan(m).run(feeds[0]!);
      const wantOrt = await runOrt(writeOnnx(m), feeds);
      expect(fuseHardSwish(m)).toBe(1);
      validate(m);
      const g = m.graph;
      const x = variant === "mul-sixth" ? "X" : "c";
      expect(g.nodes.map((n) => n.op)).toEqual([...(x === "c" ? ["Conv"] : []), "HardSigmoid", "Mul"]);
      const [hs, mul] = g.nodes.slice(-2) as [Node, Node];
      expect(hs.name).toBe("clip");
      expect(hs.inputs[0]!.name).toBe(x);
      expect(hs.float("alpha")).toBe(Math.fround(1 / 6));
      expect(hs.float("beta")).toBe(0.5);
      // The node that produced the result keeps its name (what compare reports and --exclude takes).
      expect(mul.name).toBe({ "mul-div": "div", "div-mul": "mul", "mul-sixth": "scale" }[variant]);
      expect(mul.inputs.map((v) => v!.name)).toEqual([x, hs.outputs[0]!.name]);
      // The result keeps its value: name and graph-output role.
      expect(mul.outputs[0]!.name).toBe("hswish");
      expect(g.outputs.map((v) => v.name)).toEqual(["hswish"]);
      // The decomposition's constants are gone (the weights stay).
      expect(g.initializers.map((v) => v.name).sort()).toEqual(x === "c" ? ["B", "W"] : []);
      same(want.hswish!, cpuBackend().plan(m).run(feeds[0]!).hswish!, 1e-6);
      const gotOrt = await runOrt(writeOnnx(m), feeds);
      const a = wantOrt[0]!.hswish!.data;
      const b = gotOrt[0]!.hswish!.data;
      for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(a[i]!)));
    });
  }

  it("leaves look-alikes alone: other constants, an intermediate read elsewhere or a graph output, Mul by another value, 6 / p, a [1] constant on a value of unknown rank", () => {
    const set = (m: Model, name: string, v: number, shape: number[] = []) => {
      m.graph.initializers.find((x) => x.name === name)!.constant = constantOf(tensor("float32", shape, Float32Array.of(v)));
    };
    const cases: ((m: Model) => void)[] = [
      (m) => set(m, "three", 2),
      (m) => set(m, "hi", 5),
      (m) => set(m, "lo", -1),
      (m) => set(m, "six", 5),
      // Would broadcast a scalar x to [1]: the conv output has no recorded rank.
      (m) => set(m, "three", 3, [1]),
      (m) => {
        const div = m.graph.nodes.find((n) => n.name === "div")!;
        const [p, six] = [div.inputs[0]!, div.inputs[1]!];
        div.setInput(0, six);
        div.setInput(1, p);
      },
      (m) => m.graph.addOutput(m.graph.value("r")!),
      (m) => m.graph.addNode({ op: "Relu", name: "other", inputs: [m.graph.value("p")!], outputs: ["side"] }),
      (m) => {
        const mul = m.graph.nodes.find((n) => n.name === "mul")!;
        mul.setInput(0, m.graph.inputs[0]!);
      },
    ];
    for (const change of cases) {
      const m = hardSwishNet("mul-div");
      change(m);
      const before = m.graph.nodes.map((n) => n.op);
      expect(fuseHardSwish(m)).toBe(0);
      expect(m.graph.nodes.map((n) => n.op)).toEqual(before);
    }
  });

  it("runs in preprocess: PP-OCR cls's 18 decomposed HardSwish layers are fused", async () => {
    const m = readOnnx(readFileSync(modelPath("ocr/ch_ppocr_mobile_v2.0_cls_infer")));
    const adds = m.graph.nodes.filter((n) => n.op === "Add").length;
    const r = await Effect.runPromise(pipeline([preprocess]).pipe(Effect.flatMap((p) => p.run(m)), Effect.provide(servicesFor([]))));
    expect(r.model.graph.nodes.filter((n) => n.op === "Clip").length).toBe(0);
    expect(r.model.graph.nodes.filter((n) => n.op === "Div").length).toBe(0);
    expect(r.model.graph.nodes.filter((n) => n.op === "HardSigmoid").length).toBe(9 + 18);
    expect(r.model.graph.nodes.filter((n) => n.op === "Add").length).toBe(adds - 18);
  });
});

describe("sharedZeroPoint", () => {
  it("gives one scalar per graph, type and value; never reuses a same-named value of other content", () => {
    const m = onnxModel();
    const g = m.graph;
    // A model value that happens to have the name the helper would pick, holding something else.
    konst(m, "zu8_0", tensor("uint8", [], Uint8Array.of(7)));
    const a = sharedZeroPoint(g, "uint8", 0);
    expect(a.name).not.toBe("zu8_0");
    expect(Array.from(a.constant!.load().data as Uint8Array)).toEqual([0]);
    expect(sharedZeroPoint(g, "uint8", 0)).toBe(a);
    const b = sharedZeroPoint(g, "int8", -3);
    expect(b.name).toBe("zi8_m3");
    expect(b.constant!.shape).toEqual([]);
    expect(sharedZeroPoint(g, "int8", -3)).toBe(b);
    // One already there with the right content (another lowering's) is taken as it is.
    const c = konst(m, "zu4_8", tensor("uint4", [], Uint8Array.of(8)));
    expect(sharedZeroPoint(g, "uint4", 8)).toBe(c);
    expect(sharedZeroPoint(g, "int4", -8).constant!.load().data).toEqual(Uint8Array.of(8));
    expect(g.initializers.length).toBe(5);
  });
});

describe("dropDefaultAttributes", () => {
  it("drops conv and pool attributes that state the ONNX default, keeps the rest; outputs unchanged", async () => {
    const m = onnxModel();
    const g = m.graph;
    const x = g.addInput("X", { elem: "float32", shape: [1, 2, 6, 6] });
    const c1 = g.addNode({
      op: "Conv",
      name: "c1",
      inputs: [x, konst(m, "W1", f32([2, 2, 3, 3], 1))],
      outputs: ["c1"],
      attributes: { dilations: attr.ints([1, 1]), strides: attr.ints([1, 1]), pads: attr.ints([0, 0, 0, 0]), group: attr.int(1), kernel_shape: attr.ints([3, 3]), auto_pad: attr.string("NOTSET") },
    }).outputs[0]!;
    const c2 = g.addNode({
      op: "Conv",
      name: "c2",
      inputs: [c1, konst(m, "W2", f32([2, 1, 3, 3], 2))],
      outputs: ["c2"],
      attributes: { dilations: attr.ints([1, 1]), strides: attr.ints([2, 2]), pads: attr.ints([1, 1, 1, 1]), group: attr.int(2) },
    }).outputs[0]!;
    const p = g.addNode({ op: "MaxPool", name: "p", inputs: [c2], outputs: ["p"], attributes: { kernel_shape: attr.ints([2, 2]), strides: attr.ints([1, 1]), pads: attr.ints([0, 0, 0, 0]), ceil_mode: attr.int(0), storage_order: attr.int(0) } }).outputs[0]!;
    const ct = g.addNode({
      op: "ConvTranspose",
      name: "ct",
      inputs: [p, konst(m, "W3", f32([2, 2, 2, 2], 4))],
      outputs: ["ct"],
      attributes: { strides: attr.ints([2, 2]), output_padding: attr.ints([0, 0]), dilations: attr.ints([1, 1]), group: attr.int(1) },
    }).outputs[0]!;
    const ap = g.addNode({ op: "AveragePool", name: "ap", inputs: [ct], outputs: ["ap"], attributes: { kernel_shape: attr.ints([2, 2]), pads: attr.ints([1, 1, 1, 1]), count_include_pad: attr.int(0), ceil_mode: attr.int(1), auto_pad: attr.string("NOTSET") } }).outputs[0]!;
    g.addOutput(ap);
    const feeds = [{ X: f32([1, 2, 6, 6], 3) }];
    const want = await runOrt(writeOnnx(m), feeds);
    const wantCpu = cpuBackend().plan(m).run(feeds[0]!).ap!;
    expect(dropDefaultAttributes(m)).toBe(5 + 1 + 4 + 3 + 2);
    const keys = (n: string) => [...g.nodes.find((x) => x.name === n)!.attributes.keys()].sort();
    expect(keys("c1")).toEqual(["kernel_shape"]);
    expect(keys("c2")).toEqual(["group", "pads", "strides"]);
    expect(keys("p")).toEqual(["kernel_shape"]);
    expect(keys("ct")).toEqual(["strides"]);
    expect(keys("ap")).toEqual(["ceil_mode", "kernel_shape", "pads"]);
    const got = await runOrt(writeOnnx(m), feeds);
    expect(Array.from(got[0]!.ap!.data)).toEqual(Array.from(want[0]!.ap!.data));
    same(wantCpu, cpuBackend().plan(m).run(feeds[0]!).ap!);
  });
});

describe("shareConstants", () => {
  it("merges identical scalars and small integer tensors, never weights, biases, quantizable operands or graph outputs", () => {
    const m = onnxModel();
    const g = m.graph;
    const x = g.addInput("X", { elem: "float32", shape: [1, 2, 4, 4] });
    const full = (shape: number[], v: number) => tensor("float32", shape, new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(v));
    const k = (name: string, v: number) => g.addConstant(name, constantOf(full([], v)));
    const lo1 = k("lo1", 0);
    const hi1 = k("hi1", 6);
    const lo2 = k("lo2", 0);
    const hi2 = k("hi2", 6);
    const six = k("six", 6);
    const c1 = g.addNode({ op: "Clip", inputs: [x, lo1, hi1], outputs: ["c1"] }).outputs[0]!;
    const c2 = g.addNode({ op: "Clip", inputs: [c1, lo2, hi2], outputs: ["c2"] }).outputs[0]!;
    const dv = g.addNode({ op: "Div", inputs: [c2, six], outputs: ["dv"] }).outputs[0]!;
    // Operands of quantizable ops (Add) are quantized with their node's spec in static mode: never shared.
    const three1 = k("three1", 3);
    const three2 = k("three2", 3);
    const a1 = g.addNode({ op: "Add", inputs: [dv, three1], outputs: ["a1"] }).outputs[0]!;
    const d = g.addNode({ op: "Add", inputs: [a1, three2], outputs: ["d"] }).outputs[0]!;
    // Two convs with equal biases: not scalars, and biases anyway.
    const w = (name: string, seed: number) => g.addConstant(name, constantOf(f32([2, 2, 1, 1], seed)));
    const b1 = g.addConstant("b1", constantOf(full([2], 0)));
    const b2 = g.addConstant("b2", constantOf(full([2], 0)));
    const y1 = g.addNode({ op: "Conv", inputs: [d, w("w1", 11), b1], outputs: ["y1"] }).outputs[0]!;
    const y2 = g.addNode({ op: "Conv", inputs: [y1, w("w2", 12), b2], outputs: ["y2"] }).outputs[0]!;
    // One-element Gemm biases are parameters too: never shared.
    const s1 = g.addConstant("s1", constantOf(full([1], 0)));
    const s2 = g.addConstant("s2", constantOf(full([1], 0)));
    const flat = g.addNode({ op: "Flatten", inputs: [y2], outputs: ["flat"] }).outputs[0]!;
    const wg = g.addConstant("wg", constantOf(f32([32, 1], 13)));
    const wg2 = g.addConstant("wg2", constantOf(f32([32, 1], 14)));
    const z1 = g.addNode({ op: "Gemm", inputs: [flat, wg, s1], outputs: ["z1"] }).outputs[0]!;
    const z2 = g.addNode({ op: "Gemm", inputs: [flat, wg2, s2], outputs: ["z2"] }).outputs[0]!;
    const shape1 = g.addConstant("shape1", constantOf(tensor("int64", [2], BigInt64Array.of(1n, -1n))));
    const shape2 = g.addConstant("shape2", constantOf(tensor("int64", [2], BigInt64Array.of(1n, -1n))));
    const r1 = g.addNode({ op: "Reshape", inputs: [z1, shape1], outputs: ["r1"] }).outputs[0]!;
    const r2 = g.addNode({ op: "Reshape", inputs: [z2, shape2], outputs: ["r2"] }).outputs[0]!;
    g.addOutput(r1);
    g.addOutput(r2);
    const out = g.addConstant("out6", constantOf(full([], 6)));
    g.addOutput(out);
    const feeds = { X: f32([1, 2, 4, 4], 3) };
    const want = cpuBackend().plan(m).run(feeds);
    expect(shareConstants(m)).toBe(4); // lo2, hi2, six (= hi1), shape2
    validate(m);
    const names = new Set(g.initializers.map((v) => v.name));
    for (const gone of ["lo2", "hi2", "six", "shape2"]) expect(names.has(gone)).toBe(false);
    for (const kept of ["lo1", "hi1", "b1", "b2", "s1", "s2", "shape1", "out6", "three1", "three2"]) expect(names.has(kept)).toBe(true);
    const got = cpuBackend().plan(m).run(feeds);
    for (const o of ["r1", "r2"]) same(want[o]!, got[o]!);
    expect(shareConstants(m)).toBe(0);
  });
});

describe("foldBatchNorm", () => {
  function convBn(opts: { bias: boolean; group?: number; extraUse?: boolean }) {
    const m = onnxModel();
    const g = m.graph;
    const cin = 4;
    const cout = opts.group ? cin : 6;
    const x = g.addInput("X", { elem: "float32", shape: [1, cin, 5, 5] });
    const w = konst(m, "W", f32([cout, cin / (opts.group ?? 1), 3, 3], 3));
    const inputs: Value[] = [x, w];
    if (opts.bias) inputs.push(konst(m, "B", f32([cout], 4)));
    const conv = g.addNode({ op: "Conv", name: "conv", inputs, outputs: ["c"], attributes: { pads: attr.ints([1, 1, 1, 1]), ...(opts.group ? { group: attr.int(opts.group) } : {}) } });
    const c = conv.outputs[0]!;
    const bn = g.addNode({
      op: "BatchNormalization",
      name: "bn",
      inputs: [c, konst(m, "scale", f32([cout], 5, 0.5, 2)), konst(m, "beta", f32([cout], 6)), konst(m, "mean", f32([cout], 7)), konst(m, "var", f32([cout], 8, 0.1, 3))],
      outputs: ["Y"],
      attributes: { epsilon: attr.float(1e-3) },
    });
    g.addOutput(bn.outputs[0]!);
    if (opts.extraUse) {
      const r = g.addNode({ op: "Relu", inputs: [c], outputs: ["R"] });
      g.addOutput(r.outputs[0]!);
    }
    return m;
  }

  for (const [label, opts] of [
    ["Conv without bias", { bias: false }],
    ["Conv with bias", { bias: true }],
    ["depthwise Conv", { bias: true, group: 4 }],
  ] as const) {
    it(`folds into a ${label}: BatchNormalization gone, outputs equal`, () => {
      const m = convBn(opts);
      const feeds = { X: f32([1, 4, 5, 5], 9) };
      const want = cpuBackend().plan(m).run(feeds).Y!;
      expect(foldBatchNorm(m)).toBe(1);
      validate(m);
      expect(m.graph.nodes.map((n) => n.op)).toEqual(["Conv"]);
      const conv = m.graph.nodes[0]!;
      expect(conv.inputs[2]!.constant).toBeDefined();
      // The graph output keeps its name; the old weight and BN parameters are gone.
      expect(m.graph.outputs[0]!.name).toBe("Y");
      expect(m.graph.value("W")).toBeUndefined();
      expect(m.graph.value("mean")).toBeUndefined();
      same(want, cpuBackend().plan(m).run(feeds).Y!, 1e-5);
    });
  }

  it("leaves a BatchNormalization alone when the Conv output has another reader", () => {
    const m = convBn({ bias: true, extraUse: true });
    expect(foldBatchNorm(m)).toBe(0);
    expect(m.graph.nodes.map((n) => n.op)).toContain("BatchNormalization");
  });
});

/**
 * X -> Conv(W, B) -> c -> Relu -> r -> MaxPool -> p -> Reshape -> s -> Softmax -> Y
 *                                   \-> Add(r, X2) -> a (graph output)
 */
function convNet() {
  const m = onnxModel();
  const g = m.graph;
  const x = g.addInput("X", { elem: "float32", shape: [1, 2, 4, 4] });
  const x2 = g.addInput("X2", { elem: "float32", shape: [1, 3, 4, 4] });
  const w = konst(m, "W", f32([3, 2, 3, 3], 11));
  const b = konst(m, "B", f32([3], 12));
  const conv = g.addNode({ op: "Conv", name: "conv", inputs: [x, w, b], outputs: ["c"], attributes: { pads: attr.ints([1, 1, 1, 1]) } });
  const relu = g.addNode({ op: "Relu", name: "relu", inputs: [conv.outputs[0]!], outputs: ["r"] });
  const pool = g.addNode({ op: "MaxPool", name: "pool", inputs: [relu.outputs[0]!], outputs: ["p"], attributes: { kernel_shape: attr.ints([2, 2]), strides: attr.ints([2, 2]) } });
  const shape = konst(m, "shape", tensor("int64", [2], BigInt64Array.of(1n, 12n)));
  const reshape = g.addNode({ op: "Reshape", name: "reshape", inputs: [pool.outputs[0]!, shape], outputs: ["s"] });
  const softmax = g.addNode({ op: "Softmax", name: "softmax", inputs: [reshape.outputs[0]!], outputs: ["Y"], attributes: { axis: attr.int(-1) } });
  const add = g.addNode({ op: "Add", name: "add", inputs: [relu.outputs[0]!, x2], outputs: ["A"] });
  g.addOutput(softmax.outputs[0]!);
  g.addOutput(add.outputs[0]!);
  const v = (name: string) => g.value(name)!;
  return { m, g, conv, relu, pool, reshape, softmax, add, v };
}

describe("annotate", () => {
  it("static int8: Conv -> Relu puts the activation on Relu's output; MaxPool and Reshape share it; weights and bias", () => {
    const { m, conv, add, v } = convNet();
    const a = annotate(m, PRESETS.int8Static(), onnxDialect);
    const t = (name: string) => a.tensors.get(v(name));
    expect(t("X")).toMatchObject({ kind: "activation" });
    expect(t("c")).toBeUndefined(); // fused into Relu
    expect(t("r")).toMatchObject({ kind: "activation" });
    expect(t("p")).toEqual({ kind: "shared", with: v("r") });
    expect(t("s")).toEqual({ kind: "shared", with: v("r") });
    expect(t("Y")).toBeUndefined(); // Softmax is not quantized here
    expect(t("W")).toMatchObject({ kind: "weight", axis: 0, spec: { dtype: "int8", symmetric: true } });
    expect(t("B")).toEqual({ kind: "bias", input: v("X"), weight: v("W") });
    expect(t("X2")).toMatchObject({ kind: "activation" });
    expect(t("A")).toMatchObject({ kind: "activation" }); // Add's own output
    expect(a.nodes.get(conv)).toEqual({ quantized: true });
    expect(a.nodes.get(add)).toEqual({ quantized: true });
  });

  it("does not fuse an activation whose producer has other readers", () => {
    const { m, g, v } = convNet();
    const extra = g.addNode({ op: "Sigmoid", name: "extra", inputs: [v("c")], outputs: ["e"] });
    g.addOutput(extra.outputs[0]!);
    const a = annotate(m, PRESETS.int8Static(), onnxDialect);
    expect(a.tensors.get(v("c"))).toMatchObject({ kind: "activation" });
  });

  it("exclusions by name, by op type and by glob give the pattern as the reason", () => {
    for (const [pattern, excluded] of [
      ["conv", "conv"],
      ["Add", "add"],
      ["co*", "conv"],
      ["?dd", "add"],
    ] as const) {
      const { m, conv, add, v } = convNet();
      const a = annotate(m, withChanges(PRESETS.int8Static(), { exclude: [pattern] }), onnxDialect);
      const node: Node = excluded === "conv" ? conv : add;
      const other: Node = excluded === "conv" ? add : conv;
      expect(a.nodes.get(node)).toEqual({ quantized: false, reason: `excluded by '${pattern}'` });
      expect(a.nodes.get(other)).toEqual({ quantized: true });
      if (excluded === "conv") {
        expect(a.tensors.get(v("W"))).toBeUndefined();
        expect(a.tensors.get(v("B"))).toBeUndefined();
        expect(a.tensors.get(v("X"))).toBeUndefined();
      } else expect(a.tensors.get(v("X2"))).toBeUndefined();
    }
  });

  it("weight-only int8 annotates weights only (no activation, no bias) and says why weightless nodes stay float", () => {
    const { m, conv, add, v } = convNet();
    const a = annotate(m, PRESETS.weightOnlyInt8(), onnxDialect);
    expect([...a.tensors.keys()].map((x) => x.name)).toEqual(["W"]);
    expect(a.tensors.get(v("W"))).toMatchObject({ kind: "weight", axis: 0 });
    expect(a.nodes.get(conv)).toEqual({ quantized: true });
    expect(a.nodes.get(add)).toEqual({ quantized: false, reason: "no constant float32 weight" });
  });

  it("weight-only int4 blocks run along K: axis 0 of a MatMul [K, N] weight, axis 1 of a Gemm transB [N, K] weight", () => {
    const m = onnxModel();
    const g = m.graph;
    const x = g.addInput("X", { elem: "float32", shape: [2, 64] });
    const mm = g.addNode({ op: "MatMul", name: "mm", inputs: [x, konst(m, "Wm", f32([64, 32], 1))], outputs: ["h"] });
    const gemm = g.addNode({ op: "Gemm", name: "gemm", inputs: [mm.outputs[0]!, konst(m, "Wg", f32([16, 32], 2)), konst(m, "Bg", f32([16], 3))], outputs: ["Y"], attributes: { transB: attr.int(1) } });
    g.addOutput(gemm.outputs[0]!);
    const a = annotate(m, PRESETS.weightOnlyInt4(32), onnxDialect);
    expect(a.tensors.get(g.value("Wm")!)).toMatchObject({ kind: "weight", axis: 0, spec: { dtype: "int4", granularity: { kind: "block", blockSize: 32 } } });
    expect(a.tensors.get(g.value("Wg")!)).toMatchObject({ kind: "weight", axis: 1 });
    expect(a.tensors.get(g.value("Bg")!)).toBeUndefined();
  });
});

describe("qparams (onnxruntime formulas)", () => {
  /** Runs annotate + qparams by hand with the given activation ranges. */
  function run(m: Model, scheme = PRESETS.int8Static(), ranges: Record<string, [number, number]> = {}) {
    const ctx = context();
    const ann = annotate(m, scheme, onnxDialect);
    ctx.data.set(ANNOTATIONS, ann);
    const r: Ranges = new Map();
    for (const [name, [min, max]] of Object.entries(ranges)) r.set(m.graph.value(name)!, { min, max });
    ctx.data.set(RANGES, r);
    Effect.runSync(qparams.run(m, ctx));
    return { params: ctx.data.need(QPARAMS), quantized: ctx.data.need(QUANTIZED), warnings: ctx.warnings, v: (n: string) => m.graph.value(n)! };
  }

  it("MinMax activations: [-1, 2] uint8 -> scale fround(3/255), zero point 85; int8 -> zero point -43; [0.5, 2] widens to 0", () => {
    const { m } = convNet();
    const u = run(m, PRESETS.int8Static("uint8"), { X: [-1, 2], r: [0.5, 2], X2: [-3, -1], A: [0, 0] });
    const p = (n: string) => u.params.get(u.v(n))!;
    expect(p("X")).toMatchObject({ dtype: "uint8" });
    expect(p("X").scale[0]).toBe(Math.fround(3 / 255));
    expect(p("X").zeroPoint[0]).toBe(85);
    expect(p("r").scale[0]).toBe(Math.fround(2 / 255));
    expect(p("r").zeroPoint[0]).toBe(0);
    expect(p("X2").scale[0]).toBe(Math.fround(3 / 255));
    expect(p("X2").zeroPoint[0]).toBe(255);
    // A zero range gives scale 1, zero point 0 (onnxruntime's rule for a scale below float32's tiny).
    expect(p("A").scale[0]).toBe(1);
    expect(p("A").zeroPoint[0]).toBe(0);
    // Shared values carry the very same parameters.
    expect(p("p")).toBe(p("r"));
    expect(p("s")).toBe(p("r"));
    const { m: m2 } = convNet();
    const i = run(m2, PRESETS.int8Static("int8"), { X: [-1, 2], r: [0, 1], X2: [-1, 1], A: [0, 1] });
    expect(i.params.get(i.v("X"))!.zeroPoint[0]).toBe(-43);
    expect(i.params.get(i.v("X"))!.scale[0]).toBe(Math.fround(3 / 255));
  });

  it("int8 symmetric per-channel weights: scale = absmax/127, zero point 0, values round half to even in [-127, 127]", () => {
    const { m } = convNet();
    const w = m.graph.value("W")!.constant!.load().data as Float32Array;
    const { params, quantized, v } = run(m, PRESETS.int8Static(), { X: [-1, 2], r: [0, 4], X2: [-1, 1], A: [-1, 5] });
    const p = params.get(v("W"))!;
    expect(p).toMatchObject({ dtype: "int8", axis: 0 });
    const q = quantized.get(v("W"))!;
    expect(q.dtype).toBe("int8");
    const per = w.length / 3;
    for (let c = 0; c < 3; c++) {
      const absmax = w.subarray(c * per, (c + 1) * per).reduce((a, x) => Math.max(a, Math.abs(x)), 0);
      const scale = Math.fround((2 * absmax) / 254);
      expect(p.scale[c]).toBe(scale);
      expect(p.zeroPoint[c]).toBe(0);
      for (let i = 0; i < per; i++) expect(q.data[c * per + i]).toBe(Math.max(-127, Math.min(127, rne(w[c * per + i]! / scale))));
    }
  });

  it("bias: int32, zero point 0, scale fround(s_in * s_w[c]), value round_half_even(b / scale)", () => {
    const { m } = convNet();
    const b = m.graph.value("B")!.constant!.load().data as Float32Array;
    const { params, quantized, v } = run(m, PRESETS.int8Static(), { X: [-1, 2], r: [0, 4], X2: [-1, 1], A: [-1, 5] });
    const sIn = params.get(v("X"))!.scale[0]!;
    const sW = params.get(v("W"))!.scale;
    const p = params.get(v("B"))!;
    const q = quantized.get(v("B"))!;
    expect(p.dtype).toBe("int32");
    expect(q.dtype).toBe("int32");
    for (let c = 0; c < 3; c++) {
      const s = Math.fround(sIn * sW[c]!);
      expect(p.scale[c]).toBe(s);
      expect(p.zeroPoint[c]).toBe(0);
      expect(q.data[c]).toBe(rne(Math.fround(b[c]! / s)));
    }
  });

  it("bias tie cases round half to even", () => {
    const m = onnxModel();
    const g = m.graph;
    const x = g.addInput("X", { elem: "float32", shape: [1, 2] });
    // Weight absmax 127 per output channel gives s_w = 1; input range [0, 255] uint8 gives s_in = 1: bias scale 1.
    const w = konst(m, "W", tensor("float32", [2, 2], Float32Array.of(127, 1, -127, 2)));
    const b = konst(m, "B", tensor("float32", [2], Float32Array.of(2.5, -3.5)));
    const gemm = g.addNode({ op: "Gemm", name: "gemm", inputs: [x, w, b], outputs: ["Y"], attributes: { transB: attr.int(1) } });
    g.addOutput(gemm.outputs[0]!);
    const { params, quantized, v } = run(m, PRESETS.int8Static(), { X: [0, 255], Y: [-1, 1] });
    expect(Array.from(params.get(v("B"))!.scale)).toEqual([1, 1]);
    expect(Array.from(quantized.get(v("B"))!.data as Int32Array)).toEqual([2, -4]);
  });

  it("per-tensor weights: the bias has one scale s_in * s_w and no axis (not one copy per channel)", () => {
    const { m } = convNet();
    const b = m.graph.value("B")!.constant!.load().data as Float32Array;
    const scheme = { ...PRESETS.int8Static(), weights: spec({ dtype: "int8", symmetric: true, narrowRange: true, granularity: { kind: "tensor" } }) };
    const { params, quantized, v } = run(m, scheme, { X: [-1, 2], r: [0, 4], X2: [-1, 1], A: [-1, 5] });
    const s = Math.fround(params.get(v("X"))!.scale[0]! * params.get(v("W"))!.scale[0]!);
    const p = params.get(v("B"))!;
    expect(Array.from(p.scale)).toEqual([s]);
    expect(Array.from(p.zeroPoint)).toEqual([0]);
    expect(p.axis).toBeUndefined();
    expect(Array.from(quantized.get(v("B"))!.data as Int32Array)).toEqual(Array.from(b, (x) => rne(Math.fround(x / s))));
  });

  it("a bias that does not fit int32 raises the weight scale (as onnxruntime does) and stays exact", () => {
    const m = onnxModel();
    const g = m.graph;
    const x = g.addInput("X", { elem: "float32", shape: [1, 2] });
    const w = konst(m, "W", tensor("float32", [1, 2], Float32Array.of(1e-6, 1e-6)));
    const b = konst(m, "B", tensor("float32", [1], Float32Array.of(1e6)));
    const gemm = g.addNode({ op: "Gemm", name: "gemm", inputs: [x, w, b], outputs: ["Y"], attributes: { transB: attr.int(1) } });
    g.addOutput(gemm.outputs[0]!);
    const r = run(m, PRESETS.int8Static(), { X: [0, 1e-3], Y: [0, 1] });
    const si = r.params.get(r.v("X"))!.scale[0]!;
    const sw = r.params.get(r.v("W"))!.scale[0]!;
    expect(sw).toBeGreaterThan(1e-6 / 127); // raised above absmax / 127
    const pb = r.params.get(r.v("B"))!;
    expect(pb.dtype).toBe("int32");
    expect(pb.scale[0]).toBe(Math.fround(si * sw));
    const q = r.quantized.get(r.v("B"))!.data as Int32Array;
    expect(Math.abs(q[0]!)).toBeLessThanOrEqual(2147483647);
    expect(Math.abs(q[0]! * pb.scale[0]! - 1e6) / 1e6).toBeLessThan(1e-6);
    expect(r.warnings.join("\n")).toMatch(/raised the weight scale of 'W' so that bias 'B' fits int32/);
  });

  it("uint8 asymmetric per-tensor weights (spec override) follow the asymmetric formula", () => {
    const { m } = convNet();
    const w = m.graph.value("W")!.constant!.load().data as Float32Array;
    const scheme = { ...PRESETS.int8Static(), weights: spec({ dtype: "uint8", granularity: { kind: "tensor" } }) };
    const { params, v } = run(m, scheme, { X: [-1, 2], r: [0, 4], X2: [-1, 1], A: [-1, 5] });
    let lo = 0;
    let hi = 0;
    for (const x of w) {
      lo = Math.min(lo, x);
      hi = Math.max(hi, x);
    }
    const scale = Math.fround((hi - lo) / 255);
    const p = params.get(v("W"))!;
    expect(p.axis).toBeUndefined();
    expect(p.scale[0]).toBe(scale);
    expect(p.zeroPoint[0]).toBe(rne(0 - lo / scale));
  });
});

describe("calibration and pipeline checks", () => {
  it("an empty calibration set is a CalibrationError", async () => {
    const { m } = convNet();
    const r = await Effect.runPromise(
      Effect.either(
        Effect.gen(function* () {
          const p = yield* pipeline([preprocess, annotatePass(PRESETS.int8Static(), () => onnxDialect), calibrate, qparams, lowerOnnx()]);
          return yield* p.run(m);
        }).pipe(Effect.provide(servicesFor([]))),
      ),
    );
    expect(r._tag).toBe("Left");
    if (r._tag === "Left") {
      expect(r.left).toBeInstanceOf(CalibrationError);
      expect(r.left.message).toMatch(/empty/);
    }
  });

  it("a static pipeline without calibration fails its check before any pass runs (MissingRequirement on 'ranges')", () => {
    let ran = false;
    const spy = { name: "spy", requires: ["model"], provides: [], run: (m: Model) =>
        Effect.sync(() => {
          ran = true;
          return m;
        }),
    };
    const r = Effect.runSync(Effect.either(pipeline([spy, preprocess, annotatePass(PRESETS.int8Static(), () => onnxDialect), qparams, lowerOnnx()])));
    expect(ran).toBe(false);
    expect(r._tag).toBe("Left");
    if (r._tag === "Left") {
      expect(r.left).toBeInstanceOf(MissingRequirement);
      expect(r.left).toMatchObject({ pass: "qparams", requirement: "ranges" });
      expect(r.left.message).toMatch(/calibrate/);
    }
  });

  it("calibration in a weight-only pipeline is refused with a hint", () => {
    const r = Effect.runSync(Effect.either(pipeline([preprocess, annotatePass(PRESETS.weightOnlyInt8(), () => onnxDialect), calibrate, qparams, lowerOnnx()])));
    expect(r._tag).toBe("Left");
    if (r._tag === "Left") expect(r.left).toMatchObject({ _tag: "MissingRequirement", pass: "calibrate", requirement: "needs-ranges" });
  });

  it("static int8 end to end on a small net: QDQ around the fused Relu, outputs close to float", async () => {
    const { m } = convNet();
    const ref = convNet().m;
    const samples = [1, 2, 3, 4].map((s) => ({ X: f32([1, 2, 4, 4], 100 + s), X2: f32([1, 3, 4, 4], 200 + s) }));
    const r = await quantize(m, PRESETS.int8Static(), samples);
    validate(r.model);
    const ops = r.model.graph.nodes.map((n) => n.op);
    expect(ops.filter((o) => o === "QuantizeLinear").length).toBeGreaterThanOrEqual(3);
    // No QDQ on the Conv output (fused with Relu): the Relu reads the Conv directly.
    const relu = r.model.graph.nodes.find((n) => n.op === "Relu")!;
    expect(relu.inputs[0]!.producer!.op).toBe("Conv");
    const want = cpuBackend().plan(ref).run(samples[0]!);
    const got = cpuBackend().plan(r.model).run(samples[0]!);
    same(want.A!, got.A!, 0.05);
    same(want.Y!, got.Y!, 0.05);
  });
});
