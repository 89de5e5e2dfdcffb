import { key } from "@quanta/core";
import type { Node, Value } from "@quanta/ir";
import type { QuantSpec } from "@quanta/schemes";
import type { Tensor } from "@quanta/tensor";

/** What the annotation pass decided for one tensor. */
export type TensorAnnotation =
  /** An activation quantized with `spec` (static mode: range from calibration). */
  | { readonly kind: "activation"; readonly spec: QuantSpec }
  /** A constant weight quantized with `spec`; `axis` is its channel (or block) axis. */
  | { readonly kind: "weight"; readonly spec: QuantSpec; readonly axis: number }
  /** A bias: int32, zero point 0, scale = scale(input) * scale(weight) per channel. */
  | { readonly kind: "bias"; readonly input: Value; readonly weight: Value }
  /** Same parameters as another value (outputs of Reshape, Transpose, MaxPool...). */
  | { readonly kind: "shared"; readonly with: Value };

export interface NodeDecision {
  readonly quantized: boolean;
  /** Why a node stays in float (excluded by a pattern, not quantizable, non-constant weight...). */
  readonly reason?: string;
}

export interface Annotations {
  readonly tensors: Map<Value, TensorAnnotation>;
  readonly nodes: Map<Node, NodeDecision>;
}

/** Observed ranges of activations (per tensor). */
export type Ranges = Map<Value, { readonly min: number; readonly max: number }>;

/** Quantization parameters of a tensor: per-tensor (length 1), per-axis or per-block scales and zero points. */
export interface TensorQParams {
  readonly dtype: QuantSpec["dtype"] | "int32";
  readonly scale: Float32Array;
  readonly zeroPoint: Int32Array;
  readonly axis?: number;
  readonly blockSize?: number;
  /** The scales are float16 values (rounded before quantizing), stored float16 where the format allows. */
  readonly scaleDtype?: "float16";
}

export const ANNOTATIONS = key<Annotations>("annotations");
export const RANGES = key<Ranges>("ranges");
export const QPARAMS = key<Map<Value, TensorQParams>>("qparams");
/** Quantized weight/bias tensors, by the float value they replace. */
export const QUANTIZED = key<Map<Value, Tensor>>("quantized");
