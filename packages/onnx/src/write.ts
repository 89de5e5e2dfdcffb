import { clearField, create, toBinary } from "@bufbuild/protobuf";
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
import { isOnnxTensorOrigin, readExternal } from "./constant.js";
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
 * A model built in code (IR version 0) gets the IR version of its default-domain opset.
 * Throws `OnnxWriteError` when the data kept inside the protobuf would pass 2 GB (checked before
 * any constant is loaded), and `ExternalDataError` when external data being copied cannot be read.
 */
export function writeOnnx(model: Model, options: WriteOptions = {}): Uint8Array {
  const ext = options.externalData;
  // Count the bytes that would stay inline before loading (or allocating) any tensor data.
  const planned = inlineConstantBytes(model, ext);
  if (planned > PROTOBUF_LIMIT) throw tooLarge(planned, ext);
  const w = new Writer(ext);
  const proto = w.model(model);
  if (w.inlineBytes > PROTOBUF_LIMIT) throw tooLarge(w.inlineBytes, ext);
  const out = toBinary(ModelProtoSchema, proto);
  if (out.byteLength > PROTOBUF_LIMIT) throw new OnnxWriteError(`the encoded model is ${out.byteLength} bytes, over protobuf's 2 GB limit`);
  return out;
}

const tooLarge = (n: number, ext: ExternalDataSink | undefined): OnnxWriteError =>
  new OnnxWriteError(
    `tensor data totals ${n} bytes, over protobuf's 2 GB limit: ${ext ? "lower the external data threshold" : "write it with external data"}`,
  );

/** Calls `f` for every constant the writer would encode (initializers and tensor attributes, subgraphs included). */
function forEachConstant(model: Model, f: (c: Constant) => void): void {
  const walk = (g: Graph): void => {
    for (const v of g.initializers) if (v.constant) f(v.constant);
    for (const n of g.nodes) {
      for (const a of n.attributes.values()) {
        if (a.type === "tensor") f(a.value);
        else if (a.type === "tensors") for (const c of a.value) f(c);
        else if (a.type === "graph") walk(a.value);
        else if (a.type === "graphs") for (const s of a.value) walk(s);
      }
    }
  };
  walk(model.graph);
}

/** Bytes of tensor data the model holds (initializers and tensor attributes), without loading any of it. */
export function constantBytes(model: Model): number {
  let n = 0;
  forEachConstant(model, (c) => {
    n += c.byteLength;
  });
  return n;
}

/** Bytes of tensor data that would be written inside the protobuf (not to external data). */
function inlineConstantBytes(model: Model, ext: ExternalDataSink | undefined): number {
  let n = 0;
  forEachConstant(model, (c) => {
    if (isOnnxTensorOrigin(c.origin) && c.origin.sparse) return; // counted when encoded
    if (!goesExternal(c, ext)) n += c.byteLength;
  });
  return n;
}

/** Can the constant's bytes be written as raw external data? (Typed-field strings and complex numbers cannot.) */
function hasRawBytes(c: Constant): boolean {
  const o = c.origin;
  if (isOnnxTensorOrigin(o)) {
    if (o.sparse) return false;
    if (o.external || o.proto.rawData.length > 0) return true;
  }
  return isDType(c.elem);
}

function goesExternal(c: Constant, ext: ExternalDataSink | undefined): boolean {
  if (!ext || !hasRawBytes(c)) return false;
  return (isOnnxTensorOrigin(c.origin) && c.origin.external !== undefined) || c.byteLength >= (ext.threshold ?? 1024);
}

/** The constant's data as little-endian raw bytes (a view where possible); checks the length it declares. */
function rawBytes(c: Constant, name: string): Uint8Array<ArrayBuffer> {
  const o = c.origin;
  let bytes: Uint8Array;
  if (isOnnxTensorOrigin(o) && o.external) bytes = readExternal(o.proto.name || name, o.external);
  else if (isOnnxTensorOrigin(o) && o.proto.rawData.length > 0) bytes = o.proto.rawData;
  else bytes = toBytes(c.load().data);
  if (bytes.byteLength < c.byteLength) throw new OnnxWriteError(`constant '${name}' holds ${bytes.byteLength} bytes of data, but declares ${c.byteLength}`);
  // Storage may live in a SharedArrayBuffer; the encoder only reads it.
  return (bytes.byteLength === c.byteLength ? bytes : bytes.subarray(0, c.byteLength)) as Uint8Array<ArrayBuffer>;
}

/**
 * The IR version to write: the model's, or for a model built in code (IR version 0, which no
 * runtime accepts) the first IR version of the ONNX release that introduced its default-domain opset.
 */
function irVersionOf(m: Model): bigint {
  if (m.irVersion !== 0n) return m.irVersion;
  const opset = m.opset("");
  if (opset === undefined) return DEFAULT_IR_VERSION;
  for (const [maxOpset, ir] of IR_BY_OPSET) if (opset <= maxOpset) return ir;
  return LATEST_IR_VERSION;
}
/** [highest default-domain opset, IR version] of ONNX releases (onnx/helper.py VERSION_TABLE). */
const IR_BY_OPSET: readonly (readonly [number, bigint])[] = [
  [8, 3n],
  [9, 4n],
  [10, 5n],
  [11, 6n],
  [14, 7n],
  [18, 8n],
  [20, 9n],
  [22, 10n],
  [23, 11n],
  [24, 12n],
  [25, 13n],
];
const LATEST_IR_VERSION = 13n;
const DEFAULT_IR_VERSION = 10n;

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
    put(p, "irVersion", o?.format === "onnx" ? m.irVersion : irVersionOf(m));
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
    p.output = g.outputs.map((v) => {
      // A subgraph output naming an enclosing graph's value: the entry this graph had for it, as it was.
      const outer = v.graph !== g ? o?.outerOutputs?.find((e) => e.value === v) : undefined;
      if (!outer) return this.valueInfo(v, "output");
      const e = shell(outer.proto);
      put(e, "name", v.name);
      return e;
    });
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
    if (goesExternal(c, this.ext)) return this.externalTensor(c, name, isOnnxTensorOrigin(c.origin) ? c.origin.proto : undefined);
    if (isOnnxTensorOrigin(c.origin) && !c.origin.sparse) {
      const src = c.origin.proto;
      if (c.origin.external) {
        // Inline external data.
        const p = shell(src);
        put(p, "name", name);
        clearField(p, TensorProtoSchema.field.dataLocation); // absent, as writers leave it for inline data
        p.externalData = [];
        p.rawData = rawBytes(c, name);
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
    const p = create(TensorProtoSchema, { dims, dataType: ONNX_DATA_TYPE[c.elem] });
    if (name) p.name = name;
    if (c.byteLength > 0) p.rawData = rawBytes(c, name);
    this.inlineBytes += c.byteLength;
    return p;
  }

  private externalTensor(c: Constant, name: string, src: TensorProto | undefined): TensorProto {
    const ext = this.ext!;
    const bytes = rawBytes(c, name);
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
    clearField(p, TensorProtoSchema.field.rawData);
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
