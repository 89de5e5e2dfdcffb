import type { Pass } from "@quanta/core";
import { type Dialect, type Model, type Node, type Value, channelAxis, describe, traitsOf } from "@quanta/ir";
import { type QuantSpec, type Scheme, excluder, spec } from "@quanta/schemes";
import { Effect } from "effect";
import { ANNOTATIONS, type Annotations, type TensorAnnotation } from "./keys.js";

const INTEGER_WEIGHTS = new Set<QuantSpec["dtype"]>(["int8", "uint8", "int4", "uint4", "int16", "uint16"]);

/** The shortest axis a block-wise scheme blocks along; weights with none keep int8 per channel. */
export const MIN_BLOCK_AXIS = 16;

/**
 * What those convs (and the layers `int8Weights` names) take under a 4-bit scheme: int8, symmetric, per
 * channel, with the scheme's scale storage.
 */
const fallbackInt8 = (s: QuantSpec): QuantSpec =>
  spec({ dtype: "int8", symmetric: true, narrowRange: true, granularity: { kind: "axis" }, ...(s.scaleDtype ? { scaleDtype: s.scaleDtype } : {}) });

/** A bias stored float16 (`Scheme.float16Biases`), lowered as float16 behind Cast like float16 weights. */
export const FLOAT16_BIAS: QuantSpec = spec({ dtype: "float16", symmetric: true });

/** The spec with float32 scales (no `scaleDtype`). */
function floatScales(s: QuantSpec): QuantSpec {
  if (s.scaleDtype === undefined) return s;
  const { scaleDtype: _, ...rest } = s;
  return Object.freeze(rest);
}

/** Whether a value is an output of its graph. */
const isGraphOutput = (v: Value): boolean => v.graph.outputs.includes(v);

/** Whether a scheme stores the biases of its quantized layers float16 (`Scheme.float16Biases`: weight-only mode). */
export const storesFloat16Biases = (s: Scheme): boolean => s.mode === "weight-only" && s.float16Biases === true;

/** Largest finite float16. */
const HALF_MAX = 65504;

/**
 * Whether a weight-only layer whose weight takes `weightDtype` may hold `bias` as float16 (shared by
 * annotation and bias correction): not behind a 4-bit weight below opset 21 (that weight stays float)
 * nor a 4-bit Gemm's (MatMulNBits reads its bias as float32), and every value finite within ±65504.
 */
export function float16BiasFits(node: Node, weightDtype: QuantSpec["dtype"] | undefined, bias: ArrayLike<number>, blocks21: boolean): boolean {
  const nibble = weightDtype === "int4" || weightDtype === "uint4";
  if (nibble && (!blocks21 || node.op === "Gemm")) return false;
  for (let i = 0; i < bias.length; i++) if (!(Math.abs(bias[i]!) <= HALF_MAX)) return false;
  return true;
}

/**
 * The axis blocks run along (the reduction axis) for a weight of `shape` whose channels lie on
 * `channel`: the other axis of a 2-D MatMul/Gemm weight; the input channels of a Conv [M, C/group, k...],
 * or, where those are fewer than `MIN_BLOCK_AXIS`, its last kernel axis when that is long
 * enough (a 1-D STFT conv [514, 1, 512]); the input axis of an LSTM/GRU W [D, n*H, I] or R [D, n*H, H].
 * Undefined where no axis is long enough: blocks would hold a scale per few weights (depthwise 3x3
 * convs), so the weight takes int8 per channel instead (or, with `unblockedWeights: "4bit"`, the
 * scheme's 4-bit type per channel).
 */
function blockAxis(node: Node, shape: readonly number[], channel: number): number | undefined {
  const rank = shape.length;
  if (rank === 2) return 1 - channel;
  const long = (a: number) => shape[a]! >= MIN_BLOCK_AXIS;
  if (node.op === "Conv" && rank >= 3) return long(1) ? 1 : long(rank - 1) ? rank - 1 : undefined;
  if ((node.op === "LSTM" || node.op === "GRU") && rank === 3) return long(2) ? 2 : undefined;
  return undefined;
}

const nibbles = (s: QuantSpec) => s.dtype === "int4" || s.dtype === "uint4";

/** The int16 activation spec of mixed precision: symmetric, narrow range, the scheme's observer (as a16w8). */
function int16Activation(s: QuantSpec): QuantSpec {
  return Object.freeze({ ...s, dtype: "int16" as const, symmetric: true, narrowRange: true, reduceRange: false });
}

/** float32, or of unknown type (intermediate values often carry no type; calibration checks the real dtype). */
const isFloat = (v: Value | null | undefined) => !!v && (v.constant ? v.constant.elem === "float32" : v.type === undefined || v.type.elem === "float32");

/**
 * Reads a scheme and a dialect's op traits and decides, for every node and tensor, what gets quantized
 * how. All backend/format knowledge is in the scheme and the traits table; later passes only read this.
 */
export function annotate(model: Model, scheme: Scheme, dialect: Dialect): Annotations {
  const tensors = new Map<Value, TensorAnnotation>();
  const nodes = new Map<Node, { quantized: boolean; reason?: string }>();
  const excluded = excluder(scheme.exclude);
  const widened = excluder(scheme.int16Weights ?? []);
  // Nodes of a 4-bit scheme that keep int8 weights (int16 wins where a node is in both lists).
  const kept8 = excluder(scheme.int8Weights ?? []);
  // The int16 weight spec of mixed precision: symmetric per channel (a block-wise scheme's nodes too).
  // float16 scales are int16's only at a cost (an int16 scale m / 32767 is below float16's normal range
  // unless the weights reach 2): int16 weights keep float32 scales.
  const int16Spec = (s: QuantSpec): QuantSpec =>
    INTEGER_WEIGHTS.has(s.dtype) ? floatScales(Object.freeze({ ...s, dtype: "int16" as const, symmetric: true, narrowRange: true, reduceRange: false, granularity: s.granularity.kind === "block" ? { kind: "axis" as const } : s.granularity })) : s;
  // float16 scales are for weight-only mode: the static and dynamic lowerings' integer operators (and
  // onnxruntime's fusions of them) read float32 scales and derive the int32 bias scale from them.
  const weightsSpec = scheme.mode === "weight-only" ? scheme.weights : floatScales(scheme.weights);
  const withOverride = (v: Value, a: TensorAnnotation): TensorAnnotation => {
    const o = scheme.overrides[v.name];
    if (!o || (a.kind !== "activation" && a.kind !== "weight")) return a;
    const merged: QuantSpec = Object.freeze({ ...a.spec, ...o });
    // An override cannot bring float16 scales where they do not apply (see weightsSpec and int16Spec).
    const halfOk = a.kind === "weight" && scheme.mode === "weight-only" && merged.dtype !== "int16" && merged.dtype !== "uint16";
    return { ...a, spec: halfOk ? merged : floatScales(merged) };
  };
  const set = (v: Value, a: TensorAnnotation) => {
    const had = tensors.get(v);
    // First come, except that an int16 activation (mixed precision) replaces an 8-bit one.
    const wider = had?.kind === "activation" && a.kind === "activation" && a.spec.dtype === "int16" && had.spec.dtype !== "int16";
    if (!had || wider) tensors.set(v, withOverride(v, a));
  };
  const wideActs = excluder(scheme.int16Activations ?? []);
  const a16 = scheme.activations ? int16Activation(scheme.activations) : undefined;
  const staticMode = scheme.mode === "static";
  const blocks21 = (model.opset("") ?? 0) >= 21;
  // A weight-only layer's bias may be stored float16 when this layer alone reads it (an excluded
  // reader would get the rounding too) and `float16BiasFits` holds for the type its weight took.
  const halfBiases = storesFloat16Biases(scheme);
  const halfBias = (node: Node, v: Value, weight: Value | null | undefined, nodeSpec: QuantSpec): boolean => {
    if (!halfBiases || v.uses.length !== 1 || isGraphOutput(v)) return false;
    const wa = weight ? tensors.get(weight) : undefined;
    return float16BiasFits(node, wa?.kind === "weight" ? wa.spec.dtype : nodeSpec.dtype, v.constant!.load().data as Float32Array, blocks21);
  };
  for (const g of model.allGraphs()) {
    for (const node of g.topologicalOrder()) {
      const traits = traitsOf(dialect, node.op, node.domain);
      if (!traits.quantizable && !traits.weightOnly) continue;
      if (scheme.ops && !scheme.ops.includes(node.op)) {
        nodes.set(node, { quantized: false, reason: `op ${node.op} is not in the scheme's op list` });
        continue;
      }
      const pattern = excluded(node);
      if (pattern) {
        nodes.set(node, { quantized: false, reason: `excluded by '${pattern}'` });
        continue;
      }
      const weights = traits.weights ?? [];
      const weightInputs = new Set(weights.map((w) => w.input));
      // Weight-only and dynamic modes need a constant float weight; static mode quantizes what it can.
      const w0 = weights.find((w) => w.role === "weight");
      const wv = w0 ? node.inputs[w0.input] : undefined;
      if (!staticMode && (!wv?.constant || wv.constant.elem !== "float32")) {
        nodes.set(node, { quantized: false, reason: "no constant float32 weight" });
        continue;
      }
      if (staticMode && !traits.weightOnly) {
        const acts = (traits.activationInputs ?? []).map((i) => node.inputs[i]).filter((v): v is Value => !!v && !v.constant);
        if (acts.some((v) => !isFloat(v))) {
          nodes.set(node, { quantized: false, reason: "an activation input is not float32" });
          continue;
        }
      }
      const nodeSpec = widened(node) ? int16Spec(weightsSpec) : nibbles(weightsSpec) && kept8(node) ? fallbackInt8(weightsSpec) : weightsSpec;
      for (const w of weights) {
        const v = node.inputs[w.input];
        if (!v?.constant || v.constant.elem !== "float32") continue;
        const rank = v.constant.shape.length;
        if (w.role === "weight") {
          let weightSpec = nodeSpec;
          let axis = channelAxis(w, node, rank);
          if (weightSpec.granularity.kind === "block") {
            const along = blockAxis(node, v.constant.shape, axis);
            // (4-bit per-axis DequantizeLinear needs opset 21 too: below it, int8.)
            if (along === undefined)
              weightSpec = nibbles(weightSpec) && scheme.unblockedWeights === "4bit" && blocks21 ? Object.freeze({ ...weightSpec, granularity: { kind: "axis" as const } }) : fallbackInt8(weightSpec);
            // Block-wise 8-bit weights need opset-21 DequantizeLinear: below that (the upgrade was
            // blocked) they keep one scale per channel rather than staying float.
            else if (!nibbles(weightSpec) && !blocks21) weightSpec = { ...weightSpec, granularity: { kind: "axis" } };
            else axis = along;
          }
          if (weightSpec.granularity.kind === "axis" && weightSpec.granularity.axis !== undefined) axis = weightSpec.granularity.axis;
          set(v, { kind: "weight", spec: weightSpec, axis });
        } else if (w.role === "bias" && halfBias(node, v, wv, nodeSpec)) {
          set(v, { kind: "weight", spec: FLOAT16_BIAS, axis: 0 });
        } else if (w.role === "bias" && staticMode && scheme.biasInt32 && wv) {
          const input = node.inputs[0];
          if (input && !input.constant) set(v, { kind: "bias", input, weight: wv });
        }
      }
      if (staticMode && scheme.activations && !traits.weightOnly) {
        const actSpec = a16 && wideActs(node) ? a16 : scheme.activations;
        for (const i of traits.activationInputs ?? []) {
          const v = node.inputs[i];
          if (!v || weightInputs.has(i) && v.constant) continue;
          if (v.constant) {
            if (v.constant.elem === "float32") set(v, { kind: "weight", spec: { ...actSpec, granularity: { kind: "tensor" } }, axis: 0 });
            continue;
          }
          set(v, { kind: "activation", spec: actSpec });
        }
        // The output is quantized after a fusable activation that alone consumes it (Conv -> Relu).
        const out = node.outputs[0];
        if (out && (out.type === undefined || isFloat(out))) {
          const only = out && out.uses.length === 1 && !g.outputs.includes(out) ? out.uses[0]!.node : undefined;
          const fused = only && traitsOf(dialect, only.op, only.domain).fusableActivation ? only.outputs[0] : undefined;
          if (fused) set(fused, { kind: "activation", spec: actSpec });
          else if (out) set(out, { kind: "activation", spec: actSpec });
        }
      }
      nodes.set(node, { quantized: true });
    }
    // Data-movement ops keep their input's parameters.
    if (staticMode) {
      for (const node of g.topologicalOrder()) {
        const traits = traitsOf(dialect, node.op, node.domain);
        if (!traits.keepsQParams || excluded(node)) continue;
        const src = node.inputs[0];
        const out = node.outputs[0];
        if (!src || !out || tensors.has(out)) continue;
        const a = tensors.get(src);
        if (a?.kind === "activation") tensors.set(out, { kind: "shared", with: src });
        else if (a?.kind === "shared") tensors.set(out, { kind: "shared", with: a.with });
      }
    }
  }
  return { tensors, nodes };
}

/** Annotation pass (the dialect comes from the model's format). */
export function annotatePass(scheme: Scheme, dialectFor: (model: Model) => Dialect): Pass {
  return {
    name: "annotate",
    requires: ["preprocessed"],
    // Static mode needs activation ranges from calibration; the other modes need none, so "ranges" is settled here.
    provides: scheme.mode === "static" ? ["annotations", "needs-ranges"] : ["annotations", "ranges"],
    run: (model, ctx) =>
      Effect.gen(function* () {
        const a = annotate(model, scheme, dialectFor(model));
        ctx.data.set(ANNOTATIONS, a);
        for (const [node, d] of a.nodes) if (!d.quantized && d.reason?.startsWith("excluded")) yield* ctx.warn(`${describe(node)} kept in float: ${d.reason}`);
        return model;
      }),
  };
}
