// Which candidate tensor `quanta compare` sets against each float tensor of the reference model, when
// the candidate holds it quantized: found by structure and node names, so it works on QDQ models
// written by any tool, and on QOperator models whose QLinear ops keep the float nodes' names (Quanta's)
// or add onnxruntime's `_quant`.
import type { Model, Node, Value } from "@quanta/ir";
import { type Tensor, dequantizeLinear } from "@quanta/tensor";

/**
 * The candidate value standing for a reference tensor: a DequantizeLinear's float output (the
 * runtime dequantized it: any dtype, per axis too), or an 8/16/32-bit quantized value with per-tensor
 * parameters that the comparison dequantizes.
 */
export type QuantizedCopy =
  | { readonly kind: "float"; readonly name: string }
  | { readonly kind: "quantized"; readonly name: string; readonly scale: number; readonly zeroPoint: number };

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

/** Does candidate op `c` compute what reference op `r` did, in quantized form? */
function replaces(r: string, c: string): boolean {
  if (c === `QLinear${r}` || (MOVES.has(r) && c === r)) return true;
  // Gemm: onnxruntime's QGemm, or Quanta's 1x1 QLinearConv between Unsqueeze and Squeeze (named after the Gemm).
  if (r === "Gemm") return c === "QGemm" || c === "Squeeze";
  // A HardSwish's division by 6 became the Mul of Mul(x, HardSigmoid(x)) (preprocessing).
  return r === "Div" && c === "QLinearMul";
}

/** The integer dtypes a copy's values and zero point may have. */
const INTEGER: ReadonlySet<string> = new Set(["int8", "uint8", "int16", "uint16", "int32"]);

/** The value of a one-element constant: a float32 scale, or an integer zero point. */
function scalar(v: Value | null | undefined, kind: "scale" | "zeroPoint"): number | undefined {
  const c = v?.constant;
  if (c?.shape.reduce((a, b) => a * b, 1) !== 1) return undefined;
  if (kind === "scale" ? c.elem !== "float32" : !INTEGER.has(c.elem)) return undefined;
  return Number((c.load().data as ArrayLike<number>)[0]);
}

/** Per-tensor parameters of a quantized value, from its producer (through data-movement ops). */
function paramsOf(v: Value): { scale: number; zeroPoint: number } | undefined {
  let p: Node | undefined = v.producer;
  for (let depth = 0; p && depth < 64; depth++) {
    const at = OUTPUT_PARAMS[p.op];
    if (at) {
      const scale = scalar(p.inputs[at[0]], "scale");
      const zeroPoint = p.inputs[at[1]] ? scalar(p.inputs[at[1]], "zeroPoint") : 0;
      return scale !== undefined && zeroPoint !== undefined ? { scale, zeroPoint } : undefined;
    }
    if (!MOVES.has(p.op)) return undefined;
    p = p.inputs[0]?.producer;
  }
  return undefined;
}

/**
 * For each tensor of `ref` the candidate holds quantized, its copy there:
 * - a float value a QuantizeLinear reads (QDQ): the DequantizeLinear of that quantized value, else
 *   the quantized value itself;
 * - a float op the candidate replaced by a QLinear op of the same node name (QOperator; onnxruntime
 *   adds `_quant`), through the BatchNormalization folded into it and the Relu or Clip it absorbed:
 *   that op's quantized output. Names used by more than one node are left alone.
 */
export function quantizedCopies(ref: Model, cand: Model): Map<string, QuantizedCopy> {
  const out = new Map<string, QuantizedCopy>();
  const candNodes = new Map<string, Node | null>();
  const candValues = new Set<string>();
  for (const g of cand.allGraphs()) {
    for (const n of g.nodes) {
      if (n.name) candNodes.set(n.name, candNodes.has(n.name) ? null : n);
      for (const o of n.outputs) if (o) candValues.add(o.name);
      const x = n.inputs[0];
      const q = n.outputs[0];
      if (n.op !== "QuantizeLinear" || !x || !q || x.constant || out.has(x.name)) continue;
      const dq = q.uses.find((u) => u.node.op === "DequantizeLinear" && u.index === 0)?.node.outputs[0];
      const p = dq ? undefined : paramsOf(q);
      if (dq) out.set(x.name, { kind: "float", name: dq.name });
      else if (p) out.set(x.name, { kind: "quantized", name: q.name, ...p });
    }
  }
  const refNames = new Map<string, number>();
  for (const g of ref.allGraphs()) for (const r of g.nodes) if (r.name) refNames.set(r.name, (refNames.get(r.name) ?? 0) + 1);
  for (const g of ref.allGraphs()) {
    for (const r of g.nodes) {
      if (!r.name || refNames.get(r.name) !== 1) continue;
      const c = candNodes.get(r.name) ?? candNodes.get(`${r.name}_quant`);
      let v = r.outputs[0];
      if (!c || !v || !replaces(r.op, c.op)) continue;
      // Walk through the nodes the quantized op took in: those whose outputs the candidate no longer has.
      for (let u = v.uses.length === 1 ? v.uses[0]!.node : undefined; u && ABSORBED.has(u.op) && u.outputs[0] && !candValues.has(u.outputs[0].name); ) {
        v = u.outputs[0];
        u = v.uses.length === 1 ? v.uses[0]!.node : undefined;
      }
      if (candValues.has(v.name) || out.has(v.name)) continue;
      const o = c.outputs[0];
      const p = o ? paramsOf(o) : undefined;
      if (o && p) out.set(v.name, { kind: "quantized", name: o.name, ...p });
    }
  }
  return out;
}

/** Dequantizes an 8/16/32-bit integer tensor with per-tensor parameters (DequantizeLinear); undefined for other dtypes. */
export function dequantizeCopy(t: Tensor, c: { readonly scale: number; readonly zeroPoint: number }): Tensor | undefined {
  if (!INTEGER.has(t.dtype)) return undefined;
  return dequantizeLinear(t as Tensor<"int8">, { scale: Float32Array.of(c.scale), zeroPoint: Int32Array.of(c.zeroPoint) });
}
