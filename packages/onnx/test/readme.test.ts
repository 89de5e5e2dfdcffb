import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

it("the README example runs", async () => {
  const readme = readFileSync(fileURLToPath(new URL("../README.md", import.meta.url)), "utf8");
  const code = readme.match(/```ts\n([\s\S]*?)```/)?.[1];
  expect(code).toBeTruthy();
  // The example may only import the package itself, the model list and Node's modules.
  const imports = [...code!.matchAll(/from\s+"([^"]+)"/g)].map((m) => m[1]!);
  expect(imports.length).toBeGreaterThan(0);
  for (const i of imports) expect(i).toMatch(/^(@quanta\/onnx|@quanta\/onnx\/node|@quanta\/models|node:.+)$/);
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
  expect(log).toEqual(["29 nodes, opset 13"]);
});
