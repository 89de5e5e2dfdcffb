import type { Tensor } from "@quanta/tensor";

export interface OutputMetrics {
  /** Signal-to-quantization-noise ratio in dB: 10 log10(sum ref^2 / sum (ref - cand)^2); Infinity when equal. */
  readonly sqnr: number;
  readonly cosine: number;
  readonly maxAbs: number;
}

const asF64 = (t: Tensor): Float64Array => Float64Array.from(t.data as ArrayLike<number>, Number);

/** Accumulates SQNR / cosine / max error over several samples of one tensor. */
export class MetricAccumulator {
  private sig = 0;
  private noise = 0;
  private dot = 0;
  private nc = 0;
  private maxAbs = 0;
  add(ref: Tensor, cand: Tensor): void {
    if (ref.data.length !== cand.data.length) throw new Error(`shapes differ: [${ref.shape.join(",")}] vs [${cand.shape.join(",")}]`);
    const a = asF64(ref);
    const b = asF64(cand);
    for (let i = 0; i < a.length; i++) {
      const x = a[i]!;
      const y = b[i]!;
      const d = x - y;
      this.sig += x * x;
      this.noise += d * d;
      this.dot += x * y;
      this.nc += y * y;
      const ad = Math.abs(d);
      if (ad > this.maxAbs || Number.isNaN(ad)) this.maxAbs = ad;
    }
  }
  result(): OutputMetrics {
    const sqnr = this.noise === 0 ? Number.POSITIVE_INFINITY : 10 * Math.log10(this.sig / this.noise);
    const cosine = this.sig === 0 || this.nc === 0 ? (this.sig === this.nc ? 1 : 0) : this.dot / Math.sqrt(this.sig * this.nc);
    return { sqnr, cosine, maxAbs: this.maxAbs };
  }
}

export const fmtDb = (x: number): string => (x === Number.POSITIVE_INFINITY ? "inf" : x.toFixed(2));
