// The contract between the eval harness (src/main.ts) and the per-model tasks (src/audio, src/ocr).
//
// A task owns its data (deterministic: the same call gives the same bytes) and its metric. The harness
// quantizes the model with each preset using `calibration`, then calls `evaluate` once with a runner
// for the float model and once per quantized model, in onnxruntime-node and in Quanta's CPU backend.

/** A tensor fed to or read from a model: the dtypes the real models use. */
export type EvalTensor =
  | { readonly dtype: "float32"; readonly shape: readonly number[]; readonly data: Float32Array }
  | { readonly dtype: "int64"; readonly shape: readonly number[]; readonly data: BigInt64Array };

/** One model invocation's inputs, by input name. */
export type Feeds = Record<string, EvalTensor>;

/** One model invocation's float32 outputs, by output name. */
export type Outputs = Record<string, { readonly dims: readonly number[]; readonly data: Float32Array }>;

/** Runs the model under test (float or quantized) in some runtime. */
export interface Runner {
  run(feeds: Feeds): Promise<Outputs>;
}

/** What a task reads from one evaluation item (a clip, a text line, a page). */
export interface ItemResult {
  /** Item id, stable across runs ("clip-03", "line-12"). */
  readonly id: string;
  /** The task decision(s) for this item, compared for equality with the float model's and the truth: a decoded string, a class, a list of per-frame booleans, ... */
  readonly decision: string | number | boolean | readonly (string | number | boolean)[];
  /** Scores behind the decision (wake-word probability per frame, speech probability per chunk, class prob, ...): used for score error and the scatter plot. */
  readonly scores: readonly number[];
  /** The raw outputs concatenated (for SQNR against the float model). */
  readonly raw: Float32Array;
  /** Optional binary map (det: pixels above DB's threshold) for IoU against the float model's map. */
  readonly mask?: Uint8Array;
}

export interface Task {
  /** The model id of @quanta/models ("ocr/ch_PP-OCRv4_rec_infer"). */
  readonly model: string;
  /** What a decision is, for the report ("text line string", "speech per 32 ms chunk", ...). */
  readonly decisionLabel: string;
  /** Model inputs for calibration (never used for evaluation). */
  calibration(size: number): Promise<Feeds[]>;
  /** Runs the evaluation set through `runner`; `size` items (CI uses a few, `npm run eval` the full set). */
  evaluate(runner: Runner, size: number): Promise<ItemResult[]>;
  /** Ground truth per item id, where there is one (the rendered text, the spoken wake word, speech / no speech per chunk). */
  truth?(size: number): Promise<ReadonlyMap<string, ItemResult["decision"]>>;
}
