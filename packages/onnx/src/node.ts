import { closeSync, fstatSync, fsyncSync, openSync, readFileSync, readSync, realpathSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import type { Model } from "@quanta/ir";
import type { ExternalFile } from "./constant.js";
import { OnnxParseError, OnnxWriteError } from "./errors.js";
import { type ReadOptions, readOnnx } from "./read.js";
import { type WriteOptions, constantBytes, writeOnnx } from "./write.js";

/** An external data file read on demand (each read opens, reads and closes: no descriptor is held). */
export function externalFile(path: string): ExternalFile {
  const st = statSync(path);
  if (!st.isFile()) throw new Error(`${path} is not a file`);
  const size = st.size;
  return {
    size,
    read(offset, length) {
      const out = new Uint8Array(length);
      const fd = openSync(path, "r");
      try {
        let done = 0;
        while (done < length) {
          const n = readSync(fd, out, done, length - done, offset + done);
          if (n === 0) throw new Error(`${path}: unexpected end of file at ${offset + done}`);
          done += n;
        }
      } finally {
        closeSync(fd);
      }
      return out;
    },
  };
}

/** Reads an ONNX file; external data is resolved next to it and read lazily. */
export function readOnnxFile(path: string, options: Omit<ReadOptions, "source" | "externalData"> = {}): Model {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new OnnxParseError((e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message, path);
  }
  const dir = dirname(resolve(path));
  return readOnnx(bytes, { ...options, source: path, externalData: (loc) => externalFile(join(dir, loc)) });
}

export interface WriteFileOptions extends Omit<WriteOptions, "externalData"> {
  /**
   * Write tensors of at least `threshold` bytes to `<model file>.data` beside the model.
   * `"auto"` (the default) does so only when the tensors exceed protobuf's 2 GB limit.
   */
  readonly externalData?: boolean | "auto";
  readonly threshold?: number;
  /** Paths that must not be overwritten (the input model, typically). */
  readonly protect?: readonly string[];
}

const LIMIT = 2 ** 31 - 1 - 64 * 1024 * 1024;

/**
 * Writes a model atomically: to a temporary file in the same folder, flushed, then renamed over `path`.
 * Never writes over a protected path; on failure nothing is left behind.
 */
export function writeOnnxFile(model: Model, path: string, options: WriteFileOptions = {}): { bytes: number; externalBytes: number; externalPath?: string } {
  const target = resolve(path);
  const dataName = `${basename(target)}.data`;
  const dataPath = join(dirname(target), dataName);
  for (const p of options.protect ?? []) {
    const same = (a: string) => {
      try {
        return realpathSync(a) === realpathSync(p);
      } catch {
        return resolve(a) === resolve(p);
      }
    };
    if (same(target) || same(dataPath)) throw new OnnxWriteError(`refusing to write over the input '${p}'`);
  }
  let external = options.externalData ?? "auto";
  if (external === "auto") external = constantBytes(model) > LIMIT;
  const tag = `.${process.pid}.${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}.tmp`;
  const tmpModel = target + tag;
  const tmpData = dataPath + tag;
  let dataFd: number | undefined;
  let externalBytes = 0;
  try {
    let bytes: Uint8Array;
    if (external) {
      dataFd = openSync(tmpData, "wx");
      const fd = dataFd;
      bytes = writeOnnx(model, {
        externalData: {
          location: dataName,
          ...(options.threshold !== undefined ? { threshold: options.threshold } : {}),
          write: (chunk) => {
            let off = 0;
            while (off < chunk.byteLength) off += writeSync(fd, chunk, off, chunk.byteLength - off);
            externalBytes += chunk.byteLength;
          },
        },
      });
      fsyncSync(dataFd);
      closeSync(dataFd);
      dataFd = undefined;
    } else {
      bytes = writeOnnx(model);
    }
    const fd = openSync(tmpModel, "wx");
    try {
      let off = 0;
      while (off < bytes.byteLength) off += writeSync(fd, bytes, off, bytes.byteLength - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (external) renameSync(tmpData, dataPath);
    renameSync(tmpModel, target);
    return external ? { bytes: bytes.byteLength, externalBytes, externalPath: dataPath } : { bytes: bytes.byteLength, externalBytes: 0 };
  } catch (e) {
    if (dataFd !== undefined) closeSync(dataFd);
    rmSync(tmpModel, { force: true });
    rmSync(tmpData, { force: true });
    throw e;
  }
}

/** Size of a file, for reports. */
export const fileSize = (path: string): number => {
  const fd = openSync(path, "r");
  try {
    return fstatSync(fd).size;
  } finally {
    closeSync(fd);
  }
};
