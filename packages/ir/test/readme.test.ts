import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

it("the README example runs", async () => {
  const readme = readFileSync(fileURLToPath(new URL("../README.md", import.meta.url)), "utf8");
  const code = readme.match(/```ts\n([\s\S]*?)```/)?.[1];
  expect(code).toBeTruthy();
  const file = fileURLToPath(new URL("./.readme-example.test-tmp.ts", import.meta.url));
  writeFileSync(file, code!);
  try {
    await import(/* @vite-ignore */ `${file}?t=${Date.now()}`);
  } finally {
    rmSync(file, { force: true });
  }
});
