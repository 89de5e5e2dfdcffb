import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

it("the README example runs and prints what it says", async () => {
  const readme = readFileSync(fileURLToPath(new URL("../README.md", import.meta.url)), "utf8");
  const code = readme.match(/```ts\n([\s\S]*?)```/)?.[1];
  expect(code).toBeTruthy();
  // The example may only import the package itself.
  const imports = [...code!.matchAll(/from\s+"([^"]+)"/g)].map((m) => m[1]!);
  expect(imports).toEqual(["@quanta/tensor"]);
  const file = fileURLToPath(new URL("./.readme-example.test-tmp.ts", import.meta.url));
  writeFileSync(file, code!);
  const log: string[] = [];
  const original = console.log;
  console.log = (...args: unknown[]) => void log.push(args.join(" "));
  try {
    await import(/* @vite-ignore */ `${file}?t=${Date.now()}`);
  } finally {
    console.log = original;
    rmSync(file, { force: true });
  }
  expect(log).toEqual(["0.0157480 0.0236220", "32 -64 16 127 127 -32 0 64", "0.5039 -1.0079 0.2520 2.0000 3.0000 -0.7559 0.0000 1.5118"]);
});
