// Writes the report files atomically: each goes to a temporary file in its own directory, then is renamed.
import { randomBytes } from "node:crypto";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { renderHtml } from "./html.js";
import { renderMarkdown } from "./markdown.js";
import { type EvalResults, resultsToJson } from "./schema.js";

export interface ReportPaths {
  /** The Markdown page (docs/eval.md). */
  readonly markdownPath?: string;
  /** The self-contained HTML page. */
  readonly htmlPath?: string;
  /** The results as JSON (`resultsToJson`; read back with `resultsFromJson`). */
  readonly jsonPath?: string;
}

/** Writes `text` to `path` atomically (temporary file in the same directory, then rename); creates the directory. */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    await writeFile(tmp, text, "utf8");
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** Renders and writes the given report files (each atomically); returns the paths written. */
export async function writeReport(results: EvalResults, paths: ReportPaths): Promise<string[]> {
  const jobs: [string, () => string][] = [];
  if (paths.markdownPath) jobs.push([paths.markdownPath, () => renderMarkdown(results)]);
  if (paths.htmlPath) jobs.push([paths.htmlPath, () => renderHtml(results)]);
  if (paths.jsonPath) jobs.push([paths.jsonPath, () => resultsToJson(results)]);
  // Render everything first, so a rendering error leaves every file as it was.
  const rendered = jobs.map(([p, f]) => [p, f()] as const);
  for (const [p, text] of rendered) await writeFileAtomic(p, text);
  return rendered.map(([p]) => p);
}
