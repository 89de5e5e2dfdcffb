// The wake-word tasks: each head on clips of its phrase and of other sentences, and the two front-end
// models judged by every head's decision downstream (the rest of the chain stays float).
import { prng } from "@quanta/models";
import type { Feeds, ItemResult, Runner, Task } from "../types.js";
import { type Clip, makeClip, speak, voiceFor } from "./speech.js";
import { FRAME, HEADS, type Head, type Pipeline, THRESHOLD, concat, frontEnd, headFeeds, headInputs, headRun } from "./wakeword.js";

/** Sentences that are not wake words (several close to one), disjoint between calibration and evaluation. */
export const NEGATIVES = {
  calibration: [
    "the meeting starts at nine tomorrow morning",
    "can you pass me the salt please",
    "hey marcus did you see the game",
    "alex said the weather was fine",
    "we need more time for this",
    "my car is parked outside the station",
    "the quick brown fox jumps over the lazy dog",
    "turn left at the next traffic light",
    "hey mister smith",
    "set the table for dinner",
  ],
  eval: [
    "please call me back when you are free",
    "hey travis where are my keys",
    "alexander bought some bread",
    "whether or not we go is up to you",
    "the timer on the oven is broken",
    "i will see you at the library",
    "that was a really good movie",
    "my mother likes gardening in spring",
    "hey there how are you doing today",
    "could you open the window a little",
    "hey microsoft",
    "what is the time in paris",
  ],
} as const;

export type Purpose = "calibration" | "eval";

/** Evaluation and calibration clips use disjoint seeds. */
export const seedOf = (purpose: Purpose, i: number) => (purpose === "eval" ? 1 + i : 100_001 + i);

export interface Utterance {
  readonly clip: Clip;
  /** The head whose phrase is spoken, if any. */
  readonly keyword: string | null;
  readonly text: string;
}

const cache = new Map<string, Utterance>();

/**
 * Clip i of a set over `heads`: slot i % (heads + 1) is a head's phrase (a variant chosen by seed), the
 * last slot a sentence that is no wake word (for a single head: also the other heads' phrases). Speech
 * between 0.5 and 1.5 s of background noise (the head history fills before the phrase), 0.3 to 0.8 s after.
 */
export function utterance(purpose: Purpose, i: number, heads: readonly Head[]): Utterance {
  const key = `${purpose}|${i}|${heads.map((h) => h.id).join(",")}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const rand = prng(seedOf(purpose, i) * 7919);
  const slot = i % (heads.length + 1);
  const head = slot < heads.length ? heads[slot]! : null;
  const others = heads.length === 1 ? HEADS.filter((h) => h.id !== heads[0]!.id).map((h) => h.phrase) : [];
  const negatives = [...NEGATIVES[purpose], ...others];
  const n = Math.floor(i / (heads.length + 1));
  const text = head ? head.phrases[Math.floor(rand() * head.phrases.length)]! : negatives[(n * 5) % negatives.length]!;
  const u: Utterance = { clip: makeClip([speak(text, voiceFor(rand))], seedOf(purpose, i), { lead: 0.5 + rand(), tail: 0.3 + 0.5 * rand() }), keyword: head?.id ?? null, text };
  cache.set(key, u);
  return u;
}

/** A calibration clip of background noise alone (no speech), 2 to 3 s. */
function noiseClip(i: number): Clip {
  const rand = prng(seedOf("calibration", i) * 31);
  return makeClip([], seedOf("calibration", i) + 17, { lead: 1, tail: 1, noiseOnly: rand() });
}

/** `count` indices spread evenly over `n` items. */
export function spread(n: number, count: number): number[] {
  if (n <= count) return Array.from({ length: n }, (_, i) => i);
  return Array.from({ length: count }, (_, i) => Math.floor(((i + 0.5) * n) / count));
}

const argmax = (xs: readonly number[]) => xs.reduce((b, x, i) => (x > xs[b]! ? i : b), 0);

/** A wake-word head: clips alternate between its phrase and other sentences; decision = fired (max score > 0.5). */
export function headTask(head: Head, pipeline: Pipeline = "openwakeword"): Task {
  const heads = [head];
  return {
    model: head.id,
    decisionLabel: `wake word "${head.phrase}" fired on the clip (max score > ${THRESHOLD})`,
    async calibration(size) {
      // Per clip: the float head's best frame (the phrase, on positives) and two more spread over the clip.
      const out: Feeds[] = [];
      for (let i = 0; out.length < size; i++) {
        const fe = await frontEnd(utterance("calibration", i, heads).clip.audio, { pipeline });
        const xs = headInputs(fe.embeddings, head);
        const { scores } = await headRun(fe.embeddings, head, undefined, pipeline);
        const picks = [...new Set([argmax(scores), ...spread(xs.length, 2)])];
        for (const j of picks) if (out.length < size) out.push(headFeeds(head, xs[j]!));
      }
      return out;
    },
    async evaluate(runner: Runner, size: number): Promise<ItemResult[]> {
      const out: ItemResult[] = [];
      for (let i = 0; i < size; i++) {
        const fe = await frontEnd(utterance("eval", i, heads).clip.audio, { pipeline });
        const { scores, raw } = await headRun(fe.embeddings, head, runner, pipeline);
        out.push({ id: `clip-${i}`, decision: Math.max(...scores) > THRESHOLD, scores, raw });
      }
      return out;
    },
    async truth(size) {
      return new Map(Array.from({ length: size }, (_, i) => [`clip-${i}`, utterance("eval", i, heads).keyword !== null] as const));
    },
  };
}

/**
 * A front-end model (melspectrogram or embedding) judged by all six wake-word heads downstream (float):
 * clips cycle through the six phrases and other sentences; decision = which heads fire on the clip;
 * scores = every head's per-frame scores, head after head; raw = the model's own outputs.
 */
export function frontEndTask(which: "mel" | "embedding", pipeline: Pipeline = "openwakeword"): Task {
  const model = which === "mel" ? "openwakeword/melspectrogram" : "openwakeword/embedding_model";
  return {
    model,
    decisionLabel: `each of the ${HEADS.length} wake-word heads fired on the clip (max score > ${THRESHOLD})`,
    async calibration(size) {
      // Speech clips and, every fourth clip, background noise alone; mel: 6 chunks a clip (4 of them in
      // the speech, 2 spread over the clip), embedding: 4 windows spread over the clip.
      const out: Feeds[] = [];
      for (let i = 0; out.length < size; i++) {
        const clip = i % 4 === 3 ? noiseClip(i) : utterance("calibration", i, HEADS).clip;
        const fe = await frontEnd(clip.audio, { pipeline });
        if (which === "mel") {
          const speech = clip.speech.flatMap(([a, b]) => Array.from({ length: Math.max(0, Math.floor(b / FRAME) - Math.ceil(a / FRAME)) }, (_, k) => Math.ceil(a / FRAME) + k));
          const picks = [...new Set([...spread(speech.length, 4).map((k) => speech[k]!), ...spread(fe.melInputs.length, speech.length ? 2 : 6)])];
          for (const j of picks.filter((k) => k < fe.melInputs.length)) {
            const x = fe.melInputs[j]!;
            if (out.length < size) out.push({ input: { dtype: "float32", shape: [1, x.length], data: x } });
          }
        } else {
          for (const j of spread(fe.windows.length, 4)) if (out.length < size) out.push({ input_1: { dtype: "float32", shape: [1, 76, 32, 1], data: fe.windows[j]! } });
        }
      }
      return out;
    },
    async evaluate(runner: Runner, size: number): Promise<ItemResult[]> {
      const out: ItemResult[] = [];
      for (let i = 0; i < size; i++) {
        const fe = await frontEnd(utterance("eval", i, HEADS).clip.audio, which === "mel" ? { mel: runner, pipeline } : { embedding: runner, pipeline });
        const fired: boolean[] = [];
        const scores: number[] = [];
        for (const h of HEADS) {
          const s = (await headRun(fe.embeddings, h, undefined, pipeline)).scores;
          scores.push(...s);
          fired.push(Math.max(...s) > THRESHOLD);
        }
        out.push({ id: `clip-${i}`, decision: fired, scores, raw: which === "mel" ? fe.mel : concat(fe.embeddings) });
      }
      return out;
    },
    async truth(size) {
      return new Map(
        Array.from({ length: size }, (_, i) => {
          const k = utterance("eval", i, HEADS).keyword;
          return [`clip-${i}`, HEADS.map((h) => h.id === k)] as const;
        }),
      );
    },
  };
}

