import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cpuBackend } from "@quanta/backend-cpu";
import { exampleInputs, modelPath } from "@quanta/models";
import { readOnnxFile } from "@quanta/onnx/node";
import type { Tensor } from "@quanta/tensor";
import { afterAll, describe, expect, it } from "vitest";
import { decodeNpy, encodeNpy, main } from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "quanta-run-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function cli(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { console: { out: (l) => out.push(l), err: (l) => err.push(l) } });
  return { code, out, err };
}

/** A data folder with `n` samples for a model (example inputs with different seeds). */
function dataset(id: string, n: number): string {
  const d = join(dir, id.replace(/\W/g, "_"));
  for (let s = 0; s < n; s++) {
    const sd = join(d, `sample_${String(s).padStart(3, "0")}`);
    mkdirSync(sd, { recursive: true });
    for (const [name, t] of Object.entries(exampleInputs(id, s + 1))) writeFileSync(join(sd, `${name.replace(/[^A-Za-z0-9._-]/g, "_")}.npy`), encodeNpy(t as Tensor));
  }
  return d;
}

describe("quanta run", () => {
  it("runs every sample and writes one .npy per output, equal to running the plan directly", async () => {
    const id = "vad-web/silero_vad_v5";
    const data = dataset(id, 3);
    const out = join(dir, "out_vad");
    const r = await cli("run", modelPath(id), "--data", data, "-o", out);
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.out.at(-1)).toMatch(/ran 3 samples on cpu/);
    const plan = cpuBackend().plan(readOnnxFile(modelPath(id)));
    for (let s = 0; s < 3; s++) {
      const want = plan.run(exampleInputs(id, s + 1) as unknown as Record<string, Tensor>);
      for (const name of ["output", "stateN"]) {
        const got = decodeNpy(readFileSync(join(out, `sample_00${s}`, `${name}.npy`)));
        expect(got.shape).toEqual(want[name]!.shape);
        expect([...(got.data as Float32Array)]).toEqual([...(want[name]!.data as Float32Array)]);
      }
    }
  });

  it("names the sample and the input when a file is missing, and the expected shape when it is wrong", async () => {
    const id = "openwakeword/hey_rhasspy_v0.1";
    const data = join(dir, "bad");
    mkdirSync(join(data, "s1"), { recursive: true });
    writeFileSync(join(data, "s1", "other.txt"), "x");
    let r = await cli("run", modelPath(id), "--data", data, "-o", join(dir, "o1"));
    expect(r.code).toBe(1);
    expect(r.err[0]).toMatch(/s1: no file for input 'onnx::Flatten_0'/);
    writeFileSync(join(data, "s1", "onnx__Flatten_0.npy"), encodeNpy({ dtype: "float32", shape: [1, 15, 96], data: new Float32Array(15 * 96) }));
    r = await cli("run", modelPath(id), "--data", data, "-o", join(dir, "o2"));
    expect(r.code).toBe(1);
    expect(r.err[0]).toMatch(/input 'onnx::Flatten_0': expected float32\[1, 16, 96\], got float32\[1, 15, 96\]/);
    r = await cli("run", modelPath(id), "--data", join(dir, "nothing-here"), "-o", join(dir, "o3"));
    expect(r.err[0]).toMatch(/nothing-here: no such folder/);
  });

  it("accepts a flat folder of .npy files for a single-input model", async () => {
    const id = "openwakeword/hey_rhasspy_v0.1";
    const data = join(dir, "flat");
    mkdirSync(data, { recursive: true });
    for (const s of [1, 2]) writeFileSync(join(data, `clip${s}.npy`), encodeNpy(exampleInputs(id, s)["onnx::Flatten_0"] as Tensor));
    const r = await cli("run", modelPath(id), "--data", data, "-o", join(dir, "oflat"));
    expect(r.code).toBe(0);
    expect(decodeNpy(readFileSync(join(dir, "oflat", "clip1", "39.npy"))).shape).toEqual([1, 1]);
  });
});

describe("quanta bench", () => {
  it("reports median/min/max and, with --json, ends with one JSON object holding median_ms", async () => {
    const id = "openwakeword/hey_rhasspy_v0.1";
    const r = await cli("bench", modelPath(id), "--data", dataset(id, 1), "--backend", "cpu", "--runs", "5", "--warmup", "1", "--json");
    expect(r.code).toBe(0);
    expect(r.out[0]).toMatch(/median [\d.]+ ms, min [\d.]+ ms, max [\d.]+ ms \(5 runs after 1 warm-up\)/);
    const j = JSON.parse(r.out.at(-1)!);
    expect(j.median_ms).toBeGreaterThan(0);
    expect(j.min_ms).toBeLessThanOrEqual(j.median_ms);
    expect(j.max_ms).toBeGreaterThanOrEqual(j.median_ms);
  });

  it("rejects an unknown backend as a usage error", async () => {
    const r = await cli("bench", modelPath("openwakeword/hey_rhasspy_v0.1"), "--data", dir, "--backend", "tpu");
    expect(r.code).toBe(2);
    expect(r.err[0]).toMatch(/unknown backend 'tpu' \(available: cpu\)/);
  });
});
