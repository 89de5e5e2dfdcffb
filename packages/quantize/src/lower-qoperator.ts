import type { Pass } from "@quanta/core";
import { type Attribute, type Graph, type Model, type Node, type Value, attr, constantOf } from "@quanta/ir";
import { type Tensor, tensor } from "@quanta/tensor";
import { Effect } from "effect";
import { ANNOTATIONS, type Annotations, QPARAMS, QUANTIZED, type TensorQParams } from "./keys.js";
import { lowerToOnnx } from "./lower-onnx.js";
import { MS, constValues, dropIfUnused, ensureMsOpset, int64Const, isOnnxDomain, rewriteNode, sharedZeroPoint, zeroPointConst } from "./lower-util.js";

type Q8 = "int8" | "uint8";
const RANGE: Record<Q8, [number, number]> = { int8: [-128, 127], uint8: [0, 255] };

/** What a DequantizeLinear node says about the float value it produces. */
interface Dq {
  readonly node: Node;
  readonly q: Value;
  readonly scale: Value;
  /** The zero-point input; null when left out (zeros of the data's type). */
  readonly zpInput: Value | null;
  readonly dtype: Q8 | "int32";
  readonly scales: number[];
  readonly zps: number[];
  readonly axis: number | undefined;
}

const isQ = (n: Node | undefined, op: string): n is Node => !!n && n.op === op && (isOnnxDomain(n) || n.domain === MS);

/** The DequantizeLinear producing `v`, when its parameters are constants of an 8-bit or int32 type. */
function dqOf(v: Value | null | undefined): Dq | undefined {
  const n = v?.producer;
  if (!isQ(n, "DequantizeLinear") || n.graph !== v!.graph) return undefined;
  const [q, scale, zp] = n.inputs;
  if (!q || !scale?.constant || (zp && !zp.constant) || n.int("block_size", 0) !== 0) return undefined;
  const dtype = zp?.constant?.elem ?? q.constant?.elem ?? q.type?.elem;
  if (dtype !== "int8" && dtype !== "uint8" && dtype !== "int32") return undefined;
  const scales = constValues(scale);
  const zps = zp ? constValues(zp) : scales.map(() => 0);
  return { node: n, q, scale, zpInput: zp ?? null, dtype, scales, zps, axis: scales.length > 1 || scale.constant.shape.length > 0 ? n.int("axis", 1) : undefined };
}

/**
 * The zero point of a DequantizeLinear as a value (QLinear ops need it). One left out is all zeros. A
 * per-tensor one, or one read by QLinearConv (whose w_zero_point may be a scalar next to per-channel
 * scales), is a scalar zero of its type shared per graph (on PP-OCR cls a zero vector per conv was 2%
 * of the file); elsewhere (QLinearMatMul: "scale and zero point must have same shape") zeros shaped
 * as the scale, one per scale value.
 */
function zpOf(d: Dq & { dtype: Q8 }, scalarOk = false): Value {
  if (d.zpInput) return d.zpInput;
  const g = d.node.graph;
  // The QDQ lowering's shared activation zero point of that type, where there is one.
  if (scalarOk || d.scale.constant!.shape.length === 0) return sharedZeroPoint(g, d.dtype, 0);
  let z = SHAPED.get(d.scale);
  if (!z || !g.initializers.includes(z)) {
    z = zeroPointConst(g, `${d.scale.name}_zero_point`, d.dtype, d.scale.constant!.shape, d.zps);
    SHAPED.set(d.scale, z);
  }
  return z;
}

/** Zero-point constants shaped as their scale, by scale value. */
const SHAPED = new WeakMap<Value, Value>();

/** A per-tensor 8-bit activation (or constant) parameter set. */
const perTensor8 = (d: Dq | undefined): d is Dq & { dtype: Q8 } => !!d && d.dtype !== "int32" && d.scales.length === 1;

/** An 8-bit parameter set (per tensor or per axis). */
const is8 = (d: Dq | undefined): d is Dq & { dtype: Q8 } => !!d && d.dtype !== "int32";

interface Out {
  /** The QuantizeLinear that quantizes the op's (possibly activation-fused) output; it becomes the new op. */
  readonly q: Node;
  readonly scale: Value;
  readonly zp: Value;
  readonly dtype: Q8;
  /** A Relu/Clip between the op and the QuantizeLinear that the output's saturation implements exactly. */
  readonly fused?: Node;
}

/** The single QuantizeLinear that reads `v` (per tensor, 8-bit), if that is `v`'s only use. */
function onlyQ(v: Value): Node | undefined {
  if (v.uses.length !== 1) return undefined;
  const n = v.uses[0]!.node;
  if (!isQ(n, "QuantizeLinear") || v.uses[0]!.index !== 0 || n.graph !== v.graph) return undefined;
  const [, s, z] = n.inputs;
  if (!s?.constant || !z?.constant || constValues(s).length !== 1 || (z.constant.elem !== "uint8" && z.constant.elem !== "int8")) return undefined;
  return n;
}

/** Clip bounds of a Relu/Clip node, or undefined. */
function clipBounds(n: Node): [number, number] | undefined {
  if (!isOnnxDomain(n)) return undefined;
  if (n.op === "Relu") return [0, Number.POSITIVE_INFINITY];
  if (n.op !== "Clip") return undefined;
  const lo = n.inputs[1];
  const hi = n.inputs[2];
  if ((lo && !lo.constant) || (hi && !hi.constant)) return undefined;
  return [lo ? constValues(lo)[0]! : Number.NEGATIVE_INFINITY, hi ? constValues(hi)[0]! : Number.POSITIVE_INFINITY];
}

/**
 * The quantized output of `n`: a QuantizeLinear directly on it, or behind a Relu/Clip whose bounds
 * contain the quantized range (then saturation alone clips the same way and the activation is fused).
 */
function outputOf(n: Node): Out | undefined {
  const y = n.outputs[0];
  if (!y || n.outputs.filter(Boolean).length !== 1) return undefined;
  const make = (q: Node, fused?: Node): Out => {
    const scale = q.inputs[1]!;
    const zp = q.inputs[2]!;
    return { q, scale, zp, dtype: zp.constant!.elem as Q8, ...(fused ? { fused } : {}) };
  };
  const direct = onlyQ(y);
  if (direct) return make(direct);
  if (y.uses.length !== 1 || y.graph.outputs.includes(y)) return undefined;
  const r = y.uses[0]!.node;
  const bounds = clipBounds(r);
  const ry = r.outputs[0];
  if (!bounds || !ry || r.graph !== n.graph) return undefined;
  const q = onlyQ(ry);
  if (!q) return undefined;
  const o = make(q, r);
  const s = constValues(o.scale)[0]!;
  const z = constValues(o.zp)[0]!;
  const [qmin, qmax] = RANGE[o.dtype];
  // Inputs below the clip's minimum must quantize to qmin, above its maximum to qmax.
  if (!(Math.fround(bounds[0] / s) + z < qmin + 0.5 && Math.fround(bounds[1] / s) + z > qmax - 0.5)) return undefined;
  return o;
}

/**
 * Makes `out.q` (the QuantizeLinear) compute the op, then removes the float op (and a fused
 * activation). When the float value was a graph output, its producer becomes a DequantizeLinear of
 * the quantized result, so the output keeps its name.
 */
function replace(n: Node, out: Out, init: { op: string; domain?: string; inputs: readonly (Value | null)[]; attributes?: ReadonlyMap<string, Attribute> }): void {
  const g = n.graph;
  const qDomain = out.q.domain;
  rewriteNode(out.q, { ...init, name: n.name || out.q.name });
  const last = out.fused ?? n;
  const pre = last.outputs[0]!;
  const dropped = [...n.inputs, ...(out.fused?.inputs ?? [])];
  if (g.outputs.includes(pre)) rewriteNode(last, { op: "DequantizeLinear", domain: qDomain, name: g.uniqueName(`${pre.name}_DequantizeLinear`), inputs: [out.q.outputs[0]!, out.scale, out.zp] });
  else g.removeNode(last);
  if (out.fused) g.removeNode(n);
  // Constant operands of the removed ops (a Clip's bounds, a Reshape's shape...) that nothing reads now.
  for (const v of dropped) dropIfUnused(v);
}

const convAttrs = (n: Node) => new Map([...n.attributes].filter(([k]) => ["auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"].includes(k)));

/** The int32 bias of a QLinear op: DequantizeLinear(int32, s_x * s_w[c], 0) of a constant. */
function biasOf(b: Value | null | undefined, sx: number, sw: number[], n: number): Value | null | undefined {
  if (!b) return null;
  const d = dqOf(b);
  if (d?.dtype !== "int32" || d.q.constant?.shape.length !== 1 || d.q.constant.shape[0] !== n || d.zps.some((z) => z !== 0)) return undefined;
  for (let c = 0; c < n; c++) {
    if (d.scales[d.scales.length === 1 ? 0 : c] !== Math.fround(sx * sw[sw.length === 1 ? 0 : c]!)) return undefined;
  }
  return d.q;
}

/** Conv -> QLinearConv (1-D/2-D/3-D kernels; weight per tensor or per output channel, one zero point). */
function conv(n: Node): boolean {
  const x = dqOf(n.inputs[0]);
  const w = dqOf(n.inputs[1]);
  const out = outputOf(n);
  if (!perTensor8(x) || !is8(w) || !w.q.constant || !out || out.dtype !== x.dtype) return false;
  const M = w.q.constant.shape[0]!;
  if ((w.axis !== undefined && w.axis !== 0) || w.zps.some((z) => z !== w.zps[0])) return false;
  const b = biasOf(n.inputs[2], x.scales[0]!, w.scales, M);
  if (b === undefined) return false;
  replace(n, out, { op: "QLinearConv", inputs: [x.q, x.scale, zpOf(x), w.q, w.scale, zpOf(w, true), out.scale, out.zp, ...(b ? [b] : [])], attributes: convAttrs(n) });
  return true;
}

/** MatMul -> QLinearMatMul (A per tensor; B per tensor or, when 2-D, per column). */
function matmul(n: Node): boolean {
  const a = dqOf(n.inputs[0]);
  const b = dqOf(n.inputs[1]);
  const out = outputOf(n);
  if (!perTensor8(a) || !is8(b) || !out || out.dtype !== a.dtype) return false;
  if (b.scales.length > 1) {
    const shape = b.q.constant?.shape ?? b.q.type?.shape;
    if (shape?.length !== 2 || (b.axis !== 1 && b.axis !== -1)) return false;
  }
  replace(n, out, { op: "QLinearMatMul", inputs: [a.q, a.scale, zpOf(a), b.q, b.scale, zpOf(b), out.scale, out.zp] });
  return true;
}

/**
 * Gemm (transA = 0, alpha = beta = 1, constant weight) -> Unsqueeze -> QLinearConv with a 1x1 kernel
 * -> Squeeze: the fully connected layer with an int32 bias in standard ops (onnxruntime's own
 * QGemm is a com.microsoft op that not every runtime has).
 */
function gemm(n: Node, cache: Map<Value, Value>): boolean {
  const a = dqOf(n.inputs[0]);
  const w = dqOf(n.inputs[1]);
  const out = outputOf(n);
  if (!perTensor8(a) || !is8(w) || !w.q.constant || w.q.constant.shape.length !== 2 || !out || out.dtype !== a.dtype) return false;
  if (n.int("transA", 0) !== 0 || n.float("alpha", 1) !== 1 || n.float("beta", 1) !== 1) return false;
  const transB = n.int("transB", 0) !== 0;
  const [r, c] = w.q.constant.shape as [number, number];
  const N = transB ? r : c;
  const K = transB ? c : r;
  if (w.scales.length > 1 && w.axis !== (transB ? 0 : 1)) return false;
  if (w.zps.some((z) => z !== w.zps[0])) return false;
  const b = biasOf(n.inputs[2], a.scales[0]!, w.scales, N);
  if (b === undefined) return false;
  const g = n.graph;
  let w4 = cache.get(w.q);
  if (!w4) {
    const t = w.q.constant.load();
    const src = t.data as Int8Array | Uint8Array;
    const dst = new (src.constructor as Int8ArrayConstructor)(src.length) as Int8Array | Uint8Array;
    if (transB) dst.set(src);
    else for (let i = 0; i < K; i++) for (let j = 0; j < N; j++) dst[j * K + i] = src[i * N + j]!;
    w4 = g.addConstant(`${w.q.name}_1x1`, constantOf(tensor(t.dtype as Q8, [N, K, 1, 1], dst as never) as Tensor));
    cache.set(w.q, w4);
  }
  // A per-tensor weight zero point / scale stays a scalar; per-channel ones are already [N].
  const axes = int64Const(g, `${n.name || "gemm"}_axes`, [2, 3]);
  const x4 = g.addNode({ op: "Unsqueeze", name: g.uniqueName(`${n.name || "gemm"}_Unsqueeze`), inputs: [a.q, axes], outputs: [`${a.q.name}_4d`] }).outputs[0]!;
  const y4 = g.addNode({
    op: "QLinearConv",
    name: g.uniqueName(`${n.name || "gemm"}_QLinearConv`),
    inputs: [x4, a.scale, zpOf(a), w4, w.scale, zpOf(w, true), out.scale, out.zp, ...(b ? [b] : [])],
    outputs: [`${out.q.outputs[0]!.name}_4d`],
  }).outputs[0]!;
  replace(n, out, { op: "Squeeze", inputs: [y4, axes] });
  return true;
}

/** Add / Mul -> com.microsoft QLinearAdd / QLinearMul (both operands per tensor). */
function binary(model: Model, n: Node, op: "QLinearAdd" | "QLinearMul"): boolean {
  const a = dqOf(n.inputs[0]);
  const b = dqOf(n.inputs[1]);
  const out = outputOf(n);
  if (!perTensor8(a) || !perTensor8(b) || !out || a.dtype !== out.dtype || b.dtype !== out.dtype) return false;
  ensureMsOpset(model);
  replace(n, out, { op, domain: MS, inputs: [a.q, a.scale, zpOf(a), b.q, b.scale, zpOf(b), out.scale, out.zp] });
  return true;
}

/** GlobalAveragePool / LeakyRelu / Sigmoid -> their com.microsoft QLinear forms (x and y per tensor). */
function unary(model: Model, n: Node, op: string, attributes: ReadonlyMap<string, Attribute>): boolean {
  const x = dqOf(n.inputs[0]);
  const out = outputOf(n);
  if (!perTensor8(x) || !out || x.dtype !== out.dtype) return false;
  ensureMsOpset(model);
  replace(n, out, { op, domain: MS, inputs: [x.q, x.scale, zpOf(x), out.scale, out.zp], attributes });
  return true;
}

/** Ops that move or select 8-bit values without arithmetic (onnxruntime runs them on uint8/int8). */
const MOVES = new Set(["Reshape", "Transpose", "Flatten", "Squeeze", "Unsqueeze", "Identity", "MaxPool", "Slice", "Gather", "Concat"]);

/** A data-movement op whose quantized inputs and output share one parameter set runs on the quantized tensor. */
function move(n: Node): boolean {
  const out = outputOf(n);
  if (!out || out.fused || n.outputs.length !== 1) return false;
  const s = constValues(out.scale)[0]!;
  const z = constValues(out.zp)[0]!;
  const data = n.op === "Concat" ? n.inputs.map((_, i) => i) : [0];
  const inputs = [...n.inputs];
  for (const i of data) {
    const d = dqOf(n.inputs[i]);
    if (!perTensor8(d) || d.dtype !== out.dtype || d.scales[0] !== s || d.zps[0] !== z) return false;
    inputs[i] = d.q;
  }
  replace(n, out, { op: n.op, domain: n.domain, inputs, attributes: n.attributes });
  return true;
}

function convertGraph(model: Model, g: Graph, cache: Map<Value, Value>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const n of g.topologicalOrder()) {
    if (!g.hasNode(n) || !isOnnxDomain(n)) continue;
    let ok = false;
    switch (n.op) {
      case "Conv":
        ok = conv(n);
        break;
      case "MatMul":
        ok = matmul(n);
        break;
      case "Gemm":
        ok = gemm(n, cache);
        break;
      case "Add":
        ok = binary(model, n, "QLinearAdd");
        break;
      case "Mul":
        ok = binary(model, n, "QLinearMul");
        break;
      case "GlobalAveragePool":
        ok = unary(model, n, "QLinearGlobalAveragePool", new Map([["channels_last", attr.int(0)]]));
        break;
      case "LeakyRelu":
        ok = unary(model, n, "QLinearLeakyRelu", new Map([["alpha", attr.float(n.float("alpha", 0.01))]]));
        break;
      case "Sigmoid":
        ok = unary(model, n, "QLinearSigmoid", new Map());
        break;
      default:
        ok = MOVES.has(n.op) && move(n);
    }
    if (ok) counts.set(n.op, (counts.get(n.op) ?? 0) + 1);
  }
  return counts;
}

/**
 * Lowers static 8-bit quantization to the QOperator format: the QDQ form is built first, then every
 * op whose inputs come from DequantizeLinear and whose output goes to one QuantizeLinear (possibly
 * through a Relu/Clip that the output's saturation implements) becomes its integer operator:
 * QLinearConv, QLinearMatMul, Gemm as a 1x1 QLinearConv, com.microsoft QLinearAdd / QLinearMul /
 * QLinearGlobalAveragePool / QLinearLeakyRelu / QLinearSigmoid, and data-movement ops on the
 * quantized tensor. The Q/DQ pairs left between two integer ops disappear, so QuantizeLinear
 * remains at the entry of each quantized region and DequantizeLinear at its exit; ops that cannot
 * be converted stay in QDQ form. Returns how many ops of each type were converted, and the QDQ
 * lowering's warnings.
 */
export function lowerToQOperator(
  model: Model,
  annotations: Annotations,
  qparams: Map<Value, TensorQParams>,
  quantized: Map<Value, Tensor>,
): { converted: Map<string, number>; warnings: string[] } {
  const before = new Set<Node>();
  const inits = new Set<Value>();
  for (const g of model.allGraphs()) {
    for (const n of g.nodes) before.add(n);
    for (const v of g.initializers) inits.add(v);
  }
  const warnings = lowerToOnnx(model, annotations, qparams, quantized);
  const counts = new Map<string, number>();
  const cache = new Map<Value, Value>();
  for (const g of model.allGraphs()) for (const [op, k] of convertGraph(model, g, cache)) counts.set(op, (counts.get(op) ?? 0) + k);
  // Drop the Q/DQ nodes (and their constants) that nothing reads any more.
  for (const g of model.allGraphs()) {
    for (let changed = true; changed; ) {
      changed = false;
      for (const n of [...g.nodes].reverse()) {
        if (before.has(n) || (n.op !== "QuantizeLinear" && n.op !== "DequantizeLinear")) continue;
        const o = n.outputs[0];
        if (o && (o.uses.length > 0 || g.outputs.includes(o))) continue;
        const ins = [...n.inputs];
        g.removeNode(n);
        for (const v of ins) if (v && !inits.has(v)) dropIfUnused(v);
        changed = true;
      }
    }
    for (const v of [...g.initializers]) if (!inits.has(v)) dropIfUnused(v);
    g.sort();
  }
  return { converted: counts, warnings };
}

/** The QOperator lowering pass (static 8-bit schemes). */
export const lowerQOperator: Pass = {
  name: "lower-qoperator",
  requires: ["qparams"],
  provides: ["lowered"],
  run: (model, ctx) =>
    Effect.gen(function* () {
      const { converted: counts, warnings } = lowerToQOperator(model, ctx.data.need(ANNOTATIONS), ctx.data.need(QPARAMS), ctx.data.get(QUANTIZED) ?? new Map());
      for (const m of warnings) yield* ctx.warn(m);
      const total = [...counts.values()].reduce((a, b) => a + b, 0);
      yield* ctx.progress(1, 1, `${total} ops in integer form (${[...counts].map(([op, k]) => `${op} ${k}`).join(", ") || "none"})`);
      return model;
    }),
};
