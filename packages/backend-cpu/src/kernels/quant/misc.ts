// com.microsoft QLinearGlobalAveragePool and the lookup-table activations QLinearLeakyRelu and
// QLinearSigmoid, with onnxruntime's arithmetic.
import type { Node } from "@quanta/ir";
import type { Tensor } from "@quanta/tensor";
import type { Input, Kernel } from "../../kernel.js";
import { invalid } from "../util.js";
import { clampLow, fmaF32, fround, qmax, qmin, rne, scalarOf } from "./common.js";
import { requantOne } from "./requant.js";

type Q8 = Uint8Array | Int8Array;

const check8 = (node: Node, x: Tensor): void => {
  if (x.dtype !== "uint8" && x.dtype !== "int8") throw invalid(node, `${node.op} needs uint8 or int8, got ${x.dtype}`);
};

/**
 * QLinearGlobalAveragePool: int32 sum over the image minus zp * size, then requantized with
 * scale = x_scale / (y_scale * size) (MlasQLinearGlobalAveragePool + MlasRequantizeOutput).
 */
export const QLinearGlobalAveragePool: Kernel = {
  op: "QLinearGlobalAveragePool",
  domain: "com.microsoft",
  prepare(node) {
    const channelsLast = node.int("channels_last", 0) !== 0;
    return (inputs, rt) => {
      const [x, xs, xz, ys, yz] = inputs as [Tensor, Tensor, Input, Tensor, Input];
      check8(node, x);
      const r = x.shape.length;
      if (r < 3) throw invalid(node, "QLinearGlobalAveragePool input must have rank >= 3");
      const N = x.shape[0]!;
      const C = channelsLast ? x.shape[r - 1]! : x.shape[1]!;
      let image = 1;
      for (let i = channelsLast ? 1 : 2; i < (channelsLast ? r - 1 : r); i++) image *= x.shape[i]!;
      const outShape = x.shape.map((d, i) => (i === 0 ? d : (channelsLast ? i === r - 1 : i === 1) ? d : 1));
      const y = rt.alloc(x.dtype, outShape);
      const X = x.data as Q8;
      const Y = y.data as Q8;
      const zx = xz ? scalarOf(node, xz, "x_zero_point") : 0;
      const zy = yz ? scalarOf(node, yz, "y_zero_point") : 0;
      const scale = fround(fround(scalarOf(node, xs, "x_scale")) / fround(fround(scalarOf(node, ys, "y_scale")) * image));
      const lo = qmin(x.dtype);
      const hi = qmax(x.dtype);
      const bias = -zx * image;
      if (!channelsLast) {
        for (let nc = 0; nc < N * C; nc++) {
          let s = bias;
          const o = nc * image;
          for (let i = 0; i < image; i++) s += X[o + i]!;
          Y[nc] = requantOne(s | 0, scale, zy, lo, hi);
        }
      } else {
        const acc = new Float64Array(C);
        for (let n = 0; n < N; n++) {
          acc.fill(bias);
          const base = n * image * C;
          for (let i = 0; i < image; i++) {
            const o = base + i * C;
            for (let c = 0; c < C; c++) acc[c] = acc[c]! + X[o + c]!;
          }
          for (let c = 0; c < C; c++) Y[n * C + c] = requantOne(acc[c]! | 0, scale, zy, lo, hi);
        }
      }
      return [y];
    };
  },
};

// MLAS logistic constants (Eigen's rational approximation), as float32.
const L = {
  alpha9: fround(4.37031012579801e-11),
  alpha7: fround(1.15627324459942e-7),
  alpha5: fround(6.08574864600143e-5),
  alpha3: fround(8.51377133304701e-3),
  alpha1: fround(2.48287947061529e-1),
  beta10: fround(6.10247389755681e-13),
  beta8: fround(5.76102136993427e-9),
  beta6: fround(6.2910678501704e-6),
  beta4: fround(1.70198817374094e-3),
  beta2: fround(1.16817656904453e-1),
  beta0: fround(9.9315192102318e-1),
};

/** MlasComputeLogistic as its FMA3 kernel computes it (float32, fused multiply-adds). */
export function mlasLogistic(x: number): number {
  const v = Math.min(Math.max(x, -18), 18);
  const x2 = fround(v * v);
  let p = fmaF32(x2, L.alpha9, L.alpha7);
  p = fmaF32(p, x2, L.alpha5);
  p = fmaF32(p, x2, L.alpha3);
  p = fmaF32(p, x2, L.alpha1);
  let q = fmaF32(x2, L.beta10, L.beta8);
  q = fmaF32(q, x2, L.beta6);
  q = fmaF32(q, x2, L.beta4);
  q = fmaF32(q, x2, L.beta2);
  q = fmaF32(q, x2, L.beta0);
  p = fround(v * p);
  const r = fround(fround(p / q) + 0.5);
  return Math.max(r, 0);
}

/**
 * A 256-entry table from each byte of x to the output byte: dequantize (x_scale * (x - zp)),
 * apply `f` in float32, quantize (MlasQuantizeLinear: x / y_scale, round half to even, saturate).
 */
function lookupKernel(op: string, make: (node: Node) => (v: number) => number): Kernel {
  return {
    op,
    domain: "com.microsoft",
    prepare(node) {
      const f = make(node);
      return (inputs, rt) => {
        const [x, xs, xz, ys, yz] = inputs as [Tensor, Tensor, Input, Tensor, Input];
        check8(node, x);
        const signed = x.dtype === "int8";
        const sx = fround(scalarOf(node, xs, "X_scale"));
        const zx = xz ? scalarOf(node, xz, "X_zero_point") : 0;
        const sy = fround(scalarOf(node, ys, "Y_scale"));
        const zy = yz ? scalarOf(node, yz, "Y_zero_point") : 0;
        const lo = qmin(x.dtype);
        const hi = qmax(x.dtype);
        const table = new Uint8Array(256);
        for (let i = 0; i < 256; i++) {
          const q = signed ? (i << 24) >> 24 : i;
          const v = f(fround(sx * (q - zx)));
          table[i] = (rne(clampLow(fround(v / sy), lo - zy, hi - zy)) + zy) & 255;
        }
        const y = rt.alloc(x.dtype, x.shape);
        const X = new Uint8Array(x.data.buffer, x.data.byteOffset, x.data.length);
        const Y = new Uint8Array(y.data.buffer, y.data.byteOffset, y.data.length);
        for (let i = 0; i < X.length; i++) Y[i] = table[X[i]!]!;
        return [y];
      };
    },
  };
}

export const QLinearLeakyRelu: Kernel = lookupKernel("QLinearLeakyRelu", (node) => {
  const alpha = fround(node.float("alpha", 0.01));
  return (v) => (v >= 0 ? v : fround(alpha * v));
});

export const QLinearSigmoid: Kernel = lookupKernel("QLinearSigmoid", () => mlasLogistic);
