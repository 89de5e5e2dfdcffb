import type { Pass } from "@quanta/core";
import { type Graph, type Model, type Node, type Value, attr, constantOf } from "@quanta/ir";
import { type Tensor, f32ArrayToF16, tensor } from "@quanta/tensor";
import { Effect } from "effect";
import { ANNOTATIONS, QPARAMS, QUANTIZED, type TensorQParams } from "./keys.js";
import { MS, type ZeroPointDType, dropIfUnused, ensureMsOpset, sharedZeroPoint, zeroPointTensor } from "./lower-util.js";

export type Int4Format = "matmulnbits" | "qdq";

/** Which domain carries Q/DQ: the default one when its opset supports the parameters, else com.microsoft (onnxruntime). */
function qdqDomain(model: Model, p: TensorQParams): string {
  const opset = model.opset("") ?? 0;
  const needs = p.blockSize !== undefined || p.dtype === "int4" || p.dtype === "uint4" || p.dtype === "int16" || p.dtype === "uint16" ? 21 : p.axis !== undefined ? 13 : 10;
  return opset >= needs ? "" : MS;
}

/** Shape of the scale/zero-point tensors: [] per tensor, [C] per axis, the weight shape with the block axis shrunk for blocks. */
function paramShape(p: TensorQParams, valueShape: readonly number[]): number[] {
  if (p.axis === undefined) return [];
  if (p.blockSize === undefined) return [p.scale.length];
  return valueShape.map((d, i) => (i === p.axis ? Math.ceil(d / p.blockSize!) : d));
}

/**
 * Names of the values the QDQ lowering adds: short numbered names (`q12`, `s12`, `z12`, `d12` for the
 * quantized value, scale, zero point and dequantized copy, of a weight or an activation alike) and
 * unnamed Q/DQ nodes, numbered in one lowering run (deterministic: the annotations' order). The float
 * value a QuantizeLinear reads keeps its name, so `quanta compare` finds its quantized copy by
 * structure. On small models (PP-OCR cls, 0.58 MB) onnxruntime-style names (x_quantized, x_zero_point,
 * x_QuantizeLinear...) weighed a fifth of the file, each long tensor name repeated ten times per
 * quantized edge.
 */
class Names {
  private n = 0;
  next(): { q: string; s: string; z: string; d: string; h: string } {
    const k = this.n++;
    return { q: `q${k}`, s: `s${k}`, z: `z${k}`, d: `d${k}`, h: `h${k}` };
  }
}

/**
 * The scale input of a weight's DequantizeLinear: a float32 constant, or (`scaleDtype` float16) a
 * float16 constant `h<k>` behind Cast to float32 named `s<k>` (onnxruntime folds the Cast when the
 * session loads; DequantizeLinear reading float16 scales directly would output float16).
 */
function scaleInput(g: Graph, p: TensorQParams, shape: readonly number[], ids: { s: string; h: string }, before: Node | undefined): Value {
  if (p.scaleDtype !== "float16") return g.addConstant(ids.s, constantOf(tensor("float32", shape, Float32Array.from(p.scale))));
  const h = g.addConstant(ids.h, constantOf(tensor("float16", shape, f32ArrayToF16(p.scale))));
  const cast = g.addNode({ op: "Cast", name: "", inputs: [h], outputs: [ids.s], attributes: { to: attr.int(1) }, ...(before ? { before } : {}) });
  return cast.outputs[0]!;
}

function addDequantize(model: Model, g: Graph, q: Value, p: TensorQParams, shape: readonly number[], before: Node | undefined, ids: { s: string; z: string; d: string; h: string }): Node {
  const domain = qdqDomain(model, p);
  if (domain) ensureMsOpset(model);
  const ps = paramShape(p, shape);
  const sc = scaleInput(g, p, ps, ids, before);
  // A constant's zero point only sets the value 0 maps to (its type is the data's): all zeros, it is left out (the default).
  const zp = p.zeroPoint.every((z) => z === 0) ? null : g.addConstant(ids.z, constantOf(zeroPointTensor(p.dtype as ZeroPointDType, ps, p.zeroPoint)));
  const attributes: Record<string, ReturnType<typeof attr.int>> = {};
  if (p.axis !== undefined) attributes.axis = attr.int(p.axis);
  if (p.blockSize !== undefined) attributes.block_size = attr.int(p.blockSize);
  return g.addNode({ op: "DequantizeLinear", domain, name: "", inputs: zp ? [q, sc, zp] : [q, sc], outputs: [ids.d], attributes, ...(before ? { before } : {}) });
}

/** Replaces a float constant by quantized storage + DequantizeLinear; returns false when it is not used by float consumers any more. */
function lowerConstant(model: Model, v: Value, qt: Tensor, p: TensorQParams, names: Names): void {
  const g = v.graph;
  const id = names.next();
  const qv = g.addConstant(id.q, constantOf(qt));
  const first = g.nodes.find((n) => n.inputs.includes(v));
  // The dequantized weight gets no value_info (runtimes infer it; on PP-OCR cls the entries were 1.3% of the file).
  const dq = addDequantize(model, g, qv, p, qt.shape, first, id);
  g.replaceUses(v, dq.outputs[0]!, { except: dq, keepOutputs: true });
  if (v.uses.length === 0 && !g.outputs.includes(v) && !g.inputs.includes(v)) g.removeValue(v);
}

/** QuantizeLinear -> DequantizeLinear on an activation edge; graph outputs keep the float value. */
function lowerActivation(model: Model, v: Value, p: TensorQParams, names: Names): void {
  const g = v.graph;
  if (v.uses.length === 0) return;
  const domain = qdqDomain(model, p);
  if (domain) ensureMsOpset(model);
  const id = names.next();
  const sc = g.addConstant(id.s, constantOf(tensor("float32", [], Float32Array.of(p.scale[0]!))));
  const zp = sharedZeroPoint(g, p.dtype as ZeroPointDType, p.zeroPoint[0]!);
  const q = g.insertOnEdge(v, { op: "QuantizeLinear", domain, name: "", inputs: [v, sc, zp], outputs: [id.q], keepOutputs: true });
  const qOut = q.outputs[0]!;
  g.insertOnEdge(qOut, { op: "DequantizeLinear", domain, name: "", inputs: [qOut, sc, zp], outputs: [id.d], keepOutputs: true });
}

/** The float bias of a Gemm as N values (C of shape [N] or [1, N]), or undefined when C cannot be a MatMulNBits bias. */
function gemmBias(node: Node, N: number): Value | null | undefined {
  const c = node.inputs[2];
  if (!c) return null;
  if (c.constant?.elem !== "float32") return undefined;
  const shape = c.constant.shape;
  const ok = (shape.length === 1 && shape[0] === N) || (shape.length === 2 && shape[0] === 1 && shape[1] === N);
  return ok ? c : undefined;
}

/**
 * A MatMul whose constant [K, N] weight, or a Gemm (transA 0, alpha and beta 1) whose constant B
 * ([K, N], or [N, K] with transB) was quantized to int4/uint4 in blocks along K, becomes com.microsoft
 * MatMulNBits (B as uint8 [N, K/bs, bs/2], low nibble first; scales [N * K/bs]; zero points packed,
 * omitted when all are 8; a Gemm's C of N values becomes the bias input).
 */
function lowerMatMulNBits(model: Model, node: Node, w: Value, qt: Tensor, p: TensorQParams): boolean {
  if (node.inputs[1] !== w || qt.shape.length !== 2 || p.blockSize === undefined) return false;
  let transposed: boolean;
  if (node.op === "MatMul" && (node.domain === "" || node.domain === "ai.onnx")) transposed = false;
  else if (node.op === "Gemm" && (node.domain === "" || node.domain === "ai.onnx")) {
    if (node.int("transA", 0) !== 0 || node.float("alpha", 1) !== 1 || node.float("beta", 1) !== 1) return false;
    transposed = node.int("transB", 0) !== 0;
  } else return false;
  // Blocks run along K: axis 0 of [K, N], axis 1 of a transposed [N, K].
  if (p.axis !== (transposed ? 1 : 0)) return false;
  const [K, N] = (transposed ? [qt.shape[1], qt.shape[0]] : qt.shape) as [number, number];
  const bias = node.op === "Gemm" ? gemmBias(node, N) : null;
  if (bias === undefined) return false;
  const bs = p.blockSize;
  const kb = Math.ceil(K / bs);
  const signed = qt.dtype === "int4";
  const src = qt.data as Uint8Array;
  // Element (k, n) of the weight and its parameter index, in either layout.
  const at = (k: number, n: number) => (transposed ? n * K + k : k * N + n);
  const param = (b: number, n: number) => (transposed ? n * kb + b : b * N + n);
  const nib = (i: number) => {
    const v = (src[i >> 1]! >> ((i & 1) * 4)) & 0xf;
    return signed ? (v ^ 8) - 8 : v;
  };
  const B = new Uint8Array(N * kb * (bs / 2));
  const scales = new Float32Array(N * kb);
  const zps = new Uint8Array(N * Math.ceil(kb / 2));
  let allEight = true;
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < kb; b++) {
      const pi = param(b, n);
      scales[n * kb + b] = p.scale[pi]!;
      const z = (signed ? p.zeroPoint[pi]! + 8 : p.zeroPoint[pi]!) & 0xf;
      if (z !== 8) allEight = false;
      zps[n * Math.ceil(kb / 2) + (b >> 1)]! |= z << ((b & 1) * 4);
      for (let j = 0; j < bs; j++) {
        const k = b * bs + j;
        // Padding past K holds the zero point (dequantizes to 0).
        const u = k < K ? (signed ? nib(at(k, n)) + 8 : nib(at(k, n))) : z;
        B[(n * kb + b) * (bs / 2) + (j >> 1)]! |= (u & 0xf) << ((j & 1) * 4);
      }
    }
  }
  const g = node.graph;
  ensureMsOpset(model);
  const bv = g.addConstant(`${w.name}_nbits`, constantOf(tensor("uint8", [N, kb, bs / 2], B)));
  const sv = g.addConstant(`${w.name}_nbits_scales`, constantOf(tensor("float32", [N * kb], scales)));
  const zv = allEight ? null : g.addConstant(`${w.name}_nbits_zero_points`, constantOf(tensor("uint8", [zps.length], zps)));
  let bv5: Value | null = null;
  if (bias) {
    const data = bias.constant!.load().data as Float32Array;
    bv5 = bias.constant!.shape.length === 1 ? bias : g.addConstant(`${bias.name}_bias`, constantOf(tensor("float32", [N], Float32Array.from(data))));
  }
  // Rewrite the node in place: its output value (and name) stays.
  const a = node.inputs[0]!;
  const inputs = [a, bv, sv, zv, null, bv5];
  while (inputs.length > 3 && inputs[inputs.length - 1] === null) inputs.pop();
  for (let i = node.inputs.length - 1; i >= 1; i--) node.setInput(i, null);
  node.inputs.length = 1;
  for (let i = 1; i < inputs.length; i++) node.setInput(i, inputs[i] ?? null);
  node.op = "MatMulNBits";
  node.domain = MS;
  node.attributes.clear();
  for (const [k, v] of Object.entries({ K, N, bits: 4, block_size: bs, accuracy_level: 0 })) node.attributes.set(k, attr.int(v));
  dropIfUnused(w);
  if (bias && bv5 !== bias) dropIfUnused(bias);
  return true;
}

/**
 * Lowers annotations and qparams to ONNX: QDQ pairs, quantized weights behind DequantizeLinear, MatMulNBits.
 * Returns a message for each weight left in float because no operator of the model's opsets can read it
 * (block-wise DequantizeLinear needs opset 21; onnxruntime's com.microsoft DequantizeLinear has no block_size).
 */
export function lowerToOnnx(model: Model, annotations: import("./keys.js").Annotations, qparams: Map<Value, TensorQParams>, quantized: Map<Value, Tensor>, options: { int4Format?: Int4Format } = {}): string[] {
  const keptFloat: string[] = [];
  const names = new Names();
  for (const [v, a] of annotations.tensors) {
    const p = qparams.get(v);
    const qt = quantized.get(v);
    if (!p || !qt || (a.kind !== "weight" && a.kind !== "bias")) continue;
    if (a.kind === "weight" && (qt.dtype === "int4" || qt.dtype === "uint4") && (options.int4Format ?? "matmulnbits") === "matmulnbits") {
      const users = [...v.uses];
      if (users.length === 1 && lowerMatMulNBits(model, users[0]!.node, v, qt, p)) continue;
    }
    if (p.blockSize !== undefined && qdqDomain(model, p) !== "") {
      keptFloat.push(`weight '${v.name}' kept in float: block-wise DequantizeLinear needs opset 21 (the model has ${model.opset("") ?? 0})${qt.dtype === "int4" || qt.dtype === "uint4" ? " and MatMulNBits does not apply to its consumer" : ""}`);
      continue;
    }
    lowerConstant(model, v, qt, p, names);
  }
  for (const [v, a] of annotations.tensors) {
    if (a.kind !== "activation" && a.kind !== "shared") continue;
    const p = qparams.get(v);
    if (p) lowerActivation(model, v, p, names);
  }
  // Sort each graph: inserted nodes were placed near their producers, but keep the order valid.
  for (const g of model.allGraphs()) g.sort();
  return keptFloat;
}

/** The ONNX lowering pass. */
export function lowerOnnx(options: { int4Format?: Int4Format } = {}): Pass {
  return {
    name: "lower-onnx",
    requires: ["qparams"],
    provides: ["lowered"],
    run: (model, ctx) =>
      Effect.gen(function* () {
        const kept = lowerToOnnx(model, ctx.data.need(ANNOTATIONS), ctx.data.need(QPARAMS), ctx.data.get(QUANTIZED) ?? new Map(), options);
        for (const m of kept) yield* ctx.warn(m);
        return model;
      }),
  };
}
