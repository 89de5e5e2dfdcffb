/**
 * Models over protobuf's 2 GB limit: written with external data (automatically), read back lazily,
 * and refused (before any tensor is loaded) when asked to fit in one protobuf.
 */
import { statSync } from "node:fs";
import { join } from "node:path";
import { type Constant, Model } from "@quanta/ir";
import { type Tensor, tensor } from "@quanta/tensor";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROTOBUF_LIMIT, isOnnxTensorOrigin, writeOnnx } from "../src/index.js";
import { readOnnxFile, writeOnnxFile } from "../src/node.js";
import { expectTyped, tempDir } from "./helpers.js";

const MiB = 1024 * 1024;
const COUNT = 5;
const ELEMENTS = (512 * MiB) / 4; // 512 MiB of float32 each: 2.5 GiB in all
const PERIOD = 65536;

/** Value `i` of tensor `k` (exact in float32). */
const valueAt = (k: number, i: number): number => (i % PERIOD) + k * 100_000;

/** A constant that builds its 512 MiB only when loaded, and forgets it again. */
function lazyConstant(k: number, stats: { loads: number; peakRss: number }): Constant {
  return {
    elem: "float32",
    shape: [ELEMENTS],
    byteLength: ELEMENTS * 4,
    load(): Tensor {
      stats.loads++;
      const f = new Float32Array(ELEMENTS);
      for (let i = 0; i < PERIOD; i++) f[i] = valueAt(k, i);
      for (let len = PERIOD; len < ELEMENTS; len *= 2) f.copyWithin(len, 0, Math.min(len, ELEMENTS - len));
      stats.peakRss = Math.max(stats.peakRss, process.memoryUsage.rss());
      return tensor("float32", [ELEMENTS], f);
    },
  };
}

function bigModel(stats: { loads: number; peakRss: number }): Model {
  const m = new Model("onnx", "big");
  m.opsets = [{ domain: "", version: 21 }];
  const g = m.graph;
  const ws = Array.from({ length: COUNT }, (_, k) => g.addConstant(`w${k}`, lazyConstant(k, stats)));
  const y = g.addNode({ op: "Sum", inputs: ws, outputs: ["y"] }).outputs[0]!;
  y.type = { elem: "float32", shape: [ELEMENTS] };
  g.addOutput(y);
  return m;
}

describe("a model over 2 GB", () => {
  let t: ReturnType<typeof tempDir>;
  beforeAll(() => {
    t = tempDir("quanta-onnx-large-");
  });
  afterAll(() => t.cleanup());

  it("writeOnnx without external data refuses before loading any tensor", () => {
    const stats = { loads: 0, peakRss: 0 };
    const m = bigModel(stats);
    expectTyped(() => writeOnnx(m), "OnnxWriteError", /tensor data totals 2684354560 bytes, over protobuf's 2 GB limit: write it with external data/);
    // With external data but a threshold that keeps everything inline: the same, also before loading.
    expectTyped(() => writeOnnx(m, { externalData: { location: "x.data", threshold: 1024 * MiB, write: () => {} } }), "OnnxWriteError", /2 GB limit: lower the external data threshold/);
    expect(stats.loads).toBe(0);
    expect(COUNT * ELEMENTS * 4).toBeGreaterThan(PROTOBUF_LIMIT);
  });

  it(
    "writeOnnxFile moves the tensors to a data file, one in memory at a time, and reads them back lazily",
    () => {
      const stats = { loads: 0, peakRss: 0 };
      const path = join(t.dir, "big.onnx");
      const rssBefore = process.memoryUsage.rss();
      const r = writeOnnxFile(bigModel(stats), path); // externalData: "auto"
      expect(stats.loads).toBe(COUNT);
      // The tensors never all sat in memory (2.5 GiB): one live 512 MiB buffer, and some awaiting collection.
      expect(stats.peakRss - rssBefore).toBeLessThan(3 * 512 * MiB + 256 * MiB);
      expect(t.files()).toEqual(["big.onnx", "big.onnx.data"]);
      expect(r.externalPath).toBe(`${path}.data`);
      expect(statSync(path).size).toBe(r.bytes);
      expect(r.bytes).toBeLessThan(4096);
      expect(statSync(`${path}.data`).size).toBe(COUNT * ELEMENTS * 4);
      expect(r.externalBytes).toBe(COUNT * ELEMENTS * 4);

      const back = readOnnxFile(path);
      expect(back.graph.initializers.map((v) => v.name)).toEqual(["w0", "w1", "w2", "w3", "w4"]);
      for (const [k, v] of back.graph.initializers.entries()) {
        const c = v.constant!;
        expect(c.shape).toEqual([ELEMENTS]);
        expect(c.byteLength).toBe(ELEMENTS * 4);
        if (!isOnnxTensorOrigin(c.origin) || !c.origin.external?.file) throw new Error("expected lazy external data");
        const ext = c.origin.external;
        expect(ext.offset).toBe(k * ELEMENTS * 4);
        // Spot checks straight from the file (no 512 MiB load).
        for (const i of [0, 1, PERIOD - 1, PERIOD, 12_345_678, ELEMENTS - 1]) {
          const b = ext.file!.read(ext.offset + i * 4, 4);
          expect(new DataView(b.buffer, b.byteOffset, 4).getFloat32(0, true), `w${k}[${i}]`).toBe(valueAt(k, i));
        }
      }
      // One full load through the constant.
      const last = back.graph.initializers[COUNT - 1]!.constant!.load().data as Float32Array;
      expect(last.length).toBe(ELEMENTS);
      for (const i of [0, 7, ELEMENTS >> 1, ELEMENTS - 1]) expect(last[i]).toBe(valueAt(COUNT - 1, i));
    },
    120_000,
  );
});
