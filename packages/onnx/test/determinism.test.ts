/** Same input, same bytes: writing is deterministic and does not change the model it writes. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { modelPath } from "@quanta/models";
import { attr, constantOf, Model } from "@quanta/ir";
import { tensor } from "@quanta/tensor";
import { describe, expect, it } from "vitest";
import { readOnnx, writeOnnx } from "../src/index.js";
import { writeOnnxFile } from "../src/node.js";
import { tempDir } from "./helpers.js";

const same = (a: Uint8Array, b: Uint8Array) => Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;

function edit(m: Model): void {
  const g = m.graph;
  const input = g.inputs[0]!;
  g.insertOnEdge(input, { op: "Identity", name: "id0" });
  const w = g.initializers[0];
  if (w) w.constant = constantOf(tensor("float32", w.constant!.shape, (w.constant!.load().data as Float32Array).map((x) => x * 0.5)));
  const k = g.nodes.find((n) => n.op === "Constant" && n.attr("value")?.type === "tensor");
  const v = k?.attr("value");
  if (k && v?.type === "tensor") k.attributes.set("value", attr.tensor(constantOf(v.value.load())));
  const conv = g.nodes.find((n) => n.op === "Conv")!;
  conv.attributes.set("group", attr.int(1));
  g.addConstant("extra", constantOf(tensor("int8", [3], Int8Array.of(-1, 0, 1))));
  g.addConstant("extra_big", constantOf(tensor("uint8", [5000], new Uint8Array(5000).map((_, i) => i % 251))));
}

describe("deterministic output", () => {
  for (const id of ["openwakeword/melspectrogram", "vad-web/silero_vad_v5", "ocr/ch_ppocr_mobile_v2.0_cls_infer"]) {
    it(`${id}: the same model written twice gives the same bytes`, () => {
      const bytes = readFileSync(modelPath(id));
      const m = readOnnx(bytes);
      expect(same(writeOnnx(m), writeOnnx(m))).toBe(true);
      // Two separate reads of the same file.
      expect(same(writeOnnx(readOnnx(bytes)), writeOnnx(readOnnx(bytes)))).toBe(true);
    });
  }

  it("a modified model written twice, and two identical modifications, give the same bytes", () => {
    const bytes = readFileSync(modelPath("openwakeword/melspectrogram"));
    const a = readOnnx(bytes);
    const b = readOnnx(bytes);
    edit(a);
    edit(b);
    const out = writeOnnx(a);
    expect(same(out, bytes)).toBe(false);
    expect(same(writeOnnx(a), out)).toBe(true);
    expect(same(writeOnnx(b), out)).toBe(true);
    // Reading the output and writing it again is a fixed point.
    expect(same(writeOnnx(readOnnx(out)), out)).toBe(true);
    // Writing did not disturb anything the original model still shares with the file.
    expect(same(writeOnnx(readOnnx(bytes)), bytes)).toBe(true);
  });

  it("a model built from the IR written twice gives the same bytes", () => {
    const build = () => {
      const m = new Model("onnx");
      m.opsets = [{ domain: "", version: 17 }];
      const x = m.graph.addInput("x", { elem: "float32", shape: ["n", 4] });
      const c = m.graph.addConstant("c", constantOf(tensor("float32", [4], Float32Array.of(1, 2, 3, 4))));
      const y = m.graph.addNode({ op: "Mul", inputs: [x, c], outputs: ["y"], attributes: { note: attr.string("kept") } }).outputs[0]!;
      y.type = { elem: "float32", shape: ["n", 4] };
      m.graph.addOutput(y);
      m.metadata = [{ key: "k", value: "v" }];
      return m;
    };
    const m = build();
    expect(same(writeOnnx(m), writeOnnx(m))).toBe(true);
    expect(same(writeOnnx(build()), writeOnnx(m))).toBe(true);
  });

  it("writeOnnxFile with external data gives the same files in two folders", () => {
    const [t1, t2] = [tempDir(), tempDir()];
    try {
      const m = readOnnx(readFileSync(modelPath("ocr/ch_ppocr_mobile_v2.0_cls_infer")));
      edit(m);
      for (const t of [t1, t2]) writeOnnxFile(m, join(t.dir, "model.onnx"), { externalData: true, threshold: 1024 });
      for (const f of ["model.onnx", "model.onnx.data"]) {
        expect(readFileSync(join(t1.dir, f)).equals(readFileSync(join(t2.dir, f))), f).toBe(true);
      }
    } finally {
      t1.cleanup();
      t2.cleanup();
    }
  });
});
