import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { basename, extname, join } from "node:path";
import { QuantaError, type Value } from "@quanta/ir";
import { decodeTensorProto } from "@quanta/onnx";
import type { Tensor } from "@quanta/tensor";
import { decodeNpy } from "./npy.js";

/** A data folder Quanta cannot use. */
export class DatasetError extends QuantaError {
  readonly _tag = "DatasetError";
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${path}: ${reason}`);
  }
}

export interface Sample {
  /** Sub-directory name (or file name for a single-input model's flat folder). */
  readonly id: string;
  readonly feeds: Record<string, Tensor>;
}

/** Characters outside [A-Za-z0-9._-] become "_" (for file names made from tensor names). */
export const safeName = (name: string): string => name.replace(/[^A-Za-z0-9._-]/g, "_");

/**
 * Lists the samples of a data folder for a model with the given inputs: one sub-directory per sample
 * holding `<input name>.npy` (or `<safe name>.npy`, or ONNX test-data `input_<i>.pb` TensorProto files);
 * for a single-input model, plain .npy files of any name directly in the folder are samples too.
 * Other files are ignored. Samples load lazily, in sorted order.
 */
export function listSamples(dir: string, inputs: readonly Value[]): { readonly ids: readonly string[]; load(id: string): Sample } {
  if (!existsSync(dir)) throw new DatasetError(dir, "no such folder");
  if (!statSync(dir).isDirectory()) throw new DatasetError(dir, "is not a folder");
  const entries = readdirSync(dir).sort();
  const subdirs = entries.filter((e) => statSync(join(dir, e)).isDirectory());
  const flat = inputs.length === 1 ? entries.filter((e) => extname(e) === ".npy" && statSync(join(dir, e)).isFile()) : [];
  const ids = [...subdirs, ...flat];
  if (ids.length === 0) {
    throw new DatasetError(dir, `no samples: expected one sub-folder per sample holding ${inputs.map((v) => `${safeName(v.name)}.npy`).join(", ")}`);
  }
  return {
    ids,
    load(id) {
      const path = join(dir, id);
      if (flat.includes(id)) return { id: basename(id, ".npy"), feeds: { [inputs[0]!.name]: readTensor(path) } };
      const files = readdirSync(path);
      const feeds: Record<string, Tensor> = {};
      for (const [i, v] of inputs.entries()) {
        const candidates = [`${v.name}.npy`, `${safeName(v.name)}.npy`, `input_${i}.pb`];
        const f = candidates.find((c) => files.includes(c));
        if (!f) {
          if (inputs.length === 1) {
            const only = files.filter((x) => x.endsWith(".npy"));
            if (only.length === 1) {
              feeds[v.name] = readTensor(join(path, only[0]!));
              continue;
            }
          }
          throw new DatasetError(path, `no file for input '${v.name}' (expected ${candidates.join(" or ")})`);
        }
        feeds[v.name] = readTensor(join(path, f));
      }
      return { id, feeds };
    },
  };
}

function readTensor(path: string): Tensor {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new DatasetError(path, (e as Error).message);
  }
  return path.endsWith(".pb") ? decodeTensorProto(bytes, path).tensor : decodeNpy(bytes, path);
}
