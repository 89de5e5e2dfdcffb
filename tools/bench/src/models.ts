import { Model, constantOf } from "@quanta/ir";
import { writeOnnx } from "@quanta/onnx";
import { tensor } from "@quanta/tensor";
import { prng } from "@quanta/models";

export interface Case {
  readonly name: string;
  /** ONNX bytes. */
  readonly bytes: Uint8Array;
  readonly feeds: Record<string, { dtype: "float32" | "uint8" | "int64"; shape: number[]; data: Float32Array | Uint8Array | BigInt64Array }>;
}

function base(opset = 21): Model {
  const m = new Model("onnx");
  m.irVersion = 10n;
  m.opsets = [
    { domain: "", version: opset },
    { domain: "com.microsoft", version: 1 },
  ];
  m.producerName = "quanta-bench";
  return m;
}

const rand = (n: number, seed: number) => {
  const r = prng(seed);
  return Float32Array.from({ length: n }, () => r() * 2 - 1);
};
const randU8 = (n: number, seed: number) => {
  const r = prng(seed);
  return Uint8Array.from({ length: n }, () => Math.floor(r() * 256));
};
const randI8 = (n: number, seed: number) => {
  const r = prng(seed);
  return Int8Array.from({ length: n }, () => Math.floor(r() * 256) - 128);
};

/** The matmul shapes of performance.md, as single-node models with constant B. */
export function matmulCases(): Case[] {
  const shapes: [string, number, number, number][] = [
    ["GEMV 1x4096x4096", 1, 4096, 4096],
    ["512^3", 512, 512, 512],
    ["128x768x768", 128, 768, 768],
  ];
  const out: Case[] = [];
  for (const [label, M, K, N] of shapes) {
    {
      const m = base();
      const g = m.graph;
      const a = g.addInput("A", { elem: "float32", shape: [M, K] });
      const b = g.addConstant("B", constantOf(tensor("float32", [K, N], rand(K * N, 2))));
      const y = g.addNode({ op: "MatMul", inputs: [a, b], outputs: ["Y"] }).outputs[0]!;
      y.type = { elem: "float32", shape: [M, N] };
      g.addOutput(y);
      out.push({ name: `${label} fp32 MatMul`, bytes: writeOnnx(m), feeds: { A: { dtype: "float32", shape: [M, K], data: rand(M * K, 1) } } });
    }
    {
      const m = base();
      const g = m.graph;
      const a = g.addInput("A", { elem: "uint8", shape: [M, K] });
      const b = g.addConstant("B", constantOf(tensor("int8", [K, N], randI8(K * N, 3))));
      const za = g.addConstant("a_zp", constantOf(tensor("uint8", [], Uint8Array.of(128))));
      const zb = g.addConstant("b_zp", constantOf(tensor("int8", [], Int8Array.of(0))));
      const y = g.addNode({ op: "MatMulInteger", inputs: [a, b, za, zb], outputs: ["Y"] }).outputs[0]!;
      y.type = { elem: "int32", shape: [M, N] };
      g.addOutput(y);
      out.push({ name: `${label} MatMulInteger u8s8`, bytes: writeOnnx(m), feeds: { A: { dtype: "uint8", shape: [M, K], data: randU8(M * K, 4) } } });
    }
    {
      const m = base();
      const g = m.graph;
      const a = g.addInput("A", { elem: "uint8", shape: [M, K] });
      const c = (name: string, t: ReturnType<typeof tensor>) => g.addConstant(name, constantOf(t));
      const ins = [
        a,
        c("a_scale", tensor("float32", [], Float32Array.of(0.02))),
        c("a_zp", tensor("uint8", [], Uint8Array.of(128))),
        c("B", tensor("int8", [K, N], randI8(K * N, 5))),
        c("b_scale", tensor("float32", [], Float32Array.of(0.01))),
        c("b_zp", tensor("int8", [], Int8Array.of(0))),
        c("y_scale", tensor("float32", [], Float32Array.of(0.5))),
        c("y_zp", tensor("uint8", [], Uint8Array.of(128))),
      ];
      const y = g.addNode({ op: "QLinearMatMul", inputs: ins, outputs: ["Y"] }).outputs[0]!;
      y.type = { elem: "uint8", shape: [M, N] };
      g.addOutput(y);
      out.push({ name: `${label} QLinearMatMul u8s8`, bytes: writeOnnx(m), feeds: { A: { dtype: "uint8", shape: [M, K], data: randU8(M * K, 6) } } });
    }
    {
      const bs = 32;
      const kb = Math.ceil(K / bs);
      const m = base();
      const g = m.graph;
      const a = g.addInput("A", { elem: "float32", shape: [M, K] });
      const b = g.addConstant("B", constantOf(tensor("uint8", [N, kb, bs / 2], randU8(N * kb * (bs / 2), 7))));
      const s = g.addConstant("scales", constantOf(tensor("float32", [N * kb], Float32Array.from(rand(N * kb, 8), (x) => 0.01 + Math.abs(x) * 0.01))));
      const y = g.addNode({
        op: "MatMulNBits",
        domain: "com.microsoft",
        inputs: [a, b, s],
        outputs: ["Y"],
        attributes: {
          K: { type: "int", value: BigInt(K) },
          N: { type: "int", value: BigInt(N) },
          bits: { type: "int", value: 4n },
          block_size: { type: "int", value: BigInt(bs) },
          accuracy_level: { type: "int", value: 4n },
        },
      }).outputs[0]!;
      y.type = { elem: "float32", shape: [M, N] };
      g.addOutput(y);
      out.push({ name: `${label} MatMulNBits 4-bit b32`, bytes: writeOnnx(m), feeds: { A: { dtype: "float32", shape: [M, K], data: rand(M * K, 9) } } });
    }
  }
  return out;
}
