/**
 * Hostile and malformed input: every failure must be one of our typed errors (never a TypeError,
 * RangeError, hang or huge allocation), and the message must name the problem.
 */
import { readFileSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { modelPath } from "@quanta/models";
import { type Model, problems } from "@quanta/ir";
import { ModelProtoSchema, SparseTensorProtoSchema } from "onnx-buf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OnnxInvalidModel, OnnxParseError, decodeTensorProto, isOnnxTensorOrigin, readOnnx, writeOnnx } from "../src/index.js";
import { readOnnxFile } from "../src/node.js";
import {
  DT,
  READ_TAGS,
  attrFloat,
  attrGraph,
  attrTensor,
  deeplyNestedModel,
  encode,
  expectTyped,
  externalTensor,
  floatTensor,
  graph,
  model,
  modelWith,
  node,
  rng,
  tempDir,
  tensorProto,
  thrown,
  valueInfo,
} from "./helpers.js";

const MEL = readFileSync(modelPath("openwakeword/melspectrogram"));

/** Loads every constant and writes the model back; only typed errors may come out of either. */
function exercise(m: Model): Uint8Array {
  for (const g of m.allGraphs()) {
    for (const v of g.initializers) {
      try {
        v.constant!.load();
      } catch (e) {
        expect(["ConstantUnavailable", "ExternalDataError"], String(e)).toContain((e as { _tag?: string })._tag);
      }
    }
  }
  return writeOnnx(m);
}

/** Reads `bytes`: returns "ok" or the tag of the typed error; anything else fails the test. */
function probe(bytes: Uint8Array, label: string): string {
  let m: Model;
  try {
    m = readOnnx(bytes, { source: label });
  } catch (e) {
    const tag = (e as { _tag?: string })._tag;
    if (!tag || !READ_TAGS.has(tag)) throw new Error(`${label}: untyped error escaped: ${(e as Error)?.stack ?? e}`);
    expect((e as Error).message.length).toBeGreaterThan(20);
    return tag;
  }
  const out = exercise(m);
  // Whatever decodes is carried through losslessly, corrupt or not: the writer loses nothing beyond
  // what the protobuf library itself does (it replaces invalid UTF-8 in string fields).
  const same = Buffer.compare(Buffer.from(out), Buffer.from(bytes)) === 0;
  if (!same) expect(Buffer.compare(Buffer.from(out), Buffer.from(toBinary(ModelProtoSchema, fromBinary(ModelProtoSchema, bytes)))), `${label}: round trip`).toBe(0);
  return same ? "ok" : "ok (normalized)";
}

/** Offsets where a top-level field of a protobuf message ends. */
function topLevelFieldEnds(b: Uint8Array): Set<number> {
  const ends = new Set<number>();
  let p = 0;
  const varint = (): number => {
    let v = 0;
    for (let shift = 1; ; shift *= 128) {
      const x = b[p++]!;
      v += (x & 127) * shift;
      if (x < 128) return v;
    }
  };
  while (p < b.length) {
    const wire = varint() & 7;
    if (wire === 0) varint();
    else if (wire === 2) {
      const n = varint();
      p += n;
    }
    else if (wire === 5) p += 4;
    else if (wire === 1) p += 8;
    else throw new Error(`unexpected wire type ${wire}`);
    ends.add(p);
  }
  return ends;
}

describe("files that are not ONNX", () => {
  it("an empty file", () => {
    expectTyped(() => readOnnx(new Uint8Array(0)), "OnnxParseError", /empty/);
    expectTyped(() => readOnnx(new Uint8Array(0), { source: "x.onnx" }), "OnnxParseError", /^x\.onnx: .*empty/);
  });

  it("random bytes", () => {
    const r = rng(11);
    const tags = new Set<string>();
    for (const n of [1, 2, 3, 7, 16, 100, 1000, 4096, 65536]) {
      for (let k = 0; k < 20; k++) {
        const b = new Uint8Array(n);
        for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256);
        const tag = probe(b, `random ${n}`);
        expect(tag).not.toBe("ok");
        tags.add(tag);
      }
    }
    expect(tags.has("OnnxParseError")).toBe(true);
  });

  it("a PNG file, a text file, JSON, a lone tag byte", () => {
    const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4, 0x89]);
    expectTyped(() => readOnnx(png, { source: "image.png" }), "OnnxParseError", /image\.png/);
    const text = new TextEncoder().encode("This is a README, not a model.\nIt has two lines.\n");
    expectTyped(() => readOnnx(text), "OnnxParseError");
    expectTyped(() => readOnnx(new TextEncoder().encode('{"graph": {"node": []}}')), "OnnxParseError");
    // 0x08 is ModelProto.ir_version's tag: a varint must follow.
    expectTyped(() => readOnnx(Uint8Array.of(0x08)), "OnnxParseError", /EOF|end/i);
    // A valid protobuf that is not a model: only an IR version.
    expectTyped(() => readOnnx(Uint8Array.of(0x08, 0x07)), "OnnxParseError", /no graph/);
    // A length prefix claiming 2 GB.
    expectTyped(() => readOnnx(Uint8Array.of(0x3a, 0xff, 0xff, 0xff, 0xff, 0x07, 0x00)), "OnnxParseError");
  });

  it("a standalone TensorProto read as a model, and garbage read as a TensorProto", () => {
    expectTyped(() => decodeTensorProto(new Uint8Array(0)), "OnnxInvalidModel", /unknown data type 0/);
    expectTyped(() => decodeTensorProto(Uint8Array.of(0x0a, 0x05, 1)), "OnnxParseError");
  });

  it("missing files and folders", () => {
    const t = tempDir();
    try {
      expectTyped(() => readOnnxFile(join(t.dir, "nope.onnx")), "OnnxParseError", /no such file/);
      expectTyped(() => readOnnxFile(t.dir), "OnnxParseError", /EISDIR|directory/);
    } finally {
      t.cleanup();
    }
  });
});

describe("damaged real models", () => {
  it("truncated at every 1/50th of its length and a few bytes off the end", () => {
    const cuts = new Set<number>();
    for (let i = 1; i < 50; i++) cuts.add(Math.floor((MEL.length * i) / 50));
    for (let k = 1; k <= 16; k++) cuts.add(MEL.length - k);
    for (const cut of [1, 2, 3, 10, 100]) cuts.add(cut);
    const boundaries = topLevelFieldEnds(MEL);
    let ok = 0;
    for (const cut of cuts) {
      const tag = probe(MEL.subarray(0, cut), `melspectrogram[0:${cut}]`);
      // A cut between two top-level fields leaves a shorter but well-formed model (here: without its opset import).
      if (tag.startsWith("ok")) {
        expect(boundaries.has(cut), `cut at ${cut} read fine`).toBe(true);
        ok++;
      }
    }
    expect(ok).toBeLessThanOrEqual(1);
  });

  /** Byte ranges of raw tensor data (views into `bytes`) in a model read from `bytes`. */
  function tensorDataMask(bytes: Uint8Array): Uint8Array {
    const mask = new Uint8Array(bytes.length);
    const mark = (raw: Uint8Array) => {
      if (raw.buffer === bytes.buffer && raw.byteLength > 0) mask.fill(1, raw.byteOffset - bytes.byteOffset, raw.byteOffset - bytes.byteOffset + raw.byteLength);
    };
    for (const g of readOnnx(bytes).allGraphs()) {
      for (const v of g.initializers) if (isOnnxTensorOrigin(v.constant!.origin)) mark(v.constant!.origin.proto.rawData);
      for (const n of g.nodes) for (const a of n.attributes.values()) if (a.type === "tensor" && isOnnxTensorOrigin(a.value.origin)) mark(a.value.origin.proto.rawData);
    }
    return mask;
  }

  for (const [id, count, seed] of [
    ["openwakeword/melspectrogram", 200, 2024],
    ["vad-web/silero_vad_v5", 60, 7],
  ] as const) {
    it(`${id}: ${count} random single-byte corruptions read fine or give a typed error`, () => {
      const orig = id === "openwakeword/melspectrogram" ? MEL : readFileSync(modelPath(id));
      // Most bytes are tensor data; aim three quarters of the mutations at the structure around it.
      const mask = tensorDataMask(orig);
      const structure: number[] = [];
      for (let i = 0; i < mask.length; i++) if (!mask[i]) structure.push(i);
      expect(structure.length).toBeGreaterThan(1000);
      const r = rng(seed);
      const seen: Record<string, number> = {};
      for (let k = 0; k < count; k++) {
        const pos = k % 4 === 3 ? Math.floor(r() * orig.length) : structure[Math.floor(r() * structure.length)]!;
        const bytes = new Uint8Array(orig);
        bytes[pos] = (bytes[pos]! + 1 + Math.floor(r() * 255)) & 0xff; // always a different value
        const tag = probe(bytes, `${id} with byte ${pos} = ${bytes[pos]}`);
        seen[tag] = (seen[tag] ?? 0) + 1;
      }
      expect(seen.ok).toBeGreaterThan(count / 4);
      expect((seen.OnnxParseError ?? 0) + (seen.OnnxInvalidModel ?? 0)).toBeGreaterThan(0);
    });
  }

  it("bursts of random bytes written over the structure", () => {
    const mask = tensorDataMask(MEL);
    const r = rng(99);
    for (let k = 0; k < 60; k++) {
      const bytes = new Uint8Array(MEL);
      let pos = Math.floor(r() * MEL.length);
      while (mask[pos]) pos = Math.floor(r() * MEL.length);
      const n = 1 + Math.floor(r() * 16);
      for (let i = pos; i < Math.min(pos + n, bytes.length); i++) bytes[i] = Math.floor(r() * 256);
      probe(bytes, `melspectrogram with ${n} random bytes at ${pos}`);
    }
  });
});

describe("tensor data that does not match its declaration", () => {
  const read = (t: ReturnType<typeof tensorProto>) => () => readOnnx(modelWith([t]));

  it("huge declared dims are rejected without allocating", () => {
    const four = { rawData: new Uint8Array(4) };
    const before = process.memoryUsage().arrayBuffers;
    expectTyped(read(tensorProto("w", DT.FLOAT, [2 ** 40, 2 ** 40], four)), "OnnxInvalidModel", /\[1099511627776,1099511627776\] has more elements than can exist.*initializer 'w'/);
    // 2^52 elements is countable, but 4 bytes cannot hold them.
    expectTyped(read(tensorProto("w", DT.FLOAT, [2 ** 26, 2 ** 26], four)), "OnnxInvalidModel", /raw data holds 4 bytes, but float32\[67108864,67108864\] needs 18014398509481984/);
    expectTyped(read(tensorProto("w", DT.INT64, [2 ** 31, 2 ** 31, 2 ** 31], four)), "OnnxInvalidModel", /more elements than can exist/);
    expectTyped(read(tensorProto("w", DT.FLOAT, [2n ** 53n + 1n], four)), "OnnxInvalidModel", /dimension 9007199254740993 is out of range.*'w'/);
    expectTyped(read(tensorProto("w", DT.FLOAT, [2n ** 63n - 1n], four)), "OnnxInvalidModel", /out of range/);
    expectTyped(read(tensorProto("w", DT.FLOAT, [-1], four)), "OnnxInvalidModel", /dimension -1 is out of range/);
    expectTyped(read(tensorProto("w", DT.FLOAT, [2, -3], four)), "OnnxInvalidModel", /dimension -3/);
    // Typed fields and external data get the same checks.
    expectTyped(read(tensorProto("w", DT.FLOAT, [2 ** 40, 2 ** 40], { floatData: [1] })), "OnnxInvalidModel", /more elements/);
    expectTyped(read(tensorProto("w", DT.FLOAT, [2 ** 30, 2 ** 10], { floatData: [1] })), "OnnxInvalidModel", /float_data holds 1 values/);
    expectTyped(read(externalTensor("w", DT.FLOAT, [2 ** 40, 2 ** 40], { location: "w.bin" })), "OnnxInvalidModel", /more elements/);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 1024 * 1024);
  });

  it("huge dims in a sparse initializer", () => {
    const g = graph({ nodes: [node("Identity", ["s"], ["y"])], outputs: [valueInfo("y")] });
    g.sparseInitializer = [create(SparseTensorProtoSchema, { dims: [2n ** 62n], values: floatTensor("s", [1], [1]), indices: tensorProto("i", DT.INT64, [1], { int64Data: [0n] }) })];
    expectTyped(() => readOnnx(encode(model(g))), "OnnxInvalidModel", /out of range.*sparse initializer 's'/);
  });

  it("huge dims in a value's type become unknown dims", () => {
    const bytes = encode(model(graph({ nodes: [node("Relu", ["x"], ["y"])], inputs: [valueInfo("x", DT.FLOAT, [2 ** 60, -5, "n"])], outputs: [valueInfo("y")] })));
    // 2^60 fits in a JS number only approximately; it is not a safe integer, so it is not trusted.
    const m = readOnnx(bytes);
    expect(m.graph.inputs[0]!.type).toEqual({ elem: "float32", shape: [null, null, "n"] });
    expect(Buffer.compare(Buffer.from(writeOnnx(m)), Buffer.from(bytes))).toBe(0);
  });

  it("raw data of the wrong length", () => {
    expectTyped(read(floatTensor("w", [2, 3], [1, 2, 3, 4, 5])), "OnnxInvalidModel", /raw data holds 20 bytes, but float32\[2,3\] needs 24 \(initializer 'w'\)/);
    expectTyped(read(tensorProto("w", DT.INT4, [5], { rawData: new Uint8Array(2) })), "OnnxInvalidModel", /holds 2 bytes, but int4\[5\] needs 3/);
    expectTyped(read(tensorProto("w", DT.FLOAT16, [3], { rawData: new Uint8Array(7) })), "OnnxInvalidModel", /needs 6/);
    expectTyped(read(tensorProto("w", DT.FLOAT, [2], {})), "OnnxInvalidModel", /no data for float32\[2\]/);
  });

  it("typed fields with the wrong count, in the wrong field, or in two fields", () => {
    expectTyped(read(tensorProto("w", DT.FLOAT, [2, 3], { floatData: [1, 2, 3, 4, 5] })), "OnnxInvalidModel", /float_data holds 5 values, but float32\[2,3\] needs 6/);
    expectTyped(read(tensorProto("w", DT.INT64, [2], { int64Data: [1n, 2n, 3n] })), "OnnxInvalidModel", /int64_data holds 3 values/);
    expectTyped(read(tensorProto("w", DT.INT4, [5], { int32Data: [1, 2] })), "OnnxInvalidModel", /int32_data holds 2 values, but int4\[5\] needs 3/);
    expectTyped(read(tensorProto("w", DT.COMPLEX64, [2], { floatData: [1, 2, 3] })), "OnnxInvalidModel", /needs 4/);
    expectTyped(read(tensorProto("w", DT.STRING, [2], { stringData: [new Uint8Array(1)] })), "OnnxInvalidModel", /string_data holds 1 values/);
    // Data in a field its type does not use would otherwise load as zeros.
    expectTyped(read(tensorProto("w", DT.FLOAT, [2], { int64Data: [1n, 2n] })), "OnnxInvalidModel", /float32 data stored in int64_data \(expected float_data/);
    expectTyped(read(tensorProto("w", DT.INT32, [2], { floatData: [1, 2] })), "OnnxInvalidModel", /int32 data stored in float_data \(expected int32_data/);
    expectTyped(read(tensorProto("w", DT.UINT32, [2], { int32Data: [1, 2] })), "OnnxInvalidModel", /expected uint64_data/);
    expectTyped(read(tensorProto("w", DT.FLOAT, [2], { floatData: [1, 2], rawData: new Uint8Array(8) })), "OnnxInvalidModel", /several fields \(raw_data, float_data\)/);
    expectTyped(read(tensorProto("w", DT.STRING, [1], { rawData: new Uint8Array(3) })), "OnnxInvalidModel", /string tensors cannot use raw_data/);
  });

  it("unknown data type numbers", () => {
    expectTyped(read(tensorProto("w", 99, [1], { rawData: new Uint8Array(4) })), "OnnxInvalidModel", /unknown data type 99 \(initializer 'w'\)/);
    expectTyped(read(tensorProto("w", 0, [1], { rawData: new Uint8Array(4) })), "OnnxInvalidModel", /unknown data type 0/);
    expectTyped(read(tensorProto("w", -7, [1], { rawData: new Uint8Array(4) })), "OnnxInvalidModel", /unknown data type -7/);
    // In a tensor attribute too.
    const bad = tensorProto("", 1234, [], { rawData: new Uint8Array(4) });
    const g = graph({ nodes: [node("Constant", [], ["y"], { name: "k", attributes: [attrTensor("value", bad)] })], outputs: [valueInfo("y")] });
    expectTyped(() => readOnnx(encode(model(g))), "OnnxInvalidModel", /unknown data type 1234.*node 0 \(Constant 'k'\) \/ attribute 'value'/);
  });

  it("an initializer without a name", () => {
    expectTyped(read(floatTensor("", [1], [1])), "OnnxInvalidModel", /initializer has no name/);
  });
});

describe("graphs that do not hold together", () => {
  const x = valueInfo("x", DT.FLOAT, [2]);
  const y = valueInfo("y", DT.FLOAT, [2]);
  const readGraph = (g: ReturnType<typeof graph>) => () => readOnnx(encode(model(g)));

  it("a node reading an undefined value", () => {
    const g = graph({ nodes: [node("Add", ["x", "ghost"], ["y"], { name: "add" })], inputs: [x], outputs: [y] });
    expectTyped(readGraph(g), "OnnxInvalidModel", /input 1 reads 'ghost', which no graph input, initializer or node defines.*Add 'add'/);
  });

  it("a graph output that nothing defines", () => {
    const g = graph({ nodes: [node("Relu", ["x"], ["y"])], inputs: [x], outputs: [y, valueInfo("z")] });
    expectTyped(readGraph(g), "OnnxInvalidModel", /graph output 'z' is not defined/);
    const g2 = graph({ nodes: [node("Relu", ["x"], ["y"])], inputs: [x], outputs: [valueInfo("")] });
    expectTyped(readGraph(g2), "OnnxInvalidModel", /graph output '' is not defined/);
  });

  it("duplicate definitions", () => {
    // Two nodes writing the same value.
    expectTyped(readGraph(graph({ nodes: [node("Relu", ["x"], ["y"]), node("Neg", ["x"], ["y"])], inputs: [x], outputs: [y] })), "OnnxInvalidModel", /output 'y' is defined twice.*node 1 \(Neg/);
    // A node overwriting a graph input.
    expectTyped(readGraph(graph({ nodes: [node("Relu", ["x"], ["x"])], inputs: [x], outputs: [x] })), "OnnxInvalidModel", /'x' is defined twice/);
    // The same input twice.
    expectTyped(readGraph(graph({ nodes: [node("Relu", ["x"], ["y"])], inputs: [x, x], outputs: [y] })), "OnnxInvalidModel", /'x' is defined twice/);
    // Two initializers with one name.
    expectTyped(readGraph(graph({ nodes: [node("Relu", ["w"], ["y"])], initializers: [floatTensor("w", [1], [1]), floatTensor("w", [1], [2])], outputs: [y] })), "OnnxInvalidModel", /'w' is defined twice/);
    // An output repeated within one node.
    expectTyped(readGraph(graph({ nodes: [node("Split", ["x"], ["a", "a"])], inputs: [x], outputs: [valueInfo("a")] })), "OnnxInvalidModel", /'a' is defined twice/);
    // A subgraph may not redefine a name of its enclosing graph.
    const sub = graph({ name: "then", nodes: [node("Relu", ["x"], ["y"])], outputs: [y] });
    const g = graph({ nodes: [node("Relu", ["x"], ["y"]), node("If", ["c"], ["z"], { attributes: [attrGraph("then_branch", sub)] })], inputs: [x, valueInfo("c", DT.BOOL, [])], outputs: [valueInfo("z")] });
    expectTyped(readGraph(g), "OnnxInvalidModel", /'y' is defined twice.*graph 'then'/);
    // An attribute given twice.
    const twice = graph({ nodes: [node("LeakyRelu", ["x"], ["y"], { attributes: [attrFloat("alpha", 0.1), attrFloat("alpha", 0.2)] })], inputs: [x], outputs: [y] });
    expectTyped(readGraph(twice), "OnnxInvalidModel", /attribute 'alpha' given twice/);
  });

  it("cycles", () => {
    const two = graph({ nodes: [node("Add", ["x", "b"], ["a"], { name: "A" }), node("Relu", ["a"], ["b"], { name: "B" })], inputs: [x], outputs: [valueInfo("b")] });
    const e = expectTyped(readGraph(two), "OnnxInvalidModel", /cycle through (Add 'A'|Relu 'B')/);
    expect(e).toBeInstanceOf(OnnxInvalidModel);
    const self = graph({ nodes: [node("Add", ["x", "s"], ["s"], { name: "S" })], inputs: [x], outputs: [valueInfo("s")] });
    expectTyped(readGraph(self), "OnnxInvalidModel", /cycle through Add 'S'/);
    // A cycle inside a subgraph.
    const sub = graph({ name: "body", nodes: [node("Neg", ["q"], ["p"]), node("Neg", ["p"], ["q"])], outputs: [valueInfo("p")] });
    const outer = graph({ nodes: [node("If", ["c"], ["z"], { attributes: [attrGraph("then_branch", sub)] })], inputs: [valueInfo("c", DT.BOOL, [])], outputs: [valueInfo("z")] });
    expectTyped(readGraph(outer), "OnnxInvalidModel", /cycle.*graph 'body'/);
  });

  it("nodes listed out of order are accepted and kept in file order", () => {
    const g = graph({ nodes: [node("Neg", ["a"], ["y"], { name: "second" }), node("Relu", ["x"], ["a"], { name: "first" })], inputs: [x], outputs: [y] });
    const bytes = encode(model(g));
    const m = readOnnx(bytes);
    expect(m.graph.nodes.map((n) => n.name)).toEqual(["second", "first"]);
    expect(m.graph.topologicalOrder().map((n) => n.name)).toEqual(["first", "second"]);
    expect(problems(m)).toEqual([]);
    expect(Buffer.compare(Buffer.from(writeOnnx(m)), Buffer.from(bytes))).toBe(0);
  });
});

describe("odd but decodable structures are carried through", () => {
  it("a subgraph output that names a value of the enclosing graph keeps its own entry and leaves the value's type alone", () => {
    // Found by the corruption fuzzing: a flipped byte turned a subgraph output's name into an outer value's.
    const then = graph({ name: "then", outputs: [valueInfo("t", DT.FLOAT, ["from_then"])] });
    const els = graph({ name: "else", nodes: [node("Neg", ["t"], ["e"])], outputs: [valueInfo("e", DT.FLOAT)] });
    const main = graph({
      name: "main",
      nodes: [node("Relu", ["x"], ["t"]), node("If", ["c"], ["y"], { attributes: [attrGraph("then_branch", then), attrGraph("else_branch", els)] })],
      inputs: [valueInfo("x", DT.FLOAT, [2]), valueInfo("c", DT.BOOL, [])],
      outputs: [valueInfo("y")],
    });
    const bytes = encode(model(main));
    const m = readOnnx(bytes);
    const t = m.graph.value("t")!;
    expect(t.type).toBeUndefined(); // the subgraph's entry does not type the outer value
    const thenGraph = m.graph.nodes[1]!.subgraphs()[0]!;
    expect(thenGraph.outputs).toEqual([t]);
    expect(problems(m)).toEqual([]);
    expect(Buffer.compare(Buffer.from(writeOnnx(m)), Buffer.from(bytes))).toBe(0);
    // Renaming the outer value renames the subgraph's output entry too.
    t.rename("t2");
    const back = readOnnx(writeOnnx(m));
    const sub = back.graph.nodes[1]!.subgraphs()[0]!;
    expect(sub.outputs[0]!.name).toBe("t2");
    expect(sub.outputs[0]!.graph).toBe(back.graph);
  });
});

describe("nesting bombs", () => {
  /** If nodes nested `depth` deep; the innermost branch reads the main graph's input. */
  function nestedIfs(depth: number): Uint8Array {
    let inner = graph({ name: `g${depth}`, nodes: [node("Identity", ["x"], [`o${depth}`])], outputs: [valueInfo(`o${depth}`)] });
    for (let d = depth - 1; d >= 1; d--) {
      inner = graph({ name: `g${d}`, nodes: [node("If", ["c"], [`o${d}`], { attributes: [attrGraph("then_branch", inner), attrGraph("else_branch", graph({ name: `e${d}`, nodes: [node("Identity", ["x"], [`e${d}_0`])], outputs: [valueInfo(`e${d}_0`)] }))] })], outputs: [valueInfo(`o${d}`)] });
    }
    const main = graph({ name: "main", nodes: [node("If", ["c"], ["y"], { attributes: [attrGraph("then_branch", inner), attrGraph("else_branch", graph({ name: "e", nodes: [node("Identity", ["x"], ["e0"])], outputs: [valueInfo("e0")] }))] })], inputs: [valueInfo("x"), valueInfo("c", DT.BOOL, [])], outputs: [valueInfo("y")] });
    return encode(model(main));
  }

  it("If subgraphs nested 100 deep are refused with a depth error", () => {
    expectTyped(() => readOnnx(nestedIfs(100)), "OnnxInvalidModel", /subgraphs nested deeper than 32 levels/);
  });

  it("nesting within the limit reads; maxDepth lowers the limit", () => {
    const ok = nestedIfs(20);
    const m = readOnnx(ok);
    expect(m.allGraphs().length).toBeGreaterThan(20);
    expect(problems(m)).toEqual([]);
    expect(Buffer.compare(Buffer.from(writeOnnx(m)), Buffer.from(ok))).toBe(0);
    expectTyped(() => readOnnx(ok, { maxDepth: 5 }), "OnnxInvalidModel", /nested deeper than 5 levels/);
    // A higher limit lets the protobuf decoder go deeper too.
    expect(readOnnx(nestedIfs(100), { maxDepth: 120 }).allGraphs().length).toBeGreaterThan(100);
  });

  it("protobuf nested deeper than any stack is a parse error, quickly", () => {
    for (const levels of [1000, 100_000]) {
      const bytes = deeplyNestedModel(levels);
      const t0 = performance.now();
      expectTyped(() => readOnnx(bytes), "OnnxParseError", /nested more than \d+ levels deep/);
      expect(performance.now() - t0).toBeLessThan(2000);
    }
    // Even with the limit raised past what the stack holds, the overflow becomes a parse error.
    const e = thrown(() => readOnnx(deeplyNestedModel(100_000), { maxDepth: 1_000_000 }));
    expect(e).toBeInstanceOf(OnnxParseError);
    expect((e as Error).message).toMatch(/nested/);
  });
});

describe("external data that cannot be trusted", () => {
  let t: ReturnType<typeof tempDir>;
  beforeAll(() => {
    t = tempDir();
    writeFileSync(join(t.dir, "w.bin"), new Uint8Array(Float32Array.from([1, 2, 3, 4]).buffer));
  });
  afterAll(() => t.cleanup());
  /** Writes a model holding `tensor` into the temp folder and reads it back with readOnnxFile. */
  const readWith = (tensor: ReturnType<typeof tensorProto>, name = "m.onnx") => {
    const p = join(t.dir, name);
    writeFileSync(p, modelWith([tensor]));
    return () => readOnnxFile(p);
  };

  it("a good reference reads and loads", () => {
    const m = readWith(externalTensor("w", DT.FLOAT, [2], { location: "w.bin", offset: 8, length: 8 }))();
    expect([...(m.graph.initializers[0]!.constant!.load().data as Float32Array)]).toEqual([3, 4]);
  });

  it("a missing file", () => {
    expectTyped(readWith(externalTensor("w", DT.FLOAT, [4], { location: "missing.bin" })), "ExternalDataError", /external data of 'w': cannot open 'missing\.bin'/);
  });

  it("absolute paths and paths leaving the model's folder", () => {
    for (const location of ["/etc/passwd", join(t.dir, "w.bin"), "../w.bin", "sub/../../w.bin", "..\\w.bin", "C:\\w.bin", "\\\\server\\share\\w.bin"]) {
      expectTyped(readWith(externalTensor("w", DT.FLOAT, [4], { location })), "ExternalDataError", /must be a relative path inside the model's folder/);
    }
  });

  it("offset and length beyond the end of the file", () => {
    expectTyped(readWith(externalTensor("w", DT.FLOAT, [4], { location: "w.bin", offset: 4 })), "ExternalDataError", /bytes 4\.\.20 lie beyond the end of 'w\.bin' \(16 bytes\)/);
    expectTyped(readWith(externalTensor("w", DT.FLOAT, [2 ** 20], { location: "w.bin" })), "ExternalDataError", /beyond the end/);
    expectTyped(readWith(externalTensor("w", DT.FLOAT, [1], { location: "w.bin", offset: 2 ** 53 })), "ExternalDataError", /offset 9007199254740992 is out of range/);
  });

  it("a length that does not match the declared shape, and malformed numbers", () => {
    expectTyped(readWith(externalTensor("w", DT.FLOAT, [3], { location: "w.bin", length: 8 })), "ExternalDataError", /length 8 does not match 12 bytes of declared shape/);
    const bad = externalTensor("w", DT.FLOAT, [1], { location: "w.bin" });
    bad.externalData.push({ ...bad.externalData[0]!, key: "offset", value: "-4" });
    expectTyped(readWith(bad), "ExternalDataError", /offset '-4' is not a non-negative integer/);
    const noLoc = externalTensor("w", DT.FLOAT, [1], { location: "" });
    expectTyped(readWith(noLoc), "ExternalDataError", /no location given/);
  });

  it("without a resolver the model reads, and loading names the problem", () => {
    const m = readOnnx(modelWith([externalTensor("w", DT.FLOAT, [4], { location: "w.bin" })]));
    expectTyped(() => m.graph.initializers[0]!.constant!.load(), "ExternalDataError", /no resolver for external file 'w\.bin'/);
  });

  it("a data file that shrinks after reading gives a typed error on load", () => {
    writeFileSync(join(t.dir, "shrink.bin"), new Uint8Array(16));
    const m = readWith(externalTensor("w", DT.FLOAT, [4], { location: "shrink.bin" }), "shrink.onnx")();
    truncateSync(join(t.dir, "shrink.bin"), 8);
    expectTyped(() => m.graph.initializers[0]!.constant!.load(), "ExternalDataError", /cannot read bytes 0\.\.16 of 'shrink\.bin'.*end of file/);
  });

  it("a folder where the data file should be", () => {
    expectTyped(readWith(externalTensor("w", DT.FLOAT, [4], { location: "." })), "ExternalDataError", /cannot open '\.': .*not a file/);
  });
});
