export interface ModelRef {
  readonly id: string;
  readonly pkg: string;
  readonly file: string;
  /** Absolute path of the model file. */
  readonly path: string;
}
export declare function packageDir(name: string): string;
export declare const ONNX_MODELS: readonly ModelRef[];
export declare function modelPath(id: string): string;
export interface InputSpec {
  readonly name: string;
  readonly dtype: "float32" | "int64";
  readonly shape: readonly number[];
  readonly kind: "audio" | "audio16" | "image" | "document" | "textline" | "features" | "zeros" | "sr16k";
}
export declare const INPUT_SPECS: Readonly<Record<string, readonly InputSpec[]>>;
export declare function prng(seed: number): () => number;
export declare function exampleInputs(
  id: string,
  seed?: number,
): Record<string, { dtype: "float32"; shape: number[]; data: Float32Array } | { dtype: "int64"; shape: number[]; data: BigInt64Array }>;
