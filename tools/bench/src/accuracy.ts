// npm run accuracy: runs every real ONNX model on Quanta's CPU backend and on onnxruntime-node
// (graph optimizations disabled) with the same example inputs, and prints a Markdown table of the
// largest absolute difference and the largest difference relative to the output's magnitude.
import { ONNX_MODELS, exampleInputs } from "@quanta/models";
import { readOnnxFile } from "@quanta/onnx/node";
import { cpuBackend } from "@quanta/backend-cpu";
import type { Tensor } from "@quanta/tensor";
import * as ort from "onnxruntime-node";

console.log("| model | outputs | max abs diff | max abs diff / max abs ref | ort-node ms | quanta-cpu ms |");
console.log("|---|---|---|---|---|---|");
for (const m of ONNX_MODELS) {
  const inputs = exampleInputs(m.id);
  const session = await ort.InferenceSession.create(m.path, { graphOptimizationLevel: "disabled", intraOpNumThreads: 1 });
  const feeds = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, new ort.Tensor(v.dtype, v.data, v.shape)]));
  let t0 = performance.now();
  const ref = await session.run(feeds);
  const ortMs = performance.now() - t0;
  let row: string;
  try {
    const plan = cpuBackend().plan(readOnnxFile(m.path));
    t0 = performance.now();
    const got = plan.run(inputs as unknown as Record<string, Tensor>);
    const ms = performance.now() - t0;
    let maxAbs = 0;
    let maxRel = 0;
    for (const [name, r] of Object.entries(ref)) {
      const a = got[name]!.data as Float32Array;
      const b = r.data as Float32Array;
      let abs = 0;
      let mag = 0;
      for (let i = 0; i < b.length; i++) {
        abs = Math.max(abs, Math.abs(a[i]! - b[i]!));
        mag = Math.max(mag, Math.abs(b[i]!));
      }
      maxAbs = Math.max(maxAbs, abs);
      maxRel = Math.max(maxRel, mag > 0 ? abs / mag : abs);
    }
    row = `| ${m.id} | ${Object.entries(ref).map(([k, v]) => `${k} [${v.dims.join(",")}]`).join(", ")} | ${maxAbs.toExponential(2)} | ${maxRel.toExponential(2)} | ${ortMs.toFixed(1)} | ${ms.toFixed(1)} |`;
  } catch (e) {
    row = `| ${m.id} | - | - | - | ${ortMs.toFixed(1)} | ${(e as Error).message.slice(0, 80)} |`;
  }
  console.log(row);
}
