// npm run bench:calibration -- prints the heap in use during static calibration with N and 10N samples
// (samples generated lazily and streamed), to show observer memory does not grow with the sample count.
// Run with --expose-gc so the figures are live memory, not garbage.
import { Backend, Dataset, silentProgress } from "@quanta/core";
import { cpuBackend } from "@quanta/backend-cpu";
import { exampleInputs, modelPath } from "@quanta/models";
import { readOnnxFile } from "@quanta/onnx/node";
import { quantizationPipeline } from "@quanta/quantize";
import { PRESETS } from "@quanta/schemes";
import type { Tensor } from "@quanta/tensor";
import { Effect, Layer, Stream } from "effect";

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with node --expose-gc");
const id = process.argv[2] ?? "openwakeword/embedding_model";
const base = Number(process.argv[3] ?? 20);

async function calibrate(n: number, method: "minmax" | "entropy"): Promise<{ peak: number; ms: number }> {
  gc!();
  const before = process.memoryUsage().heapUsed;
  let peak = 0;
  const samples = Stream.fromIterable({
    *[Symbol.iterator]() {
      for (let i = 0; i < n; i++) {
        if (i % 10 === 0) {
          gc!();
          peak = Math.max(peak, process.memoryUsage().heapUsed - before);
        }
        yield exampleInputs(id, i + 1) as unknown as Record<string, Tensor>;
      }
    },
  });
  const layer = Layer.mergeAll(silentProgress, Layer.succeed(Backend, { name: "cpu", plan: (m) => cpuBackend().plan(m) }), Layer.succeed(Dataset, { size: n, samples }));
  const t0 = performance.now();
  await Effect.runPromise(quantizationPipeline(PRESETS.int8Static("uint8", method)).pipe(Effect.flatMap((p) => p.run(readOnnxFile(modelPath(id)))), Effect.provide(layer)));
  return { peak, ms: performance.now() - t0 };
}

console.log(`static int8 calibration of ${id}: heap in use above the start (after GC), sampled every 10 samples`);
for (const method of ["minmax", "entropy"] as const) {
  const a = await calibrate(base, method);
  const b = await calibrate(base * 10, method);
  console.log(
    `${method.padEnd(8)} ${String(base).padStart(5)} samples: ${(a.peak / 1e6).toFixed(1)} MB peak, ${(a.ms / 1000).toFixed(1)} s | ${String(base * 10).padStart(5)} samples: ${(b.peak / 1e6).toFixed(1)} MB peak, ${(b.ms / 1000).toFixed(1)} s | ratio ${(b.peak / Math.max(a.peak, 1)).toFixed(2)}`,
  );
}
