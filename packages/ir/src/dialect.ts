import type { Node } from "./graph.js";

/** A weight (or bias) input of an op and the axis its output channels lie on. */
export interface WeightInput {
  readonly input: number;
  readonly role: "weight" | "bias";
  /** Channel axis (negative counts from the end), or a function of the node (e.g. Gemm's transB). */
  readonly channelAxis: number | ((node: Node) => number);
}

/** What a quantizer needs to know about an op. Plain data; dialects are tables of these. */
export interface OpTraits {
  /** Constant inputs that hold weights or biases. */
  readonly weights?: readonly WeightInput[];
  /** Inputs that carry activations to quantize (default: none). */
  readonly activationInputs?: readonly number[];
  /** Data-movement ops whose output keeps input 0's quantization parameters (Reshape, Transpose, MaxPool, Concat...). */
  readonly keepsQParams?: boolean;
  /** An activation that a runtime fuses into the op before it (its range clips the producer's output range). */
  readonly fusableActivation?: boolean;
  /** Has integer kernels in common runtimes: worth quantizing. */
  readonly quantizable?: boolean;
  /**
   * No integer kernel in common runtimes, but large weights: the weights are stored quantized behind a
   * DequantizeLinear (every mode that quantizes weights) while the op and its activations stay float.
   */
  readonly weightOnly?: boolean;
}

/** An op dialect: a layout convention and an op-traits table. Extend one with `extendDialect`. */
export interface Dialect {
  readonly name: string;
  /** Layout of image tensors: channels at axis 1 (NCHW) or last (NHWC). */
  readonly layout: "NCHW" | "NHWC";
  readonly table: Readonly<Record<string, OpTraits>>;
}

/** Traits of `op` in `domain` ("" = the dialect's default domain); `{}` when the dialect knows nothing of it. */
export function traitsOf(dialect: Dialect, op: string, domain = ""): OpTraits {
  const key = domain && domain !== "ai.onnx" ? `${domain}::${op}` : op;
  // Own entries only: an op named "constructor" or "toString" must not find Object.prototype's members.
  return Object.hasOwn(dialect.table, key) ? dialect.table[key]! : EMPTY;
}

const EMPTY: OpTraits = Object.freeze({});

/** Resolves a weight input's channel axis for a node, normalised to be non-negative given the weight's rank. */
export function channelAxis(w: WeightInput, node: Node, rank: number): number {
  const a = typeof w.channelAxis === "function" ? w.channelAxis(node) : w.channelAxis;
  return a < 0 ? a + rank : a;
}

/** A new dialect with `extra` entries added to (or replacing) `base`'s; `base` is left as it is. */
export function extendDialect(base: Dialect, extra: Readonly<Record<string, OpTraits>>, name = base.name): Dialect {
  return Object.freeze({ name, layout: base.layout, table: Object.freeze<Record<string, OpTraits>>({ ...base.table, ...extra }) });
}

/** Freezes a built-in table, its entries and their arrays, so that no caller can change a shared dialect. */
function freezeTable(table: Record<string, OpTraits>): Readonly<Record<string, OpTraits>> {
  for (const t of Object.values(table)) {
    if (Object.isFrozen(t)) continue;
    if (t.weights) for (const w of t.weights) Object.freeze(w);
    if (t.weights) Object.freeze(t.weights);
    if (t.activationInputs) Object.freeze(t.activationInputs);
    Object.freeze(t);
  }
  return Object.freeze(table);
}

const keep: OpTraits = Object.freeze({ keepsQParams: true, activationInputs: Object.freeze([0]) });
const act: OpTraits = Object.freeze({ fusableActivation: true, activationInputs: Object.freeze([0]) });

/** ONNX (default domain plus com.microsoft ops), NCHW. */
export const onnxDialect: Dialect = Object.freeze({
  name: "onnx",
  layout: "NCHW",
  table: freezeTable({
    Conv: { quantizable: true, activationInputs: [0], weights: [{ input: 1, role: "weight", channelAxis: 0 }, { input: 2, role: "bias", channelAxis: 0 }] },
    // ConvTranspose weight is [C_in, C_out/group, k...]: output channels on axis 1.
    ConvTranspose: { quantizable: true, activationInputs: [0], weights: [{ input: 1, role: "weight", channelAxis: 1 }, { input: 2, role: "bias", channelAxis: 0 }] },
    // Gemm: B is [K, N], or [N, K] with transB=1; output channels are N.
    Gemm: {
      quantizable: true,
      activationInputs: [0],
      weights: [
        { input: 1, role: "weight", channelAxis: (n: Node) => (n.int("transB", 0) ? 0 : 1) },
        { input: 2, role: "bias", channelAxis: -1 },
      ],
    },
    // MatMul with a constant B [..., K, N]: output channels on the last axis.
    MatMul: { quantizable: true, activationInputs: [0, 1], weights: [{ input: 1, role: "weight", channelAxis: -1 }] },
    Add: { quantizable: true, activationInputs: [0, 1] },
    Mul: { quantizable: true, activationInputs: [0, 1] },
    AveragePool: { quantizable: true, activationInputs: [0] },
    GlobalAveragePool: { quantizable: true, activationInputs: [0] },
    // W [dirs, gates*hidden, input] and R [dirs, gates*hidden, hidden]: one scale per gate row.
    LSTM: { weightOnly: true, weights: [{ input: 1, role: "weight", channelAxis: 1 }, { input: 2, role: "weight", channelAxis: 1 }] },
    GRU: { weightOnly: true, weights: [{ input: 1, role: "weight", channelAxis: 1 }, { input: 2, role: "weight", channelAxis: 1 }] },
    Gather: { keepsQParams: true, activationInputs: [0] },
    Reshape: keep,
    Transpose: keep,
    Squeeze: keep,
    Unsqueeze: keep,
    Flatten: keep,
    MaxPool: keep,
    GlobalMaxPool: keep,
    Concat: { keepsQParams: true, activationInputs: [] },
    Split: keep,
    Slice: keep,
    Resize: keep,
    Pad: keep,
    DepthToSpace: keep,
    SpaceToDepth: keep,
    Identity: keep,
    Max: { keepsQParams: true, activationInputs: [0, 1] },
    Min: { keepsQParams: true, activationInputs: [0, 1] },
    Relu: act,
    Clip: act,
    LeakyRelu: { activationInputs: [0], quantizable: true },
    Sigmoid: { activationInputs: [0], quantizable: true },
    HardSigmoid: { activationInputs: [0] },
    HardSwish: { activationInputs: [0] },
    Softmax: { activationInputs: [0] },
    "com.microsoft::MatMulNBits": {},
    "com.microsoft::QLinearAdd": {},
  }),
});

/** TFLite builtin ops (names as in the schema's BuiltinOperator), NHWC; weights are OHWI, depthwise 1HWO. */
export const tfliteDialect: Dialect = Object.freeze({
  name: "tflite",
  layout: "NHWC",
  table: freezeTable({
    CONV_2D: { quantizable: true, activationInputs: [0], weights: [{ input: 1, role: "weight", channelAxis: 0 }, { input: 2, role: "bias", channelAxis: 0 }] },
    DEPTHWISE_CONV_2D: { quantizable: true, activationInputs: [0], weights: [{ input: 1, role: "weight", channelAxis: 3 }, { input: 2, role: "bias", channelAxis: 0 }] },
    TRANSPOSE_CONV: { quantizable: true, activationInputs: [2], weights: [{ input: 1, role: "weight", channelAxis: 0 }, { input: 3, role: "bias", channelAxis: 0 }] },
    FULLY_CONNECTED: { quantizable: true, activationInputs: [0], weights: [{ input: 1, role: "weight", channelAxis: 0 }, { input: 2, role: "bias", channelAxis: 0 }] },
    BATCH_MATMUL: { quantizable: true, activationInputs: [0, 1] },
    ADD: { quantizable: true, activationInputs: [0, 1] },
    MUL: { quantizable: true, activationInputs: [0, 1] },
    AVERAGE_POOL_2D: { quantizable: true, activationInputs: [0] },
    MEAN: { quantizable: true, activationInputs: [0] },
    RESHAPE: keep,
    TRANSPOSE: keep,
    SQUEEZE: keep,
    EXPAND_DIMS: keep,
    MAX_POOL_2D: keep,
    CONCATENATION: { keepsQParams: true, activationInputs: [] },
    SPLIT: keep,
    SLICE: keep,
    STRIDED_SLICE: keep,
    PAD: keep,
    RESIZE_BILINEAR: keep,
    RESIZE_NEAREST_NEIGHBOR: keep,
    DEPTH_TO_SPACE: keep,
    SPACE_TO_DEPTH: keep,
    GATHER: keep,
    MAXIMUM: { keepsQParams: true, activationInputs: [0, 1] },
    MINIMUM: { keepsQParams: true, activationInputs: [0, 1] },
    RELU: act,
    RELU6: act,
    RELU_N1_TO_1: act,
    LOGISTIC: { quantizable: true, activationInputs: [0] },
    HARD_SWISH: { quantizable: true, activationInputs: [0] },
    SOFTMAX: { quantizable: true, activationInputs: [0] },
    DEQUANTIZE: {},
  }),
});
