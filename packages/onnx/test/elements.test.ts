/**
 * Every element type, stored in raw_data and in the typed fields: decoded values, byte-identical
 * writing, encoding from scratch, and onnxruntime-node accepting what the writer produces.
 */
import { attr, constantOf, type Constant, Model } from "@quanta/ir";
import { type DType, type Storage, tensor } from "@quanta/tensor";
import type { TensorProto } from "onnx-buf";
import { describe, expect, it } from "vitest";
import { ONNX_DATA_TYPE, OnnxConstant, isOnnxTensorOrigin, readOnnx, writeOnnx } from "../src/index.js";
import { DT, type TensorInit, expectTyped, modelWith, runOrt, tensorProto } from "./helpers.js";

const bytesOf = (a: { buffer: ArrayBufferLike; byteOffset: number; byteLength: number }) => new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength) as ArrayBuffer);

interface Case {
  dtype: DType;
  shape: number[];
  /** What load() must return. */
  data: Storage;
  /** The same values in the type's typed field. */
  typed: TensorInit;
  /** The values as numbers, as onnxruntime's Cast to float gives them. */
  asFloat: number[];
}

const CASES: Case[] = [
  { dtype: "float32", shape: [3], data: Float32Array.of(1.5, -2, 3.25), typed: { floatData: [1.5, -2, 3.25] }, asFloat: [1.5, -2, 3.25] },
  { dtype: "float64", shape: [3], data: Float64Array.of(0.1, -1e300, 2 ** -40), typed: { doubleData: [0.1, -1e300, 2 ** -40] }, asFloat: [Math.fround(0.1), Number.NEGATIVE_INFINITY, 2 ** -40] },
  { dtype: "float16", shape: [3], data: Uint16Array.of(0x3c00, 0xc000, 0x7bff), typed: { int32Data: [0x3c00, 0xc000, 0x7bff] }, asFloat: [1, -2, 65504] },
  { dtype: "bfloat16", shape: [3], data: Uint16Array.of(0x3f80, 0xc040, 0x4120), typed: { int32Data: [0x3f80, 0xc040, 0x4120] }, asFloat: [1, -3, 10] },
  { dtype: "int8", shape: [3], data: Int8Array.of(-128, 0, 127), typed: { int32Data: [-128, 0, 127] }, asFloat: [-128, 0, 127] },
  { dtype: "uint8", shape: [3], data: Uint8Array.of(0, 255, 7), typed: { int32Data: [0, 255, 7] }, asFloat: [0, 255, 7] },
  { dtype: "int16", shape: [3], data: Int16Array.of(-32768, 1, 32767), typed: { int32Data: [-32768, 1, 32767] }, asFloat: [-32768, 1, 32767] },
  { dtype: "uint16", shape: [3], data: Uint16Array.of(0, 65535, 3), typed: { int32Data: [0, 65535, 3] }, asFloat: [0, 65535, 3] },
  { dtype: "int32", shape: [3], data: Int32Array.of(-(2 ** 31), 0, 2 ** 31 - 1), typed: { int32Data: [-(2 ** 31), 0, 2 ** 31 - 1] }, asFloat: [-(2 ** 31), 0, 2 ** 31] },
  { dtype: "uint32", shape: [3], data: Uint32Array.of(0, 2 ** 32 - 1, 5), typed: { uint64Data: [0n, 2n ** 32n - 1n, 5n] }, asFloat: [0, 2 ** 32, 5] },
  { dtype: "int64", shape: [3], data: BigInt64Array.of(-(2n ** 63n), 0n, 2n ** 63n - 1n), typed: { int64Data: [-(2n ** 63n), 0n, 2n ** 63n - 1n] }, asFloat: [-(2 ** 63), 0, 2 ** 63] },
  { dtype: "uint64", shape: [3], data: BigUint64Array.of(0n, 2n ** 64n - 1n, 5n), typed: { uint64Data: [0n, 2n ** 64n - 1n, 5n] }, asFloat: [0, 2 ** 64, 5] },
  { dtype: "bool", shape: [3], data: Uint8Array.of(1, 0, 1), typed: { int32Data: [1, 0, 1] }, asFloat: [1, 0, 1] },
  // Five 4-bit values (an odd count): packed low nibble first, the last high nibble unused.
  { dtype: "int4", shape: [5], data: Uint8Array.of(0x78, 0x0f, 0x03), typed: { int32Data: [0x78, 0x0f, 0x03] }, asFloat: [-8, 7, -1, 0, 3] },
  { dtype: "uint4", shape: [5], data: Uint8Array.of(0xf0, 0x19, 0x06), typed: { int32Data: [0xf0, 0x19, 0x06] }, asFloat: [0, 15, 9, 1, 6] },
  { dtype: "float8e4m3fn", shape: [3], data: Uint8Array.of(0x38, 0xb8, 0x7e), typed: { int32Data: [0x38, 0xb8, 0x7e] }, asFloat: [1, -1, 448] },
  { dtype: "float8e5m2", shape: [3], data: Uint8Array.of(0x3c, 0xc0, 0x7b), typed: { int32Data: [0x3c, 0xc0, 0x7b] }, asFloat: [1, -2, 57344] },
];

/** Element types that are carried through but not decoded. */
const OPAQUE: { name: string; proto: TensorProto; elem: string }[] = [
  { name: "string_typed", elem: "string", proto: tensorProto("string_typed", DT.STRING, [3], { stringData: ["a", "héllo", ""].map((s) => new TextEncoder().encode(s)) }) },
  { name: "complex64_raw", elem: "complex64", proto: tensorProto("complex64_raw", DT.COMPLEX64, [2], { rawData: bytesOf(Float32Array.of(1, 2, 3, 4)) }) },
  { name: "complex64_typed", elem: "complex64", proto: tensorProto("complex64_typed", DT.COMPLEX64, [2], { floatData: [1, 2, 3, 4] }) },
  { name: "float8e4m3fnuz_raw", elem: "float8e4m3fnuz", proto: tensorProto("float8e4m3fnuz_raw", 18, [2], { rawData: Uint8Array.of(0x40, 0x80) }) },
  { name: "float4e2m1_typed", elem: "float4e2m1", proto: tensorProto("float4e2m1_typed", 23, [3], { int32Data: [0x21, 0x07] }) },
  { name: "int2_raw", elem: "int2", proto: tensorProto("int2_raw", 26, [5], { rawData: Uint8Array.of(0b11100100, 0b01) }) },
  { name: "uint2_typed", elem: "uint2", proto: tensorProto("uint2_typed", 25, [6], { int32Data: [0xff, 0x0a] }) },
];

function allTypesModel(): Uint8Array {
  const inits: TensorProto[] = [];
  for (const c of CASES) {
    const code = ONNX_DATA_TYPE[c.dtype];
    inits.push(tensorProto(`${c.dtype}_raw`, code, c.shape, { rawData: bytesOf(c.data) }));
    inits.push(tensorProto(`${c.dtype}_typed`, code, c.shape, c.typed));
  }
  // Empty tensors and scalars.
  inits.push(tensorProto("empty_raw", DT.FLOAT, [0, 4], {}));
  inits.push(tensorProto("scalar_typed", DT.INT64, [], { int64Data: [42n] }));
  for (const o of OPAQUE) inits.push(o.proto);
  return modelWith(inits);
}

const asArray = (s: Storage): unknown[] => Array.from(s as ArrayLike<unknown>);

describe("every element type", () => {
  const bytes = allTypesModel();
  const model = readOnnx(bytes);
  const byName = new Map(model.graph.initializers.map((v) => [v.name, v.constant!]));

  for (const c of CASES) {
    for (const where of ["raw", "typed"] as const) {
      it(`${c.dtype} in ${where === "raw" ? "raw_data" : Object.keys(c.typed)[0]} loads the exact values`, () => {
        const k = byName.get(`${c.dtype}_${where}`)!;
        expect(k).toBeInstanceOf(OnnxConstant);
        expect(k.elem).toBe(c.dtype);
        expect(k.shape).toEqual(c.shape);
        expect(k.byteLength).toBe(c.data.byteLength);
        const t = k.load();
        expect(t.dtype).toBe(c.dtype);
        expect(t.shape).toEqual(c.shape);
        expect(t.data.constructor).toBe(c.data.constructor);
        expect(t.data.byteLength).toBe(c.data.byteLength);
        expect(asArray(t.data)).toEqual(asArray(c.data));
      });
    }
  }

  it("empty tensors and scalars", () => {
    const e = byName.get("empty_raw")!.load();
    expect(e.shape).toEqual([0, 4]);
    expect(e.data.length).toBe(0);
    const s = byName.get("scalar_typed")!.load();
    expect(s.shape).toEqual([]);
    expect([...(s.data as BigInt64Array)]).toEqual([42n]);
  });

  it("types without a tensor dtype are kept and say why they cannot load", () => {
    for (const o of OPAQUE) {
      const k = byName.get(o.name)!;
      expect(k.elem).toBe(o.elem);
      expectTyped(() => k.load(), "ConstantUnavailable", new RegExp(`'${o.name}'.*element type ${o.elem} cannot be decoded`));
      expect(isOnnxTensorOrigin(k.origin) && k.origin.proto.dataType).toBe(o.proto.dataType);
    }
    expect(byName.get("int2_raw")!.byteLength).toBe(2);
    expect(byName.get("float4e2m1_typed")!.byteLength).toBe(2);
    const strings = byName.get("string_typed")!.origin as { proto: TensorProto };
    expect(strings.proto.stringData.map((b) => new TextDecoder().decode(b))).toEqual(["a", "héllo", ""]);
  });

  it("writes back byte for byte", () => {
    const out = writeOnnx(model);
    expect(Buffer.compare(Buffer.from(out), Buffer.from(bytes))).toBe(0);
  });

  it("re-encodes every dtype from the IR (raw_data) with the same values", () => {
    const m = readOnnx(bytes);
    for (const v of m.graph.initializers) {
      const k = v.constant!;
      if (k.elem === "string" || !CASES.some((c) => c.dtype === k.elem)) continue;
      v.constant = constantOf(k.load());
    }
    const out = writeOnnx(m);
    expect(Buffer.compare(Buffer.from(out), Buffer.from(bytes))).not.toBe(0); // typed fields became raw data
    const back = readOnnx(out);
    for (const v of back.graph.initializers) {
      const orig = byName.get(v.name)!;
      if (!CASES.some((c) => c.dtype === orig.elem)) {
        // Opaque types are copied as they were.
        expect(isOnnxTensorOrigin(v.constant!.origin) && v.constant!.origin.proto.dataType).toBe(isOnnxTensorOrigin(orig.origin) && orig.origin.proto.dataType);
        continue;
      }
      const p = (v.constant!.origin as { proto: TensorProto }).proto;
      expect(p.rawData.byteLength, v.name).toBe(orig.byteLength);
      expect(p.dataType).toBe(ONNX_DATA_TYPE[orig.elem]);
      expect(asArray(v.constant!.load().data)).toEqual(asArray(orig.load().data));
    }
    // And that encoding is stable.
    expect(Buffer.compare(Buffer.from(writeOnnx(back)), Buffer.from(out))).toBe(0);
  });
});

describe("a model built from the IR runs in onnxruntime-node", () => {
  /** x + c, plus int4 and float8 constants dequantized inside the graph, plus every dtype cast to float. */
  function build(): Model {
    const m = new Model("onnx", "from_scratch");
    m.opsets = [{ domain: "", version: 21 }];
    m.producerName = "quanta-tests";
    const g = m.graph;
    const x = g.addInput("x", { elem: "float32", shape: [2, 3] });
    const c = g.addConstant("c", constantOf(tensor("float32", [2, 3], Float32Array.of(1, 2, 3, 4, 5, 6))));
    const sum = g.addNode({ op: "Add", name: "add", inputs: [x, c], outputs: ["sum"] }).outputs[0]!;
    // int4 weights [1..6] (packed low nibble first) dequantized with scale 0.5 and zero point 1.
    const q = g.addConstant("q_int4", constantOf(tensor("int4", [2, 3], Uint8Array.of(0x21, 0x43, 0x65))));
    const scale = g.addConstant("q_scale", constantOf(tensor("float32", [], Float32Array.of(0.5))));
    const zp = g.addConstant("q_zero", constantOf(tensor("int4", [], Uint8Array.of(0x01))));
    const dq = g.addNode({ op: "DequantizeLinear", name: "dq_int4", inputs: [q, scale, zp], outputs: ["dq"] }).outputs[0]!;
    const y = g.addNode({ op: "Add", name: "add_dq", inputs: [sum, dq], outputs: ["y"] }).outputs[0]!;
    y.type = { elem: "float32", shape: [2, 3] };
    g.addOutput(y);
    // float8e4m3fn [1, 2, 3, 4, -1, 0] dequantized with scale 2.
    const f8 = g.addConstant("w_f8", constantOf(tensor("float8e4m3fn", [2, 3], Uint8Array.of(0x38, 0x40, 0x44, 0x48, 0xb8, 0x00))));
    const s8 = g.addConstant("w_f8_scale", constantOf(tensor("float32", [], Float32Array.of(2))));
    const dq8 = g.addNode({ op: "DequantizeLinear", name: "dq_f8", inputs: [f8, s8], outputs: ["dq8"] }).outputs[0]!;
    dq8.type = { elem: "float32", shape: [2, 3] };
    g.addOutput(dq8);
    for (const k of CASES) {
      if (k.dtype === "int4" || k.dtype === "uint4") continue; // checked through DequantizeLinear above
      const v = g.addConstant(`k_${k.dtype}`, constantOf(tensor(k.dtype, k.shape, k.data)));
      const out = g.addNode({ op: "Cast", inputs: [v], outputs: [`cast_${k.dtype}`], attributes: { to: attr.int(1) } }).outputs[0]!;
      out.type = { elem: "float32", shape: k.shape };
      g.addOutput(out);
    }
    const u4 = g.addConstant("k_uint4", constantOf(tensor("uint4", [5], CASES.find((k) => k.dtype === "uint4")!.data as Uint8Array)));
    const one = g.addConstant("one", constantOf(tensor("float32", [], Float32Array.of(1))));
    const du4 = g.addNode({ op: "DequantizeLinear", inputs: [u4, one], outputs: ["cast_uint4"] }).outputs[0]!;
    du4.type = { elem: "float32", shape: [5] };
    g.addOutput(du4);
    const i4 = g.addConstant("k_int4", constantOf(tensor("int4", [5], CASES.find((k) => k.dtype === "int4")!.data as Uint8Array)));
    const di4 = g.addNode({ op: "DequantizeLinear", inputs: [i4, one], outputs: ["cast_int4"] }).outputs[0]!;
    di4.type = { elem: "float32", shape: [5] };
    g.addOutput(di4);
    return m;
  }

  it("writes a model that reads back with the same structure", () => {
    const m = build();
    const bytes = writeOnnx(m);
    const back = readOnnx(bytes);
    // A model built in code has IR version 0; the writer records the one its opset needs.
    expect(back.irVersion).toBe(10n);
    expect(back.opsets).toEqual([{ domain: "", version: 21 }]);
    expect(back.graph.name).toBe("from_scratch");
    expect(back.graph.nodes.map((n) => n.op)).toEqual(m.graph.nodes.map((n) => n.op));
    expect(back.graph.initializers.map((v) => [v.name, v.constant!.elem, v.constant!.shape])).toEqual(m.graph.initializers.map((v) => [v.name, v.constant!.elem, v.constant!.shape]));
    expect(back.graph.outputs.map((v) => [v.name, v.type])).toEqual(m.graph.outputs.map((v) => [v.name, v.type]));
    expect(back.graph.inputs[0]!.type).toEqual({ elem: "float32", shape: [2, 3] });
    expect(Buffer.compare(Buffer.from(writeOnnx(back)), Buffer.from(bytes))).toBe(0);
  });

  it("gives the expected outputs, int4 and float8 constants included", async () => {
    const bytes = writeOnnx(build());
    const out = await runOrt(bytes, { x: { data: Float32Array.of(10, 20, 30, 40, 50, 60), shape: [2, 3] } });
    // y = x + c + (q - 1) * 0.5
    expect([...(out.y as Float32Array)]).toEqual([11, 22.5, 34, 45.5, 57, 68.5]);
    expect([...(out.dq8 as Float32Array)]).toEqual([2, 4, 6, 8, -2, 0]);
    for (const k of CASES) {
      expect([...(out[`cast_${k.dtype}`] as Float32Array)], k.dtype).toEqual(k.asFloat.map(Math.fround));
    }
  });

  it("refuses constants the writer cannot encode", () => {
    const m = build();
    const bad: Constant = { elem: "complex64", shape: [1], byteLength: 8, load: () => tensor("float32", [2]) };
    m.graph.addConstant("bad", bad);
    expectTyped(() => writeOnnx(m), "OnnxWriteError", /constant 'bad' of element type complex64 has no ONNX origin/);
    const m2 = build();
    const short: Constant = { elem: "float32", shape: [4], byteLength: 16, load: () => tensor("float32", [2]) };
    m2.graph.addConstant("short", short);
    expectTyped(() => writeOnnx(m2), "OnnxWriteError", /constant 'short' holds 8 bytes of data, but declares 16/);
  });
});
