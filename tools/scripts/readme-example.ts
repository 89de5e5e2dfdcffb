import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/**
 * Runs the first ```ts block of a package's README.md as a module (written next to the calling
 * test, imported, then deleted), so every README example is tested. `testUrl` is the test's import.meta.url;
 * `allowedImports` restricts what the example may import (a package's example shows that package).
 */
export async function runReadmeExample(testUrl: string, options: { allowedImports?: RegExp } = {}): Promise<void> {
  const readme = readFileSync(fileURLToPath(new URL("../README.md", testUrl)), "utf8");
  const code = readme.match(/```ts\n([\s\S]*?)```/)?.[1];
  if (!code) throw new Error("README.md has no ```ts example");
  if (options.allowedImports) {
    for (const m of code.matchAll(/from\s+"([^"]+)"/g)) {
      if (!options.allowedImports.test(m[1]!)) throw new Error(`the README example imports '${m[1]}', outside ${options.allowedImports}`);
    }
  }
  const file = fileURLToPath(new URL("./.readme-example.test-tmp.ts", testUrl));
  writeFileSync(file, code);
  try {
    await import(/* @vite-ignore */ `${file}?t=${Date.now()}`);
  } finally {
    rmSync(file, { force: true });
  }
}
