#!/usr/bin/env node
// Installs the workspace with the pinned pnpm when needed, so `npm test` and `npm run demo`
// work on a fresh clone with only Node 20 and npm. Idempotent and quick when nothing changed.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { env } from "./run.mjs";

const root = new URL("../..", import.meta.url).pathname;
const PNPM = "9.15.9";
const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 20 || (major === 20 && minor < 19)) {
  console.error(`quanta: Node ${process.versions.node} is too old; use Node 20.19 or newer`);
  process.exit(1);
}


function manifestHash() {
  const h = createHash("sha256");
  h.update(readFileSync(join(root, "pnpm-lock.yaml")));
  for (const dir of ["packages", "tools"]) {
    for (const d of readdirSync(join(root, dir)).sort()) {
      const p = join(root, dir, d, "package.json");
      if (existsSync(p)) h.update(readFileSync(p));
    }
  }
  h.update(readFileSync(join(root, "package.json")));
  return h.digest("hex");
}

function pnpmCommand() {
  const r = spawnSync("pnpm", ["--version"], { encoding: "utf8", env });
  if (r.status === 0 && r.stdout.trim() === PNPM) return ["pnpm", []];
  return ["npx", ["--yes", `pnpm@${PNPM}`]];
}

const stamp = join(root, "node_modules", ".quanta-install");
const want = manifestHash();
if (!existsSync(stamp) || readFileSync(stamp, "utf8") !== want) {
  const [cmd, pre] = pnpmCommand();
  const args = [...pre, "install", "--frozen-lockfile", "--reporter=append-only"];
  console.log(`quanta: installing the workspace (pnpm ${PNPM})...`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: "inherit", env });
  if (r.status !== 0) {
    console.error(`quanta: '${cmd} ${args.join(" ")}' failed`);
    process.exit(r.status ?? 1);
  }
  writeFileSync(stamp, want);
}
