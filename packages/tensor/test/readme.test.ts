import { it } from "vitest";
import { runReadmeExample } from "../../../tools/scripts/readme-example.js";

it("the README example runs", () => runReadmeExample(import.meta.url, { allowedImports: /^@quanta\/tensor$/ }));
