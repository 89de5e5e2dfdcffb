import { readFileSync } from "node:fs";
import { ONNX_MODELS } from "@quanta/models";
import { problems } from "@quanta/ir";
import { describe, expect, it } from "vitest";
import { readOnnx, writeOnnx } from "../src/index.js";

describe("lossless round trip of real models", () => {
  for (const m of ONNX_MODELS) {
    it(`${m.id} reads, validates and writes back byte for byte`, () => {
      const bytes = readFileSync(m.path);
      const model = readOnnx(bytes, { source: m.file });
      expect(problems(model)).toEqual([]);
      const out = writeOnnx(model);
      expect(out.byteLength).toBe(bytes.byteLength);
      expect(Buffer.compare(Buffer.from(out), bytes)).toBe(0);
    });
  }
});
