#!/usr/bin/env node
// Dependency rules and import cycles, checked on sources (no build needed):
// - the package graph (dependencies + peerDependencies between workspace packages) has no cycle;
// - no module of a package takes part in an import cycle (type-only imports excluded: they vanish at run time);
// - every bare import in src/ is declared in the package's dependencies or peerDependencies;
// - tensor, ir and core never import a backend (@quanta/backend-*) or a format (@quanta/onnx, @quanta/tflite);
// - tensor has no runtime dependency at all (no effect).
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, relative, resolve } from "node:path";

const root = new URL("../..", import.meta.url).pathname;
const problems = [];
const pkgs = new Map();
for (const dir of ["packages", "tools"]) {
  for (const d of readdirSync(join(root, dir)).sort()) {
    const p = join(root, dir, d, "package.json");
    if (existsSync(p)) pkgs.set(JSON.parse(readFileSync(p, "utf8")).name, { dir: join(root, dir, d), json: JSON.parse(readFileSync(p, "utf8")) });
  }
}

const FORMATS = new Set(["@quanta/onnx", "@quanta/tflite"]);
const CORE = new Set(["@quanta/tensor", "@quanta/ir", "@quanta/core"]);
const forbidden = (from, to) => CORE.has(from) && (FORMATS.has(to) || to.startsWith("@quanta/backend-") || to === "@quanta/cli");

// Package graph.
const runtimeDeps = (j) => Object.keys({ ...j.dependencies, ...j.peerDependencies });
for (const [name, { json }] of pkgs) {
  for (const dep of runtimeDeps(json)) if (forbidden(name, dep)) problems.push(`${name} depends on ${dep}: tensor, ir and core never depend on a backend, a format or the CLI`);
  if (name === "@quanta/tensor" && runtimeDeps(json).length > 0) problems.push(`@quanta/tensor must have no runtime dependency, has ${runtimeDeps(json).join(", ")}`);
}
const cycle = findCycle([...pkgs.keys()], (n) => runtimeDeps(pkgs.get(n).json).filter((d) => pkgs.has(d)));
if (cycle) problems.push(`package dependency cycle: ${cycle.join(" -> ")}`);

// Modules.
const IMPORT = /(?:^|\n)\s*(import|export)\s+(type\s+)?(?:[\s\S]*?\sfrom\s+)?["']([^"']+)["']/g;
let modules = 0;
for (const [name, { dir, json }] of pkgs) {
  const src = join(dir, "src");
  if (!existsSync(src)) continue;
  const files = walk(src).filter((f) => /\.(m?ts|tsx|mjs|js)$/.test(f) && !f.endsWith(".d.ts"));
  modules += files.length;
  const declared = new Set(runtimeDeps(json));
  const edges = new Map();
  for (const f of files) {
    const text = readFileSync(f, "utf8");
    const deps = [];
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[3];
      const typeOnly = Boolean(m[2]) || onlyTypes(m[0]);
      if (spec.startsWith(".")) {
        if (!typeOnly) deps.push(resolveLocal(f, spec));
        continue;
      }
      if (spec.startsWith("node:") || builtinModules.includes(spec)) continue;
      const pkg = spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0];
      if (forbidden(name, pkg)) problems.push(`${relative(root, f)} imports ${spec}: tensor, ir and core never import a backend, a format or the CLI`);
      if (!declared.has(pkg) && pkg !== name) problems.push(`${relative(root, f)} imports ${spec}, which ${name} does not declare in dependencies`);
    }
    edges.set(f, deps.filter(Boolean));
  }
  const c = findCycle(files, (f) => edges.get(f) ?? []);
  if (c) problems.push(`import cycle in ${name}: ${c.map((f) => relative(dir, f)).join(" -> ")}`);
}

if (problems.length > 0) {
  for (const p of problems) console.error(`check-deps: ${p}`);
  process.exit(1);
}
console.log(`check-deps: ok (${pkgs.size} packages, ${modules} modules: no cycles, no forbidden or undeclared imports)`);

/** `import { type A, type B } from "x"`: every named specifier is type-only. */
function onlyTypes(statement) {
  const m = statement.trim().match(/^(?:import|export)\s*\{([^}]*)\}\s*from/);
  if (!m) return false;
  const names = m[1].split(",").map((x) => x.trim()).filter(Boolean);
  return names.length > 0 && names.every((x) => x.startsWith("type "));
}

function walk(d) {
  return readdirSync(d).flatMap((e) => {
    const p = join(d, e);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

function resolveLocal(from, spec) {
  const base = resolve(dirname(from), spec);
  for (const c of [base, base.replace(/\.js$/, ".ts"), base.replace(/\.mjs$/, ".mts"), `${base}.ts`, join(base, "index.ts")]) {
    if (existsSync(c) && statSync(c).isFile()) return c;
  }
  return undefined;
}

/** A cycle in a directed graph as a node list (first node repeated at the end), or undefined. */
function findCycle(nodes, next) {
  const state = new Map(); // 1 visiting, 2 done
  const stack = [];
  const visit = (n) => {
    state.set(n, 1);
    stack.push(n);
    for (const m of next(n)) {
      if (state.get(m) === 1) return [...stack.slice(stack.indexOf(m)), m];
      if (!state.has(m)) {
        const c = visit(m);
        if (c) return c;
      }
    }
    stack.pop();
    state.set(n, 2);
    return undefined;
  };
  for (const n of nodes) {
    if (!state.has(n)) {
      const c = visit(n);
      if (c) return c;
    }
  }
  return undefined;
}
