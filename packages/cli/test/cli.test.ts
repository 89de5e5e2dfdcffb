import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ONNX_MODELS, modelPath } from "@quanta/models";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "quanta-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function cli(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { console: { out: (l) => out.push(l), err: (l) => err.push(l) } });
  return { code, out: out.join("\n"), err };
}

describe("quanta convert", () => {
  for (const m of ONNX_MODELS) {
    it(`writes ${m.id} back byte for byte`, async () => {
      const target = join(dir, `${m.id.replace(/\W/g, "_")}.onnx`);
      const r = await cli("convert", m.path, "-o", target);
      expect(r.err).toEqual([]);
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/^wrote /);
      expect(readFileSync(target).equals(readFileSync(m.path))).toBe(true);
    });
  }

  it("writes tensors to external data with --external-data, and the result converts back to the same bytes", async () => {
    const src = modelPath("ocr/ch_ppocr_mobile_v2.0_cls_infer");
    const ext = join(dir, "cls.ext.onnx");
    const r = await cli("convert", src, "-o", ext, "--external-data");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/external data/);
    expect(statSync(ext).size).toBeLessThan(statSync(src).size / 2);
    expect(statSync(`${ext}.data`).size).toBeGreaterThan(statSync(src).size / 2);
    const back = join(dir, "cls.back.onnx");
    expect((await cli("convert", ext, "-o", back)).code).toBe(0);
    // Data moved inline again: same tensors, so the same size as the original within the external-data bookkeeping.
    expect(Math.abs(statSync(back).size - statSync(src).size)).toBeLessThan(2000);
  });

  it("refuses to write over its input and leaves it untouched", async () => {
    const copy = join(dir, "input.onnx");
    writeFileSync(copy, readFileSync(modelPath("openwakeword/hey_rhasspy_v0.1")));
    const before = readFileSync(copy);
    const r = await cli("convert", copy, "-o", copy);
    expect(r.code).toBe(2);
    expect(r.err[0]).toMatch(/never writes over its input/);
    expect(readFileSync(copy).equals(before)).toBe(true);
  });

  it("gives the same bytes for the same input every time", async () => {
    const a = join(dir, "det1.onnx");
    const b = join(dir, "det2.onnx");
    await cli("convert", modelPath("ocr/ch_PP-OCRv4_det_infer"), "-o", a);
    await cli("convert", modelPath("ocr/ch_PP-OCRv4_det_infer"), "-o", b);
    expect(readFileSync(a).equals(readFileSync(b))).toBe(true);
  });
});

describe("quanta inspect", () => {
  it("prints inputs, outputs, op histogram, parameters by dtype and opsets", async () => {
    const r = await cli("inspect", modelPath("openwakeword/embedding_model"));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/opsets: ai\.onnx 13, ai\.onnx\.ml 2/);
    expect(r.out).toMatch(/inputs:\n {2}input_1 +float32 +\[\?|inputs:\n {2}\S+ +float32 +\[/);
    expect(r.out).toMatch(/\n {2}Conv +20\n/);
    expect(r.out).toMatch(/parameters: [\d,]+ in /);
    expect(r.out).toMatch(/\n {2}float32 +\d+ tensors/);
  });

  it("--json gives the summary as one JSON object", async () => {
    const r = await cli("inspect", modelPath("vad-web/silero_vad_v5"), "--json");
    expect(r.code).toBe(0);
    const s = JSON.parse(r.out);
    expect(s.format).toBe("onnx");
    expect(s.inputs.map((v: { name: string }) => v.name)).toEqual(["input", "state", "sr"]);
    expect(s.graphs).toBeGreaterThan(1); // weights live in If subgraphs
    expect(s.ops.find((o: { op: string }) => o.op === "If").count).toBeGreaterThan(0);
    expect(s.totalParameterBytes).toBeGreaterThan(1_000_000);
    expect(s.opsets).toEqual([{ domain: "", version: 16 }]);
  });
});

describe("errors: one clear line on stderr and a non-zero exit", () => {
  const bad = (name: string, bytes: Uint8Array | string) => {
    const p = join(dir, name);
    writeFileSync(p, bytes);
    return p;
  };
  const real = () => readFileSync(modelPath("openwakeword/hey_rhasspy_v0.1"));

  const cases: [string, () => string[], RegExp, number][] = [
    ["a missing file", () => ["inspect", join(dir, "nope.onnx")], /nope\.onnx: no such file/, 1],
    ["a folder", () => ["inspect", dir], /is a folder/, 1],
    ["an empty file", () => ["inspect", bad("empty.onnx", new Uint8Array(0))], /empty/, 1],
    ["a truncated model", () => ["inspect", bad("trunc.onnx", real().subarray(0, 5000))], /not a readable ONNX model/, 1],
    ["a text file", () => ["inspect", bad("notes.onnx", "hello, this is not a model\n")], /ONNX/, 1],
    ["a TFLite file", () => ["inspect", bad("m.tflite", new Uint8Array([0x18, 0, 0, 0, 0x54, 0x46, 0x4c, 0x33, 0, 0]))], /TFLite/, 1],
    ["an unknown command", () => ["frobnicate"], /unknown command 'frobnicate'/, 2],
    ["an unknown option", () => ["inspect", "--frob", "x.onnx"], /--frob/, 2],
    ["convert without -o", () => ["convert", modelPath("openwakeword/hey_rhasspy_v0.1")], /needs -o OUT/, 2],
  ];
  for (const [what, argv, msg, code] of cases) {
    it(what, async () => {
      const r = await cli(...argv());
      expect(r.code).toBe(code);
      expect(r.err[0]).toMatch(/^quanta: /);
      expect(r.err[0]).toMatch(msg);
      expect(r.err[0]!.includes("\n")).toBe(false);
      expect(r.out).toBe("");
    });
  }

  it("a failed write leaves no output and no temporary file behind", async () => {
    const sub = join(dir, "ro");
    const target = join(sub, "missing-folder", "out.onnx");
    const r = await cli("convert", modelPath("openwakeword/hey_rhasspy_v0.1"), "-o", target);
    expect(r.code).toBe(1);
    expect(r.err).toHaveLength(1);
    expect(readdirSync(dir).filter((f) => f.includes(".tmp"))).toEqual([]);
  });
});

describe("the quanta binary", () => {
  const bin = fileURLToPath(new URL("../bin/quanta.mjs", import.meta.url));
  it("runs, prints help, and exits non-zero with one stderr line on bad input", () => {
    const ok = spawnSync(process.execPath, [bin, "--help"], { encoding: "utf8" });
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/quanta inspect MODEL/);
    const bad = spawnSync(process.execPath, [bin, "inspect", join(dir, "nope.onnx")], { encoding: "utf8" });
    expect(bad.status).toBe(1);
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
    expect(bad.stderr).toMatch(/^quanta: .*no such file/);
  });
});
