import type { Model, Value } from "./graph.js";
import type { Dim, ElemType } from "./types.js";

export interface ValueSummary {
  readonly name: string;
  readonly elem: ElemType | "unknown";
  /** Dims (numbers, symbolic names, or null for unknown); null when the rank is unknown. */
  readonly shape: readonly Dim[] | null;
}

export interface ModelSummary {
  readonly format: string;
  readonly producer: string;
  readonly irVersion: number;
  readonly opsets: readonly { domain: string; version: number }[];
  readonly inputs: readonly ValueSummary[];
  readonly outputs: readonly ValueSummary[];
  /** Op counts over all graphs (subgraphs included), keyed by `op` or `domain::op`, most frequent first. */
  readonly ops: readonly { op: string; count: number }[];
  readonly nodes: number;
  readonly graphs: number;
  /** Constants (initializers and Constant-node / tensor attributes) by element type. */
  readonly parameters: readonly { elem: ElemType; tensors: number; elements: number; bytes: number }[];
  readonly totalParameters: number;
  readonly totalParameterBytes: number;
}

const valueSummary = (v: Value): ValueSummary => ({
  name: v.name,
  elem: v.type?.elem ?? "unknown",
  shape: v.type?.shape ? [...v.type.shape] : null,
});

/** A format-neutral summary of a model: what `quanta inspect` prints. */
export function summarize(model: Model): ModelSummary {
  const ops = new Map<string, number>();
  const params = new Map<ElemType, { tensors: number; elements: number; bytes: number }>();
  let nodes = 0;
  const addConst = (elem: ElemType, shape: readonly number[], bytes: number) => {
    let e = 1;
    for (const d of shape) e *= d;
    const p = params.get(elem) ?? { tensors: 0, elements: 0, bytes: 0 };
    p.tensors++;
    p.elements += e;
    p.bytes += bytes;
    params.set(elem, p);
  };
  const graphs = model.allGraphs();
  for (const g of graphs) {
    for (const v of g.initializers) if (v.constant) addConst(v.constant.elem, v.constant.shape, v.constant.byteLength);
    for (const n of g.nodes) {
      nodes++;
      const key = n.domain && n.domain !== "ai.onnx" ? `${n.domain}::${n.op}` : n.op;
      ops.set(key, (ops.get(key) ?? 0) + 1);
      for (const a of n.attributes.values()) {
        if (a.type === "tensor") addConst(a.value.elem, a.value.shape, a.value.byteLength);
        else if (a.type === "tensors") for (const c of a.value) addConst(c.elem, c.shape, c.byteLength);
      }
    }
  }
  const parameters = [...params.entries()].map(([elem, p]) => ({ elem, ...p })).sort((a, b) => b.bytes - a.bytes || (a.elem < b.elem ? -1 : 1));
  return {
    format: model.format,
    producer: [model.producerName, model.producerVersion].filter(Boolean).join(" "),
    irVersion: Number(model.irVersion),
    opsets: model.opsets.map((o) => ({ domain: o.domain, version: o.version })),
    inputs: model.graph.inputs.filter((v) => !v.constant).map(valueSummary),
    outputs: model.graph.outputs.map(valueSummary),
    ops: [...ops.entries()].map(([op, count]) => ({ op, count })).sort((a, b) => b.count - a.count || (a.op < b.op ? -1 : 1)),
    nodes,
    graphs: graphs.length,
    parameters,
    totalParameters: parameters.reduce((s, p) => s + p.elements, 0),
    totalParameterBytes: parameters.reduce((s, p) => s + p.bytes, 0),
  };
}
