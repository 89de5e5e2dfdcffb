import type { Pass } from "@quanta/core";
import { type Model, QuantaError, type Value, attr, constantOf } from "@quanta/ir";
import type { Scheme } from "@quanta/schemes";
import { type Tensor, tensor } from "@quanta/tensor";
import { Effect } from "effect";
import { storesFloat16Biases } from "./annotate.js";
import { E4M3FN_MAX, floatToE4M3FN, toHalf } from "./float.js";
import { ANNOTATIONS, type Annotations, RANGES, type Ranges } from "./keys.js";
import { dropIfUnused, floatConst } from "./lower-util.js";
import { weightRanges } from "./qparams.js";
import { OpsetUpgradeError } from "./upgrade.js";
import { opset21Blockers, upgradeToOpset19, upgradeToOpset21 } from "./upgrade19.js";

const FLOAT = 1; // TensorProto.FLOAT

const targets = (s: Scheme) => [s.weights.dtype, s.activations?.dtype, ...Object.values(s.overrides).map((o) => o.dtype)];

/** Does the scheme quantize anything to float8 (which needs opset 19)? */
export const usesFloat8 = (s: Scheme): boolean => targets(s).includes("float8e4m3fn");

/** Does the scheme have float16 or float8 targets (lowered by `lowerFloat`)? */
export const usesFloatTargets = (s: Scheme): boolean => targets(s).some((d) => d === "float16" || d === "float8e4m3fn");

/** Does the scheme need the float lowering: float targets, or integer weights with float16 biases. */
export const needsFloatLowering = (s: Scheme): boolean => usesFloatTargets(s) || storesFloat16Biases(s);

/** A float8 lowering found the model below opset 19 (run the opset-19 upgrade first). */
export class FloatLoweringError extends QuantaError {
  readonly _tag = "FloatLoweringError";
  constructor(readonly reason: string) {
    super(`float lowering: ${reason}`);
  }
}

/**
 * Opset upgrade pass (ONNX models only): float8 QuantizeLinear/DequantizeLinear need opset 19, block-wise
 * and int4 DequantizeLinear opset 21. `optional`: a model that cannot be rewritten (see
 * `opset21Blockers`) is left as it is with a warning (the lowering then says which weights stay float).
 */
export function upgradePass(target: 19 | 21, options: { optional?: boolean; when?: (model: Model) => boolean } = {}): Pass {
  return {
    name: `upgrade-opset${target}`,
    requires: ["preprocessed"],
    provides: [`opset${target}`],
    run: (model, ctx) =>
      Effect.gen(function* () {
        if (model.format !== "onnx") return model;
        const from = model.opset("") ?? 0;
        if (from >= target || (options.when && !options.when(model))) return model;
        if (target === 21 && options.optional) {
          const blockers = opset21Blockers(model);
          if (blockers.length) {
            yield* ctx.warn(`the model stays at opset ${from} (block-wise DequantizeLinear needs 21): ${blockers.join("; ")}`);
            return model;
          }
        }
        const upgrade = target === 21 ? upgradeToOpset21 : upgradeToOpset19;
        yield* Effect.try({ try: () => upgrade(model), catch: (e) => (e instanceof QuantaError ? e : new OpsetUpgradeError("the model", String(e), target)) });
        yield* ctx.progress(1, 1, `upgraded the model from opset ${from} to ${target}`);
        return model;
      }),
  };
}

/** Per-tensor (or per-axis) float8 scale: absmax / 448, 1 for an all-zero range. */
function f8Scale(min: number, max: number): number {
  const a = Math.max(Math.abs(min), Math.abs(max));
  const s = Math.fround(a / E4M3FN_MAX);
  return a > 0 && Number.isFinite(s) && s > 0 ? s : 1;
}

interface F8Params {
  readonly scale: Float32Array;
  readonly axis?: number;
}

const f8Zero = (shape: readonly number[], n: number) => constantOf(tensor("float8e4m3fn", shape, new Uint8Array(n)));

/**
 * float16 weight (or bias) behind Cast(to float): the float16 constant `f<k>` and the float32 value
 * `c<k>` the readers take, with an unnamed Cast (short names, as the QDQ lowering's: on small models
 * names repeated per tensor are a visible share of the file). The Cast's output gets no value_info
 * (runtimes infer it; one per bias was 1% of an int4 PP-OCR cls).
 */
function castWeight(v: Value, k: number): void {
  const g = v.graph;
  const t = v.constant!.load() as Tensor<"float32">;
  const h = g.addConstant(`f${k}`, constantOf(tensor("float16", t.shape, toHalf(t.data))));
  const first = g.nodes.find((n) => n.inputs.includes(v));
  const cast = g.addNode({ op: "Cast", name: "", inputs: [h], outputs: [`c${k}`], attributes: { to: attr.int(FLOAT) }, ...(first ? { before: first } : {}) });
  g.replaceUses(v, cast.outputs[0]!, { keepOutputs: true });
  dropIfUnused(v);
}

/** float8 e4m3fn weight (absmax scaling per tensor or per axis) behind DequantizeLinear (opset 19). */
function f8Weight(v: Value, axis: number | undefined): F8Params {
  const g = v.graph;
  const t = v.constant!.load() as Tensor<"float32">;
  const r = weightRanges(t, axis);
  const scale = new Float32Array(r.min.length);
  for (let i = 0; i < scale.length; i++) scale[i] = f8Scale(r.min[i]!, r.max[i]!);
  const q = new Uint8Array(t.data.length);
  const shape = t.shape;
  let inner = 1;
  if (axis !== undefined) for (let i = axis + 1; i < shape.length; i++) inner *= shape[i]!;
  const n = axis === undefined ? 1 : shape[axis]!;
  for (let i = 0; i < q.length; i++) {
    const c = axis === undefined ? 0 : Math.floor(i / inner) % n;
    q[i] = floatToE4M3FN(Math.fround(t.data[i]! / scale[c]!));
  }
  const ps = axis === undefined ? [] : [n];
  const qv = g.addConstant(`${v.name}_quantized`, constantOf(tensor("float8e4m3fn", shape, q)));
  const sv = floatConst(g, `${v.name}_scale`, ps, scale);
  const zv = g.addConstant(`${v.name}_zero_point`, f8Zero(ps, scale.length));
  const first = g.nodes.find((nd) => nd.inputs.includes(v));
  const dq = g.addNode({
    op: "DequantizeLinear",
    name: g.uniqueName(`${v.name}_DequantizeLinear`),
    inputs: [qv, sv, zv],
    outputs: [`${v.name}_dequantized`],
    ...(axis !== undefined ? { attributes: { axis: attr.int(axis) } } : {}),
    ...(first ? { before: first } : {}),
  });
  dq.outputs[0]!.type = { elem: "float32", shape };
  g.replaceUses(v, dq.outputs[0]!, { keepOutputs: true });
  dropIfUnused(v);
  return { scale, ...(axis !== undefined ? { axis } : {}) };
}

/** QuantizeLinear -> DequantizeLinear (float8 e4m3fn, saturating) on an activation edge; graph outputs keep the float value. */
function f8Activation(v: Value, scale: number): void {
  const g = v.graph;
  if (v.uses.length === 0) return;
  const sv = floatConst(g, `${v.name}_scale`, [], [scale]);
  const zv = g.addConstant(`${v.name}_zero_point`, f8Zero([], 1));
  const q = g.insertOnEdge(v, { op: "QuantizeLinear", name: g.uniqueName(`${v.name}_QuantizeLinear`), inputs: [v, sv, zv], outputs: [`${v.name}_quantized`], keepOutputs: true });
  const qOut = q.outputs[0]!;
  qOut.type = { elem: "float8e4m3fn", ...(v.type?.shape ? { shape: v.type.shape } : {}) };
  g.insertOnEdge(qOut, { op: "DequantizeLinear", name: g.uniqueName(`${v.name}_DequantizeLinear`), inputs: [qOut, sv, zv], outputs: [`${v.name}_dequantized`], keepOutputs: true });
}

/**
 * Lowers the float targets of the annotations: float16 weights are stored as float16 behind
 * Cast(to float); float8 e4m3fn weights and activations become opset-19 QuantizeLinear /
 * DequantizeLinear with zero point 0 and scale absmax / 448 (weights: their own values, per tensor
 * or per output channel as the spec says; activations: the calibrated range). Integer targets are
 * left to the integer lowerings.
 */
export function lowerFloatTargets(model: Model, annotations: Annotations, ranges: Ranges | undefined): { float16: number; float8Weights: number; float8Activations: number } {
  const f8 = new Map<Value, number>();
  let float16 = 0;
  let float8Weights = 0;
  for (const [v, a] of annotations.tensors) {
    if (a.kind !== "weight" || !v.constant || v.constant.elem !== "float32") continue;
    if (a.spec.dtype === "float16") {
      castWeight(v, float16);
      float16++;
    } else if (a.spec.dtype === "float8e4m3fn") {
      if ((model.opset("") ?? 0) < 19) throw new FloatLoweringError(`float8 weights need opset 19, the model is at ${model.opset("")}`);
      f8Weight(v, a.spec.granularity.kind === "tensor" ? undefined : a.axis);
      float8Weights++;
    }
  }
  for (const [v, a] of annotations.tensors) {
    if (a.kind !== "activation" || a.spec.dtype !== "float8e4m3fn") continue;
    const r = ranges?.get(v);
    if (r) f8.set(v, f8Scale(r.min, r.max));
  }
  for (const [v, a] of annotations.tensors) {
    if (a.kind !== "shared") continue;
    const s = f8.get(a.with);
    if (s !== undefined) f8.set(v, s);
  }
  if (f8.size > 0 && (model.opset("") ?? 0) < 19) throw new FloatLoweringError(`float8 activations need opset 19, the model is at ${model.opset("")}`);
  let float8Activations = 0;
  for (const [v, s] of f8) {
    if (v.uses.length > 0) float8Activations++;
    f8Activation(v, s);
  }
  for (const g of model.allGraphs()) g.sort();
  return { float16, float8Weights, float8Activations };
}

/** The float16 / float8 lowering pass (before the integer lowering, which skips these targets). */
export const lowerFloat: Pass = {
  name: "lower-float",
  requires: ["qparams"],
  provides: ["float-lowered"],
  run: (model, ctx) =>
    Effect.gen(function* () {
      const r = yield* Effect.try({
        try: () => lowerFloatTargets(model, ctx.data.need(ANNOTATIONS), ctx.data.get(RANGES)),
        catch: (e) => (e instanceof QuantaError ? e : new FloatLoweringError(String(e))),
      });
      yield* ctx.progress(1, 1, `${r.float16} float16 tensors (weights or biases), ${r.float8Weights} float8 weights, ${r.float8Activations} float8 activations`);
      if (r.float8Activations > 0) {
        // Measured with onnxruntime-node 1.30 on CPU: its QDQ fusions turn DequantizeLinear -> Gemm ->
        // QuantizeLinear into QGemm, which has no float8 type, and ClipQuantFusion throws on float8 zero points.
        yield* ctx.warn("float8 activations: onnxruntime's CPU graph optimizations above 'basic' cannot load this model (QGemm / Clip fusion reject float8); run it with graphOptimizationLevel 'basic', or on an execution provider with float8 kernels");
      }
      return model;
    }),
};
