// Which candidate tensor `quanta compare` sets against each float tensor of the reference model, when
// the candidate holds it quantized: found by structure and node names, so it works on QDQ and
// QOperator models written by any tool.
import type { Model, Node, Value } from "@quanta/ir";
import type { Tensor } from "@quanta/tensor";

/** A quantized candidate value standing for a reference tensor, with its per-tensor parameters. */
export interface QuantizedCopy {
  readonly name: string;
  readonly scale: number;
  readonly zeroPoint: number;
}

/** Inputs holding the output's scale and zero point, by op (ONNX and com.microsoft QLinear ops). */
const OUTPUT_PARAMS: Readonly<Record<string, readonly [number, number]>> = {
  QuantizeLinear: [1, 2],
  QLinearConv: [6, 7],
  QLinearMatMul: [6, 7],
  QLinearAdd: [6, 7],
  QLinearMul: [6, 7],
  QGemm: [7, 8],
  QLinearGlobalAveragePool: [3, 4],
  QLinearAveragePool: [3, 4],
  QLinearLeakyRelu: [3, 4],
  QLinearSigmoid: [3, 4],
  QLinearSoftmax: [3, 4],
  QLinearConcat: [0, 1],
};

/** Ops that move quantized values without arithmetic: the output keeps the input's parameters. */
const MOVES: ReadonlySet<string> = new Set(["Reshape", "Transpose", "Flatten", "Squeeze", "Unsqueeze", "Identity", "MaxPool", "Slice", "Gather", "Concat"]);

/**
 * Nodes a quantized op takes in: a BatchNormalization folded into its conv (preprocessing) and the
 * activation its output's saturation implements (Relu, Clip).
 */
const ABSORBED: ReadonlySet<string> = new Set(["BatchNormalization", "Relu", "Clip"]);

/** The value of a one-element integer or float constant. */
function scalar(v: Value | null | undefined): number | undefined {
  const c = v?.constant;
  if (c?.shape.reduce((a, b) => a * b, 1) !== 1) return undefined;
  const x = (c.load().data as ArrayLike<number | bigint>)[0]!;
  return typeof x === "bigint" ? Number(x) : c.elem === "int4" ? ((x & 0xf) ^ 8) - 8 : c.elem === "uint4" ? x & 0xf : x;
}

/** Per-tensor parameters of a quantized value, from its producer (through data-movement ops). */
function paramsOf(v: Value): { scale: number; zeroPoint: number } | undefined {
  let p: Node | undefined = v.producer;
  for (let depth = 0; p && depth < 64; depth++) {
    const at = OUTPUT_PARAMS[p.op];
    if (at) {
      const scale = scalar(p.inputs[at[0]]);
      const zeroPoint = p.inputs[at[1]] ? scalar(p.inputs[at[1]]) : 0;
      return scale !== undefined && zeroPoint !== undefined ? { scale, zeroPoint } : undefined;
    }
    if (!MOVES.has(p.op)) return undefined;
    p = p.inputs[0]?.producer;
  }
  return undefined;
}

/**
 * For each tensor of `ref` the candidate holds quantized, the quantized value and its parameters:
 * - a float value a QuantizeLinear reads (QDQ): what the layers after it see;
 * - a float op the candidate replaced by a QLinear op of the same node name (QOperator), through the
 *   BatchNormalization folded into it and the Relu or Clip it absorbed: that op's quantized output.
 */
export function quantizedCopies(ref: Model, cand: Model): Map<string, QuantizedCopy> {
  const out = new Map<string, QuantizedCopy>();
  const candNodes = new Map<string, Node>();
  const candValues = new Set<string>();
  for (const g of cand.allGraphs()) {
    for (const n of g.nodes) {
      if (n.name) candNodes.set(n.name, n);
      for (const o of n.outputs) if (o) candValues.add(o.name);
      const x = n.inputs[0];
      if (n.op !== "QuantizeLinear" || !x || x.constant || out.has(x.name)) continue;
      const p = paramsOf(n.outputs[0]!);
      if (p) out.set(x.name, { name: n.outputs[0]!.name, ...p });
    }
  }
  for (const g of ref.allGraphs()) {
    for (const r of g.nodes) {
      const c = r.name ? candNodes.get(r.name) : undefined;
      let v = r.outputs[0];
      if (!c || !v) continue;
      for (let u = v.uses.length === 1 ? v.uses[0]!.node : undefined; u && ABSORBED.has(u.op) && !(u.name && candNodes.has(u.name)) && u.outputs[0]; ) {
        v = u.outputs[0]!;
        u = v.uses.length === 1 ? v.uses[0]!.node : undefined;
      }
      if (candValues.has(v.name) || out.has(v.name)) continue;
      const o = c.outputs[0];
      const p = o ? paramsOf(o) : undefined;
      if (o && p) out.set(v.name, { name: o.name, ...p });
    }
  }
  return out;
}

/** Dequantizes an integer tensor (per tensor), as DequantizeLinear does; undefined for other dtypes. */
export function dequantizeCopy(t: Tensor, c: QuantizedCopy): Tensor | undefined {
  if (!["int8", "uint8", "int16", "uint16", "int32"].includes(t.dtype)) return undefined;
  const q = t.data as Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array;
  const d = new Float32Array(q.length);
  for (let i = 0; i < q.length; i++) d[i] = Math.fround((q[i]! - c.zeroPoint) * c.scale);
  return { dtype: "float32", shape: t.shape, data: d } as Tensor;
}
