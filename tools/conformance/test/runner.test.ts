import { tensor } from "@quanta/tensor";
import { describe, expect, it } from "vitest";
import { compare, listTests, runTest } from "../src/runner.js";
import { cpuBackend } from "@quanta/backend-cpu";
import { DEFAULT_DATA } from "../src/runner.js";

describe("conformance runner", () => {
  it("compares floats with rtol 1e-3 / atol 1e-7, NaN equal to NaN, integers exactly", () => {
    const f = (v: number[]) => tensor("float32", [v.length], Float32Array.from(v));
    expect(compare(f([1, Number.NaN, 0]), f([1.0009, Number.NaN, 5e-8]))).toBe("");
    expect(compare(f([1.002]), f([1]))).toMatch(/1 of 1 values differ/);
    expect(compare(f([1, 2]), tensor("float32", [1, 2], Float32Array.of(1, 2)))).toMatch(/shape/);
    expect(compare(tensor("int32", [1], Int32Array.of(3)), tensor("int32", [1], Int32Array.of(4)))).toMatch(/at 0: 3 vs 4/);
    expect(compare(tensor("int32", [1], Int32Array.of(3)), f([3]))).toMatch(/dtype int32, expected float32/);
  });

  it("runs a Debian node test, skips unsupported ops and honours exclusions with their reason", async () => {
    const tests = listTests(DEFAULT_DATA, /^test_(relu|add)$/);
    expect(tests).toEqual(["test_add", "test_relu"]);
    const cpu = cpuBackend();
    expect(await runTest(DEFAULT_DATA, "test_relu", cpu, { exclude: {} })).toEqual({ test: "test_relu", status: "passed" });
    expect(await runTest(DEFAULT_DATA, "test_relu", cpu, { exclude: { test_relu: "because" } })).toEqual({ test: "test_relu", status: "skipped", reason: "excluded: because" });
    const none = { ...cpu, supports: () => false };
    expect(await runTest(DEFAULT_DATA, "test_relu", none, { exclude: {} })).toMatchObject({ status: "skipped", reason: expect.stringMatching(/unsupported op Relu/) });
  });
});
