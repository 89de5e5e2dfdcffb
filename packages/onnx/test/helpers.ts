/** Shared helpers for building ONNX models with onnx-buf, checking typed errors and running onnxruntime-node. */
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import {
  type AttributeProto,
  AttributeProtoSchema,
  AttributeProto_AttributeType as AT,
  type GraphProto,
  GraphProtoSchema,
  type ModelProto,
  ModelProtoSchema,
  type NodeProto,
  NodeProtoSchema,
  OperatorSetIdProtoSchema,
  type StringStringEntryProto,
  StringStringEntryProtoSchema,
  type TensorProto,
  TensorProtoSchema,
  TensorProto_DataLocation,
  TensorShapeProtoSchema,
  TensorShapeProto_DimensionSchema,
  TypeProtoSchema,
  TypeProto_TensorSchema,
  type ValueInfoProto,
  ValueInfoProtoSchema,
} from "onnx-buf";
import * as ort from "onnxruntime-node";
import { expect } from "vitest";

export { AT };

/** ONNX data type numbers used by the tests. */
export const DT = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  COMPLEX64: 14,
  BFLOAT16: 16,
  FLOAT8E4M3FN: 17,
  FLOAT8E5M2: 19,
  UINT4: 21,
  INT4: 22,
} as const;

/** Data fields of a TensorProto. */
export interface TensorInit {
  rawData?: Uint8Array<ArrayBuffer>;
  floatData?: number[];
  int32Data?: number[];
  int64Data?: bigint[];
  uint64Data?: bigint[];
  doubleData?: number[];
  stringData?: Uint8Array<ArrayBuffer>[];
  dataLocation?: TensorProto_DataLocation;
  externalData?: StringStringEntryProto[];
}

/** A TensorProto; `dims` may be numbers or bigints. */
export function tensorProto(name: string, dataType: number, dims: readonly (number | bigint)[], init: TensorInit = {}): TensorProto {
  return create(TensorProtoSchema, { ...init, name, dataType, dims: dims.map((d) => BigInt(d)) });
}

/** A float32 TensorProto with raw data. */
export function floatTensor(name: string, dims: readonly number[], values: readonly number[]): TensorProto {
  return tensorProto(name, DT.FLOAT, dims, { rawData: new Uint8Array(Float32Array.from(values).buffer) });
}

/** A tensor whose data lives in an external file. */
export function externalTensor(name: string, dataType: number, dims: readonly number[], ext: { location: string; offset?: number; length?: number }): TensorProto {
  const entries = [create(StringStringEntryProtoSchema, { key: "location", value: ext.location })];
  if (ext.offset !== undefined) entries.push(create(StringStringEntryProtoSchema, { key: "offset", value: String(ext.offset) }));
  if (ext.length !== undefined) entries.push(create(StringStringEntryProtoSchema, { key: "length", value: String(ext.length) }));
  return tensorProto(name, dataType, dims, { dataLocation: TensorProto_DataLocation.EXTERNAL, externalData: entries });
}

/** A tensor ValueInfoProto (`shape` undefined: unknown rank; string dims are symbolic). */
export function valueInfo(name: string, elemType: number = DT.FLOAT, shape?: readonly (number | string)[]): ValueInfoProto {
  const tensor = create(TypeProto_TensorSchema, { elemType });
  if (shape) {
    tensor.shape = create(TensorShapeProtoSchema, {
      dim: shape.map((d) =>
        create(TensorShapeProto_DimensionSchema, { value: typeof d === "number" ? { case: "dimValue", value: BigInt(d) } : { case: "dimParam", value: d } }),
      ),
    });
  }
  return create(ValueInfoProtoSchema, { name, type: create(TypeProtoSchema, { value: { case: "tensorType", value: tensor } }) });
}

export function node(op: string, inputs: readonly string[], outputs: readonly string[], opts: { name?: string; attributes?: AttributeProto[]; domain?: string } = {}): NodeProto {
  return create(NodeProtoSchema, {
    opType: op,
    input: [...inputs],
    output: [...outputs],
    name: opts.name ?? "",
    attribute: opts.attributes ?? [],
    domain: opts.domain ?? "",
  });
}

export const attrGraph = (name: string, g: GraphProto): AttributeProto => create(AttributeProtoSchema, { name, type: AT.GRAPH, g });
export const attrInt = (name: string, i: number): AttributeProto => create(AttributeProtoSchema, { name, type: AT.INT, i: BigInt(i) });
export const attrFloat = (name: string, f: number): AttributeProto => create(AttributeProtoSchema, { name, type: AT.FLOAT, f });
export const attrTensor = (name: string, t: TensorProto): AttributeProto => create(AttributeProtoSchema, { name, type: AT.TENSOR, t });

export function graph(parts: { name?: string; nodes?: NodeProto[]; inputs?: ValueInfoProto[]; outputs?: ValueInfoProto[]; initializers?: TensorProto[]; valueInfo?: ValueInfoProto[] }): GraphProto {
  return create(GraphProtoSchema, {
    name: parts.name ?? "g",
    node: parts.nodes ?? [],
    input: parts.inputs ?? [],
    output: parts.outputs ?? [],
    initializer: parts.initializers ?? [],
    valueInfo: parts.valueInfo ?? [],
  });
}

export function model(g: GraphProto, opts: { opset?: number; ir?: number } = {}): ModelProto {
  return create(ModelProtoSchema, {
    irVersion: BigInt(opts.ir ?? 10),
    producerName: "quanta-tests",
    opsetImport: [create(OperatorSetIdProtoSchema, { domain: "", version: BigInt(opts.opset ?? 21) })],
    graph: g,
  });
}

export const encode = (m: ModelProto): Uint8Array => toBinary(ModelProtoSchema, m);

/** Bytes of a model holding `initializers` (and one Identity node so the graph is not empty). */
export function modelWith(initializers: TensorProto[], opts: { opset?: number; ir?: number } = {}): Uint8Array {
  const first = initializers[0]?.name ?? "x";
  return encode(
    model(
      graph({
        nodes: [node("Identity", [first], ["y"])],
        initializers,
        inputs: initializers.length === 0 ? [valueInfo("x")] : [],
        outputs: [valueInfo("y")],
      }),
      opts,
    ),
  );
}

/** The error `f` throws (fails the test when it returns). */
export function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error("expected an error, but none was thrown");
}

/** Asserts that `f` throws a tagged error with `tag` whose message matches `pattern`. Returns the error. */
export function expectTyped(f: () => unknown, tag: "OnnxParseError" | "OnnxInvalidModel" | "ExternalDataError" | "OnnxWriteError" | "ConstantUnavailable", pattern?: RegExp): Error {
  const e = thrown(f);
  expect(e, String(e)).toBeInstanceOf(Error);
  expect((e as { _tag?: string })._tag, String(e)).toBe(tag);
  if (pattern) expect((e as Error).message).toMatch(pattern);
  return e as Error;
}

/** Errors the reader may throw on bad input. */
export const READ_TAGS = new Set(["OnnxParseError", "OnnxInvalidModel", "ExternalDataError"]);

/** A fresh temporary folder in os.tmpdir(); `cleanup` removes it. */
export function tempDir(prefix = "quanta-onnx-"): { dir: string; cleanup: () => void; files: () => string[] } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }), files: () => readdirSync(dir).sort() };
}

/** A small deterministic PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Uniform float32 values in [lo, hi). */
export function randomFloats(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * r();
  return out;
}

/** Runs a model (bytes or a path) in onnxruntime-node on float32 inputs and returns every output's data. */
export async function runOrt(modelSource: Uint8Array | string, feeds: Record<string, { data: Float32Array | BigInt64Array; shape: readonly number[] }>): Promise<Record<string, ort.Tensor["data"]>> {
  const session = typeof modelSource === "string" ? await ort.InferenceSession.create(modelSource) : await ort.InferenceSession.create(modelSource);
  try {
    const inputs: Record<string, ort.Tensor> = {};
    for (const [name, f] of Object.entries(feeds)) {
      inputs[name] = f.data instanceof Float32Array ? new ort.Tensor("float32", f.data, [...f.shape]) : new ort.Tensor("int64", f.data, [...f.shape]);
    }
    const out = await session.run(inputs);
    const result: Record<string, ort.Tensor["data"]> = {};
    for (const [k, v] of Object.entries(out)) result[k] = v.data;
    return result;
  } finally {
    await session.release();
  }
}

/** Largest absolute difference between two numeric arrays of the same length. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 127) {
    out.push((n & 127) | 128);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

/**
 * A ModelProto whose graph nests `levels` times graph -> node -> attribute -> graph, written by hand
 * (back to front, in linear time) because an encoder would overflow its own stack on it.
 */
export function deeplyNestedModel(levels: number): Uint8Array {
  const buf = new Uint8Array(levels * 3 * 6 + 16);
  let p = buf.length;
  let len = 0;
  const wrap = (field: number) => {
    const v = varint(len);
    for (let i = v.length - 1; i >= 0; i--) buf[--p] = v[i]!;
    buf[--p] = (field << 3) | 2;
    len += v.length + 1;
  };
  for (let i = 0; i < levels; i++) {
    wrap(6); // AttributeProto.g
    wrap(5); // NodeProto.attribute
    wrap(1); // GraphProto.node
  }
  wrap(7); // ModelProto.graph
  return buf.subarray(p);
}
