/**
 * External data and atomic file writes (src/node.ts): tensors moved out of the protobuf and back,
 * lazy loading, onnxruntime-node loading the result from its path, refusal to overwrite inputs,
 * and nothing half-written or left behind when a write fails.
 */
import { existsSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { modelPath } from "@quanta/models";
import { type Constant, type Model, constantOf } from "@quanta/ir";
import { tensor } from "@quanta/tensor";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OnnxConstant, type OnnxTensorOrigin, isOnnxTensorOrigin, readOnnx, writeOnnx } from "../src/index.js";
import { readOnnxFile, writeOnnxFile } from "../src/node.js";
import { DT, expectTyped, externalTensor, maxAbsDiff, modelWith, randomFloats, runOrt, tempDir } from "./helpers.js";

const CLS_PATH = modelPath("ocr/ch_ppocr_mobile_v2.0_cls_infer");
const CLS = readFileSync(CLS_PATH);
const FEEDS = { x: { data: randomFloats(3 * 48 * 192, 5), shape: [1, 3, 48, 192] } };

/** Every constant of a model (initializers and tensor attributes), by a stable key. */
function constants(m: Model): Map<string, Constant> {
  const out = new Map<string, Constant>();
  for (const g of m.allGraphs()) {
    for (const v of g.initializers) out.set(`init:${v.name}`, v.constant!);
    for (const [i, n] of g.nodes.entries()) {
      for (const [k, a] of n.attributes) if (a.type === "tensor") out.set(`${g.name}/${i}:${n.op}/${k}`, a.value);
    }
  }
  return out;
}

const origin = (c: Constant): OnnxTensorOrigin => {
  if (!isOnnxTensorOrigin(c.origin)) throw new Error("no ONNX origin");
  return c.origin;
};

describe("external data with a real model (ocr/ch_ppocr_mobile_v2.0_cls_infer)", () => {
  const original = readOnnx(CLS);
  let t: ReturnType<typeof tempDir>;
  let path: string;
  let result: ReturnType<typeof writeOnnxFile>;
  beforeAll(() => {
    t = tempDir();
    path = join(t.dir, "cls.onnx");
    result = writeOnnxFile(original, path, { externalData: true, threshold: 1024 });
  });
  afterAll(() => t.cleanup());

  it("writes a small model and a data file beside it", () => {
    expect(result.externalPath).toBe(join(t.dir, "cls.onnx.data"));
    expect(t.files()).toEqual(["cls.onnx", "cls.onnx.data"]);
    expect(statSync(path).size).toBe(result.bytes);
    expect(statSync(result.externalPath!).size).toBe(result.externalBytes);
    let big = 0;
    for (const c of constants(original).values()) if (c.byteLength >= 1024) big += c.byteLength;
    expect(result.externalBytes).toBeGreaterThanOrEqual(big);
    expect(result.externalBytes).toBeLessThan(big + 16 * constants(original).size);
    expect(result.bytes).toBeLessThan(CLS.byteLength - big + 64 * 1024);
  });

  it("reads back the same tensors, lazily from the data file", () => {
    const back = readOnnxFile(path);
    const a = constants(original);
    const b = constants(back);
    expect([...b.keys()]).toEqual([...a.keys()]);
    let external = 0;
    for (const [k, c] of a) {
      const d = b.get(k)!;
      expect(d.elem, k).toBe(c.elem);
      expect(d.shape, k).toEqual(c.shape);
      const o = origin(d);
      if (c.byteLength >= 1024) {
        external++;
        expect(o.external?.location, k).toBe("cls.onnx.data");
        expect(o.external!.offset % 16).toBe(0);
        expect(o.proto.rawData.byteLength).toBe(0);
      } else expect(o.external, k).toBeUndefined();
      expect(Buffer.from(d.load().data.buffer, d.load().data.byteOffset, d.byteLength).equals(Buffer.from(c.load().data.buffer, c.load().data.byteOffset, c.byteLength)), k).toBe(true);
    }
    expect(external).toBeGreaterThan(10);
  });

  it("load() reads from the file each time (nothing is held in memory)", () => {
    const back = readOnnxFile(path);
    const [key, c] = [...constants(back)].find(([, c]) => origin(c).external && c.elem === "float32")!;
    const ext = origin(c).external!;
    const before = c.load().data as Float32Array;
    expect(before[0]).not.toBe(12345);
    // Patch the first float of this tensor in the data file: the next load sees it.
    const data = readFileSync(join(t.dir, "cls.onnx.data"));
    const saved = Buffer.from(data);
    data.writeFloatLE(12345, ext.offset);
    writeFileSync(join(t.dir, "cls.onnx.data"), data);
    try {
      expect((c.load().data as Float32Array)[0], key).toBe(12345);
    } finally {
      writeFileSync(join(t.dir, "cls.onnx.data"), saved);
    }
    expect((c.load().data as Float32Array)[0]).toBe(before[0]);
  });

  it("onnxruntime-node loads it from its path and gives the inline model's outputs", async () => {
    const inline = await runOrt(CLS_PATH, FEEDS);
    const ext = await runOrt(path, FEEDS);
    const k = Object.keys(inline)[0]!;
    expect(Object.keys(ext)).toEqual(Object.keys(inline));
    expect(maxAbsDiff(ext[k] as Float32Array, inline[k] as Float32Array)).toBe(0);
  });

  it("writing it inline again gives back the original bytes", () => {
    const back = readOnnxFile(path);
    expect(Buffer.compare(Buffer.from(writeOnnx(back)), CLS)).toBe(0);
  });

  it("a model read with external data can be written to another folder with its own data file", async () => {
    const u = tempDir();
    try {
      const p2 = join(u.dir, "copy.onnx");
      const r = writeOnnxFile(readOnnxFile(path), p2, { externalData: true, threshold: 4096 });
      expect(u.files()).toEqual(["copy.onnx", "copy.onnx.data"]);
      // Tensors that were external stay external (re-located), whatever the threshold.
      expect(r.externalBytes).toBe(result.externalBytes);
      const again = readOnnxFile(p2);
      for (const [k, c] of constants(again)) {
        if (origin(c).external) expect(origin(c).external!.location, k).toBe("copy.onnx.data");
      }
      const out = await runOrt(p2, FEEDS);
      const ref = await runOrt(CLS_PATH, FEEDS);
      const k = Object.keys(ref)[0]!;
      expect(maxAbsDiff(out[k] as Float32Array, ref[k] as Float32Array)).toBe(0);
    } finally {
      u.cleanup();
    }
  });

  it("without external data, writeOnnxFile writes one self-contained file", () => {
    const u = tempDir();
    try {
      const r = writeOnnxFile(readOnnxFile(path), join(u.dir, "inline.onnx"), { externalData: false });
      expect(u.files()).toEqual(["inline.onnx"]);
      expect(r).toEqual({ bytes: CLS.byteLength, externalBytes: 0 });
      expect(readFileSync(join(u.dir, "inline.onnx")).equals(CLS)).toBe(true);
      // "auto" (the default) keeps a small model inline too.
      writeOnnxFile(original, join(u.dir, "auto.onnx"));
      expect(u.files()).toEqual(["auto.onnx", "inline.onnx"]);
    } finally {
      u.cleanup();
    }
  });
});

describe("external tensors of every kind are copied, inlined and relocated as bytes", () => {
  it("complex64 and float32 external tensors: inline, and to a new data file", () => {
    const t = tempDir();
    try {
      const c64 = Float32Array.of(1, -1, 2, -2, 3, -3); // three complex numbers
      const f32 = Float32Array.of(10, 20);
      writeFileSync(join(t.dir, "src.bin"), Buffer.concat([Buffer.from(c64.buffer), Buffer.from(f32.buffer)]));
      const bytes = modelWith([
        externalTensor("c", DT.COMPLEX64, [3], { location: "src.bin", length: 24 }),
        externalTensor("f", DT.FLOAT, [2], { location: "src.bin", offset: 24, length: 8 }),
      ]);
      writeFileSync(join(t.dir, "src.onnx"), bytes);
      const m = readOnnxFile(join(t.dir, "src.onnx"));
      // Without a resolver the data cannot be copied: a typed error, not a broken file.
      expectTyped(() => writeOnnx(readOnnx(bytes)), "ExternalDataError", /no resolver for external file 'src\.bin'/);

      const inline = readOnnx(writeOnnx(m));
      const c = inline.graph.value("c")!.constant!;
      expect(origin(c).external).toBeUndefined();
      expect([...new Float32Array(origin(c).proto.rawData.slice().buffer)]).toEqual([...c64]);
      expect([...(inline.graph.value("f")!.constant!.load().data as Float32Array)]).toEqual([10, 20]);

      const u = tempDir();
      try {
        writeOnnxFile(m, join(u.dir, "moved.onnx"), { externalData: true, threshold: 1 << 20 });
        expect(u.files()).toEqual(["moved.onnx", "moved.onnx.data"]);
        const moved = readOnnxFile(join(u.dir, "moved.onnx"));
        for (const name of ["c", "f"]) expect(origin(moved.graph.value(name)!.constant!).external?.location).toBe("moved.onnx.data");
        const ce = origin(moved.graph.value("c")!.constant!).external!;
        expect([...new Float32Array(ce.file!.read(ce.offset, ce.length).slice().buffer)]).toEqual([...c64]);
        expect([...(moved.graph.value("f")!.constant!.load().data as Float32Array)]).toEqual([10, 20]);
      } finally {
        u.cleanup();
      }
    } finally {
      t.cleanup();
    }
  });
});

describe("atomic writes", () => {
  /** A small model whose constant `w` (4 KiB) is built by `load`. */
  function modelWithConstant(load: () => ReturnType<Constant["load"]>): Model {
    const m = readOnnx(writeOnnx(readOnnx(readFileSync(modelPath("openwakeword/melspectrogram")))));
    const w = m.graph.value("1.melW")!;
    w.constant = { elem: "float32", shape: w.constant!.shape, byteLength: w.constant!.byteLength, load };
    return m;
  }
  const failing = () =>
    modelWithConstant(() => {
      throw new Error("disk on fire");
    });

  it("refuses to write over a protected path (the input), its data file, or a link to it", () => {
    const t = tempDir();
    try {
      const input = join(t.dir, "in.onnx");
      writeFileSync(input, CLS);
      const m = readOnnxFile(input);
      expectTyped(() => writeOnnxFile(m, input, { protect: [input] }), "OnnxWriteError", /refusing to write over the input '.*in\.onnx'/);
      // Relative spelling of the same path.
      expectTyped(() => writeOnnxFile(m, join(t.dir, ".", "in.onnx"), { protect: [input] }), "OnnxWriteError", /refusing/);
      symlinkSync(input, join(t.dir, "link.onnx"));
      expectTyped(() => writeOnnxFile(m, join(t.dir, "link.onnx"), { protect: [input] }), "OnnxWriteError", /refusing/);
      // Writing x.onnx would replace x.onnx.data: protected too.
      const data = join(t.dir, "x.onnx.data");
      writeFileSync(data, "keep");
      expectTyped(() => writeOnnxFile(m, join(t.dir, "x.onnx"), { protect: [data], externalData: true }), "OnnxWriteError", /refusing/);
      expect(readFileSync(input).equals(CLS)).toBe(true);
      expect(readFileSync(data, "utf8")).toBe("keep");
      expect(t.files()).toEqual(["in.onnx", "link.onnx", "x.onnx.data"]);
    } finally {
      t.cleanup();
    }
  });

  it("a failure leaves no temporary files and no target", () => {
    const t = tempDir();
    try {
      for (const externalData of [false, true, "auto"] as const) {
        const e = (() => {
          try {
            writeOnnxFile(failing(), join(t.dir, "out.onnx"), { externalData, threshold: 1024 });
          } catch (err) {
            return err as Error;
          }
          throw new Error("no error");
        })();
        expect(e.message).toMatch(/disk on fire/);
        expect(t.files(), String(externalData)).toEqual([]);
      }
    } finally {
      t.cleanup();
    }
  });

  it("a failure leaves an existing target and data file as they were", () => {
    const t = tempDir();
    try {
      const target = join(t.dir, "out.onnx");
      const first = modelWithConstant(() => tensor("float32", [257, 32], randomFloats(257 * 32, 1)));
      writeOnnxFile(first, target, { externalData: true, threshold: 1024 });
      const [model0, data0] = [readFileSync(target), readFileSync(`${target}.data`)];
      for (const externalData of [false, true]) {
        expect(() => writeOnnxFile(failing(), target, { externalData, threshold: 1024 })).toThrow(/disk on fire/);
        expect(readFileSync(target).equals(model0)).toBe(true);
        expect(readFileSync(`${target}.data`).equals(data0)).toBe(true);
        expect(t.files()).toEqual(["out.onnx", "out.onnx.data"]);
      }
      // A later successful write replaces both completely.
      const second = modelWithConstant(() => tensor("float32", [257, 32], randomFloats(257 * 32, 2)));
      writeOnnxFile(second, target, { externalData: true, threshold: 1024 });
      expect(t.files()).toEqual(["out.onnx", "out.onnx.data"]);
      const back = readOnnxFile(target);
      expect([...(back.graph.value("1.melW")!.constant!.load().data as Float32Array)]).toEqual([...randomFloats(257 * 32, 2)]);
    } finally {
      t.cleanup();
    }
  });

  it("a constant that loads fine is read back from its external file as an OnnxConstant", () => {
    const t = tempDir();
    try {
      const m = modelWithConstant(() => tensor("float32", [257, 32], randomFloats(257 * 32, 3)));
      m.graph.addConstant("extra", constantOf(tensor("int4", [4097], new Uint8Array(2049).fill(0x5a))));
      writeOnnxFile(m, join(t.dir, "m.onnx"), { externalData: true, threshold: 1024 });
      const back = readOnnxFile(join(t.dir, "m.onnx"));
      const extra = back.graph.value("extra")!.constant!;
      expect(extra).toBeInstanceOf(OnnxConstant);
      expect(origin(extra).external).toMatchObject({ location: "m.onnx.data", length: 2049 });
      expect((extra.load().data as Uint8Array).every((b) => b === 0x5a)).toBe(true);
      expect(existsSync(join(t.dir, "m.onnx.data"))).toBe(true);
    } finally {
      t.cleanup();
    }
  });
});
