// The OCR eval tasks: deterministic rendered data, and the float PaddleOCR models read it as expected
// (so that the quantized models' agreement with float measures something real).
import { readFileSync } from "node:fs";
import { modelPath } from "@quanta/models";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ortSession } from "../src/harness.js";
import { ocrTasks } from "../src/ocr/index.js";
import { dbBoxes, dictionary } from "../src/ocr/decode.js";
import { clearRenderCache, parsePgmStream, resizeBilinear } from "../src/ocr/render.js";
import type { Feeds, ItemResult, Task } from "../src/types.js";

const task = (model: string): Task => {
  const t = ocrTasks().find((x) => x.model === model);
  if (!t) throw new Error(`no task for ${model}`);
  return t;
};

const floatRunner = async (model: string) => ortSession(ort, readFileSync(modelPath(model)));

function sameFeeds(a: readonly Feeds[], b: readonly Feeds[]): void {
  expect(a.length).toBe(b.length);
  a.forEach((f, i) => {
    const g = b[i]!;
    expect(Object.keys(f)).toEqual(Object.keys(g));
    for (const [k, t] of Object.entries(f)) {
      const u = g[k]!;
      expect(u.shape).toEqual(t.shape);
      expect(Buffer.from(u.data.buffer, u.data.byteOffset, u.data.byteLength).equals(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength))).toBe(true);
    }
  });
}

function editDistance(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  let prev = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const cur = [i];
    for (let j = 1; j <= y.length; j++) cur.push(Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (x[i - 1] === y[j - 1] ? 0 : 1)));
    prev = cur;
  }
  return prev[y.length]!;
}

const REC = "ocr/ch_PP-OCRv4_rec_infer";
const DET = "ocr/ch_PP-OCRv4_det_infer";
const CLS = "ocr/ch_ppocr_mobile_v2.0_cls_infer";

describe("ocr data", () => {
  it("has one task per PaddleOCR model", () => {
    expect(ocrTasks().map((t) => t.model)).toEqual([REC, DET, CLS]);
    expect(dictionary().length).toBe(6625);
    expect(dictionary()[0]).toBe("");
    expect(dictionary().at(-1)).toBe(" ");
  });

  it("is deterministic: two calls give identical feeds and truth", async () => {
    for (const model of [REC, DET, CLS]) {
      const t = task(model);
      const first = await t.calibration(3);
      clearRenderCache(); // render again with ImageMagick, not from the in-process cache
      sameFeeds(first, await task(model).calibration(3));
      expect([...(await t.truth!(5))]).toEqual([...(await t.truth!(5))]);
    }
  });

  it("a small run is a prefix of a larger one, calibration and evaluation lines are disjoint", async () => {
    const t = task(REC);
    const small = await t.truth!(4);
    const large = await t.truth!(8);
    for (const [k, v] of small) expect(large.get(k)).toBe(v);
    const { CALIBRATION_LINES, EVAL_LINES } = await import("../src/ocr/lines.js");
    const cal = new Set(CALIBRATION_LINES);
    expect(EVAL_LINES.filter((l) => cal.has(l))).toEqual([]);
  });

  it("feeds have PaddleOCR's shapes and value ranges", async () => {
    for (const f of await task(REC).calibration(4)) {
      const x = f.x!;
      if (x.dtype !== "float32") throw new Error("rec input must be float32");
      expect(x.shape.slice(0, 3)).toEqual([1, 3, 48]);
      expect(x.shape[3]!).toBeGreaterThanOrEqual(320);
      expect(Math.min(...x.data)).toBeGreaterThanOrEqual(-1);
      expect(Math.max(...x.data)).toBeLessThanOrEqual(1);
    }
    for (const f of await task(CLS).calibration(4)) expect(f.x!.shape).toEqual([1, 3, 48, 192]);
    for (const f of await task(DET).calibration(3)) {
      const [n, c, h, w] = f.x!.shape;
      expect([n, c]).toEqual([1, 3]);
      expect(h! % 32).toBe(0);
      expect(w! % 32).toBe(0);
    }
  });

  it("parses PGM streams and resizes like cv2 INTER_LINEAR", () => {
    const imgs = parsePgmStream(new Uint8Array([...Buffer.from("P5\n2 1\n255\n"), 10, 20, ...Buffer.from("P5 1 1 255\n"), 7]));
    expect(imgs.map((i) => [i.width, i.height, [...i.data]])).toEqual([
      [2, 1, [10, 20]],
      [1, 1, [7]],
    ]);
    // cv2.resize(np.array([[0, 100]], np.uint8), (4, 1)) == [[0, 25, 75, 100]]
    expect([...resizeBilinear({ width: 2, height: 1, data: new Uint8Array([0, 100]) }, 4, 1).data]).toEqual([0, 25, 75, 100]);
  });

  it("counts DB boxes as connected components above 0.3", () => {
    const w = 20;
    const h = 10;
    const map = new Float32Array(w * h);
    for (let y = 1; y < 4; y++) for (let x = 1; x < 15; x++) map[y * w + x] = 0.9;
    for (let y = 6; y < 9; y++) for (let x = 3; x < 18; x++) map[y * w + x] = 0.8;
    map[9 * w + 0] = 0.95; // a speck: too small
    const { boxes, mask } = dbBoxes(map, h, w);
    expect(boxes.length).toBe(2);
    expect(mask.reduce((a, b) => a + b, 0)).toBe(3 * 14 + 3 * 15 + 1);
  });
});

describe("float PaddleOCR models read the rendered text", () => {
  const runners = new Map<string, Awaited<ReturnType<typeof floatRunner>>>();
  beforeAll(async () => {
    for (const m of [REC, DET, CLS]) runners.set(m, await floatRunner(m));
  });
  afterAll(async () => {
    for (const r of runners.values()) await r.release();
  });

  const run = async (model: string, size: number): Promise<{ items: ItemResult[]; truth: ReadonlyMap<string, ItemResult["decision"]> }> => {
    const t = task(model);
    return { items: await t.evaluate(runners.get(model)!, size), truth: await t.truth!(size) };
  };

  it("rec: most lines exactly, nearly all characters", async () => {
    const { items, truth } = await run(REC, 32);
    let exact = 0;
    let edits = 0;
    let chars = 0;
    for (const it of items) {
      const want = truth.get(it.id) as string;
      const got = it.decision as string;
      if (got === want) exact++;
      edits += editDistance(got, want);
      chars += [...want].length;
      expect(it.scores.length).toBe(it.raw.length / 6625);
    }
    const charAcc = 1 - edits / chars;
    console.log(`rec float: ${exact}/${items.length} lines exact (${((100 * exact) / items.length).toFixed(1)}%), character accuracy ${(100 * charAcc).toFixed(2)}%`);
    expect(exact / items.length).toBeGreaterThanOrEqual(0.75);
    expect(charAcc).toBeGreaterThanOrEqual(0.97);
  });

  it("det: box count matches the lines on the page", async () => {
    const { items, truth } = await run(DET, 8);
    let same = 0;
    for (const it of items) {
      const want = truth.get(it.id) as number;
      if (it.decision === want) same++;
      expect(Math.abs((it.decision as number) - want)).toBeLessThanOrEqual(1);
      expect(it.mask!.length).toBe(it.raw.length);
      expect(it.mask!.some((v) => v === 1)).toBe(true);
    }
    console.log(`det float: box count = line count on ${same}/${items.length} pages`);
    expect(same / items.length).toBeGreaterThanOrEqual(0.75);
  });

  it("cls: orientation of most lines", async () => {
    const { items, truth } = await run(CLS, 32);
    const right = items.filter((it) => it.decision === truth.get(it.id)).length;
    console.log(`cls float: ${right}/${items.length} orientations right (${((100 * right) / items.length).toFixed(1)}%)`);
    expect(new Set(truth.values())).toEqual(new Set([0, 1]));
    expect(right / items.length).toBeGreaterThanOrEqual(0.85);
  });
});
