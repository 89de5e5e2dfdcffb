import { type Pass, pipeline } from "@quanta/core";
import { type Dialect, type Model, onnxDialect, tfliteDialect } from "@quanta/ir";
import type { Scheme } from "@quanta/schemes";
import { annotatePass } from "./annotate.js";
import { calibrate } from "./calibrate.js";
import { type Int4Format, lowerOnnx } from "./lower-onnx.js";
import { preprocess } from "./preprocess.js";
import { qparams } from "./qparams.js";

/** The op-traits dialect for a model's format. */
export const dialectOf = (model: Model): Dialect => (model.format === "tflite" ? tfliteDialect : onnxDialect);

/** The passes of a standard run for a scheme: preprocess, annotate, [calibrate], qparams, lower. */
export function standardPasses(scheme: Scheme, options: { int4Format?: Int4Format; dialect?: (m: Model) => Dialect } = {}): Pass<never>[] {
  const passes: Pass<never>[] = [preprocess, annotatePass(scheme, options.dialect ?? dialectOf)];
  if (scheme.mode === "static") passes.push(calibrate as unknown as Pass<never>);
  passes.push(qparams, lowerOnnx(options.int4Format ? { int4Format: options.int4Format } : {}));
  return passes;
}

/** A checked pipeline for a scheme (an Effect that fails before any work when the passes do not fit). */
export function quantizationPipeline(scheme: Scheme, options: { int4Format?: Int4Format } = {}) {
  const passes = standardPasses(scheme, options);
  return pipeline(scheme.mode === "static" ? (passes as unknown as [Pass<never>, ...Pass<import("@quanta/core").Backend | import("@quanta/core").Dataset>[]]) : passes);
}
