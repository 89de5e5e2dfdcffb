import { type Options, defineConfig } from "tsup";

/** The build every package shares: ESM + d.ts from src/, for any platform unless told otherwise. */
export function library(options: Partial<Options> = {}) {
  return defineConfig({
    entry: ["src/index.ts"],
    format: ["esm"],
    dts: true,
    clean: true,
    sourcemap: true,
    target: "es2022",
    platform: "neutral",
    ...options,
  });
}
