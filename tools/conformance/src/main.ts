// npm run conformance -- --backend cpu [--filter REGEX] [--data DIR] [--verbose] [--json FILE]
import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { cpuBackend } from "@quanta/backend-cpu";
import { type BackendConfig, type ConformanceBackend, DEFAULT_DATA, listTests, runAll } from "./runner.js";

/** The backends this runner knows, by name, with their exclusion lists (backends/<name>.json). */
const BACKENDS: Record<string, () => ConformanceBackend> = {
  cpu: () => cpuBackend(),
};

export function loadConfig(name: string): BackendConfig {
  return JSON.parse(readFileSync(new URL(`../backends/${name}.json`, import.meta.url), "utf8")) as BackendConfig;
}

const { values } = parseArgs({
  options: {
    backend: { type: "string", default: "cpu" },
    filter: { type: "string" },
    data: { type: "string", default: DEFAULT_DATA },
    verbose: { type: "boolean", short: "v" },
    json: { type: "string" },
  },
});
const make = BACKENDS[values.backend!];
if (!make) {
  console.error(`conformance: unknown backend '${values.backend}' (known: ${Object.keys(BACKENDS).join(", ")})`);
  process.exit(2);
}
const tests = listTests(values.data!, values.filter ? new RegExp(values.filter) : undefined);
const config = loadConfig(values.backend!);
const t0 = performance.now();
const summary = await runAll(values.data!, tests, make(), config, (o) => {
  if (o.status === "failed") console.log(`FAIL ${o.test}: ${o.reason}`);
  else if (values.verbose && o.status === "skipped") console.log(`skip ${o.test}: ${o.reason}`);
});
if (values.json) writeFileSync(values.json, JSON.stringify(summary, null, 1));
console.log(`backend ${values.backend}: ${tests.length} node tests in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
console.log(`${summary.passed} passed, ${summary.failed} failed, ${summary.skipped} skipped`);
process.exit(summary.failed > 0 ? 1 : 0);
