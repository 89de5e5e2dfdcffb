import type { Pass } from "@quanta/core";
import { type Graph, type Model, type Node, type Value, attr, constantOf, describe } from "@quanta/ir";
import { type Tensor, computeQParams, quantizeLinear, tensor } from "@quanta/tensor";
import { Effect } from "effect";
import { ANNOTATIONS, type Annotations, QPARAMS, QUANTIZED, type TensorQParams } from "./keys.js";
import { lowerToOnnx } from "./lower-onnx.js";
import { dropIfUnused, floatConst, isFloatValue, isOnnxDomain, rewriteNode, sharedZeroPoint, zeroPointConst } from "./lower-util.js";
import { weightRanges } from "./qparams.js";

const FLOAT = 1; // TensorProto.FLOAT

type Q8 = "int8" | "uint8";

/** An 8-bit weight ready for an integer op: data in the op's layout, scales and (one or per-channel) zero points. */
interface IntWeight {
  readonly q: Tensor;
  readonly scale: Float32Array;
  readonly zeroPoint: Int32Array;
}

/** Per-run caches: one DynamicQuantizeLinear per activation, one constant per weight layout. */
interface Ctx {
  readonly model: Model;
  /** By graph (a subgraph gets its own: values it creates are not visible outside it). */
  readonly dq: Map<Graph, Map<Value, [Value, Value, Value]>>;
  readonly consts: Map<Graph, Map<string, Value>>;
  /** Numbers the values this lowering adds. */
  n: number;
}

/**
 * Short numbered names for what the lowering adds (`a3` quantized activation, `as3`/`az3` its scale and
 * zero point, `w5`/`ws5` weight and scale, `i7` int32 result, `f7` float, `m7` scale product, `r7`
 * rescaled, `b7` reshaped bias) and unnamed nodes: onnxruntime-style names (`x_DynamicQuantizeLinear`,
 * `x_quantized`, ...) repeat every tensor name several times per layer (PP-OCR cls: 6% of the file).
 */
const fresh = (ctx: Ctx, tag: string): string => `${tag}${ctx.n++}`;

function cacheOf<K, V>(m: Map<Graph, Map<K, V>>, g: Graph): Map<K, V> {
  let c = m.get(g);
  if (!c) m.set(g, (c = new Map()));
  return c;
}

/** DynamicQuantizeLinear of an activation (shared by all the integer ops that read it). */
function dynamicQuantize(ctx: Ctx, g: Graph, x: Value): [Value, Value, Value] {
  const cache = cacheOf(ctx.dq, g);
  const hit = cache.get(x);
  if (hit) return hit;
  const k = fresh(ctx, "");
  // No value_info for the outputs (runtimes infer them): it would be a fifth of each node's bytes.
  const n = g.addNode({ op: "DynamicQuantizeLinear", inputs: [x], outputs: [`a${k}`, `as${k}`, `az${k}`] });
  const r = n.outputs as [Value, Value, Value];
  cache.set(x, r);
  return r;
}

const uniform = (z: Int32Array): boolean => z.every((v) => v === z[0]);

/** The weight's zero point: a shared scalar when all channels share it, else per channel with `shape`. */
function zeroPointValue(ctx: Ctx, g: Graph, dtype: Q8, z: Int32Array, shape: readonly number[]): Value {
  return uniform(z) ? sharedZeroPoint(g, dtype, z[0]!) : zeroPointConst(g, fresh(ctx, "wz"), dtype, shape, z);
}

/** Transposes a 2-D 8-bit tensor. */
function transpose2d(t: Tensor): Tensor {
  const [r, c] = t.shape as [number, number];
  const src = t.data as Int8Array | Uint8Array;
  const out = new (src.constructor as Int8ArrayConstructor | Uint8ArrayConstructor)(src.length);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = src[i * c + j]!;
  return tensor(t.dtype as Q8, [c, r], out as never);
}

/**
 * Re-quantizes a float weight symmetrically per output channel (axis 0) with its annotation's spec, so
 * that every channel has the same zero point: onnxruntime's ConvInteger takes one weight zero point.
 */
function uniformZeroPoint(w: Value, p: TensorQParams, ann: Annotations): IntWeight | undefined {
  const a = ann.tensors.get(w);
  if (a?.kind !== "weight" || !w.constant) return undefined;
  const t = w.constant.load() as Tensor<"float32">;
  const axis = p.axis;
  const r = weightRanges(t, axis);
  const s = a.spec;
  const scale = new Float32Array(r.min.length);
  const zeroPoint = new Int32Array(r.min.length);
  for (let i = 0; i < scale.length; i++) {
    const qp = computeQParams(r.min[i]!, r.max[i]!, { dtype: p.dtype as Q8, symmetric: true, narrowRange: s.narrowRange, reduceRange: s.reduceRange, convention: s.convention });
    scale[i] = qp.scale;
    zeroPoint[i] = qp.zeroPoint;
  }
  if (!uniform(zeroPoint)) return undefined;
  return { q: quantizeLinear(t, { scale, zeroPoint, ...(axis !== undefined ? { axis } : {}) }, p.dtype as Q8), scale, zeroPoint };
}

/**
 * The tail of every dynamic integer op: Cast(int32) * (a_scale * w_scale) [+ bias]. The float node
 * itself becomes the last Mul (or the bias Add), so its output value, name and consumers stay.
 */
function rescale(ctx: Ctx, node: Node, int32: Value, aScale: Value, wScale: Value, bias?: Value): void {
  const g = node.graph;
  const k = fresh(ctx, "");
  const cast = g.addNode({ op: "Cast", inputs: [int32], outputs: [`f${k}`], attributes: { to: attr.int(FLOAT) } });
  const s = g.addNode({ op: "Mul", inputs: [aScale, wScale], outputs: [`m${k}`] });
  const dropped = [...node.inputs];
  if (bias) {
    const m = g.addNode({ op: "Mul", inputs: [cast.outputs[0]!, s.outputs[0]!], outputs: [`r${k}`] });
    rewriteNode(node, { op: "Add", inputs: [m.outputs[0]!, bias] });
  } else rewriteNode(node, { op: "Mul", inputs: [cast.outputs[0]!, s.outputs[0]!] });
  for (const v of dropped) dropIfUnused(v);
}

/** MatMul(A, W) -> DynamicQuantizeLinear(A) -> MatMulInteger -> Cast -> Mul(a_scale * w_scale). */
function lowerMatMul(ctx: Ctx, node: Node, w: Value, qt: Tensor, p: TensorQParams): boolean {
  const rank = qt.shape.length;
  const a = node.inputs[0];
  const y = node.outputs[0];
  if (!a || !y || rank < 2 || (p.axis !== undefined && p.axis !== rank - 1) || p.blockSize !== undefined) return false;
  const g = node.graph;
  const N = qt.shape[rank - 1]!;
  // Per-column zero points must be 1-D [N] (onnxruntime), which only a 2-D B has.
  if (!uniform(p.zeroPoint) && rank !== 2) return false;
  const [aq, as, az] = dynamicQuantize(ctx, g, a);
  const wq = weightConst(ctx, g, w, "", () => qt);
  const wz = zeroPointValue(ctx, g, qt.dtype as Q8, p.zeroPoint, [N]);
  const ws = floatConst(g, fresh(ctx, "ws"), p.scale.length === 1 ? [] : [N], p.scale);
  const mm = g.addNode({ op: "MatMulInteger", inputs: [aq, wq, az, wz], outputs: [fresh(ctx, "i")] });
  rescale(ctx, node, mm.outputs[0]!, as, ws);
  return true;
}

/** Gemm(A, W, C) (transA = 0) -> MatMulInteger on W as [K, N], alpha folded into the scale, + beta * C. */
function lowerGemm(ctx: Ctx, node: Node, w: Value, qt: Tensor, p: TensorQParams): boolean {
  const a = node.inputs[0];
  const y = node.outputs[0];
  const c = node.inputs[2];
  if (!a || !y || qt.shape.length !== 2 || node.int("transA", 0) !== 0 || p.blockSize !== undefined) return false;
  const transB = node.int("transB", 0) !== 0;
  const chAxis = transB ? 0 : 1;
  if (p.axis !== undefined && p.axis !== chAxis) return false;
  const alpha = node.float("alpha", 1);
  const beta = node.float("beta", 1);
  const g = node.graph;
  const N = qt.shape[chAxis]!;
  const [aq, as, az] = dynamicQuantize(ctx, g, a);
  const wq = weightConst(ctx, g, w, transB ? "_kn" : "", () => (transB ? transpose2d(qt) : qt));
  const wz = zeroPointValue(ctx, g, qt.dtype as Q8, p.zeroPoint, [N]);
  const ws = floatConst(g, fresh(ctx, "ws"), p.scale.length === 1 ? [] : [N], alpha === 1 ? p.scale : p.scale.map((s) => Math.fround(s * alpha)));
  const mm = g.addNode({ op: "MatMulInteger", inputs: [aq, wq, az, wz], outputs: [fresh(ctx, "i")] });
  let bias: Value | undefined;
  if (c && beta !== 0) {
    bias = c;
    if (beta !== 1) {
      bias = c.constant?.elem === "float32"
        ? floatConst(g, `${c.name}_beta`, c.constant.shape, (c.constant.load().data as Float32Array).map((v) => Math.fround(v * beta)))
        : g.addNode({ op: "Mul", inputs: [c, floatConst(g, fresh(ctx, "beta"), [], [beta])], outputs: [fresh(ctx, "bc")] }).outputs[0]!;
    }
  }
  rescale(ctx, node, mm.outputs[0]!, as, ws, bias);
  return true;
}

/** Conv(X, W, B) -> DynamicQuantizeLinear(X) -> ConvInteger -> Cast -> Mul(x_scale * w_scale[1, M, 1...]) -> Add(B[1, M, 1...]). */
function lowerConv(ctx: Ctx, node: Node, w: Value, qt: Tensor, p: TensorQParams, ann: Annotations): boolean {
  const x = node.inputs[0];
  const y = node.outputs[0];
  const b = node.inputs[2];
  const rank = qt.shape.length;
  // onnxruntime's ConvInteger has 1-D and 2-D kernels only, and one weight zero point.
  if (!x || !y || (rank !== 3 && rank !== 4) || (p.axis !== undefined && p.axis !== 0) || p.blockSize !== undefined) return false;
  if (b && b.constant?.elem !== "float32") return false;
  let iw: IntWeight = { q: qt, scale: p.scale, zeroPoint: p.zeroPoint };
  let key = "";
  if (!uniform(p.zeroPoint)) {
    const t = uniformZeroPoint(w, p, ann);
    if (!t) return false;
    iw = t;
    key = "_symmetric";
  }
  const g = node.graph;
  const M = qt.shape[0]!;
  const ones = new Array<number>(rank - 2).fill(1);
  const [xq, xs, xz] = dynamicQuantize(ctx, g, x);
  const wq = weightConst(ctx, g, w, key, () => iw.q);
  const wz = sharedZeroPoint(g, qt.dtype as Q8, iw.zeroPoint[0]!);
  const ws = floatConst(g, fresh(ctx, "ws"), iw.scale.length === 1 ? [] : [M, ...ones], iw.scale);
  const attributes = new Map([...node.attributes].filter(([k]) => ["auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"].includes(k)));
  const conv = g.addNode({ op: "ConvInteger", inputs: [xq, wq, xz, wz], outputs: [fresh(ctx, "i")], attributes });
  rescale(ctx, node, conv.outputs[0]!, xs, ws, b ? floatConst(g, fresh(ctx, "b"), [M, ...ones], b.constant!.load().data as Float32Array) : undefined);
  return true;
}

/** One quantized constant per weight and layout, shared by the nodes that read the weight. */
function weightConst(ctx: Ctx, g: Graph, w: Value, layout: string, make: () => Tensor): Value {
  const cache = cacheOf(ctx.consts, g);
  const k = `${w.name}\u0000${layout}`;
  let v = cache.get(k);
  if (!v) {
    v = g.addConstant(fresh(ctx, "w"), constantOf(make()));
    cache.set(k, v);
  }
  return v;
}

/**
 * Lowers dynamic quantization to ONNX, as onnxruntime's quantize_dynamic writes it: each quantized
 * MatMul, Gemm (transA = 0) and Conv (1-D/2-D) with a constant 8-bit weight reads its activation
 * through DynamicQuantizeLinear (uint8, range of the tensor at run time) and computes with
 * MatMulInteger / ConvInteger, then Cast -> Mul(a_scale * w_scale) [-> Add(bias)]. Weights that
 * cannot take this form keep a DequantizeLinear in front of the float op (weight-only). Returns the
 * nodes that were not given an integer op, with the reason (and the QDQ lowering's warnings, node "").
 */
export function lowerToDynamic(model: Model, annotations: Annotations, qparams: Map<Value, TensorQParams>, quantized: Map<Value, Tensor>): { node: string; reason: string }[] {
  const ctx: Ctx = { model, dq: new Map(), consts: new Map(), n: 0 };
  const kept: { node: string; reason: string }[] = [];
  for (const [node, d] of annotations.nodes) {
    if (!d.quantized || !isOnnxDomain(node) || !node.graph.hasNode(node)) continue;
    const w = node.inputs[1];
    const p = w ? qparams.get(w) : undefined;
    const qt = w ? quantized.get(w) : undefined;
    if (!w || !p || !qt) continue;
    let why: string | undefined;
    if (qt.dtype !== "int8" && qt.dtype !== "uint8") why = `${qt.dtype} weights have no integer kernel`;
    else if (!isFloatValue(node.inputs[0])) why = "the activation is not float32";
    else if (node.op === "MatMul") why = lowerMatMul(ctx, node, w, qt, p) ? undefined : "MatMulInteger needs B with per-column (last axis) parameters";
    else if (node.op === "Gemm") why = lowerGemm(ctx, node, w, qt, p) ? undefined : "MatMulInteger needs transA = 0 and per-column weight parameters";
    else if (node.op === "Conv") why = lowerConv(ctx, node, w, qt, p, annotations) ? undefined : "ConvInteger needs a 1-D or 2-D kernel, per-output-channel parameters and a constant bias";
    else why = `${node.op} has no dynamic integer form`;
    if (why === undefined) dropIfUnused(w);
    else kept.push({ node: describe(node), reason: `${why}; its weight is dequantized instead (weight-only)` });
  }
  // Weights still read by float ops: quantized storage behind DequantizeLinear.
  const rest: Annotations = { nodes: annotations.nodes, tensors: new Map([...annotations.tensors].filter(([v, a]) => a.kind === "weight" && v.uses.length > 0)) };
  for (const m of lowerToOnnx(model, rest, qparams, quantized)) kept.push({ node: "", reason: m });
  for (const g of model.allGraphs()) g.sort();
  return kept;
}

/** The dynamic-quantization lowering pass (no calibration). */
export const lowerDynamic: Pass = {
  name: "lower-dynamic",
  requires: ["qparams"],
  provides: ["lowered"],
  run: (model, ctx) =>
    Effect.gen(function* () {
      const kept = lowerToDynamic(model, ctx.data.need(ANNOTATIONS), ctx.data.need(QPARAMS), ctx.data.get(QUANTIZED) ?? new Map());
      for (const k of kept) yield* ctx.warn(k.node ? `${k.node}: ${k.reason}` : k.reason);
      return model;
    }),
};
