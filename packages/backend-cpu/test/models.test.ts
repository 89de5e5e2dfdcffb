import { ONNX_MODELS, exampleInputs } from "@quanta/models";
import { readOnnxFile } from "@quanta/onnx/node";
import type { Tensor } from "@quanta/tensor";
import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { cpuBackend } from "../src/index.js";

/**
 * Every real ONNX model runs on the CPU backend and matches onnxruntime-node: for each output,
 * max |quanta - ort| <= 1e-4 * max |ort| (the error relative to the output's magnitude).
 */
describe("real models match onnxruntime-node", () => {
  for (const m of ONNX_MODELS) {
    it(m.id, async () => {
      const inputs = exampleInputs(m.id);
      const session = await ort.InferenceSession.create(m.path, { graphOptimizationLevel: "disabled" });
      const ref = await session.run(Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, new ort.Tensor(v.dtype, v.data, v.shape)])));
      const plan = cpuBackend().plan(readOnnxFile(m.path));
      const got = plan.run(inputs as unknown as Record<string, Tensor>);
      for (const [name, r] of Object.entries(ref)) {
        const g = got[name];
        expect(g, `output ${name}`).toBeDefined();
        expect(g!.shape).toEqual(r.dims.map(Number));
        const a = g!.data as Float32Array;
        const b = r.data as Float32Array;
        let maxAbs = 0;
        let maxRef = 0;
        for (let i = 0; i < b.length; i++) {
          maxAbs = Math.max(maxAbs, Math.abs(a[i]! - b[i]!));
          maxRef = Math.max(maxRef, Math.abs(b[i]!));
        }
        expect(maxAbs, `${name}: max abs diff ${maxAbs} vs max |ref| ${maxRef}`).toBeLessThanOrEqual(1e-4 * Math.max(maxRef, 1e-12));
      }
    });
  }
});
