// PaddleOCR's preprocessing for its three inference models, mirrored from PaddleOCR's Python inference
// code (PaddlePaddle/PaddleOCR: tools/infer/predict_rec.py TextRecognizer.resize_norm_img,
// tools/infer/predict_cls.py TextClassifier.resize_norm_img, tools/infer/predict_det.py with
// ppocr/data/imaug/operators.py DetResizeForTest + NormalizeImage + ToCHWImage), which the models were
// trained and exported with. Cross-checked with the JS package gutenye/ocr (packages/common/src/models/
// ModelBase.ts imageToInput, Detection.ts, Recognition.ts): same BGR plane order, det size a multiple of
// 32, rec height 48 with the width from the aspect ratio; gutenye/ocr, however, feeds x / 255 without
// PaddleOCR's mean/std (its comments call that "more accurate" for its photos) and does not pad rec
// lines. We keep PaddleOCR's normalisation (what the repository's demo and exampleInputs use too).
//
// Images here are grey (R = G = B), so BGR vs RGB only matters for det's per-channel mean/std, which
// PaddleOCR applies in the order of the cv2 image's channels, i.e. mean[0] to B.
import type { EvalTensor } from "../types.js";
import { type Grey, resizeBilinear } from "./render.js";

const REC_H = 48;
const REC_MIN_W = 320; // rec_image_shape "3,48,320"
const CLS_W = 192; // cls_image_shape "3,48,192"

/** Grey pixels -> [1, 3, H, W], (x / 255 - 0.5) / 0.5, zero-padded (after normalisation) to `width`. */
function centred(img: Grey, width: number): EvalTensor {
  const { height: h, width: w } = img;
  const plane = h * width;
  const data = new Float32Array(3 * plane);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const v = (img.data[y * w + x]! / 255 - 0.5) / 0.5;
      for (let c = 0; c < 3; c++) data[c * plane + y * width + x] = v;
    }
  return { dtype: "float32", shape: [1, 3, h, width], data };
}

/**
 * Recogniser input (predict_rec.py, batch of one): imgW = int(48 * max(320 / 48, w / h)), the line resized
 * to 48 x min(imgW, ceil(48 * w / h)) (bilinear), normalised to [-1, 1], padded with 0 on the right.
 */
export function recInput(img: Grey): EvalTensor {
  const ratio = img.width / img.height;
  const imgW = Math.floor(REC_H * Math.max(REC_MIN_W / REC_H, ratio) + 1e-9);
  const resizedW = Math.min(imgW, Math.ceil(REC_H * ratio - 1e-9));
  return centred(resizeBilinear(img, resizedW, REC_H), imgW);
}

/** Classifier input (predict_cls.py): 48 x min(192, ceil(48 * w / h)), normalised to [-1, 1], padded to 192. */
export function clsInput(img: Grey): EvalTensor {
  const ratio = img.width / img.height;
  const resizedW = Math.min(CLS_W, Math.ceil(REC_H * ratio - 1e-9));
  return centred(resizeBilinear(img, resizedW, REC_H), CLS_W);
}

const DET_MEAN = [0.485, 0.456, 0.406];
const DET_STD = [0.229, 0.224, 0.225];
const DET_LIMIT = 960; // det_limit_side_len, det_limit_type "max"

/** DetResizeForTest (limit_type "max", 960): scale so the longer side is <= 960, round each side to a multiple of 32. */
export function detSize(width: number, height: number): { width: number; height: number } {
  const ratio = Math.max(width, height) > DET_LIMIT ? DET_LIMIT / Math.max(width, height) : 1;
  const round32 = (v: number) => Math.max(Math.round((v * ratio) / 32) * 32, 32);
  return { width: round32(width), height: round32(height) };
}

/** Detector input: DetResizeForTest, NormalizeImage (x / 255 - mean) / std per BGR channel, CHW. */
export function detInput(img: Grey): EvalTensor {
  const size = detSize(img.width, img.height);
  const r = size.width === img.width && size.height === img.height ? img : resizeBilinear(img, size.width, size.height);
  const plane = r.width * r.height;
  const data = new Float32Array(3 * plane);
  for (let c = 0; c < 3; c++) {
    const m = DET_MEAN[c]!;
    const s = DET_STD[c]!;
    for (let i = 0; i < plane; i++) data[c * plane + i] = (r.data[i]! / 255 - m) / s;
  }
  return { dtype: "float32", shape: [1, 3, r.height, r.width], data };
}
