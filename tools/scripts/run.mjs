// Runs a command from the workspace root with the bootstrap environment; exits on failure.
import { spawnSync } from "node:child_process";
import { join } from "node:path";

export const root = new URL("../..", import.meta.url).pathname;
export const env = {
  ...process.env,
  ONNXRUNTIME_NODE_INSTALL: "skip",
  ONNXRUNTIME_NODE_INSTALL_CUDA: "skip",
  NX_DAEMON: "false",
  NX_NO_CLOUD: "true",
  NX_TUI: "false",
  PATH: `${join(root, "node_modules", ".bin")}:${process.env.PATH}`,
};

export function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: "inherit", env, ...opts });
  if (r.status !== 0 && !opts.allowFailure) {
    console.error(`\nquanta: '${[cmd, ...args].join(" ")}' failed (exit ${r.status ?? r.signal})`);
    process.exit(r.status || 1);
  }
  return r.status ?? 1;
}
