import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { decodeNpy, encodeNpy } from "../src/index.js";

// Debian's numpy (a dependency of python3-onnx, installed by .ci/run) is the reference .npy implementation.
const PY = "/usr/bin/python3";
const dir = mkdtempSync(join(tmpdir(), "quanta-npy-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const DTYPES = [
  ["float32", "float32"],
  ["float64", "float64"],
  ["float16", "float16"],
  ["int8", "int8"],
  ["uint8", "uint8"],
  ["int16", "int16"],
  ["uint16", "uint16"],
  ["int32", "int32"],
  ["uint32", "uint32"],
  ["int64", "int64"],
  ["uint64", "uint64"],
  ["bool", "bool"],
] as const;

describe(".npy files", () => {
  it("reads what numpy writes and numpy reads what we write, for every dtype and several shapes", () => {
    const script = `
import numpy as np, sys
d = sys.argv[1]
for name in ${JSON.stringify(DTYPES.map((d) => d[1]))}:
    for shape in [(), (5,), (2, 3), (1, 2, 3, 4)]:
        a = (np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape) * 1.5 - 3).astype(name)
        np.save(f"{d}/{name}_{len(shape)}.npy", a)
`;
    execFileSync(PY, ["-c", script, dir]);
    for (const [dtype] of DTYPES) {
      for (const rank of [0, 1, 2, 4]) {
        const f = join(dir, `${dtype}_${rank}.npy`);
        const t = decodeNpy(readFileSync(f), f);
        expect(t.dtype).toBe(dtype);
        expect(t.shape).toEqual([[], [5], [2, 3], [1, 2, 3, 4]][[0, 1, 2, 4].indexOf(rank)]);
        writeFileSync(join(dir, `ours_${dtype}_${rank}.npy`), encodeNpy(t));
      }
    }
    const check = `
import numpy as np, sys
d = sys.argv[1]
for name in ${JSON.stringify(DTYPES.map((d) => d[1]))}:
    for r in [0, 1, 2, 4]:
        a = np.load(f"{d}/{name}_{r}.npy"); b = np.load(f"{d}/ours_{name}_{r}.npy")
        assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b), (name, r)
print("ok")
`;
    expect(execFileSync(PY, ["-c", check, dir], { encoding: "utf8" }).trim()).toBe("ok");
  });

  it("rejects bad files with a typed error naming the file", () => {
    const cases: [Uint8Array, RegExp][] = [
      [new Uint8Array([1, 2, 3]), /bad magic/],
      [new Uint8Array([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 200, 0, 0x7b]), /truncated header/],
      [(() => { const b = encodeNpy({ dtype: "float32", shape: [4], data: new Float32Array(4) }); return b.subarray(0, b.length - 4); })(), /holds 12 data bytes.*needs 16/],
    ];
    for (const [bytes, msg] of cases) {
      expect(() => decodeNpy(bytes, "x.npy")).toThrow(msg);
      try {
        decodeNpy(bytes, "x.npy");
      } catch (e) {
        expect((e as { _tag: string })._tag).toBe("NpyError");
        expect((e as Error).message).toMatch(/^x\.npy: /);
      }
    }
    const big = encodeNpy({ dtype: "float32", shape: [2], data: new Float32Array(2) });
    const text = new TextDecoder("latin1").decode(big).replace("'<f4'", "'>f4'");
    expect(() => decodeNpy(Uint8Array.from(text, (c) => c.charCodeAt(0)), "be.npy")).toThrow(/unsupported dtype '>f4'/);
    const fortran = new TextDecoder("latin1").decode(big).replace("False", "True ");
    expect(() => decodeNpy(Uint8Array.from(fortran, (c) => c.charCodeAt(0)), "f.npy")).toThrow(/Fortran/);
  });
});
