import { fromBinary } from "@bufbuild/protobuf";
import { type Attribute, type Dim, type ElemType, type Graph, InvalidGraph, Model, type Node, type TensorType, type Value } from "@quanta/ir";
import {
  type AttributeProto,
  AttributeProto_AttributeType as AT,
  type GraphProto,
  type ModelProto,
  ModelProtoSchema,
  type NodeProto,
  type SparseTensorProto,
  type TensorProto,
  TensorProto_DataLocation,
  type TypeProto,
  type ValueInfoProto,
} from "onnx-buf";
import { type ExternalDataResolver, type ExternalFile, OnnxConstant, type OnnxTensorOrigin } from "./constant.js";
import { ELEM_BITS, elemBytes, elemFromOnnx } from "./elem.js";
import { ExternalDataError, OnnxInvalidModel, OnnxParseError } from "./errors.js";

export interface ReadOptions {
  /** Name of the source (a path) for error messages. */
  readonly source?: string;
  /** Opens external data files. Without it, external constants fail when loaded (reading still succeeds). */
  readonly externalData?: ExternalDataResolver;
  /** Deepest subgraph nesting accepted (default 32). */
  readonly maxDepth?: number;
}

/** Lossless-writing payloads kept on IR objects. */
export interface OnnxModelOrigin {
  readonly format: "onnx";
  readonly proto: ModelProto;
}
export interface OnnxGraphOrigin {
  readonly format: "onnx";
  readonly proto: GraphProto;
  /** value_info entries in file order: the value they typed, or the entry itself when it names no value of this graph. */
  readonly valueInfo: readonly (Value | ValueInfoProto)[];
  /**
   * Output entries of a subgraph that name a value of an enclosing graph. They are kept here
   * rather than on the value, whose type and entries belong to the graph that defines it.
   */
  readonly outerOutputs?: readonly { readonly value: Value; readonly proto: ValueInfoProto }[];
}
export interface OnnxNodeOrigin {
  readonly format: "onnx";
  readonly proto: NodeProto;
}
export interface OnnxValueOrigin {
  readonly format: "onnx";
  input?: ValueInfoProto;
  output?: ValueInfoProto;
  valueInfo?: ValueInfoProto;
}
export interface OnnxAttributeOrigin {
  readonly format: "onnx";
  readonly proto: AttributeProto;
}

/** Decodes ONNX protobuf bytes into a `Model`. Throws `OnnxParseError`, `OnnxInvalidModel` or `ExternalDataError`. */
export function readOnnx(bytes: Uint8Array, options: ReadOptions = {}): Model {
  if (bytes.byteLength === 0) throw new OnnxParseError("the file is empty", options.source);
  const recursionLimit = messageDepthLimit(options.maxDepth ?? DEFAULT_MAX_DEPTH);
  let proto: ModelProto;
  try {
    proto = fromBinary(ModelProtoSchema, bytes, { readUnknownFields: true, recursionLimit });
  } catch (e) {
    throw new OnnxParseError(decodeFailure(e, recursionLimit), options.source);
  }
  if (!proto.graph) {
    throw new OnnxParseError(proto.irVersion === 0n ? "no graph and no IR version: this is not an ONNX model" : "the model has no graph", options.source);
  }
  return new Reader(options).model(proto);
}

const DEFAULT_MAX_DEPTH = 32;

/**
 * How deeply protobuf messages may nest. A subgraph level costs three messages (graph, node,
 * attribute); the margin covers tensors, sparse tensors and nested type protos. The decoder
 * stops there instead of overflowing the stack on a hostile file, and a model whose subgraphs
 * nest too deep decodes far enough to be reported by the reader's own depth check.
 */
const messageDepthLimit = (maxDepth: number): number => Math.max(500, 3 * maxDepth + 100);

/** The reason a protobuf decode failed, phrased for a reader. */
function decodeFailure(e: unknown, limit: number): string {
  const msg = e instanceof Error ? e.message : String(e);
  if (/maximum recursion depth/i.test(msg)) return `protobuf messages nested more than ${limit} levels deep`;
  if (e instanceof RangeError && /call stack/i.test(msg)) return "protobuf messages nested too deep (stack overflow while decoding)";
  return msg;
}

class Reader {
  private readonly files = new Map<string, ExternalFile>();
  constructor(private readonly options: ReadOptions) {}

  model(p: ModelProto): Model {
    const m = new Model("onnx", p.graph!.name);
    m.irVersion = p.irVersion;
    m.opsets = p.opsetImport.map((o) => ({ domain: o.domain, version: toSafe(o.version, "opset version", "model") }));
    m.producerName = p.producerName;
    m.producerVersion = p.producerVersion;
    m.domain = p.domain;
    m.modelVersion = p.modelVersion;
    m.docString = p.docString;
    m.metadata = p.metadataProps.map((e) => ({ key: e.key, value: e.value }));
    m.origin = { format: "onnx", proto: p } satisfies OnnxModelOrigin;
    this.graph(p.graph!, m.graph, 0);
    return m;
  }

  private graph(p: GraphProto, g: Graph, depth: number): void {
    const maxDepth = this.options.maxDepth ?? DEFAULT_MAX_DEPTH;
    if (depth > maxDepth) throw new OnnxInvalidModel(`subgraphs nested deeper than ${maxDepth} levels`, `graph '${p.name}'`);
    g.name = p.name;
    g.docString = p.docString;
    const where = `graph '${p.name}'`;
    // Initializers first (IR < 4 also lists them as inputs).
    for (const t of p.initializer) {
      if (!t.name) throw new OnnxInvalidModel("an initializer has no name", where);
      const c = this.constant(t, `initializer '${t.name}'`);
      wrap(where, () => g.addConstant(t.name, c, { exact: true }));
    }
    for (const s of p.sparseInitializer) {
      const values = s.values;
      if (!values?.name) throw new OnnxInvalidModel("a sparse initializer has no name", where);
      const shape = s.dims.map((d) => toSafe(d, "dimension", `sparse initializer '${values.name}'`));
      const elem = elemFromOnnx(values.dataType) ?? "undefined";
      const count = checkedCount(shape, `sparse initializer '${values.name}'`);
      const c = new OnnxConstant(elem, shape, count, elemBytes(elem, count), { format: "onnx", proto: values, sparse: s });
      wrap(where, () => g.addConstant(values.name, c, { exact: true }));
    }
    for (const vi of p.input) {
      const existing = g.valueMap.get(vi.name);
      if (existing?.constant) {
        g.inputs.push(existing);
        this.setType(existing, vi, "input");
        continue;
      }
      if (!vi.name) throw new OnnxInvalidModel("a graph input has no name", where);
      const v = wrap(where, () => g.addInput(vi.name));
      this.setType(v, vi, "input");
    }
    // Create every node and its outputs first, so that inputs can be resolved in any order (cycles are reported later).
    const nodes: Node[] = [];
    for (const [i, np] of p.node.entries()) {
      const node = wrap(where, () =>
        g.addNode({
          op: np.opType,
          domain: np.domain,
          name: np.name,
          docString: np.docString,
          inputs: [],
          outputs: np.output.map((o) => (o === "" ? null : exactOutput(g, o, `${where} / node ${i} (${np.opType} '${np.name}')`))),
        }),
      );
      node.origin = { format: "onnx", proto: np } satisfies OnnxNodeOrigin;
      nodes.push(node);
    }
    for (const [i, np] of p.node.entries()) {
      const node = nodes[i]!;
      const nwhere = `${where} / node ${i} (${np.opType}${np.name ? ` '${np.name}'` : ""})`;
      for (const [k, name] of np.input.entries()) {
        if (name === "") {
          node.inputs.push(null);
          continue;
        }
        const v = g.value(name);
        if (!v) throw new OnnxInvalidModel(`input ${k} reads '${name}', which no graph input, initializer or node defines`, nwhere);
        node.inputs.push(v);
        v.uses.push({ node, index: k });
      }
      for (const a of np.attribute) {
        if (node.attributes.has(a.name)) throw new OnnxInvalidModel(`attribute '${a.name}' given twice`, nwhere);
        node.attributes.set(a.name, this.attribute(a, node, depth, nwhere));
      }
    }
    const outerOutputs: { value: Value; proto: ValueInfoProto }[] = [];
    for (const vi of p.output) {
      const v = g.value(vi.name);
      if (!v) throw new OnnxInvalidModel(`graph output '${vi.name}' is not defined`, where);
      g.outputs.push(v);
      if (v.graph === g) this.setType(v, vi, "output");
      else outerOutputs.push({ value: v, proto: vi });
    }
    const infos: (Value | ValueInfoProto)[] = [];
    const typed = new Set<Value>();
    for (const vi of p.valueInfo) {
      const v = g.value(vi.name, false);
      if (v && !typed.has(v)) {
        this.setType(v, vi, "valueInfo");
        typed.add(v);
        infos.push(v);
      } else infos.push(vi); // names no value of this graph (or repeats one): written back as it was
    }
    g.origin = { format: "onnx", proto: p, valueInfo: infos, ...(outerOutputs.length > 0 ? { outerOutputs } : {}) } satisfies OnnxGraphOrigin;
    try {
      g.topologicalOrder();
    } catch (e) {
      if (e instanceof InvalidGraph) throw new OnnxInvalidModel(e.reason, where);
      throw e;
    }
  }

  private setType(v: Value, vi: ValueInfoProto, role: "input" | "output" | "valueInfo"): void {
    const o = (v.origin ??= { format: "onnx" }) as OnnxValueOrigin;
    o[role] = vi;
    if (vi.docString && !v.docString) v.docString = vi.docString;
    const t = tensorType(vi.type);
    // Graph inputs and outputs declare the type; value_info only fills in what they leave open.
    if (t && (!v.type || role !== "valueInfo")) v.type = t;
  }

  private attribute(a: AttributeProto, node: Node, depth: number, where: string): Attribute {
    const origin: OnnxAttributeOrigin = { format: "onnx", proto: a };
    const w = `${where} / attribute '${a.name}'`;
    if (a.refAttrName) return { type: "opaque", value: a, origin };
    switch (a.type) {
      case AT.FLOAT:
        return { type: "float", value: a.f, origin };
      case AT.INT:
        return { type: "int", value: a.i, origin };
      case AT.STRING:
        return { type: "string", value: utf8(a.s), origin };
      case AT.TENSOR:
        if (!a.t) throw new OnnxInvalidModel("tensor attribute without a tensor", w);
        return { type: "tensor", value: this.constant(a.t, w), origin };
      case AT.GRAPH: {
        if (!a.g) throw new OnnxInvalidModel("graph attribute without a graph", w);
        const sub = node.graph.subgraph(a.g.name, node);
        this.graph(a.g, sub, depth + 1);
        return { type: "graph", value: sub, origin };
      }
      case AT.FLOATS:
        return { type: "floats", value: a.floats, origin };
      case AT.INTS:
        return { type: "ints", value: a.ints, origin };
      case AT.STRINGS:
        return { type: "strings", value: a.strings.map(utf8), origin };
      case AT.TENSORS:
        return { type: "tensors", value: a.tensors.map((t, i) => this.constant(t, `${w}[${i}]`)), origin };
      case AT.GRAPHS:
        return {
          type: "graphs",
          value: a.graphs.map((gp) => {
            const sub = node.graph.subgraph(gp.name, node);
            this.graph(gp, sub, depth + 1);
            return sub;
          }),
          origin,
        };
      default:
        return { type: "opaque", value: a, origin };
    }
  }

  /** Checks a TensorProto's declared shape against its data, without allocating anything from the declared size. */
  constant(t: TensorProto, where: string): OnnxConstant {
    const shape = t.dims.map((d) => toSafe(d, "dimension", where));
    const count = checkedCount(shape, where);
    const elem: ElemType | undefined = elemFromOnnx(t.dataType);
    if (elem === undefined || elem === "undefined") throw new OnnxInvalidModel(`unknown data type ${t.dataType}`, where);
    const bytes = elem === "string" ? 0 : elemBytes(elem, count);
    if (t.dataLocation === TensorProto_DataLocation.EXTERNAL) {
      const ext = this.external(t, bytes, where);
      return new OnnxConstant(elem, shape, count, bytes, { format: "onnx", proto: t, external: ext });
    }
    const have = dataCount(t, elem, where);
    if (have.field === "raw") {
      if (elem === "string") throw new OnnxInvalidModel("string tensors cannot use raw_data", where);
      if (have.n !== bytes) throw new OnnxInvalidModel(`raw data holds ${have.n} bytes, but ${elem}[${shape.join(",")}] needs ${bytes}`, where);
    } else if (have.field === "none") {
      if (count !== 0) throw new OnnxInvalidModel(`no data for ${elem}[${shape.join(",")}]`, where);
    } else {
      const per = have.perEntry ?? 1;
      const need = elem === "string" ? count : per > 1 ? Math.ceil(count / per) : count * (elem === "complex64" || elem === "complex128" ? 2 : 1);
      if (have.n !== need) throw new OnnxInvalidModel(`${have.field} holds ${have.n} values, but ${elem}[${shape.join(",")}] needs ${need}`, where);
    }
    return new OnnxConstant(elem, shape, count, bytes, { format: "onnx", proto: t });
  }

  private external(t: TensorProto, bytes: number, where: string): NonNullable<OnnxTensorOrigin["external"]> {
    const kv = new Map(t.externalData.map((e) => [e.key, e.value]));
    const location = kv.get("location");
    const name = t.name || where;
    if (!location) throw new ExternalDataError(name, "no location given");
    if (location.startsWith("/") || location.startsWith("\\") || /^[A-Za-z]:/.test(location) || location.split(/[\\/]/).includes("..")) {
      throw new ExternalDataError(name, `location '${location}' must be a relative path inside the model's folder`);
    }
    const offset = parseNat(kv.get("offset") ?? "0", name, "offset");
    const length = kv.has("length") ? parseNat(kv.get("length")!, name, "length") : bytes;
    if (length !== bytes) throw new ExternalDataError(name, `length ${length} does not match ${bytes} bytes of declared shape`);
    let file: ExternalFile | undefined;
    if (this.options.externalData) {
      file = this.files.get(location);
      if (!file) {
        try {
          file = this.options.externalData(location);
        } catch (e) {
          throw new ExternalDataError(name, `cannot open '${location}': ${(e as Error).message}`);
        }
        this.files.set(location, file);
      }
      if (offset + length > file.size) throw new ExternalDataError(name, `bytes ${offset}..${offset + length} lie beyond the end of '${location}' (${file.size} bytes)`);
    }
    return file ? { location, offset, length, file } : { location, offset, length };
  }
}

function exactOutput(g: Graph, name: string, where: string): Value {
  if (g.value(name)) throw new OnnxInvalidModel(`output '${name}' is defined twice`, where);
  return g.newValue(name, undefined, true);
}

function wrap<T>(where: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof InvalidGraph) throw new OnnxInvalidModel(e.reason, where);
    throw e;
  }
}

/** The typed TensorProto field each element type stores its values in (ONNX's onnx.proto). */
const TYPED_FIELD: { readonly [E in ElemType]?: string } = {
  float32: "float_data",
  complex64: "float_data",
  float64: "double_data",
  complex128: "double_data",
  int64: "int64_data",
  uint32: "uint64_data",
  uint64: "uint64_data",
  string: "string_data",
};
const typedField = (e: ElemType): string => TYPED_FIELD[e] ?? "int32_data";

/** Which field holds the data and how many entries it has; throws when data sits in several fields or in one the type does not use. */
function dataCount(t: TensorProto, elem: ElemType, where: string): { field: string; n: number; perEntry?: number } {
  const present: { field: string; n: number }[] = [];
  if (t.rawData.length > 0) present.push({ field: "raw", n: t.rawData.length });
  if (t.floatData.length > 0) present.push({ field: "float_data", n: t.floatData.length });
  if (t.int32Data.length > 0) present.push({ field: "int32_data", n: t.int32Data.length });
  if (t.int64Data.length > 0) present.push({ field: "int64_data", n: t.int64Data.length });
  if (t.uint64Data.length > 0) present.push({ field: "uint64_data", n: t.uint64Data.length });
  if (t.doubleData.length > 0) present.push({ field: "double_data", n: t.doubleData.length });
  if (t.stringData.length > 0) present.push({ field: "string_data", n: t.stringData.length });
  const first = present[0];
  if (!first) return { field: "none", n: 0 };
  if (present.length > 1) {
    const names = present.map((p) => (p.field === "raw" ? "raw_data" : p.field));
    throw new OnnxInvalidModel(`data given in several fields (${names.join(", ")})`, where);
  }
  if (first.field === "raw") return first;
  const want = typedField(elem);
  if (first.field !== want) throw new OnnxInvalidModel(`${elem} data stored in ${first.field} (expected ${want} or raw_data)`, where);
  // Sub-byte types pack several elements into each int32_data entry (one byte's worth).
  const bits = ELEM_BITS[elem];
  return bits > 0 && bits < 8 ? { ...first, perEntry: 8 / bits } : first;
}

const MAX_ELEMENTS = 2 ** 53;

function checkedCount(shape: readonly number[], where: string): number {
  let n = 1;
  for (const d of shape) {
    n *= d;
    if (n > MAX_ELEMENTS) throw new OnnxInvalidModel(`declared shape [${shape.join(",")}] has more elements than can exist`, where);
  }
  return n;
}

function toSafe(v: bigint, what: string, where: string): number {
  if (v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER)) throw new OnnxInvalidModel(`${what} ${v} is out of range`, where);
  return Number(v);
}

function parseNat(s: string, name: string, what: string): number {
  if (!/^\d+$/.test(s)) throw new ExternalDataError(name, `${what} '${s}' is not a non-negative integer`);
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw new ExternalDataError(name, `${what} ${s} is out of range`);
  return n;
}

const decoder = new TextDecoder();
const utf8 = (b: Uint8Array): string => decoder.decode(b);

/** The tensor type of a TypeProto, or undefined for sequences/maps/optionals (carried opaquely). */
export function tensorType(t: TypeProto | undefined): TensorType | undefined {
  if (t?.value.case !== "tensorType") return undefined;
  const tt = t.value.value;
  const elem = elemFromOnnx(tt.elemType) ?? "undefined";
  if (!tt.shape) return { elem };
  const shape: Dim[] = tt.shape.dim.map((d) =>
    d.value.case === "dimValue" ? (d.value.value >= 0n && d.value.value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(d.value.value) : null) : d.value.case === "dimParam" ? d.value.value : null,
  );
  return { elem, shape };
}

export type { SparseTensorProto };

/**
 * Decodes a standalone TensorProto (as in ONNX test data sets' `input_0.pb`) into a checked constant,
 * with the same validation as initializers (declared shape against the data present).
 */
export function constantFromProto(t: TensorProto, where = t.name || "tensor"): OnnxConstant {
  return new Reader({}).constant(t, where);
}
