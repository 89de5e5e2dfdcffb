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
