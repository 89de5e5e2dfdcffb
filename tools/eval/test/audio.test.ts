// The realistic audio data: espeak-ng speech resampled to 16 kHz, openwakeword's front end, the VAD clips;
// checked against the float models in onnxruntime-node (src/audio/wakeword.ts floatRunner wraps an
// InferenceSession as a Runner).
import { describe, expect, it } from "vitest";
import { HEADS, VADS, VOICES, audioTasks, floatRunner, makeClip, parseWav, resample, speak, synthesize } from "../src/audio/index.js";
import type { Feeds, Task } from "../src/types.js";

const tasks = audioTasks();
const task = (id: string): Task => {
  const t = tasks.find((x) => x.model === id);
  if (!t) throw new Error(`no task for ${id}`);
  return t;
};
const bytes = (t: Feeds[string]) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);

describe("speech", () => {
  it("espeak-ng speech is deterministic, 16 kHz, in [-1, 1], in every voice", () => {
    const v = { voice: "en-us", speed: 150, pitch: 50 };
    const a = synthesize("hey jarvis", v);
    const b = synthesize("hey jarvis", { ...v });
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true); // two espeak-ng runs, same bytes
    expect(speak("hey jarvis", v)).toBe(speak("hey jarvis", v)); // cached per process
    expect(a.length).toBeGreaterThan(8000); // > 0.5 s
    expect(a.length).toBeLessThan(48000);
    let peak = 0;
    for (const x of a) peak = Math.max(peak, Math.abs(x));
    expect(peak).toBeGreaterThan(0.05);
    expect(peak).toBeLessThanOrEqual(1);
    for (const voice of VOICES) expect(speak("alexa", { voice, speed: 160, pitch: 50 }).length).toBeGreaterThan(4000);
  });

  it("parses 16-bit WAV and rejects other files", () => {
    const h = Buffer.alloc(44 + 8);
    h.write("RIFF", 0, "latin1");
    h.writeUInt32LE(0x7fffffff, 4);
    h.write("WAVEfmt ", 8, "latin1");
    h.writeUInt32LE(16, 16);
    h.writeUInt16LE(1, 20);
    h.writeUInt16LE(1, 22);
    h.writeUInt32LE(22050, 24);
    h.writeUInt32LE(44100, 28);
    h.writeUInt16LE(2, 32);
    h.writeUInt16LE(16, 34);
    h.write("data", 36, "latin1");
    h.writeUInt32LE(0x7fffffff, 40);
    for (const [i, s] of [0, 16384, -32768, 32767].entries()) h.writeInt16LE(s, 44 + 2 * i);
    const w = parseWav(h);
    expect(w.rate).toBe(22050);
    expect([...w.samples]).toEqual([0, 0.5, -1, 32767 / 32768]);
    expect(() => parseWav(Buffer.from("not a wav file at all"))).toThrow(/WAV/);
  });

  it("resampling 22.05 -> 16 kHz keeps a 1 kHz tone's frequency and level", () => {
    const x = new Float32Array(22050);
    for (let i = 0; i < x.length; i++) x[i] = 0.5 * Math.sin((2 * Math.PI * 1000 * i) / 22050);
    const y = resample(x, 22050, 16000);
    expect(y.length).toBe(16000);
    let c = 0;
    let s = 0;
    let e = 0;
    for (let i = 1000; i < 15000; i++) {
      c += y[i]! * Math.cos((2 * Math.PI * 1000 * i) / 16000);
      s += y[i]! * Math.sin((2 * Math.PI * 1000 * i) / 16000);
      e += y[i]! * y[i]!;
    }
    const amp = (2 * Math.hypot(c, s)) / 14000;
    expect(amp).toBeGreaterThan(0.49);
    expect(amp).toBeLessThan(0.51);
    expect(e / 14000).toBeCloseTo(0.125, 2); // all the energy is the tone
  });

  it("clips place speech in seeded noise, the same every time", () => {
    const p = speak("hello there", { voice: "en-gb", speed: 160, pitch: 40 });
    const a = makeClip([p], 5);
    const b = makeClip([p], 5);
    expect(Buffer.from(a.audio.buffer).equals(Buffer.from(b.audio.buffer))).toBe(true);
    expect(a.speech.length).toBe(1);
    const [s, e] = a.speech[0]!;
    expect(e - s).toBeGreaterThan(4000);
    expect(s).toBeGreaterThanOrEqual(0.2 * 16000);
    expect(Buffer.from(makeClip([p], 6).audio.buffer).equals(Buffer.from(a.audio.buffer))).toBe(false);
  });
});

describe("tasks with the float models (onnxruntime-node)", () => {
  it("one task per audio model; calibration feeds are deterministic and shaped as the packages feed them", async () => {
    expect(tasks.map((t) => t.model).sort()).toEqual(
      ["openwakeword/melspectrogram", "openwakeword/embedding_model", ...HEADS.map((h) => h.id), ...VADS.map((v) => v.id)].sort(),
    );
    const shapes: Record<string, Record<string, number[]>> = {
      "openwakeword/melspectrogram": { input: [1, 1760] },
      "openwakeword/embedding_model": { input_1: [1, 76, 32, 1] },
      "openwakeword/hey_jarvis_v0.1": { "x.1": [1, 16, 96] },
      "openwakeword/timer_v0.1": { "onnx::Flatten_0": [1, 34, 96] },
      "openwakeword/silero_vad": { input: [1, 1280], sr: [], h: [2, 1, 64], c: [2, 1, 64] },
      "vad-web/silero_vad_legacy": { input: [1, 1536], sr: [], h: [2, 1, 64], c: [2, 1, 64] },
      "vad-web/silero_vad_v5": { input: [1, 576], state: [2, 1, 128], sr: [] },
    };
    for (const [id, want] of Object.entries(shapes)) {
      const a = await task(id).calibration(6);
      const b = await task(id).calibration(6);
      expect(a.length).toBe(6);
      for (let i = 0; i < 6; i++) {
        expect(Object.fromEntries(Object.entries(a[i]!).map(([k, t]) => [k, t.shape]))).toEqual(want);
        for (const k of Object.keys(want)) expect(bytes(a[i]![k]!).equals(bytes(b[i]![k]!))).toBe(true);
      }
    }
    // Recurrent states are carried: some calibration feed has a non-zero state.
    const v5 = await task("vad-web/silero_vad_v5").calibration(8);
    expect(v5.some((f) => f.state!.data.some((x) => x !== 0))).toBe(true);
  }, 60_000);

  it("wake-word heads fire on their phrase more than on other sentences", async () => {
    const n = 10; // 5 positives, 5 negatives per head
    const rates: Record<string, { pos: number; neg: number; tp: number; fp: number }> = {};
    for (const h of HEADS) {
      const t = task(h.id);
      const r = await t.evaluate(await floatRunner(h.id), n);
      const truth = await t.truth!(n);
      const s = { pos: 0, neg: 0, tp: 0, fp: 0 };
      for (const item of r) {
        expect(item.scores.length).toBeGreaterThan(10);
        if (truth.get(item.id)) {
          s.pos++;
          if (item.decision) s.tp++;
        } else {
          s.neg++;
          if (item.decision) s.fp++;
        }
      }
      rates[h.id] = s;
      console.log(`${h.id} (float): ${s.tp}/${s.pos} positives fired, ${s.fp}/${s.neg} negatives fired`);
    }
    for (const id of ["openwakeword/alexa_v0.1", "openwakeword/hey_jarvis_v0.1"]) {
      const s = rates[id]!;
      expect(s.tp).toBeGreaterThanOrEqual(1);
      expect(s.tp / s.pos).toBeGreaterThan(s.fp / s.neg);
      expect(s.tp / s.pos).toBeGreaterThanOrEqual(0.6);
      expect(s.fp / s.neg).toBeLessThanOrEqual(0.2);
    }
  }, 60_000);

  it("the front-end tasks run the model under test and keep the heads' decisions", async () => {
    const n = 7; // each of the six phrases once, then a sentence
    for (const id of ["openwakeword/melspectrogram", "openwakeword/embedding_model"]) {
      const t = task(id);
      const r = await t.evaluate(await floatRunner(id), n);
      const truth = await t.truth!(n);
      let same = 0;
      let all = 0;
      for (const item of r) {
        const d = item.decision as boolean[];
        const g = truth.get(item.id) as boolean[];
        expect(d.length).toBe(HEADS.length);
        expect(item.raw.length).toBeGreaterThan(0);
        for (const [i, x] of d.entries()) {
          if (x === g[i]) same++;
          all++;
        }
      }
      console.log(`${id} (float, all heads downstream): ${same}/${all} head decisions agree with the spoken phrase`);
      expect(same / all).toBeGreaterThan(0.7);
    }
  }, 60_000);

  it("VAD decisions follow the speech regions", async () => {
    for (const v of VADS) {
      const t = task(v.id);
      const r = await t.evaluate(await floatRunner(v.id), 4);
      const truth = await t.truth!(4);
      let same = 0;
      let n = 0;
      for (const item of r) {
        const d = item.decision as boolean[];
        const g = truth.get(item.id) as boolean[];
        expect(d.length).toBe(g.length);
        expect(item.scores.length).toBe(g.length);
        for (const [i, x] of d.entries()) {
          if (x === g[i]) same++;
          n++;
        }
      }
      console.log(`${v.id} (float): ${((100 * same) / n).toFixed(1)}% of ${n} chunks agree with the speech regions`);
      expect(same / n).toBeGreaterThan(0.8);
    }
  }, 60_000);
});
