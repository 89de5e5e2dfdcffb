import type { Tensor } from "@quanta/tensor";
import type { Kernel } from "../../kernel.js";
import { invalid } from "../util.js";
import { arr, decoder, encoder, oneOf, scalar, size } from "./common.js";

/**
 * Dropout. Inference (the default; opset < 12 always, since is_test is ignored): the output is the
 * input (shared buffer) and the mask is all true (all ones of the input type before opset 10).
 * Training mode (opset 12+, training_mode input true, ratio > 0): kept values are scaled by
 * 1 / (1 - ratio). With a `seed` attribute the mask is the ONNX reference's (numpy's legacy
 * MT19937 seeded with `seed` on every run: keep where uniform(0, 1) >= ratio), so runs repeat;
 * without one each run draws a fresh mask.
 */
export const Dropout: Kernel = {
  op: "Dropout",
  prepare(node, ctx) {
    const ratioAttr = node.float("ratio", 0.5);
    const seed = node.int("seed");
    const wantMask = node.outputs[1] !== undefined && node.outputs[1] !== null;
    const boolMask = ctx.opset >= 10;
    return (inputs, rt) => {
      const x = inputs[0];
      if (!x) throw invalid(node, "Dropout needs an input");
      const training = ctx.opset >= 12 && inputs[2] !== undefined && scalar(inputs[2]) !== 0;
      const ratio = ctx.opset >= 12 ? (inputs[1] ? scalar(inputs[1]) : 0.5) : ratioAttr;
      if (!training || ratio === 0) {
        if (!wantMask) return [x];
        const mask = rt.alloc(boolMask ? "bool" : x.dtype, x.shape);
        arr(mask).fill((boolMask ? 1 : oneOf(x.dtype)) as number);
        return [x, mask];
      }
      if (!(ratio >= 0 && ratio < 1)) throw invalid(node, `Dropout: ratio ${ratio} must be in [0, 1)`);
      const dec = decoder(x.dtype);
      const enc = encoder(x.dtype);
      if (!dec || !enc) throw invalid(node, `Dropout: training mode on ${x.dtype} is not supported`);
      const out = rt.alloc(x.dtype, x.shape);
      const mask: Tensor = rt.alloc("bool", x.shape);
      const scale = 1 / (1 - ratio);
      const s = arr(x);
      const o = arr(out);
      const m = mask.data;
      const n = size(x.shape);
      const rng = new MT19937(seed ?? Math.floor(Math.random() * 4294967296));
      for (let i = 0; i < n; i++) {
        if (rng.double() >= ratio) {
          m[i] = 1;
          o[i] = enc(Number(dec(s[i]!)) * scale) as number;
        }
      }
      return wantMask ? [out, mask] : [out];
    };
  },
};

/** Mersenne Twister MT19937 as numpy's legacy RandomState uses it (integer seed, 53-bit doubles). */
class MT19937 {
  private readonly mt = new Uint32Array(624);
  private i = 624;
  constructor(seed: number) {
    const mt = this.mt;
    mt[0] = seed >>> 0;
    for (let k = 1; k < 624; k++) {
      const p = mt[k - 1]! ^ (mt[k - 1]! >>> 30);
      // 1812433253 * p + k, modulo 2^32, without losing bits to float rounding.
      mt[k] = (((((p & 0xffff0000) >>> 16) * 1812433253) << 16) + (p & 0x0000ffff) * 1812433253 + k) >>> 0;
    }
  }
  private next(): number {
    const mt = this.mt;
    if (this.i >= 624) {
      for (let k = 0; k < 624; k++) {
        const y = (mt[k]! & 0x80000000) | (mt[(k + 1) % 624]! & 0x7fffffff);
        mt[k] = mt[(k + 397) % 624]! ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
      }
      this.i = 0;
    }
    let y = mt[this.i++]!;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }
  /** A double in [0, 1) from two draws, like numpy's random_sample. */
  double(): number {
    const a = this.next() >>> 5;
    const b = this.next() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }
}
