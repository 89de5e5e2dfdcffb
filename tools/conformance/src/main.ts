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
    /** Fail unless at least this many tests pass. */
    "min-passed": { type: "string" },
    /** Fail unless every test matching this regex passes (not skipped). */
    "must-pass": { type: "string" },
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
let ok = summary.failed === 0;
if (values["must-pass"]) {
  const re = new RegExp(values["must-pass"]);
  const notPassed = summary.outcomes.filter((o) => re.test(o.test) && o.status !== "passed");
  const matched = summary.outcomes.filter((o) => re.test(o.test)).length;
  for (const o of notPassed) console.log(`MUST PASS ${o.test}: ${o.status}${"reason" in o ? ` (${o.reason})` : ""}`);
  console.log(`must pass /${values["must-pass"]}/: ${matched - notPassed.length} of ${matched} passed`);
  if (notPassed.length > 0 || matched === 0) ok = false;
}
if (values["min-passed"] && summary.passed < Number(values["min-passed"])) {
  console.log(`expected at least ${values["min-passed"]} passing tests`);
  ok = false;
}
console.log(`conformance: ${summary.passed} passed, ${summary.failed} failed, ${summary.skipped} skipped`);
process.exit(ok ? 0 : 1);
