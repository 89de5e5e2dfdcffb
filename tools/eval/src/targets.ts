// Acceptance targets per model and preset, and the settings that fix a shortfall (measured by
// `npm run eval -- --search`, which prints what it found; the report shows both rows).
import type { QuantizeOptions } from "@quanta/cli";

export type TargetMetric = "agreeFloat" | "iou" | "sqnr" | "sizeRatio";

export interface Target {
  readonly metric: TargetMetric;
  /** For sizeRatio a maximum, for the others a minimum. */
  readonly bound: number;
}

const isOcr = (model: string) => model.startsWith("ocr/");

/**
 * The targets of a row. Task targets (static int8): OCR recognition reads the same string as the float
 * model on >= 95% of lines; VAD and wake-word decisions agree >= 98% (front-end models: the downstream
 * decision); detection map IoU >= 0.9; text direction >= 98%. SQNR: static >= 20 dB, weight-only int8
 * >= 30 dB. Size: int8 weights <= 30% of fp32, int4 <= 18% (where the model has weights int4 applies to).
 */
export function targetsFor(model: string, preset: string): Target[] {
  const t: Target[] = [];
  if (preset === "static-int8" || preset === "static-int8-qoperator") {
    if (model.endsWith("det_infer")) t.push({ metric: "iou", bound: 0.9 });
    else t.push({ metric: "agreeFloat", bound: isOcr(model) && model.includes("rec") ? 0.95 : 0.98 });
    t.push({ metric: "sqnr", bound: 20 });
  }
  if (preset === "weight-only-int8") t.push({ metric: "sqnr", bound: 30 });
  return t;
}

/** A change of `quanta quantize` options that fixes a shortfall, with the reason. */
export interface Fix {
  readonly options: Partial<QuantizeOptions>;
  readonly why: string;
}

const SILERO_FRONT_END = ["Conv_73", "Add_90", "Mul_93", "Add_95"];

/** Known fixes by model and preset (found with `--search` or by reading the per-layer report). */
export const FIXES: Readonly<Record<string, Readonly<Record<string, Fix>>>> = {
  "openwakeword/melspectrogram": {
    "static-int8-qoperator": {
      options: { exclude: ["Add_14", "MatMul_15"] },
      why: "the power spectrum and mel projection stay float (0.7 -> 9.8 dB at CI size); the STFT convolution's activations would need int16, which QLinear operators lack: use QDQ",
    },
    "static-int8": {
      options: { exclude: ["Add_14", "MatMul_15"], activations: "int16" },
      why: "the mel power spectrum spans ~10 decades and feeds Log: linear int8 zeroes the quiet bins (kept float); int16 for the STFT convolution's activations",
    },
  },
  "openwakeword/silero_vad": {
    "static-int8-qoperator": {
      options: { exclude: SILERO_FRONT_END },
      why: "the STFT front end stays float (decisions 94.7% -> 99.3% at CI size); the LSTM's activations would need int16, which QLinear operators lack: use QDQ for the SQNR target",
    },
    "static-int8": {
      options: { exclude: SILERO_FRONT_END, activations: "int16" },
      why: "the STFT -> power -> sqrt -> log front end stays float (int8 turns quiet bins into log(0)) and the LSTM's activations need int16",
    },
  },
  "vad-web/silero_vad_legacy": {
    "static-int8-qoperator": {
      options: { exclude: SILERO_FRONT_END },
      why: "the STFT front end stays float (SQNR 11.3 -> 21.0 dB at CI size); the LSTM's activations would need int16, which QLinear operators lack: use QDQ for the decision target",
    },
    "static-int8": {
      options: { exclude: SILERO_FRONT_END, activations: "int16" },
      why: "the STFT -> power -> sqrt -> log front end stays float (int8 turns quiet bins into log(0)) and the LSTM's activations need int16",
    },
  },
  "vad-web/silero_vad_v5": {
    "static-int8-qoperator": { options: { exclude: ["*stft/Add"] }, why: "the power spectrum feeding Sqrt stays float" },
    "static-int8": { options: { exclude: ["*stft/Add"], activations: "int16" }, why: "the power spectrum feeding Sqrt stays float; int16 activations" },
  },
  "vad-web/silero_vad_v6": {
    "static-int8-qoperator": {
      options: { exclude: ["*stft/Add", "*encoder/1/*", "*encoder/2/*"], biasCorrection: false },
      why: "power spectrum and the re-parameterised encoder convs stay float; without bias correction",
    },
    "static-int8": {
      options: { exclude: ["*stft/Add", "*encoder/1/*", "*encoder/2/*"], biasCorrection: false },
      why: "power spectrum and the re-parameterised encoder convs stay float; without bias correction (it costs this model 3.5 dB)",
    },
  },
  "ocr/ch_PP-OCRv4_det_infer": {
    "static-int8": {
      options: { activations: "int16", biasCorrection: false },
      why: "uint8 activations: per-tensor ranges of the PPLCNetV3 backbone's activations are spread ~100x across channels; int16 activations (a16w8) keep the map (without bias correction, which costs a16w8 3 dB here)",
    },
    "weight-only-int8": {
      options: { exclude: ["p2o.Conv.6"] },
      why: "one 48x48 1x1 conv early in the backbone costs the most alone (the eval's weight sensitivity ranks it first): kept float, 9 KB",
    },
  },
  "ocr/ch_PP-OCRv4_rec_infer": {
    "static-int8": { options: { activations: "int16" }, why: "uint8 activations lose the SVTR neck's attention and LayerNorm ranges; int16 activations (a16w8) keep the text" },
  },
  "openwakeword/hey_mycroft_v0.1": {
    "weight-only-int8": {
      options: { exclude: ["Gemm_1"] },
      why: "its scores stay near 0 on espeak-ng voices (it never fires), so small errors weigh; the weight sensitivity ranks Gemm_1 first, and keeping it float meets the SQNR target at the cost of most of the size gain",
    },
    "static-int8": { options: { activations: "int16" }, why: "uint8 activations move the head's near-threshold logits; int16 activations keep them" },
  },
};
