// Realistic speech: Debian's espeak-ng (22.05 kHz int16 WAV on stdout), resampled to 16 kHz in JS with
// a windowed-sinc filter, placed in seeded silence and background noise. Deterministic: espeak-ng gives
// the same bytes for the same arguments, and everything after it is seeded arithmetic.
import { spawnSync } from "node:child_process";
import { prng } from "@quanta/models";

export const SAMPLE_RATE = 16000;

/** espeak-ng voices (with variants) the data uses: accents and male / female variants. */
export const VOICES = ["en-us", "en-gb", "en-us+f3", "en-gb-x-rp", "en-gb-scotland+m3", "en-029+f2", "en-us+m7", "en-gb+f4", "en-gb-x-gbclan"] as const;

export interface Voice {
  readonly voice: string;
  /** Words per minute. */
  readonly speed: number;
  /** 0..99. */
  readonly pitch: number;
}

const cache = new Map<string, Float32Array>();

/** Speech for `text` at 16 kHz, float in [-1, 1). Throws when espeak-ng is missing. */
export function speak(text: string, v: Voice): Float32Array {
  const key = `${v.voice}|${v.speed}|${v.pitch}|${text}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const out = synthesize(text, v);
  cache.set(key, out);
  return out;
}

/** espeak-ng speech for `text` at 16 kHz, not cached. */
export function synthesize(text: string, v: Voice): Float32Array {
  const r = spawnSync("espeak-ng", ["--stdout", "-v", v.voice, "-s", String(v.speed), "-p", String(v.pitch), text], { maxBuffer: 64 << 20 });
  if (r.error || r.status !== 0) throw new Error(`espeak-ng failed (${r.error?.message ?? r.stderr.toString().trim()}): install Debian's espeak-ng`);
  const { rate, samples } = parseWav(r.stdout);
  return resample(samples, rate, SAMPLE_RATE);
}

/** Mono 16-bit PCM WAV (espeak-ng writes 0x7fffffff as the streamed sizes: the data runs to the end). */
export function parseWav(b: Buffer): { rate: number; samples: Float32Array } {
  if (b.toString("latin1", 0, 4) !== "RIFF" || b.toString("latin1", 8, 12) !== "WAVE") throw new Error("not a WAV file");
  let p = 12;
  let rate = 0;
  let bits = 0;
  let channels = 0;
  while (p + 8 <= b.length) {
    const id = b.toString("latin1", p, p + 4);
    const size = b.readUInt32LE(p + 4);
    if (id === "fmt ") {
      channels = b.readUInt16LE(p + 10);
      rate = b.readUInt32LE(p + 12);
      bits = b.readUInt16LE(p + 22);
    } else if (id === "data") {
      if (bits !== 16 || channels !== 1) throw new Error(`expected mono 16-bit PCM, got ${channels} channels of ${bits} bits`);
      const end = Math.min(b.length, p + 8 + size);
      const n = (end - p - 8) >> 1;
      const s = new Float32Array(n);
      for (let i = 0; i < n; i++) s[i] = b.readInt16LE(p + 8 + 2 * i) / 32768;
      return { rate, samples: s };
    }
    p += 8 + size + (size & 1);
  }
  throw new Error("WAV without a data chunk");
}

/** Band-limited resampling (Hann-windowed sinc, 24 zero crossings each side, cut-off at 0.95 x the lower Nyquist). */
export function resample(x: Float32Array, from: number, to: number): Float32Array {
  if (from === to) return x.slice();
  const n = Math.floor((x.length * to) / from);
  const out = new Float32Array(n);
  const ratio = from / to;
  const fc = (0.95 * Math.min(from, to)) / from; // cut-off as a fraction of the input rate (cycles per input sample, x2)
  const half = Math.ceil(24 / fc);
  for (let i = 0; i < n; i++) {
    const t = i * ratio;
    const c = Math.floor(t);
    let acc = 0;
    for (let k = c - half + 1; k <= c + half; k++) {
      if (k < 0 || k >= x.length) continue;
      const d = t - k;
      const arg = Math.PI * fc * d;
      const sinc = d === 0 ? 1 : Math.sin(arg) / arg;
      const w = 0.5 + 0.5 * Math.cos((Math.PI * d) / half);
      acc += x[k]! * fc * sinc * w;
    }
    out[i] = acc;
  }
  return out;
}

export interface Clip {
  readonly audio: Float32Array;
  /** Speech sample ranges [start, end) in `audio`. */
  readonly speech: readonly (readonly [number, number])[];
}

/** Seeded Gaussian noise generator. */
function gaussian(rand: () => number): () => number {
  return () => {
    const u = Math.max(rand(), 1e-12);
    const v = rand();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
}

/**
 * A clip: `lead` s of silence, the utterances separated by pauses, `tail` s of silence, scaled to a
 * random level, plus coloured background noise at `snr` dB below the speech (seeded).
 */
export function makeClip(parts: readonly Float32Array[], seed: number, o: { lead?: number; tail?: number; pause?: number; snr?: number; noiseOnly?: number } = {}): Clip {
  const rand = prng(seed);
  const g = gaussian(rand);
  const lead = Math.round((o.lead ?? 0.2 + 0.6 * rand()) * SAMPLE_RATE);
  const tail = Math.round((o.tail ?? 0.3 + 0.5 * rand()) * SAMPLE_RATE);
  const pause = Math.round((o.pause ?? 0.3 + 0.5 * rand()) * SAMPLE_RATE);
  const noiseOnly = Math.round((o.noiseOnly ?? 0) * SAMPLE_RATE);
  let len = lead + tail + noiseOnly;
  for (const p of parts) len += p.length;
  len += pause * Math.max(0, parts.length - 1);
  const audio = new Float32Array(len);
  const speech: [number, number][] = [];
  let at = lead;
  const gain = 0.3 + 0.6 * rand();
  let peak = 1e-9;
  for (const p of parts) for (let i = 0; i < p.length; i++) peak = Math.max(peak, Math.abs(p[i]!));
  let sig = 0;
  let sigN = 0;
  parts.forEach((p, k) => {
    for (let i = 0; i < p.length; i++) {
      const s = (p[i]! / peak) * gain;
      audio[at + i] = s;
      sig += s * s;
      sigN++;
    }
    // The speech region: from the first to the last sample above -40 dB of the peak.
    let a = 0;
    let b = p.length;
    while (a < b && Math.abs(p[a]!) < peak * 0.01) a++;
    while (b > a && Math.abs(p[b - 1]!) < peak * 0.01) b--;
    if (b > a) speech.push([at + a, at + b]);
    at += p.length + (k < parts.length - 1 ? pause : 0);
  });
  // Background: low-passed (one-pole) Gaussian noise, `snr` dB under the speech power (or a fixed level with no speech).
  const snr = o.snr ?? 10 + 20 * rand();
  const speechPower = sigN ? sig / sigN : 1e-3;
  const noisePower = speechPower / 10 ** (snr / 10);
  const colour = 0.5 + 0.45 * rand();
  const raw = new Float32Array(len);
  let y = 0;
  let np = 0;
  for (let i = 0; i < len; i++) {
    y = colour * y + (1 - colour) * g();
    raw[i] = y;
    np += y * y;
  }
  const k = np > 0 ? Math.sqrt((noisePower * len) / np) : 0;
  for (let i = 0; i < len; i++) audio[i] = Math.max(-1, Math.min(1, audio[i]! + k * raw[i]!));
  return { audio, speech };
}

/** A voice drawn from the seeded generator. */
export function voiceFor(rand: () => number): Voice {
  return { voice: VOICES[Math.floor(rand() * VOICES.length)]!, speed: 120 + Math.floor(rand() * 60), pitch: 30 + Math.floor(rand() * 40) };
}
