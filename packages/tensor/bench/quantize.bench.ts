/**
 * Quantizer throughput on a 4096x4096 float32 matrix (67 MB), in MB/s of float32 input (median of
 * runs, with the slowest and fastest run). Run from packages/tensor:
 *   node --conditions=@quanta/source --import tsx bench/quantize.bench.ts
 * Environment: RUNS (default 7), WARMUP (untimed calls first, default 3), FILTER (substring of the case names).
 * Target (issue acceptance): fused per-channel symmetric int8 of the 4096x4096 weight, rows (axis 0)
 * and columns (axis 1, MatMul [K, N] layout), at >= 1 GB/s (1000 MB/s) of float32 input; the fused
 * cases print whether it is met.
 */
import {
  absMaxAlongAxis,
  computeQParamsPerChannel,
  dequantizeLinear,
  minMaxAlongAxis,
  quantizeInt8,
  quantizeInt8SymmetricFast,
  quantizeInt8SymmetricFastColumns,
  quantizeLinear,
  tensor,
} from "@quanta/tensor";

const rows = 4096;
const cols = 4096;
const runs = Number(process.env.RUNS ?? 7);
const warmups = Number(process.env.WARMUP ?? 3);
const filter = process.env.FILTER;
const x = new Float32Array(rows * cols);
let seed = 1;
for (let i = 0; i < x.length; i++) {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
  x[i] = (seed / 2 ** 32 - 0.5) * 4;
}
const t = tensor("float32", [rows, cols], x);
const q8 = new Int8Array(x.length);
const scales = new Float32Array(rows);
const colScales = new Float32Array(cols);
const TARGET_MBS = 1000;
const r0 = minMaxAlongAxis(x, [rows, cols], 0);
const perRow = { ...computeQParamsPerChannel(r0.min, r0.max, { dtype: "int8", symmetric: true }), axis: 0 };
const r1 = minMaxAlongAxis(x, [rows, cols], 1);
const perCol = { ...computeQParamsPerChannel(r1.min, r1.max, { dtype: "int8", symmetric: true }), axis: 1 };
const rb = minMaxAlongAxis(x, [rows, cols], 1, 32);
const blocks1 = { ...computeQParamsPerChannel(rb.min, rb.max, { dtype: "int4", symmetric: true }), axis: 1, blockSize: 32 };
const rb0 = minMaxAlongAxis(x, [rows, cols], 0, 32);
const blocks0 = { ...computeQParamsPerChannel(rb0.min, rb0.max, { dtype: "int4", symmetric: true }), axis: 0, blockSize: 32 };
const q = quantizeLinear(t, perRow, "int8");

function bench(name: string, fn: () => void, target?: number): number {
  if (filter && !name.includes(filter)) return 0;
  // warm-up: let TurboFan finish the optimised (not only on-stack-replaced) code, compiled on a background thread
  for (let w = 0; w < warmups; w++) fn();
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const ms = times[Math.floor(times.length / 2)]!;
  const rate = (t: number) => x.byteLength / 1e6 / (t / 1e3);
  const mbs = rate(ms);
  const spread = `${rate(times[times.length - 1]!).toFixed(0)}-${rate(times[0]!).toFixed(0)}`;
  const verdict = target === undefined ? "" : mbs >= target ? `  target >= ${target} MB/s: MET` : `  target >= ${target} MB/s: NOT MET`;
  console.log(`${name.padEnd(70)} ${mbs.toFixed(0).padStart(6)} MB/s  (${ms.toFixed(1)} ms, median of ${runs}; runs ${spread} MB/s)${verdict}`);
  return mbs;
}

/** The specification written naively: divide, round half to even with a tie fix (for comparison). */
function divisionReference(out: Int8Array): void {
  for (let r = 0; r < rows; r++) {
    const s = perRow.scale[r]!;
    for (let i = r * cols, end = i + cols; i < end; i++) {
      const v = Math.fround(x[i]! / s);
      let k = Math.round(v);
      if (k - v === 0.5 && k % 2 !== 0) k -= 1;
      out[i] = Math.max(-128, Math.min(k, 127));
    }
  }
}

console.log(`4096x4096 float32 (${(x.byteLength / 1e6).toFixed(0)} MB), node ${process.version}`);
bench("quantizeInt8SymmetricFast, per row (axis 0), [-127, 127]", () => quantizeInt8SymmetricFast(x, rows, cols, q8, scales), TARGET_MBS);
bench("quantizeInt8SymmetricFast, per row (axis 0), [-128, 127]", () => quantizeInt8SymmetricFast(x, rows, cols, q8, scales, false), TARGET_MBS);
bench("quantizeInt8SymmetricFastColumns, per column (axis 1), [-127, 127]", () => quantizeInt8SymmetricFastColumns(x, rows, cols, q8, colScales), TARGET_MBS);
bench("quantizeInt8SymmetricFastColumns, per column (axis 1), [-128, 127]", () => quantizeInt8SymmetricFastColumns(x, rows, cols, q8, colScales, false), TARGET_MBS);
bench("quantizeInt8 kernel, per row, params given", () => {
  for (let r = 0; r < rows; r++) quantizeInt8(x, r * cols, cols, perRow.scale[r]!, 0, q8, r * cols);
});
bench("quantizeLinear int8 per axis 0 (params given)", () => void quantizeLinear(t, perRow, "int8"));
bench("minMaxAlongAxis + computeQParamsPerChannel + quantizeLinear, axis 0", () => {
  const r = minMaxAlongAxis(x, [rows, cols], 0);
  void quantizeLinear(t, { ...computeQParamsPerChannel(r.min, r.max, { dtype: "int8", symmetric: true }), axis: 0 }, "int8");
});
bench("minMaxAlongAxis + computeQParamsPerChannel + quantizeLinear, axis 1", () => {
  const r = minMaxAlongAxis(x, [rows, cols], 1);
  void quantizeLinear(t, { ...computeQParamsPerChannel(r.min, r.max, { dtype: "int8", symmetric: true }), axis: 1 }, "int8");
});
bench("absMaxAlongAxis, axis 0", () => void absMaxAlongAxis(x, [rows, cols], 0));
bench("quantizeLinear int8 per axis 1 (last axis: a scale per element)", () => void quantizeLinear(t, perCol, "int8"));
bench("quantizeLinear int4 block 32 along axis 1 (packed)", () => void quantizeLinear(t, blocks1, "int4"));
bench("quantizeLinear int4 block 32 along axis 0 (packed)", () => void quantizeLinear(t, blocks0, "int4"));
bench("quantizeLinear float8e4m3fn per axis 0", () => void quantizeLinear(t, { scale: perRow.scale, axis: 0 }, "float8e4m3fn"));
bench("dequantizeLinear int8 per axis 0 (MB/s of float32 output)", () => void dequantizeLinear(q, perRow));
bench("naive division + Math.round tie fix (reference, not exported)", () => divisionReference(q8));
