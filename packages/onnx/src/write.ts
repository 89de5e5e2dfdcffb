import { create, toBinary } from "@bufbuild/protobuf";
import { type Attribute, type Constant, type Dim, type Graph, type Model, type Node, type TensorType, Value } from "@quanta/ir";
import { isDType, toBytes } from "@quanta/tensor";
import {
  type AttributeProto,
  AttributeProto_AttributeType as AT,
  AttributeProtoSchema,
  type GraphProto,
  GraphProtoSchema,
  type ModelProto,
  ModelProtoSchema,
  type NodeProto,
  NodeProtoSchema,
  type OperatorSetIdProto,
  OperatorSetIdProtoSchema,
  type SparseTensorProto,
  type StringStringEntryProto,
  StringStringEntryProtoSchema,
  type TensorProto,
  TensorProto_DataLocation,
  TensorProtoSchema,
  TensorShapeProto_DimensionSchema,
  TensorShapeProtoSchema,
  type TypeProto,
  TypeProto_TensorSchema,
  TypeProtoSchema,
  type ValueInfoProto,
  ValueInfoProtoSchema,
} from "onnx-buf";
import { isOnnxTensorOrigin } from "./constant.js";
import { ONNX_DATA_TYPE } from "./elem.js";
import { OnnxWriteError } from "./errors.js";
import { type OnnxAttributeOrigin, type OnnxGraphOrigin, type OnnxModelOrigin, type OnnxNodeOrigin, type OnnxValueOrigin, tensorType } from "./read.js";

/** Where tensor data goes when it is written as ONNX external data. */
export interface ExternalDataSink {
  /** File name recorded in the model, relative to the model file. */
  readonly location: string;
  /** Tensors of at least this many bytes go to the external file (default 1024). */
  readonly threshold?: number;
  /** Receives the external file's bytes in order (called once per tensor, plus padding). */
  write(chunk: Uint8Array): void;
}

export interface WriteOptions {
  /** Move large tensors into an external data file. Required for models whose tensors exceed 2 GB in all. */
  readonly externalData?: ExternalDataSink;
}

/** Largest protobuf message we write: protobuf (and onnxruntime) cannot read one of 2 GiB or more. */
export const PROTOBUF_LIMIT = 2 ** 31 - 1;

/**
 * Encodes a model as ONNX. Unchanged parts of a model read by `readOnnx` are written back
 * byte for byte (unknown fields included); changed and new parts are encoded from the IR.
 */
export function writeOnnx(model: Model, options: WriteOptions = {}): Uint8Array {
  const w = new Writer(options.externalData);
  const proto = w.model(model);
  if (!options.externalData && w.inlineBytes > PROTOBUF_LIMIT) {
    throw new OnnxWriteError(`tensor data totals ${w.inlineBytes} bytes, over protobuf's 2 GB limit: write it with external data`);
  }
  const out = toBinary(ModelProtoSchema, proto);
  if (out.byteLength > PROTOBUF_LIMIT) throw new OnnxWriteError(`the encoded model is ${out.byteLength} bytes, over protobuf's 2 GB limit`);
  return out;
}

/** A shallow copy of a decoded message that keeps field presence and unknown fields. */
function shell<T extends object>(m: T): T {
  return Object.assign(Object.create(Object.getPrototypeOf(m)) as T, m);
}

/** Sets `key` only when the value differs, so unset proto2 fields stay unset. */
function put<T extends object, K extends keyof T>(m: T, key: K, value: T[K]): void {
  if (m[key] !== value) m[key] = value;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

class Writer {
  inlineBytes = 0;
  private extOffset = 0;
  constructor(private readonly ext: ExternalDataSink | undefined) {}

  model(m: Model): ModelProto {
    const o = m.origin as OnnxModelOrigin | undefined;
    const p = o?.format === "onnx" ? shell(o.proto) : create(ModelProtoSchema, {});
    put(p, "irVersion", m.irVersion);
    p.opsetImport = reuse(o?.proto.opsetImport, m.opsets, (a, b) => a.domain === b.domain && a.version === BigInt(b.version), (b) =>
      create(OperatorSetIdProtoSchema, { domain: b.domain, version: BigInt(b.version) }),
    ) as OperatorSetIdProto[];
    put(p, "producerName", m.producerName);
    put(p, "producerVersion", m.producerVersion);
    put(p, "domain", m.domain);
    put(p, "modelVersion", m.modelVersion);
    put(p, "docString", m.docString);
    p.metadataProps = entries(o?.proto.metadataProps, m.metadata);
    p.graph = this.graph(m.graph);
    return p;
  }

  graph(g: Graph): GraphProto {
    const o = g.origin as OnnxGraphOrigin | undefined;
    const p = o?.format === "onnx" ? shell(o.proto) : create(GraphProtoSchema, {});
    put(p, "name", g.name);
    put(p, "docString", g.docString);
    p.node = g.nodes.map((n) => this.node(n));
    const dense: TensorProto[] = [];
    const sparse: SparseTensorProto[] = [];
    for (const v of g.initializers) {
      const c = v.constant!;
      if (isOnnxTensorOrigin(c.origin) && c.origin.sparse) {
        if (c.origin.proto.name !== v.name) throw new OnnxWriteError(`renamed sparse initializer '${v.name}' cannot be written`);
        sparse.push(c.origin.sparse);
      } else dense.push(this.tensor(c, v.name));
    }
    p.initializer = dense;
    p.sparseInitializer = sparse;
    p.input = g.inputs.map((v) => this.valueInfo(v, "input"));
    p.output = g.outputs.map((v) => this.valueInfo(v, "output"));
    // value_info: the original entries (those whose value is still defined here), then other typed node outputs.
    const infos: ValueInfoProto[] = [];
    const seen = new Set<Value>([...g.inputs, ...g.outputs]);
    for (const e of o?.valueInfo ?? []) {
      if (!(e instanceof Value)) infos.push(e);
      else if (g.valueMap.get(e.name) === e && e.type && !seen.has(e)) {
        seen.add(e);
        infos.push(this.valueInfo(e, "valueInfo"));
      }
    }
    for (const n of g.nodes) {
      for (const v of n.outputs) {
        if (!v?.type || seen.has(v)) continue;
        seen.add(v);
        infos.push(this.valueInfo(v, "valueInfo"));
      }
    }
    p.valueInfo = infos;
    return p;
  }

  node(n: Node): NodeProto {
    const o = n.origin as OnnxNodeOrigin | undefined;
    const p = o?.format === "onnx" ? shell(o.proto) : create(NodeProtoSchema, {});
    p.input = sameStrings(p.input, n.inputs.map((v) => v?.name ?? ""));
    // Trailing omitted inputs are dropped, as ONNX writers do (unless the original kept them).
    if (!o) while (p.input.length > 0 && p.input[p.input.length - 1] === "") p.input.pop();
    p.output = sameStrings(p.output, n.outputs.map((v) => v?.name ?? ""));
    put(p, "name", n.name);
    put(p, "opType", n.op);
    put(p, "domain", n.domain);
    put(p, "docString", n.docString);
    p.attribute = [...n.attributes.entries()].map(([k, a]) => this.attribute(k, a));
    return p;
  }

  attribute(name: string, a: Attribute): AttributeProto {
    const o = a.origin as OnnxAttributeOrigin | undefined;
    if (a.type === "opaque") {
      if (o?.format !== "onnx") throw new OnnxWriteError(`attribute '${name}' has a kind ONNX cannot hold`);
      const p = shell(o.proto);
      put(p, "name", name);
      return p;
    }
    const p = o?.format === "onnx" ? shell(o.proto) : create(AttributeProtoSchema, {});
    put(p, "name", name);
    switch (a.type) {
      case "float":
        put(p, "type", AT.FLOAT);
        if (!Object.is(p.f, Math.fround(a.value))) p.f = a.value;
        break;
      case "int":
        put(p, "type", AT.INT);
        put(p, "i", a.value);
        break;
      case "string":
        put(p, "type", AT.STRING);
        if (decoder.decode(p.s) !== a.value) p.s = encoder.encode(a.value);
        break;
      case "tensor":
        put(p, "type", AT.TENSOR);
        p.t = this.tensor(a.value, isOnnxTensorOrigin(a.value.origin) ? a.value.origin.proto.name : "");
        break;
      case "graph":
        put(p, "type", AT.GRAPH);
        p.g = this.graph(a.value);
        break;
      case "floats":
        put(p, "type", AT.FLOATS);
        if (!sameArray(p.floats, a.value.map(Math.fround))) p.floats = [...a.value];
        break;
      case "ints":
        put(p, "type", AT.INTS);
        if (!sameArray(p.ints, a.value)) p.ints = [...a.value];
        break;
      case "strings":
        put(p, "type", AT.STRINGS);
        if (!sameArray(p.strings.map((s) => decoder.decode(s)), a.value)) p.strings = a.value.map((s) => encoder.encode(s));
        break;
      case "tensors":
        put(p, "type", AT.TENSORS);
        p.tensors = a.value.map((c) => this.tensor(c, isOnnxTensorOrigin(c.origin) ? c.origin.proto.name : ""));
        break;
      case "graphs":
        put(p, "type", AT.GRAPHS);
        p.graphs = a.value.map((g) => this.graph(g));
        break;
    }
    return p;
  }

  tensor(c: Constant, name: string): TensorProto {
    const dims = c.shape.map((d) => BigInt(d));
    if (isOnnxTensorOrigin(c.origin) && !c.origin.sparse) {
      const src = c.origin.proto;
      // Re-locate external data when writing to a new external file; else keep the proto as it is.
      if (this.ext && (c.origin.external || c.byteLength >= (this.ext.threshold ?? 1024)) && isDType(c.elem)) {
        return this.externalTensor(c, name, src);
      }
      if (c.origin.external && !this.ext) {
        // Inline external data: load it.
        const t = c.load();
        const p = shell(src);
        put(p, "name", name);
        p.dataLocation = TensorProto_DataLocation.DEFAULT;
        p.externalData = [];
        p.rawData = copyBytes(toBytes(t.data), c.byteLength);
        this.inlineBytes += c.byteLength;
        return p;
      }
      this.inlineBytes += c.byteLength;
      if (src.name === name) return src;
      const p = shell(src);
      p.name = name;
      return p;
    }
    if (!isDType(c.elem)) throw new OnnxWriteError(`constant '${name}' of element type ${c.elem} has no ONNX origin to copy`);
    if (this.ext && c.byteLength >= (this.ext.threshold ?? 1024)) return this.externalTensor(c, name, undefined);
    const t = c.load();
    this.inlineBytes += c.byteLength;
    const p = create(TensorProtoSchema, { dims, dataType: ONNX_DATA_TYPE[c.elem] });
    if (name) p.name = name;
    if (c.byteLength > 0) p.rawData = copyBytes(toBytes(t.data), c.byteLength);
    return p;
  }

  private externalTensor(c: Constant, name: string, src: TensorProto | undefined): TensorProto {
    const ext = this.ext!;
    const t = c.load();
    const bytes = toBytes(t.data).subarray(0, c.byteLength);
    const offset = this.extOffset;
    ext.write(bytes);
    this.extOffset += bytes.byteLength;
    const pad = (16 - (this.extOffset % 16)) % 16; // keep every tensor 16-byte aligned
    if (pad) {
      ext.write(new Uint8Array(pad));
      this.extOffset += pad;
    }
    const p = src ? shell(src) : create(TensorProtoSchema, { dims: c.shape.map((d) => BigInt(d)), dataType: ONNX_DATA_TYPE[c.elem] });
    if (p.name !== name && name) p.name = name;
    p.rawData = new Uint8Array(0);
    p.floatData = [];
    p.int32Data = [];
    p.int64Data = [];
    p.uint64Data = [];
    p.doubleData = [];
    p.dataLocation = TensorProto_DataLocation.EXTERNAL;
    p.externalData = [
      create(StringStringEntryProtoSchema, { key: "location", value: ext.location }),
      create(StringStringEntryProtoSchema, { key: "offset", value: String(offset) }),
      create(StringStringEntryProtoSchema, { key: "length", value: String(bytes.byteLength) }),
    ];
    return p;
  }

  valueInfo(v: Value, role: "input" | "output" | "valueInfo"): ValueInfoProto {
    const o = v.origin as OnnxValueOrigin | undefined;
    const src = o?.[role] ?? o?.valueInfo ?? o?.input ?? o?.output;
    const p = src ? shell(src) : create(ValueInfoProtoSchema, {});
    put(p, "name", v.name);
    if (!src) {
      if (v.docString) p.docString = v.docString;
      if (v.type) p.type = typeProto(v.type);
      return p;
    }
    // Keep the original TypeProto (denotations, non-tensor types) unless the IR's type differs from it.
    if (v.type && !sameType(tensorType(src.type), v.type)) p.type = typeProto(v.type);
    return p;
  }
}

function typeProto(t: TensorType): TypeProto {
  const tensor = create(TypeProto_TensorSchema, { elemType: ONNX_DATA_TYPE[t.elem] });
  if (t.shape) {
    tensor.shape = create(TensorShapeProtoSchema, {
      dim: t.shape.map((d) =>
        create(TensorShapeProto_DimensionSchema, {
          value: typeof d === "number" ? { case: "dimValue", value: BigInt(d) } : typeof d === "string" ? { case: "dimParam", value: d } : { case: undefined },
        }),
      ),
    });
  }
  return create(TypeProtoSchema, { value: { case: "tensorType", value: tensor } });
}

function sameType(a: TensorType | undefined, b: TensorType): boolean {
  if (!a || a.elem !== b.elem) return false;
  if (!a.shape || !b.shape) return !a.shape && !b.shape;
  return sameArray<Dim>(a.shape, b.shape);
}

function sameArray<T>(a: readonly T[], b: readonly T[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

function sameStrings(a: string[], b: string[]): string[] {
  return sameArray(a, b) ? a : b;
}

/** Reuses original entries where they equal the wanted ones, creating the rest. */
function reuse<P, T>(orig: readonly P[] | undefined, want: readonly T[], eq: (p: P, t: T) => boolean, make: (t: T) => P): P[] {
  return want.map((t, i) => {
    const p = orig?.[i];
    return p !== undefined && eq(p, t) ? p : make(t);
  });
}

function entries(orig: readonly StringStringEntryProto[] | undefined, want: readonly { key: string; value: string }[]): StringStringEntryProto[] {
  return reuse(orig, want, (a, b) => a.key === b.key && a.value === b.value, (b) => create(StringStringEntryProtoSchema, { key: b.key, value: b.value }));
}

function copyBytes(b: Uint8Array, n: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(n);
  out.set(b.subarray(0, n));
  return out;
}
