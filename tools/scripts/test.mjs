#!/usr/bin/env node
// `npm test`: build, typecheck, lint (biome, publint, attw) and test every package (nx, cached),
// then the dependency rules and import-cycle check, then one summary line of all test counts.
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { env, root, run } from "./run.mjs";

const parallel = process.env.QUANTA_PARALLEL ?? "2";
const status = run("nx", ["run-many", "-t", "build", "typecheck", "lint", "test", `--parallel=${parallel}`, "--outputStyle=stream"], { env, allowFailure: true });
run("node", [join(root, "tools/scripts/check-deps.mjs")]);

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
process.exit(status === 0 && failed === 0 ? 0 : 1);
