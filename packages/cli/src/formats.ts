import { closeSync, openSync, readSync } from "node:fs";
import type { Model } from "@quanta/ir";
import { looksLikeOnnx } from "@quanta/onnx";
import { readOnnxFile, writeOnnxFile } from "@quanta/onnx/node";
import { FileError, UnknownFormat } from "./errors.js";

/** A model file format the CLI can read and write. The CLI is given a list of these; nothing registers itself. */
export interface FileFormat {
  readonly name: string;
  readonly extensions: readonly string[];
  /** True when the first bytes of a file look like this format. */
  detect(head: Uint8Array, path: string): boolean;
  read(path: string): Model;
  write(model: Model, path: string, options: { protect: readonly string[]; externalData?: boolean | "auto" }): { bytes: number; externalBytes: number };
}

export const onnxFormat: FileFormat = {
  name: "onnx",
  extensions: [".onnx"],
  detect: (head, path) => path.toLowerCase().endsWith(".onnx") || (looksLikeOnnx(head) && !isTflite(head)),
  read: (path) => readOnnxFile(path),
  write: (model, path, options) => writeOnnxFile(model, path, options),
};

/** TFLite flatbuffers carry the identifier "TFL3" at byte 4. */
export const isTflite = (head: Uint8Array): boolean => head.length >= 8 && String.fromCharCode(head[4]!, head[5]!, head[6]!, head[7]!) === "TFL3";

export const DEFAULT_FORMATS: readonly FileFormat[] = [onnxFormat];

/** Reads the first bytes of a file. */
export function readHead(path: string, n = 64): Uint8Array {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new FileError(path, code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a folder, not a model file" : (e as Error).message);
  }
  try {
    const buf = new Uint8Array(n);
    const got = readSync(fd, buf, 0, n, 0);
    return buf.subarray(0, got);
  } catch (e) {
    throw new FileError(path, (e as NodeJS.ErrnoException).code === "EISDIR" ? "is a folder, not a model file" : (e as Error).message);
  } finally {
    closeSync(fd);
  }
}

/** Picks the format of an existing file from its content (and extension). */
export function formatOf(path: string, formats: readonly FileFormat[]): FileFormat {
  const head = readHead(path);
  if (head.length === 0) throw new UnknownFormat(path, "the file is empty");
  if (isTflite(head) && !formats.some((f) => f.name === "tflite")) throw new UnknownFormat(path, "TFLite models are not supported yet");
  const f = formats.find((x) => x.detect(head, path));
  if (!f) throw new UnknownFormat(path, `not a model file Quanta reads (${formats.map((x) => x.name).join(", ")})`);
  return f;
}

/** Picks the format to write from the output path's extension (default: the input's format). */
export function formatForOutput(path: string, fallback: FileFormat, formats: readonly FileFormat[]): FileFormat {
  const lower = path.toLowerCase();
  return formats.find((f) => f.extensions.some((e) => lower.endsWith(e))) ?? fallback;
}
