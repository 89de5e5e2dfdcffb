import { type Backend, type Dataset, type Pass, pipeline } from "@quanta/core";
import { type Dialect, type Model, onnxDialect, tfliteDialect } from "@quanta/ir";
import type { Scheme } from "@quanta/schemes";
import { annotatePass, storesFloat16Biases } from "./annotate.js";
import { biasCorrectionPass } from "./bias-correction.js";
import { calibrate } from "./calibrate.js";
import { lowerDynamic } from "./lower-dynamic.js";
import { lowerFloat, needsFloatLowering, upgradePass, usesFloat8, usesFloatTargets } from "./lower-float.js";
import { type Int4Format, lowerOnnx } from "./lower-onnx.js";
import { lowerQOperator } from "./lower-qoperator.js";
import { preprocess } from "./preprocess.js";
import { qparams } from "./qparams.js";
import { inputStatistics } from "./statistics.js";

/** The op-traits dialect for a model's format. */
export const dialectOf = (model: Model): Dialect => (model.format === "tflite" ? tfliteDialect : onnxDialect);

/** How a quantized ONNX model is written. */
export type OnnxFormat = "qdq" | "qoperator";

export interface LoweringOptions {
  /** 4-bit weights: com.microsoft MatMulNBits (default) or opset-21 DequantizeLinear. */
  readonly int4Format?: Int4Format;
  /** Static int8: QuantizeLinear/DequantizeLinear pairs (default) or QLinear* operators. */
  readonly format?: OnnxFormat;
  readonly dialect?: (m: Model) => Dialect;
  /**
   * Bias correction from calibration data (static and weight-only integer modes): each quantized
   * layer's output-mean shift from weight rounding is taken out of its bias. Weight-only mode then
   * needs a Dataset and a Backend (one pass over the data). Off by default here; `quanta quantize`
   * turns it on whenever it is given calibration data.
   */
  readonly biasCorrection?: boolean;
}

/** Whether bias correction applies to a scheme (integer weights, static or weight-only mode). */
export const correctsBias = (scheme: Scheme, options: LoweringOptions): boolean =>
  options.biasCorrection === true && scheme.mode !== "dynamic" && !usesFloatTargets(scheme);

/**
 * The passes of a standard run for a scheme: preprocess, [opset-19 upgrade for float8], annotate,
 * [calibrate | input-statistics], qparams, [bias-correction], [float16/float8 lowering], then the
 * integer lowering: dynamic
 * (DynamicQuantizeLinear + MatMulInteger/ConvInteger), QOperator or QDQ.
 */
export function standardPasses(scheme: Scheme, options: LoweringOptions = {}): Pass<never>[] {
  const passes: Pass<never>[] = [preprocess];
  if (usesFloat8(scheme)) passes.push(upgradePass(19));
  // Block-wise DequantizeLinear (every block-wise 8-bit weight; int4 Conv weights, and every int4
  // weight with --int4-format qdq: the others become MatMulNBits) needs opset 21.
  else if (scheme.weights.granularity.kind === "block") {
    const nibbles = scheme.weights.dtype === "int4" || scheme.weights.dtype === "uint4";
    const blocked = new Set(["Conv", "LSTM", "GRU"].filter((op) => !scheme.ops || scheme.ops.includes(op)));
    const when = (m: Model) => !nibbles || options.int4Format === "qdq" || [...m.allGraphs()].some((g) => g.nodes.some((n) => blocked.has(n.op)));
    passes.push(upgradePass(21, { optional: true, when }));
  }
  passes.push(annotatePass(scheme, options.dialect ?? dialectOf));
  const bias = correctsBias(scheme, options);
  if (scheme.mode === "static") passes.push(calibrate as unknown as Pass<never>);
  else if (bias) passes.push(inputStatistics as unknown as Pass<never>);
  passes.push(qparams);
  if (bias) passes.push(biasCorrectionPass({ int32Biases: scheme.biasInt32, float16Biases: storesFloat16Biases(scheme) }));
  if (needsFloatLowering(scheme)) passes.push(lowerFloat);
  if (scheme.mode === "dynamic") passes.push(lowerDynamic);
  else if (options.format === "qoperator") passes.push(lowerQOperator);
  else passes.push(lowerOnnx(options.int4Format ? { int4Format: options.int4Format } : {}));
  return passes;
}

/** A checked pipeline for a scheme (an Effect that fails before any work when the passes do not fit). */
export function quantizationPipeline(scheme: Scheme, options: LoweringOptions = {}) {
  const passes = standardPasses(scheme, options);
  return pipeline(scheme.mode === "static" || correctsBias(scheme, options) ? (passes as unknown as [Pass<never>, ...Pass<Backend | Dataset>[]]) : passes);
}
