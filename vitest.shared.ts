import { defaultServerConditions } from "vite";
import { defineConfig } from "vitest/config";

/** Shared vitest settings: tests run against the sources of workspace packages (the `@quanta/source` export condition). */
export const sharedConfig = defineConfig({
  resolve: { conditions: ["@quanta/source", ...defaultServerConditions] },
  ssr: { resolve: { conditions: ["@quanta/source", ...defaultServerConditions] } },
  test: {
    include: ["test/**/*.test.ts"],
    reporters: ["default", ["json", { outputFile: ".vitest/results.json" }]],
    pool: "forks",
    poolOptions: { forks: { singleFork: false, maxForks: 2, minForks: 1 } },
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
