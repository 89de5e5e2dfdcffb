#!/usr/bin/env node
// `npm test`: build, typecheck, lint (biome, publint, attw) and test every package (nx, cached),
// then the dependency rules and import-cycle check, then one summary line of all test counts.
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { env, root, run } from "./run.mjs";

const parallel = process.env.QUANTA_PARALLEL ?? "2";
/** Ratchet: the CPU backend passes at least this many ONNX node tests (raise it as kernels land). */
const MIN_PASSED = "750";
const status = run("nx", ["run-many", "-t", "build", "typecheck", "lint", "test", `--parallel=${parallel}`, "--outputStyle=stream"], { env, allowFailure: true });
run("node", [join(root, "tools/scripts/check-deps.mjs")]);

// ONNX conformance (Debian libonnx-testdata) on the CPU backend: one line per failure, then the summary.
const QUANT_TESTS = "^test_(quantizelinear|quantizelinear_axis|dequantizelinear|dequantizelinear_axis|qlinearconv|qlinearmatmul_2D|qlinearmatmul_3D|matmulinteger|basic_convinteger|convinteger_with_padding|convinteger_without_padding|dynamicquantizelinear(_max_adjusted|_min_adjusted)?(_expanded)?)$";
const conformance = run(
  "node",
  ["--conditions=@quanta/source", "--import", "tsx", join(root, "tools/conformance/src/main.ts"), "--backend", "cpu", "--must-pass", QUANT_TESTS, "--min-passed", MIN_PASSED],
  { env, allowFailure: true },
);

// One line with every package's test counts (vitest JSON reports, restored by nx on cache hits).
let passed = 0;
let failed = 0;
let skipped = 0;
for (const dir of ["packages", "tools"]) {
  for (const d of readdirSync(join(root, dir))) {
    const f = join(root, dir, d, ".vitest", "results.json");
    if (!existsSync(f)) continue;
    const r = JSON.parse(readFileSync(f, "utf8"));
    passed += r.numPassedTests;
    failed += r.numFailedTests;
    skipped += r.numPendingTests + r.numTodoTests;
  }
}
console.log(`\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(status === 0 && conformance === 0 && failed === 0 ? 0 : 1);
