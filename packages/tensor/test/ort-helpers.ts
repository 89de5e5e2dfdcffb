import { create, toBinary } from "@bufbuild/protobuf";
import * as ob from "onnx-buf";
import * as ort from "onnxruntime-node";
import { type DType, type Storage, toBytes } from "../src/index.js";

/** Builds one-graph ONNX models and runs them in onnxruntime-node with graph optimizations disabled. */

const T = ob.TensorProto_DataType;
export const ONNX_TYPE: Partial<Record<DType, number>> = {
  float32: T.FLOAT,
  float16: T.FLOAT16,
  bfloat16: T.BFLOAT16,
  float8e4m3fn: T.FLOAT8E4M3FN,
  float8e5m2: T.FLOAT8E5M2,
  int8: T.INT8,
  uint8: T.UINT8,
  int16: T.INT16,
  uint16: T.UINT16,
  int32: T.INT32,
  float64: T.DOUBLE,
  uint32: T.UINT32,
  int64: T.INT64,
  uint64: T.UINT64,
  bool: T.BOOL,
  int4: T.INT4,
  uint4: T.UINT4,
};

export interface Init {
  name: string;
  dtype: DType;
  shape: readonly number[];
  data: Storage;
}
export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  attrs?: Record<string, number>;
}
export interface ModelSpec {
  opset: number;
  nodes: NodeSpec[];
  /** Graph inputs (fed at run time). */
  inputs: Init[];
  inits?: Init[];
  outputs: { name: string; dtype: DType }[];
}

const valueInfo = (name: string, dtype: DType, shape?: readonly number[]) =>
  create(ob.ValueInfoProtoSchema, {
    name,
    type: create(ob.TypeProtoSchema, {
      value: {
        case: "tensorType",
        value: create(ob.TypeProto_TensorSchema, {
          elemType: ONNX_TYPE[dtype]!,
          ...(shape ? { shape: create(ob.TensorShapeProtoSchema, { dim: shape.map((d) => create(ob.TensorShapeProto_DimensionSchema, { value: { case: "dimValue", value: BigInt(d) } })) }) } : {}),
        }),
      },
    }),
  });

export function buildModel(m: ModelSpec): Uint8Array {
  const graph = create(ob.GraphProtoSchema, {
    name: "g",
    node: m.nodes.map((n, i) =>
      create(ob.NodeProtoSchema, {
        opType: n.op,
        name: `n${i}`,
        input: n.inputs,
        output: n.outputs,
        attribute: Object.entries(n.attrs ?? {}).map(([k, v]) => create(ob.AttributeProtoSchema, { name: k, type: ob.AttributeProto_AttributeType.INT, i: BigInt(v) })),
      }),
    ),
    input: m.inputs.map((i) => valueInfo(i.name, i.dtype, i.shape)),
    output: m.outputs.map((o) => valueInfo(o.name, o.dtype)),
    initializer: (m.inits ?? []).map((t) => create(ob.TensorProtoSchema, { name: t.name, dataType: ONNX_TYPE[t.dtype]!, dims: t.shape.map(BigInt), rawData: new Uint8Array(toBytes(t.data)) })),
  });
  const opsetImport = [create(ob.OperatorSetIdProtoSchema, { domain: "", version: BigInt(m.opset) })];
  return toBinary(ob.ModelProtoSchema, create(ob.ModelProtoSchema, { irVersion: 10n, opsetImport, graph }));
}

export async function runOrt(m: ModelSpec): Promise<Record<string, ArrayLike<number>>> {
  const session = await ort.InferenceSession.create(buildModel(m), { graphOptimizationLevel: "disabled" });
  const feeds: Record<string, ort.Tensor> = {};
  for (const t of m.inputs) feeds[t.name] = new ort.Tensor(t.dtype as "float32", t.data as Float32Array, [...t.shape]);
  const r = await session.run(feeds);
  const out: Record<string, ArrayLike<number>> = {};
  for (const [k, v] of Object.entries(r)) out[k] = v.data as ArrayLike<number>;
  await session.release();
  return out;
}

/** float32 values as bit patterns (NaNs collapsed to one pattern), for exact comparison. */
export function f32Bits(a: ArrayLike<number>): number[] {
  const f = Float32Array.from(a);
  const u = new Uint32Array(f.buffer);
  return Array.from(u, (b, i) => (Number.isNaN(f[i]!) ? 0x7fc00000 : b));
}

/** Deterministic PRNG (mulberry32). */
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
