// Input statistics for bias correction: the mean of what each weight layer multiplies its weight with.
//
// For a Conv that is the mean of every (input channel, kernel tap) over the output positions, counting
// padding as zeros, so that for the calibration data E[conv(x, W)] = sum over (channel, tap) of W times
// that mean, exactly. MatMul/Gemm need the mean per input feature; ConvTranspose the mean per input
// channel. The hot loops are plain typed-array code; the accumulators hold sums in float64 and a count,
// so memory does not depend on the number of samples and two shards merge by adding.
import { Backend, Dataset, type Pass, type PassContext, key } from "@quanta/core";
import { type Model, type Node, QuantaError, type Value } from "@quanta/ir";
import type { Tensor } from "@quanta/tensor";
import { Effect, Stream } from "effect";
import { CalibrationError } from "./errors.js";
import { ANNOTATIONS, type Annotations } from "./keys.js";

/** Ops whose weight error bias correction can undo (the mean of the weight error times the input mean). */
export const BIAS_CORRECTABLE: ReadonlySet<string> = new Set(["Conv", "ConvTranspose", "Gemm", "MatMul"]);

/** The input means of one weight layer: `mean[i] = sum[i] / count`, laid out as the layer's reduction index. */
export interface InputMeans {
  /** Conv: [C_in * taps] (channel-major, taps in the weight's spatial order); Gemm/MatMul: [K]; ConvTranspose: [C_in]. */
  readonly sum: Float64Array;
  count: number;
  /** Per input channel / feature: the sum and the sum of squares of every element, and how many (for the spread). */
  readonly channelSum: Float64Array;
  readonly channelSumSq: Float64Array;
  elements: number;
}

/**
 * How far the input's mean is from zero relative to its spread: sqrt(sum_c mean_c^2 / sum_c var_c).
 * Zero-mean signals (audio) give ~0: their mean over the calibration data is noise, and correcting by
 * it only moves near-silent outputs (bias correction skips those layers).
 */
export function meanToSpread(m: InputMeans): number {
  let mean2 = 0;
  let variance = 0;
  for (let c = 0; c < m.channelSum.length; c++) {
    const mu = m.channelSum[c]! / m.elements;
    mean2 += mu * mu;
    variance += Math.max(0, m.channelSumSq[c]! / m.elements - mu * mu);
  }
  return variance > 0 ? Math.sqrt(mean2 / variance) : mean2 > 0 ? Number.POSITIVE_INFINITY : 0;
}

/** Sum and sum of squares per channel of axis 1 (NC...); returns the elements added per channel. */
export function accumulateChannelMoments(x: Float32Array, n: number, c: number, inner: number, sum: Float64Array, sumSq: Float64Array): number {
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < c; ch++) {
      const base = (b * c + ch) * inner;
      let s = 0;
      let q = 0;
      for (let i = 0; i < inner; i++) {
        const v = x[base + i]!;
        s += v;
        q += v * v;
      }
      sum[ch]! += s;
      sumSq[ch]! += q;
    }
  }
  return n * inner;
}

/** Sum and sum of squares per index of the last axis; returns the rows added. */
export function accumulateLastAxisMoments(x: Float32Array, k: number, sum: Float64Array, sumSq: Float64Array): number {
  const rows = x.length / k;
  for (let r = 0; r < rows; r++) {
    const base = r * k;
    for (let i = 0; i < k; i++) {
      const v = x[base + i]!;
      sum[i]! += v;
      sumSq[i]! += v * v;
    }
  }
  return rows;
}

/** Conv: sums per (channel, tap) next to the per-channel moments. */
const tapMeans = (taps: number, channels: number): InputMeans => ({
  sum: new Float64Array(taps),
  count: 0,
  channelSum: new Float64Array(channels),
  channelSumSq: new Float64Array(channels),
  elements: 0,
});

/** One value per channel (ConvTranspose, Gemm, MatMul): the sums are the channel sums (one array). */
function channelMeans(channels: number): InputMeans {
  const sum = new Float64Array(channels);
  return { sum, count: 0, channelSum: sum, channelSumSq: new Float64Array(channels), elements: 0 };
}

/** Per node: the means of its activation input over the calibration data. */
export const INPUT_MEANS = key<Map<Node, InputMeans>>("input-means");

interface ConvGeometry {
  readonly channels: number;
  readonly kernel: readonly number[];
  readonly strides: readonly number[];
  readonly pads: readonly number[];
  readonly dilations: readonly number[];
}

/** One layer whose input is watched: where its means go and how a tensor of its input is reduced. */
export interface MeanTarget {
  readonly node: Node;
  readonly input: Value;
  readonly means: InputMeans;
  readonly update: (t: Tensor) => void;
}

/** The first output index o with o * stride + offset >= 0. */
const firstInside = (offset: number, stride: number): number => (offset >= 0 ? 0 : Math.ceil(-offset / stride));

/** The last output index o < outSize with o * stride + offset <= size - 1 (may be below the first: none). */
const lastInside = (offset: number, stride: number, size: number, outSize: number): number => Math.min(outSize - 1, Math.floor((size - 1 - offset) / stride));

/**
 * Conv tap means: for channel c and kernel tap t = (ky, kx), adds the input at (oy*sy - py + ky*dy,
 * ox*sx - px + kx*dx) over every output position (zero outside the input) to sum[c * taps + t].
 * 2-D NCHW (1-D convs come as H = 1). Returns the number of output positions per channel added.
 */
export function accumulateConvTapSums(
  x: Float32Array,
  n: number,
  c: number,
  h: number,
  w: number,
  kh: number,
  kw: number,
  sy: number,
  sx: number,
  py: number,
  px: number,
  dy: number,
  dx: number,
  oh: number,
  ow: number,
  sum: Float64Array,
): number {
  const taps = kh * kw;
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < c; ch++) {
      const plane = (b * c + ch) * h * w;
      for (let ky = 0; ky < kh; ky++) {
        // Output rows whose input row for this tap lies inside the input.
        const off = ky * dy - py;
        const oy0 = firstInside(off, sy);
        const oy1 = lastInside(off, sy, h, oh);
        for (let kx = 0; kx < kw; kx++) {
          const offx = kx * dx - px;
          const ox0 = firstInside(offx, sx);
          const ox1 = lastInside(offx, sx, w, ow);
          let s = 0;
          for (let oy = oy0; oy <= oy1; oy++) {
            const row = plane + (oy * sy + off) * w + offx;
            for (let ox = ox0; ox <= ox1; ox++) s += x[row + ox * sx]!;
          }
          sum[ch * taps + ky * kw + kx]! += s;
        }
      }
    }
  }
  return n * oh * ow;
}

function convGeometry(node: Node, weightShape: readonly number[]): ConvGeometry | undefined {
  const kernel = weightShape.slice(2);
  if (kernel.length < 1 || kernel.length > 2) return undefined;
  const r = kernel.length;
  const autoPad = node.string("auto_pad", "NOTSET");
  if (autoPad !== "NOTSET" && autoPad !== "VALID") return undefined;
  const strides = node.ints("strides") ?? new Array(r).fill(1);
  const dilations = node.ints("dilations") ?? new Array(r).fill(1);
  const pads = node.ints("pads") ?? new Array(2 * r).fill(0);
  return { channels: weightShape[1]! * node.int("group", 1), kernel, strides, pads, dilations };
}

/**
 * The layers bias correction can fix and how to reduce their inputs: every node quantized with a float
 * weight of a BIAS_CORRECTABLE op whose activation input is not a constant. Nodes whose geometry is
 * not handled (auto_pad SAME, 3-D convs, batched MatMul weights) are left out.
 */
export function meanTargets(ann: Annotations): MeanTarget[] {
  const out: MeanTarget[] = [];
  for (const [node, d] of ann.nodes) {
    if (!d.quantized || !BIAS_CORRECTABLE.has(node.op) || (node.domain !== "" && node.domain !== "ai.onnx")) continue;
    const input = node.inputs[0];
    const w = node.inputs[1];
    if (!input || input.constant || !w?.constant || ann.tensors.get(w)?.kind !== "weight") continue;
    const shape = w.constant.shape;
    if (node.op === "Conv") {
      const geo = convGeometry(node, shape);
      if (!geo) continue;
      const two = geo.kernel.length === 2;
      const kh = two ? geo.kernel[0]! : 1;
      const kw = geo.kernel[two ? 1 : 0]!;
      const sy = two ? (geo.strides[0] ?? 1) : 1;
      const sx = geo.strides[two ? 1 : 0] ?? 1;
      const dy = two ? (geo.dilations[0] ?? 1) : 1;
      const dx = geo.dilations[two ? 1 : 0] ?? 1;
      const py = two ? (geo.pads[0] ?? 0) : 0;
      const px = geo.pads[two ? 1 : 0] ?? 0;
      const pye = two ? (geo.pads[2] ?? 0) : 0;
      const pxe = geo.pads[two ? 3 : 1] ?? 0;
      const means = tapMeans(geo.channels * kh * kw, geo.channels);
      out.push({
        node,
        input,
        means,
        update: (t) => {
          const s = t.shape;
          if (s.length !== geo.kernel.length + 2 || s[1] !== geo.channels) return;
          const h = s.length === 4 ? s[2]! : 1;
          const wd = s[s.length - 1]!;
          const oh = Math.floor((h + py + pye - dy * (kh - 1) - 1) / sy) + 1;
          const ow = Math.floor((wd + px + pxe - dx * (kw - 1) - 1) / sx) + 1;
          if (oh <= 0 || ow <= 0) return;
          const x = t.data as Float32Array;
          means.count += accumulateConvTapSums(x, s[0]!, geo.channels, h, wd, kh, kw, sy, sx, py, px, dy, dx, oh, ow, means.sum);
          means.elements += accumulateChannelMoments(x, s[0]!, geo.channels, h * wd, means.channelSum, means.channelSumSq);
        },
      });
    } else if (node.op === "ConvTranspose") {
      if (shape.length < 3) continue;
      const c = shape[0]!;
      const means = channelMeans(c);
      out.push({
        node,
        input,
        means,
        update: (t) => {
          const s = t.shape;
          if (s.length !== shape.length || s[1] !== c) return;
          let inner = 1;
          for (let i = 2; i < s.length; i++) inner *= s[i]!;
          const added = accumulateChannelMoments(t.data as Float32Array, s[0]!, c, inner, means.channelSum, means.channelSumSq);
          means.count += added;
          means.elements += added;
        },
      });
    } else {
      if (shape.length !== 2) continue;
      const transA = node.op === "Gemm" && node.int("transA", 0) === 1;
      const transB = node.op === "Gemm" && node.int("transB", 0) === 1;
      const k = transB ? shape[1]! : shape[0]!;
      const means = channelMeans(k);
      out.push({
        node,
        input,
        means,
        update: (t) => {
          const s = t.shape;
          let added: number;
          if (transA) {
            // A is [K, M]: the mean of each row.
            if (s.length !== 2 || s[0] !== k) return;
            added = accumulateChannelMoments(t.data as Float32Array, 1, k, s[1]!, means.channelSum, means.channelSumSq);
          } else {
            if (s[s.length - 1] !== k) return;
            added = accumulateLastAxisMoments(t.data as Float32Array, k, means.channelSum, means.channelSumSq);
          }
          means.count += added;
          means.elements += added;
        },
      });
    }
  }
  return out;
}

/** Feeds a value seen during a run to the targets that read it. */
export function meanObserver(targets: readonly MeanTarget[]): { names: Set<string>; onValue: (name: string, t: Tensor) => void; result: () => Map<Node, InputMeans> } {
  const byName = new Map<string, MeanTarget[]>();
  for (const t of targets) byName.set(t.input.name, [...(byName.get(t.input.name) ?? []), t]);
  return {
    names: new Set(byName.keys()),
    onValue: (name, t) => {
      if (t.dtype !== "float32") return;
      for (const target of byName.get(name) ?? []) target.update(t);
    },
    result: () => new Map(targets.filter((t) => t.means.count > 0).map((t) => [t.node, t.means])),
  };
}

/**
 * Streams the Dataset through the Backend's plan of the float model, handing every observed value (and
 * the graph inputs among `names`, which no node produces) to `onValue`. Fails with CalibrationError on
 * an empty set or a sample the model cannot run. Shared by calibrate and input-statistics.
 */
export function streamSamples(model: Model, ctx: PassContext, names: ReadonlySet<string>, onValue: (name: string, t: Tensor) => void): Effect.Effect<void, QuantaError, Backend | Dataset> {
  return Effect.gen(function* () {
    const backend = yield* Backend;
    const dataset = yield* Dataset;
    const plan = yield* Effect.try({
      try: () => backend.plan(model),
      catch: (e) => (e instanceof QuantaError ? e : new CalibrationError(`cannot run the float model: ${(e as Error).message}`)),
    });
    const inputs = model.graph.inputs.filter((v) => names.has(v.name)).map((v) => v.name);
    let count = 0;
    yield* Stream.runForEach(dataset.samples, (feeds) =>
      Effect.gen(function* () {
        for (const n of inputs) if (feeds[n]) onValue(n, feeds[n]!);
        yield* Effect.try({
          try: () => plan.run(feeds, { observe: names, onValue }),
          catch: (e) => (e instanceof QuantaError ? e : new CalibrationError(`sample ${count}: ${(e as Error).message}`)),
        });
        count++;
        yield* ctx.progress(count, dataset.size);
      }),
    );
    if (count === 0) return yield* Effect.fail(new CalibrationError("the calibration set is empty"));
  });
}

/**
 * Input statistics pass (weight-only mode with calibration data): streams the Dataset through the float
 * model once and records the input means of every quantized weight layer, for `correctBias`. Static
 * mode gets the same means from the calibrate pass, in the same run as the ranges.
 */
export const inputStatistics: Pass<Backend | Dataset> = {
  name: "input-statistics",
  requires: ["annotations"],
  provides: ["input-means"],
  run: (model, ctx) =>
    Effect.gen(function* () {
      const obs = meanObserver(meanTargets(ctx.data.need(ANNOTATIONS)));
      yield* streamSamples(model, ctx, obs.names, obs.onValue);
      ctx.data.set(INPUT_MEANS, obs.result());
      return model;
    }),
};
