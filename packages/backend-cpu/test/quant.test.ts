import { create, toBinary } from "@bufbuild/protobuf";
import { ONNX_DATA_TYPE, readOnnx } from "@quanta/onnx";
import { type DType, type Tensor, size, toBytes } from "@quanta/tensor";
import * as ob from "onnx-buf";
import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { cpuBackend } from "../src/index.js";
import { floatToHalf } from "../src/kernels/quant/common.js";

/**
 * Quantized kernels against onnxruntime-node (graphOptimizationLevel "disabled"): every model is
 * built here, run by both, and compared bit for bit (float outputs by their float32 bits), except
 * MatMulNBits, where onnxruntime accumulates in float32 (and with accuracy_level 4 quantizes A to
 * int8), so results agree to a tolerance. 4-bit and float8 tensors are never graph outputs given to
 * onnxruntime (it cannot return them): they go through DequantizeLinear.
 */

// ---- model building -------------------------------------------------------------------------------------------

type Attr = number | string | number[] | { f: number };
interface NodeSpec {
  op: string;
  domain?: string;
  inputs: string[];
  outputs: string[];
  attrs?: Record<string, Attr>;
}
interface Named extends Tensor {
  name: string;
}
interface ModelSpec {
  opset: number;
  ms?: boolean;
  nodes: NodeSpec[];
  inputs: Named[];
  outputs: { name: string; dtype: DType }[];
  inits?: Named[];
}

function attrProto(name: string, v: Attr) {
  const T = ob.AttributeProto_AttributeType;
  if (typeof v === "number") return create(ob.AttributeProtoSchema, { name, type: T.INT, i: BigInt(v) });
  if (typeof v === "string") return create(ob.AttributeProtoSchema, { name, type: T.STRING, s: new TextEncoder().encode(v) });
  if (Array.isArray(v)) return create(ob.AttributeProtoSchema, { name, type: T.INTS, ints: v.map(BigInt) });
  return create(ob.AttributeProtoSchema, { name, type: T.FLOAT, f: v.f });
}

const valueInfo = (name: string, dtype: DType, shape?: readonly number[]) =>
  create(ob.ValueInfoProtoSchema, {
    name,
    type: create(ob.TypeProtoSchema, {
      value: {
        case: "tensorType",
        value: create(ob.TypeProto_TensorSchema, {
          elemType: ONNX_DATA_TYPE[dtype],
          ...(shape ? { shape: create(ob.TensorShapeProtoSchema, { dim: shape.map((d) => create(ob.TensorShapeProto_DimensionSchema, { value: { case: "dimValue", value: BigInt(d) } })) }) } : {}),
        }),
      },
    }),
  });

function buildModel(m: ModelSpec): Uint8Array {
  const graph = create(ob.GraphProtoSchema, {
    name: "g",
    node: m.nodes.map((n, i) =>
      create(ob.NodeProtoSchema, {
        opType: n.op,
        domain: n.domain ?? "",
        name: `n${i}`,
        input: n.inputs,
        output: n.outputs,
        attribute: Object.entries(n.attrs ?? {}).map(([k, v]) => attrProto(k, v)),
      }),
    ),
    input: m.inputs.map((i) => valueInfo(i.name, i.dtype, i.shape)),
    output: m.outputs.map((o) => valueInfo(o.name, o.dtype)),
    initializer: (m.inits ?? []).map((t) =>
      create(ob.TensorProtoSchema, { name: t.name, dataType: ONNX_DATA_TYPE[t.dtype], dims: t.shape.map(BigInt), rawData: new Uint8Array(toBytes(t.data)) }),
    ),
  });
  const opsetImport = [create(ob.OperatorSetIdProtoSchema, { domain: "", version: BigInt(m.opset) })];
  if (m.ms) opsetImport.push(create(ob.OperatorSetIdProtoSchema, { domain: "com.microsoft", version: 1n }));
  return toBinary(ob.ModelProtoSchema, create(ob.ModelProtoSchema, { irVersion: 10n, opsetImport, graph }));
}

const ORT_TYPES: Partial<Record<DType, ort.Tensor.Type>> = {
  float32: "float32",
  float16: "float16",
  uint8: "uint8",
  int8: "int8",
  uint16: "uint16",
  int16: "int16",
  int32: "int32",
  int64: "int64",
};

async function runOrt(m: ModelSpec): Promise<Record<string, ArrayLike<number>>> {
  const session = await ort.InferenceSession.create(buildModel(m), { graphOptimizationLevel: "disabled" });
  const feeds: Record<string, ort.Tensor> = {};
  for (const t of m.inputs) feeds[t.name] = new ort.Tensor(ORT_TYPES[t.dtype]!, t.data as Float32Array, [...t.shape]);
  const r = await session.run(feeds);
  const ref: Record<string, ArrayLike<number>> = {};
  for (const [k, v] of Object.entries(r)) ref[k] = v.data as ArrayLike<number>;
  return ref;
}

function runQuanta(m: ModelSpec): Record<string, Tensor> {
  return cpuBackend()
    .plan(readOnnx(buildModel(m)))
    .run(Object.fromEntries(m.inputs.map((t) => [t.name, { dtype: t.dtype, shape: t.shape, data: t.data }])));
}

/** Bits of an element as a comparable number (floats by their float32 bits, NaNs equal). */
function bitsOf(dtype: DType, v: number): number {
  if (dtype !== "float32") return v;
  if (Number.isNaN(v)) return Number.NaN;
  return new Uint32Array(Float32Array.of(v).buffer)[0]!;
}

/**
 * Runs `m` on both and expects every output bit-identical; `ortModel` replaces the model given to
 * onnxruntime (an equivalent graph, for what onnxruntime does not implement directly).
 */
async function expectSame(m: ModelSpec, ortModel: ModelSpec = m): Promise<void> {
  const ref = await runOrt(ortModel);
  const got = runQuanta(m);
  for (const o of m.outputs) {
    const r = ref[o.name]!;
    const g = got[o.name]!;
    expect(g.dtype).toBe(o.dtype);
    expect(g.data.length).toBe(r.length);
    let bad = 0;
    let first = "";
    for (let i = 0; i < r.length; i++) {
      const a = bitsOf(o.dtype, Number(r[i]));
      const b = bitsOf(o.dtype, Number(g.data[i]));
      if (!(a === b || (Number.isNaN(a) && Number.isNaN(b)))) {
        if (!bad) first = `at ${i}: onnxruntime ${r[i]}, quanta ${g.data[i]}`;
        bad++;
      }
    }
    expect(bad, `${o.name}: ${bad} of ${r.length} differ, first ${first}`).toBe(0);
  }
}

/** Several models as one (names suffixed by their index), so that one session checks them all. */
function merge(specs: readonly ModelSpec[]): ModelSpec {
  const out: Required<ModelSpec> = { opset: Math.max(...specs.map((s) => s.opset)), ms: specs.some((s) => s.ms), nodes: [], inputs: [], outputs: [], inits: [] };
  specs.forEach((s, i) => {
    const rn = (n: string): string => (n ? `${n}_${i}` : n);
    out.nodes.push(...s.nodes.map((n) => ({ ...n, inputs: n.inputs.map(rn), outputs: n.outputs.map(rn) })));
    out.inputs.push(...s.inputs.map((t) => ({ ...t, name: rn(t.name) })));
    out.outputs.push(...s.outputs.map((o) => ({ ...o, name: rn(o.name) })));
    out.inits.push(...(s.inits ?? []).map((t) => ({ ...t, name: rn(t.name) })));
  });
  return out;
}

/** Checks several models with one onnxruntime session (and one plan). */
const expectSameAll = (specs: readonly ModelSpec[], ortSpecs: readonly ModelSpec[] = specs): Promise<void> => expectSame(merge(specs), merge(ortSpecs));

// ---- data -----------------------------------------------------------------------------------------------------

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

const f32 = (name: string, shape: number[], data: ArrayLike<number>): Named => ({ name, dtype: "float32", shape, data: Float32Array.from(data) });
const typed = (name: string, dtype: DType, shape: number[], data: ArrayLike<number>): Named => {
  const ctors: Partial<Record<DType, { from(d: ArrayLike<number>): Tensor["data"] }>> = {
    uint8: Uint8Array,
    int8: Int8Array,
    uint16: Uint16Array,
    int16: Int16Array,
    int32: Int32Array,
    float32: Float32Array,
  };
  return { name, dtype, shape, data: ctors[dtype]!.from(data) };
};
/** 4-bit tensor from unpacked values. */
const packed4 = (name: string, dtype: "int4" | "uint4", shape: number[], vals: readonly number[]): Named => {
  const d = new Uint8Array(Math.ceil(vals.length / 2));
  vals.forEach((v, i) => {
    d[i >> 1] = d[i >> 1]! | ((v & 15) << ((i & 1) * 4));
  });
  return { name, dtype, shape, data: d };
};

const RANGE: Partial<Record<DType, [number, number]>> = {
  uint8: [0, 255],
  int8: [-128, 127],
  uint16: [0, 65535],
  int16: [-32768, 32767],
  int32: [-2147483648, 2147483647],
  int4: [-8, 7],
  uint4: [0, 15],
};
const ints = (r: () => number, n: number, dtype: DType, lo = RANGE[dtype]![0], hi = RANGE[dtype]![1]): number[] =>
  Array.from({ length: n }, () => lo + Math.floor(r() * (hi - lo + 1)));
const floats = (r: () => number, n: number, amp: number): number[] => Array.from({ length: n }, () => Math.fround((r() * 2 - 1) * amp));

/** Float inputs with exact ties (k + 0.5) * scale and values far out of range mixed in. */
function quantInputs(r: () => number, n: number, scale: number, amp: number): number[] {
  const v = floats(r, n, amp);
  for (let i = 0; i < n; i += 7) v[i] = Math.fround((Math.floor(r() * 40) - 20 + 0.5) * scale);
  for (let i = 3; i < n; i += 31) v[i] = (r() < 0.5 ? -1 : 1) * amp * 50;
  return v;
}

// ---- QuantizeLinear / DequantizeLinear ------------------------------------------------------------------------

type QType = "uint8" | "int8" | "uint16" | "int16" | "int4" | "uint4" | "float8e4m3fn" | "float8e5m2";

/** x -> QuantizeLinear -> DequantizeLinear; the quantized tensor is also an output when onnxruntime can return it. */
function qdqModel(opset: number, x: Named, scale: Named, zp: Named | undefined, qtype: QType, attrs: Record<string, Attr> = {}): ModelSpec {
  const visible = !(qtype === "int4" || qtype === "uint4" || qtype.startsWith("float8"));
  const dqAttrs: Record<string, Attr> = {};
  if (attrs.axis !== undefined) dqAttrs.axis = attrs.axis;
  if (attrs.block_size !== undefined) dqAttrs.block_size = attrs.block_size;
  return {
    opset,
    nodes: [
      { op: "QuantizeLinear", inputs: ["x", "s", zp ? "z" : ""], outputs: ["q"], attrs },
      { op: "DequantizeLinear", inputs: ["q", "s", zp ? "z" : ""], outputs: ["d"], attrs: dqAttrs },
    ],
    inputs: [{ ...x, name: "x" }],
    outputs: [...(visible ? [{ name: "q", dtype: qtype as DType }] : []), { name: "d", dtype: scale.dtype }],
    inits: [{ ...scale, name: "s" }, ...(zp ? [{ ...zp, name: "z" }] : [])],
  };
}

function zeroPoint(r: () => number, dtype: QType, n: number, shape: number[]): Named {
  if (dtype.startsWith("float8")) return { name: "z", dtype: dtype as DType, shape, data: new Uint8Array(n) };
  if (dtype === "int4" || dtype === "uint4") return packed4("z", dtype, shape, ints(r, n, dtype));
  const [lo, hi] = RANGE[dtype]!;
  return typed("z", dtype, shape, ints(r, n, dtype, Math.max(lo, -100), Math.min(hi, 200)));
}

const positive = (r: () => number, n: number, amp: number, min: number): number[] => floats(r, n, amp).map((v) => Math.fround(Math.abs(v) + min));

describe("QuantizeLinear / DequantizeLinear match onnxruntime", () => {
  for (const qt of ["uint8", "int8", "uint16", "int16", "int4", "uint4"] as const) {
    it(`${qt}: per tensor, per axis, blocked (opset 21)`, async () => {
      const r = rng(1);
      const wide = qt.endsWith("16") ? 500 : 1;
      const small = qt.endsWith("4") ? 10 : 1;
      const scale = 0.013 * small * (wide === 1 ? 30 : 1);
      const xa = f32("x", [3, 5, 17], quantInputs(r, 255, 0.3, 40 * wide));
      await expectSameAll([
        qdqModel(21, f32("x", [3, 331], quantInputs(r, 993, scale, 30 * wide)), f32("s", [], [scale]), zeroPoint(r, qt, 1, []), qt),
        qdqModel(21, xa, f32("s", [5], positive(r, 5, 0.5 * small, 0.01)), zeroPoint(r, qt, 5, [5]), qt, { axis: 1 }),
        qdqModel(21, f32("x", [15, 17], xa.data as Float32Array), f32("s", [17], positive(r, 17, small, 0.05)), zeroPoint(r, qt, 17, [17]), qt, { axis: -1 }),
        // blocked on the last axis: x [6, 70], block 32 -> scale [6, 3]
        qdqModel(21, f32("x", [6, 70], quantInputs(r, 420, 0.5, 20 * wide)), f32("s", [6, 3], positive(r, 18, 2, 0.1)), zeroPoint(r, qt, 18, [6, 3]), qt, { axis: 1, block_size: 32 }),
        // blocked on an inner axis: x [40, 3, 2], block 16 -> scale [3, 3, 2] (onnxruntime's kernel for this case
        // overflows int32 when |x / scale| >= 2^31, so values stay moderate)
        qdqModel(21, f32("x", [40, 3, 2], floats(r, 240, 60 * wide)), f32("s", [3, 3, 2], positive(r, 18, 2, 0.1)), zeroPoint(r, qt, 18, [3, 3, 2]), qt, { axis: 0, block_size: 16 }),
      ]);
    });
  }

  for (const qt of ["float8e4m3fn", "float8e5m2"] as const) {
    it(`${qt}: saturating, not saturating, per axis, blocked (opset 19 and 21)`, async () => {
      const r = rng(4);
      const max = qt === "float8e4m3fn" ? 448 : 57344;
      const scale = 0.25;
      // normals, subnormals, ties, overflow and infinities
      const v = floats(r, 600, max * scale * 0.9);
      for (let i = 0; i < 100; i++) v[i] = Math.fround((r() * 2 - 1) * scale * (qt === "float8e4m3fn" ? 2 ** -6 : 2 ** -14) * 4);
      const x = f32("x", [606], [...v, max * scale * 3, -max * scale * 3, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0, -0]);
      const z = zeroPoint(r, qt, 1, []);
      await expectSame(qdqModel(19, x, f32("s", [], [scale]), z, qt));
      // saturate=0: onnxruntime's float8 encoders leave the spec (RNE, overflow to NaN / inf) just above the
      // largest finite value, so only in-range values are compared
      const inRange = v.map((e) => Math.fround(Math.max(-max * scale * 0.99, Math.min(max * scale * 0.99, e))));
      const xb = f32("x", [4, 64], floats(r, 256, 100));
      await expectSameAll([
        qdqModel(21, x, f32("s", [], [scale]), z, qt, { saturate: 1 }),
        qdqModel(21, f32("x", [600], inRange), f32("s", [], [scale]), z, qt, { saturate: 0 }),
        qdqModel(21, xb, f32("s", [4, 2], positive(r, 8, 1, 0.01)), zeroPoint(r, qt, 8, [4, 2]), qt, { axis: 1, block_size: 32 }),
        qdqModel(21, xb, f32("s", [4], [0.1, 0.5, 2, 0.003]), zeroPoint(r, qt, 4, [4]), qt, { axis: 0 }),
      ]);
    });
  }

  it("opset 10 and 13 forms, no zero point (uint8 default), output_dtype", async () => {
    const r = rng(6);
    const x = f32("x", [500], quantInputs(r, 500, 0.1, 20));
    await expectSame(qdqModel(10, x, f32("s", [], [0.1]), typed("z", "uint8", [], [7]), "uint8"));
    await expectSame(qdqModel(13, x, f32("s", [], [0.1]), undefined, "uint8"));
    await expectSameAll([qdqModel(21, x, f32("s", [], [0.01]), undefined, "int16", { output_dtype: 5 }), qdqModel(21, x, f32("s", [], [2]), undefined, "int4", { output_dtype: 22 })]);
  });

  it("float16 inputs and scales", async () => {
    const r = rng(7);
    const x: Named = { name: "x", dtype: "float16", shape: [4, 100], data: Uint16Array.from(quantInputs(r, 400, 0.5, 30), (v) => floatToHalf(v)) };
    const s: Named = { name: "s", dtype: "float16", shape: [4, 4], data: Uint16Array.from(positive(r, 16, 1, 0.1), (v) => floatToHalf(v)) };
    const models: ModelSpec[] = [];
    for (const qt of ["uint8", "int8", "int16", "int4"] as const) {
      models.push(qdqModel(21, x, { ...s, shape: [], data: s.data.slice(0, 1) }, zeroPoint(r, qt, 1, []), qt));
      models.push(qdqModel(21, x, s, zeroPoint(r, qt, 16, [4, 4]), qt, { axis: 1, block_size: 32 }));
    }
    await expectSameAll(models);
  });

  it("DequantizeLinear of int32 and of every 8/16-bit value", async () => {
    const r = rng(8);
    const xi = [...ints(r, 300, "int32"), 2147483647, -2147483648, 16777217, -16777217, 0];
    const dq = (x: Named, s: number, zp?: Named): ModelSpec => ({
      opset: 21,
      nodes: [{ op: "DequantizeLinear", inputs: ["x", "s", zp ? "z" : ""], outputs: ["y"] }],
      inputs: [x],
      outputs: [{ name: "y", dtype: "float32" }],
      inits: [f32("s", [], [s]), ...(zp ? [zp] : [])],
    });
    const models = [dq(typed("x", "int32", [xi.length], xi), 0.0123), dq(typed("x", "int32", [xi.length], xi), 0.0123, typed("z", "int32", [], [12345]))];
    for (const dt of ["uint8", "int8", "uint16", "int16"] as const) {
      const [lo, hi] = RANGE[dt]!;
      const all = Array.from({ length: Math.min(hi - lo + 1, 4096) }, (_, i) => lo + Math.floor((i * (hi - lo)) / 4095));
      models.push(dq(typed("x", dt, [all.length], all), 0.0371, typed("z", dt, [], [Math.floor((lo + hi) / 3)])));
    }
    await expectSameAll(models);
  });
});

describe("DynamicQuantizeLinear matches onnxruntime", () => {
  it("mixed, positive, negative, tiny and zero inputs", async () => {
    const r = rng(9);
    const inputs = [floats(r, 1000, 7.3), positive(r, 333, 3, 0.5), positive(r, 333, 3, 0.5).map((v) => -v), floats(r, 100, 1e-6), new Array<number>(17).fill(0)];
    await expectSameAll(
      inputs.map((x) => ({
        opset: 11,
        nodes: [{ op: "DynamicQuantizeLinear", inputs: ["x"], outputs: ["y", "s", "z"] }],
        inputs: [f32("x", [x.length], x)],
        outputs: [
          { name: "y", dtype: "uint8" },
          { name: "s", dtype: "float32" },
          { name: "z", dtype: "uint8" },
        ],
      })),
    );
  });
});

// ---- integer matmul -------------------------------------------------------------------------------------------

describe("MatMulInteger / QLinearMatMul match onnxruntime", () => {
  const shapes: [number[], number[]][] = [
    [[7, 13], [13, 5]],
    [[1, 600], [600, 3]],
    [[2, 3, 9, 31], [31, 17]],
    [[4, 1, 5, 8], [3, 8, 6]],
    [[1031], [1031, 9]],
    [[6, 11], [11]],
    [[33, 70], [70, 41]],
  ];
  for (const [ta, tb] of [
    ["uint8", "uint8"],
    ["uint8", "int8"],
    ["int8", "int8"],
  ] as const) {
    it(`MatMulInteger ${ta} x ${tb}: constant and input B, per-column B zero points, batches`, async () => {
      const r = rng(10);
      const models: ModelSpec[] = [];
      for (const [sa, sb] of shapes) {
        const N = sb.length === 1 ? 1 : sb[sb.length - 1]!;
        const a = typed("a", ta, sa, ints(r, size(sa), ta));
        const b = typed("b", tb, sb, ints(r, size(sb), tb));
        const zb = sb.length === 2 ? ints(r, N, tb) : ints(r, 1, tb);
        for (const constB of [true, false]) {
          models.push({
            opset: 10,
            nodes: [{ op: "MatMulInteger", inputs: ["a", "b", "za", "zb"], outputs: ["y"] }],
            inputs: constB ? [a] : [a, b],
            outputs: [{ name: "y", dtype: "int32" }],
            inits: [typed("za", ta, [], ints(r, 1, ta)), typed("zb", tb, [zb.length], zb), ...(constB ? [b] : [])],
          });
        }
      }
      await expectSameAll(models);
    });
    it(`QLinearMatMul ${ta} x ${tb}: per-tensor and per-column B, saturating outputs, batches`, async () => {
      const r = rng(11);
      const models: ModelSpec[] = [];
      for (const [sa, sb] of shapes) {
        const N = sb.length === 1 ? 1 : sb[sb.length - 1]!;
        const perCol = sb.length === 2;
        const bs = positive(r, perCol ? N : 1, 0.02, 0.001);
        const zb = tb === "int8" ? new Array<number>(bs.length).fill(0) : ints(r, bs.length, tb);
        // a small y_scale drives many outputs into saturation
        for (const ys of [0.9, 0.05]) {
          models.push({
            opset: 21,
            nodes: [{ op: "QLinearMatMul", inputs: ["a", "as", "za", "b", "bs", "zb", "ys", "zy"], outputs: ["y"] }],
            inputs: [typed("a", ta, sa, ints(r, size(sa), ta))],
            outputs: [{ name: "y", dtype: ta }],
            inits: [
              f32("as", [], [0.013]),
              typed("za", ta, [], ints(r, 1, ta)),
              typed("b", tb, sb, ints(r, size(sb), tb)),
              f32("bs", perCol ? [N] : [], bs),
              typed("zb", tb, perCol ? [N] : [], zb),
              f32("ys", [], [ys]),
              typed("zy", ta, [], ints(r, 1, ta)),
            ],
          });
        }
      }
      await expectSameAll(models);
    });
  }
});

describe("QLinearMatMul with per-batch-matrix B parameters", () => {
  it("b_scale and b_zero_point of shape [batch, 1, N]", async () => {
    const r = rng(26);
    await expectSame({
      opset: 21,
      nodes: [{ op: "QLinearMatMul", inputs: ["a", "as", "za", "b", "bs", "zb", "ys", "zy"], outputs: ["y"] }],
      inputs: [typed("a", "uint8", [3, 5, 8], ints(r, 120, "uint8"))],
      outputs: [{ name: "y", dtype: "uint8" }],
      inits: [
        f32("as", [], [0.02]),
        typed("za", "uint8", [], [128]),
        typed("b", "uint8", [3, 8, 6], ints(r, 144, "uint8")),
        f32("bs", [3, 1, 6], positive(r, 18, 0.02, 0.001)),
        typed("zb", "uint8", [3, 1, 6], ints(r, 18, "uint8")),
        f32("ys", [], [0.4]),
        typed("zy", "uint8", [], [60]),
      ],
    });
  });
});

// ---- integer convolutions -------------------------------------------------------------------------------------

interface ConvCase {
  name: string;
  x: number[];
  w: number[];
  attrs: Record<string, Attr>;
}
const convCases: ConvCase[] = [
  { name: "3x3 pad 1", x: [2, 3, 9, 8], w: [5, 3, 3, 3], attrs: { pads: [1, 1, 1, 1] } },
  { name: "stride 2 dilation 2 asym pads", x: [1, 4, 13, 11], w: [6, 4, 3, 2], attrs: { strides: [2, 2], dilations: [2, 1], pads: [2, 0, 1, 3] } },
  { name: "group 2", x: [1, 6, 7, 7], w: [4, 3, 3, 3], attrs: { group: 2, pads: [1, 1, 1, 1] } },
  { name: "depthwise", x: [1, 8, 10, 10], w: [8, 1, 3, 3], attrs: { group: 8, strides: [2, 2], auto_pad: "SAME_UPPER" } },
  { name: "1x1", x: [2, 16, 5, 6], w: [7, 16, 1, 1], attrs: {} },
  { name: "SAME_LOWER", x: [1, 3, 8, 9], w: [4, 3, 4, 4], attrs: { auto_pad: "SAME_LOWER", strides: [2, 3] } },
  { name: "1-D", x: [2, 5, 30], w: [3, 5, 4], attrs: { strides: [3], pads: [2, 1] } },
  { name: "3-D", x: [1, 2, 5, 6, 4], w: [3, 2, 2, 3, 2], attrs: { pads: [1, 0, 1, 0, 1, 1] } },
  { name: "large K", x: [1, 64, 6, 6], w: [9, 64, 3, 3], attrs: { pads: [1, 1, 1, 1] } },
  { name: "depthwise 1-D dilated", x: [2, 4, 20], w: [4, 1, 3], attrs: { group: 4, dilations: [2], pads: [2, 1] } },
  { name: "depthwise multiplier 2", x: [1, 3, 6, 6], w: [6, 1, 3, 3], attrs: { group: 3, pads: [0, 1, 1, 0] } },
];

describe("ConvInteger / QLinearConv match onnxruntime", () => {
  for (const tw of ["uint8", "int8"] as const) {
    it(`ConvInteger uint8 x ${tw}: pads, strides, dilations, groups, auto_pad, 1-D, large K`, async () => {
      const r = rng(12);
      // (onnxruntime's ConvInteger has no 3-D kernel and only one weight zero point)
      await expectSameAll(
        convCases
          .filter((c) => c.name !== "3-D")
          .map((c) => ({
            opset: 10,
            nodes: [{ op: "ConvInteger", inputs: ["x", "w", "zx", "zw"], outputs: ["y"], attrs: c.attrs }],
            inputs: [typed("x", "uint8", c.x, ints(r, size(c.x), "uint8"))],
            outputs: [{ name: "y", dtype: "int32" as DType }],
            inits: [typed("w", tw, c.w, ints(r, size(c.w), tw)), typed("zx", "uint8", [], ints(r, 1, "uint8")), typed("zw", tw, [], ints(r, 1, tw))],
          })),
      );
    });
  }
  for (const [tx, tw] of [
    ["uint8", "uint8"],
    ["uint8", "int8"],
    ["int8", "int8"],
  ] as const) {
    it(`QLinearConv ${tx} x ${tw}: per-channel scales, bias, every geometry`, async () => {
      const r = rng(13);
      await expectSameAll(
        convCases.map((c) => {
          const M = c.w[0]!;
          // onnxruntime needs one weight zero point for all channels (0 for int8 weights)
          const zw = tw === "int8" ? 0 : ints(r, 1, tw)[0]!;
          return {
            opset: 10,
            nodes: [{ op: "QLinearConv", inputs: ["x", "xs", "zx", "w", "ws", "zw", "ys", "zy", "b"], outputs: ["y"], attrs: c.attrs }],
            inputs: [typed("x", tx, c.x, ints(r, size(c.x), tx))],
            outputs: [{ name: "y", dtype: tx as DType }],
            inits: [
              f32("xs", [], [0.021]),
              typed("zx", tx, [], ints(r, 1, tx)),
              typed("w", tw, c.w, ints(r, size(c.w), tw)),
              f32("ws", [M], positive(r, M, 0.05, 0.002)),
              typed("zw", tw, [M], new Array<number>(M).fill(zw)),
              f32("ys", [], [0.37]),
              typed("zy", tx, [], ints(r, 1, tx)),
              typed("b", "int32", [M], ints(r, M, "int32", -20000, 20000)),
            ],
          };
        }),
      );
    });
  }
  it("QLinearConv with weights as a graph input, per-tensor scale, no bias", async () => {
    const r = rng(14);
    const c = convCases[1]!;
    await expectSame({
      opset: 10,
      nodes: [{ op: "QLinearConv", inputs: ["x", "xs", "zx", "w", "ws", "zw", "ys", "zy"], outputs: ["y"], attrs: c.attrs }],
      inputs: [typed("x", "uint8", c.x, ints(r, size(c.x), "uint8")), typed("w", "uint8", c.w, ints(r, size(c.w), "uint8"))],
      outputs: [{ name: "y", dtype: "uint8" }],
      inits: [f32("xs", [], [0.02]), typed("zx", "uint8", [], [100]), f32("ys", [], [0.05]), typed("zy", "uint8", [], [77]), f32("ws", [], [0.004]), typed("zw", "uint8", [], [131])],
    });
  });
});

describe("com.microsoft versions match onnxruntime", () => {
  it("QLinearConv with channels_last 0 and 1", async () => {
    const r = rng(24);
    const models: ModelSpec[] = [];
    for (const c of [convCases[0]!, convCases[2]!, convCases[3]!, convCases[6]!]) {
      for (const last of [0, 1]) {
        const M = c.w[0]!;
        const xs = last ? [c.x[0]!, ...c.x.slice(2), c.x[1]!] : c.x;
        models.push({
          opset: 13,
          ms: true,
          nodes: [{ op: "QLinearConv", domain: "com.microsoft", inputs: ["x", "xs", "zx", "w", "ws", "zw", "ys", "zy", "b"], outputs: ["y"], attrs: { ...c.attrs, channels_last: last } }],
          inputs: [typed("x", "uint8", xs, ints(r, size(xs), "uint8"))],
          outputs: [{ name: "y", dtype: "uint8" }],
          inits: [
            f32("xs", [], [0.03]),
            typed("zx", "uint8", [], [120]),
            typed("w", "int8", c.w, ints(r, size(c.w), "int8")),
            f32("ws", [M], positive(r, M, 0.05, 0.002)),
            typed("zw", "int8", [M], new Array<number>(M).fill(0)),
            f32("ys", [], [0.3]),
            typed("zy", "uint8", [], [90]),
            typed("b", "int32", [M], ints(r, M, "int32", -3000, 3000)),
          ],
        });
      }
    }
    await expectSameAll(models);
  });

  it("QuantizeLinear / DequantizeLinear (uint8, int8, uint16, int16; per tensor and per axis)", async () => {
    const r = rng(25);
    const models: ModelSpec[] = [];
    for (const qt of ["uint8", "int8", "uint16", "int16"] as const) {
      const scale = qt.endsWith("16") ? 0.001 : 0.1;
      for (const perAxis of [false, true]) {
        const z = perAxis ? zeroPoint(r, qt, 4, [4]) : zeroPoint(r, qt, 1, []);
        models.push({
          opset: 13,
          ms: true,
          nodes: [
            { op: "QuantizeLinear", domain: "com.microsoft", inputs: ["x", "s", "z"], outputs: ["q"], attrs: perAxis ? { axis: 1 } : {} },
            { op: "DequantizeLinear", domain: "com.microsoft", inputs: ["q", "s", "z"], outputs: ["d"], attrs: perAxis ? { axis: 1 } : {} },
          ],
          inputs: [f32("x", [3, 4, 25], quantInputs(r, 300, scale, 20))],
          outputs: [
            { name: "q", dtype: qt },
            { name: "d", dtype: "float32" },
          ],
          inits: [f32("s", perAxis ? [4] : [], perAxis ? positive(r, 4, scale, scale / 10) : [scale]), { ...z, name: "z" }],
        });
      }
    }
    await expectSameAll(models);
  });
});

describe("per-channel and per-row zero points (onnxruntime runs the equivalent split graph)", () => {
  it("ConvInteger with one weight zero point per output channel", async () => {
    const r = rng(15);
    for (const c of [convCases[0]!, convCases[1]!, convCases[6]!]) {
      const M = c.w[0]!;
      const per = size(c.w) / M;
      const x = typed("x", "uint8", c.x, ints(r, size(c.x), "uint8"));
      const w = ints(r, size(c.w), "uint8");
      const zw = ints(r, M, "uint8");
      const zx = typed("zx", "uint8", [], [ints(r, 1, "uint8")[0]!]);
      const ours: ModelSpec = {
        opset: 13,
        nodes: [{ op: "ConvInteger", inputs: ["x", "w", "zx", "zw"], outputs: ["y"], attrs: c.attrs }],
        inputs: [x],
        outputs: [{ name: "y", dtype: "int32" }],
        inits: [typed("w", "uint8", c.w, w), zx, typed("zw", "uint8", [M], zw)],
      };
      const split: ModelSpec = {
        opset: 13,
        nodes: [
          ...Array.from({ length: M }, (_, m) => ({ op: "ConvInteger", inputs: ["x", `w${m}`, "zx", `zw${m}`], outputs: [`y${m}`], attrs: c.attrs })),
          { op: "Concat", inputs: Array.from({ length: M }, (_, m) => `y${m}`), outputs: ["y"], attrs: { axis: 1 } },
        ],
        inputs: [x],
        outputs: [{ name: "y", dtype: "int32" }],
        inits: [
          zx,
          ...Array.from({ length: M }, (_, m) => typed(`w${m}`, "uint8", [1, ...c.w.slice(1)], w.slice(m * per, (m + 1) * per))),
          ...Array.from({ length: M }, (_, m) => typed(`zw${m}`, "uint8", [], [zw[m]!])),
        ],
      };
      await expectSame(ours, split);
    }
  });

  it("QLinearConv with uint8 weights and one zero point per output channel", async () => {
    const r = rng(16);
    const c = convCases[0]!;
    const M = c.w[0]!;
    const per = size(c.w) / M;
    const x = typed("x", "uint8", c.x, ints(r, size(c.x), "uint8"));
    const w = ints(r, size(c.w), "uint8");
    const zw = ints(r, M, "uint8");
    const ws = floats(r, M, 0.01).map((v) => Math.abs(v) + 0.001);
    const b = ints(r, M, "int32", -5000, 5000);
    const common = [f32("xs", [], [0.02]), typed("zx", "uint8", [], [117]), f32("ys", [], [0.2]), typed("zy", "uint8", [], [9])];
    await expectSame(
      {
        opset: 13,
        nodes: [{ op: "QLinearConv", inputs: ["x", "xs", "zx", "w", "ws", "zw", "ys", "zy", "b"], outputs: ["y"], attrs: c.attrs }],
        inputs: [x],
        outputs: [{ name: "y", dtype: "uint8" }],
        inits: [...common, typed("w", "uint8", c.w, w), f32("ws", [M], ws), typed("zw", "uint8", [M], zw), typed("b", "int32", [M], b)],
      },
      {
        opset: 13,
        nodes: [
          ...Array.from({ length: M }, (_, m) => ({ op: "QLinearConv", inputs: ["x", "xs", "zx", `w${m}`, `ws${m}`, `zw${m}`, "ys", "zy", `b${m}`], outputs: [`y${m}`], attrs: c.attrs })),
          { op: "Concat", inputs: Array.from({ length: M }, (_, m) => `y${m}`), outputs: ["y"], attrs: { axis: 1 } },
        ],
        inputs: [x],
        outputs: [{ name: "y", dtype: "uint8" }],
        inits: [
          ...common,
          ...Array.from({ length: M }, (_, m) => typed(`w${m}`, "uint8", [1, ...c.w.slice(1)], w.slice(m * per, (m + 1) * per))),
          ...Array.from({ length: M }, (_, m) => f32(`ws${m}`, [1], [ws[m]!])),
          ...Array.from({ length: M }, (_, m) => typed(`zw${m}`, "uint8", [1], [zw[m]!])),
          ...Array.from({ length: M }, (_, m) => typed(`b${m}`, "int32", [1], [b[m]!])),
        ],
      },
    );
  });

  it("MatMulInteger with one A zero point per row", async () => {
    const r = rng(17);
    const [M, K, N] = [5, 23, 7];
    const a = typed("a", "uint8", [M, K], ints(r, M * K, "uint8"));
    const za = ints(r, M, "uint8");
    const b = typed("b", "int8", [K, N], ints(r, K * N, "int8"));
    const zb = typed("zb", "int8", [N], ints(r, N, "int8"));
    await expectSame(
      {
        opset: 13,
        nodes: [{ op: "MatMulInteger", inputs: ["a", "b", "za", "zb"], outputs: ["y"] }],
        inputs: [a],
        outputs: [{ name: "y", dtype: "int32" }],
        inits: [b, zb, typed("za", "uint8", [M], za)],
      },
      {
        opset: 13,
        nodes: [
          { op: "Split", inputs: ["a", "split"], outputs: Array.from({ length: M }, (_, m) => `a${m}`), attrs: { axis: 0 } },
          ...Array.from({ length: M }, (_, m) => ({ op: "MatMulInteger", inputs: [`a${m}`, "b", `za${m}`, "zb"], outputs: [`y${m}`] })),
          { op: "Concat", inputs: Array.from({ length: M }, (_, m) => `y${m}`), outputs: ["y"], attrs: { axis: 0 } },
        ],
        inputs: [a],
        outputs: [{ name: "y", dtype: "int32" }],
        inits: [b, zb, { name: "split", dtype: "int64", shape: [M], data: new BigInt64Array(M).fill(1n) }, ...za.map((z, m) => typed(`za${m}`, "uint8", [], [z]))],
      },
    );
  });
});

// ---- com.microsoft elementwise and pooling ops ----------------------------------------------------------------

/** A QLinearAdd / QLinearMul model over a and b with random quantization parameters. */
function binaryModel(op: string, dt: DType, a: Named, b: Named, r: () => number, asInputs = true): ModelSpec {
  const [lo, hi] = RANGE[dt]!;
  const z = () => typed("", dt, [], ints(r, 1, dt, Math.max(lo, -120), Math.min(hi, 250)));
  const s = (amp: number) => Math.fround(r() * amp + amp / 50);
  const inits = [
    f32("as", [], [s(0.1)]),
    { ...z(), name: "az" },
    f32("bs", [], [s(0.1)]),
    { ...z(), name: "bz" },
    f32("cs", [], [s(op === "QLinearMul" ? 5 : 0.15)]),
    { ...z(), name: "cz" },
  ];
  return {
    opset: 13,
    ms: true,
    nodes: [{ op, domain: "com.microsoft", inputs: ["a", "as", "az", "b", "bs", "bz", "cs", "cz"], outputs: ["c"] }],
    inputs: asInputs ? [a, b] : [a],
    outputs: [{ name: "c", dtype: dt }],
    inits: asInputs ? inits : [...inits, b],
  };
}

describe("QLinearAdd / QLinearMul match onnxruntime", () => {
  // onnxruntime's span kernels round differently for a repeated operand, so every broadcast pattern counts
  const shapes: [number[], number[]][] = [
    [[2, 3, 40], [2, 3, 40]],
    [[2, 3, 40], [1]],
    [[1], [2, 3, 40]],
    [[2, 3, 4, 5], [3, 1, 1]],
    [[3, 1, 1], [2, 3, 4, 5]],
    [[7, 3], [3]],
    [[3, 1], [1]],
    [[4, 1, 5], [4, 3, 1]],
    [[], [6]],
    [[2, 1], [1, 1]],
    [[5, 1, 1], [1]],
  ];
  for (const op of ["QLinearAdd", "QLinearMul"]) {
    for (const dt of ["uint8", "int8"] as const) {
      it(`${op} ${dt}: broadcast patterns`, async () => {
        const r = rng(18);
        const models: ModelSpec[] = [];
        for (const [sa, sb] of shapes) {
          for (let t = 0; t < 4; t++) models.push(binaryModel(op, dt, typed("a", dt, sa, ints(r, size(sa), dt)), typed("b", dt, sb, ints(r, size(sb), dt)), r, t % 2 === 0));
        }
        await expectSameAll(models);
      });
      it(`${op} ${dt}: every pair of values, element-wise and broadcast both ways`, async () => {
        const r = rng(19);
        const [lo] = RANGE[dt]!;
        const all = Array.from({ length: 65536 }, (_, i) => lo + (i & 255));
        const rows = Array.from({ length: 256 }, (_, i) => lo + i);
        const cols = Array.from({ length: 65536 }, (_, i) => lo + (i >> 8));
        const models: ModelSpec[] = [];
        for (let t = 0; t < 4; t++) {
          models.push(binaryModel(op, dt, typed("a", dt, [256, 256], all), typed("b", dt, [256, 256], cols), r));
          models.push(binaryModel(op, dt, typed("a", dt, [256, 256], all), typed("b", dt, [256, 1], rows), r));
          models.push(binaryModel(op, dt, typed("a", dt, [256, 1], rows), typed("b", dt, [256, 256], all), r));
        }
        await expectSameAll(models);
      });
    }
  }
});

describe("QLinearGlobalAveragePool / QLinearLeakyRelu / QLinearSigmoid match onnxruntime", () => {
  for (const dt of ["uint8", "int8"] as const) {
    it(`QLinearGlobalAveragePool ${dt}, channels_last 0 and 1`, async () => {
      const r = rng(21);
      const models: ModelSpec[] = [];
      for (const channelsLast of [0, 1]) {
        for (const shape of [
          [2, 5, 7, 9],
          [1, 3, 11],
          [3, 16, 4, 4],
          [1, 1, 5, 5],
        ]) {
          const x = typed("x", dt, channelsLast ? [shape[0]!, ...shape.slice(2), shape[1]!] : shape, ints(r, size(shape), dt));
          for (const ys of [0.02, 0.004]) {
            models.push({
              opset: 13,
              ms: true,
              nodes: [{ op: "QLinearGlobalAveragePool", domain: "com.microsoft", inputs: ["x", "xs", "xz", "ys", "yz"], outputs: ["y"], attrs: { channels_last: channelsLast } }],
              inputs: [x],
              outputs: [{ name: "y", dtype: dt }],
              inits: [f32("xs", [], [0.0137]), typed("xz", dt, [], ints(r, 1, dt)), f32("ys", [], [ys]), typed("yz", dt, [], ints(r, 1, dt))],
            });
          }
        }
      }
      await expectSameAll(models);
    });
    for (const op of ["QLinearLeakyRelu", "QLinearSigmoid"]) {
      it(`${op} ${dt}, every input value`, async () => {
        const r = rng(22);
        const [lo] = RANGE[dt]!;
        const x = typed("x", dt, [4, 64], Array.from({ length: 256 }, (_, i) => lo + i));
        const models: ModelSpec[] = [];
        for (let t = 0; t < 16; t++) {
          models.push({
            opset: 13,
            ms: true,
            nodes: [{ op, domain: "com.microsoft", inputs: ["x", "xs", "xz", "ys", "yz"], outputs: ["y"], attrs: op === "QLinearLeakyRelu" ? { alpha: { f: 0.01 + r() * 0.3 } } : {} }],
            inputs: [x],
            outputs: [{ name: "y", dtype: dt }],
            inits: [f32("xs", [], [0.005 + r() * 0.1]), typed("xz", dt, [], ints(r, 1, dt)), f32("ys", [], [op === "QLinearSigmoid" ? 0.001 + r() * 0.005 : 0.005 + r() * 0.1]), typed("yz", dt, [], ints(r, 1, dt))],
          });
        }
        await expectSameAll(models);
      });
    }
  }
});

// ---- MatMulNBits ----------------------------------------------------------------------------------------------

describe("MatMulNBits matches onnxruntime to rounding", () => {
  interface NBitsCase {
    bits: number;
    bs: number;
    K: number;
    N: number;
    a: number[];
    zp: "none" | "packed" | "float";
    bias: boolean;
    level: number;
    gidx?: boolean;
  }
  const cases: NBitsCase[] = [
    { bits: 4, bs: 32, K: 64, N: 8, a: [1, 64], zp: "none", bias: false, level: 0 },
    { bits: 4, bs: 16, K: 200, N: 37, a: [2, 3, 200], zp: "packed", bias: true, level: 0 },
    { bits: 4, bs: 64, K: 256, N: 33, a: [5, 256], zp: "packed", bias: false, level: 1 },
    { bits: 4, bs: 128, K: 300, N: 16, a: [4, 300], zp: "float", bias: false, level: 0 },
    { bits: 4, bs: 32, K: 128, N: 24, a: [3, 128], zp: "packed", bias: true, level: 4 },
    { bits: 8, bs: 32, K: 96, N: 20, a: [2, 96], zp: "packed", bias: false, level: 0 },
    { bits: 8, bs: 16, K: 50, N: 9, a: [3, 50], zp: "none", bias: true, level: 0 },
    { bits: 2, bs: 32, K: 64, N: 12, a: [2, 64], zp: "packed", bias: false, level: 0 },
    // (with g_idx onnxruntime drops packed uint8 zero points and uses 8: only float or no zero points are compared)
    { bits: 4, bs: 16, K: 64, N: 10, a: [3, 64], zp: "float", bias: true, level: 0, gidx: true },
    { bits: 4, bs: 32, K: 96, N: 7, a: [2, 96], zp: "none", bias: false, level: 0, gidx: true },
  ];
  for (const c of cases) {
    it(`bits=${c.bits} block=${c.bs} K=${c.K} N=${c.N} zp=${c.zp} bias=${c.bias} accuracy_level=${c.level}${c.gidx ? " g_idx" : ""}`, async () => {
      const r = rng(23);
      const kb = Math.ceil(c.K / c.bs);
      const blob = (c.bs * c.bits) / 8;
      const B = typed("B", "uint8", [c.N, kb, blob], ints(r, c.N * kb * blob, "uint8"));
      const scales = f32("scales", [c.N * kb], floats(r, c.N * kb, 0.05).map((v) => Math.abs(v) + 0.001));
      const inits: Named[] = [B, scales];
      const inputs = ["A", "B", "scales"];
      if (c.zp === "packed") {
        const per = Math.ceil((kb * c.bits) / 8);
        inits.push(typed("zp", "uint8", [c.N * per], ints(r, c.N * per, "uint8")));
        inputs.push("zp");
      } else if (c.zp === "float") {
        inits.push(f32("zp", [c.N * kb], floats(r, c.N * kb, 8).map((v) => v + 8)));
        inputs.push("zp");
      }
      if (c.gidx) {
        while (inputs.length < 4) inputs.push("");
        // act-order: weight k belongs to block (k * 7) mod kb
        inits.push(typed("g_idx", "int32", [c.K], Array.from({ length: c.K }, (_, k) => (k * 7) % kb)));
        inputs.push("g_idx");
      }
      if (c.bias) {
        while (inputs.length < 5) inputs.push("");
        inits.push(f32("bias", [c.N], floats(r, c.N, 1)));
        inputs.push("bias");
      }
      const m: ModelSpec = {
        opset: 21,
        ms: true,
        nodes: [{ op: "MatMulNBits", domain: "com.microsoft", inputs, outputs: ["Y"], attrs: { K: c.K, N: c.N, bits: c.bits, block_size: c.bs, accuracy_level: c.level } }],
        inputs: [f32("A", c.a, floats(r, size(c.a), 2))],
        outputs: [{ name: "Y", dtype: "float32" }],
        inits,
      };
      const ref = (await runOrt(m)).Y!;
      const got = runQuanta(m).Y!;
      expect(got.shape).toEqual([...c.a.slice(0, -1), c.N]);
      let maxRef = 0;
      let maxDiff = 0;
      for (let i = 0; i < ref.length; i++) {
        maxRef = Math.max(maxRef, Math.abs(ref[i]!));
        maxDiff = Math.max(maxDiff, Math.abs(ref[i]! - (got.data as Float32Array)[i]!));
      }
      // accuracy_level 4: onnxruntime quantizes A to int8 per block (error ~ 1/254 of each block's range)
      const tol = c.level === 4 ? 2e-2 : 2e-6;
      expect(maxDiff, `max |diff| ${maxDiff} vs max |ref| ${maxRef}`).toBeLessThanOrEqual(tol * maxRef);
    });
  }
});
