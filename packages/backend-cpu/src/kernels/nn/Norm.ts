import type { Node } from "@quanta/ir";
import type { Tensor } from "@quanta/tensor";
import type { Kernel, PrepareContext, RunContext } from "../../kernel.js";
import { invalid, normAxis } from "../util.js";
import { floatData, floatOut, isFloatDType } from "./float_impl.js";
import { planCache } from "./Reduce.js";

const need = (node: Node, t: Tensor | undefined, what: string): Tensor => {
  if (!t) throw invalid(node, `${node.op} needs ${what}`);
  if (!isFloatDType(t.dtype)) throw invalid(node, `${node.op} on ${t.dtype} is not supported`);
  return t;
};

/**
 * BatchNormalization (opset 1-22): inference y = scale * (x - mean) / sqrt(var + epsilon) + B with
 * per-channel (or, spatial=0 before opset 9, per-element) parameters; training_mode (opset 14+) and the
 * old training outputs use the batch statistics and also return running mean/var (momentum).
 */
export const BatchNormalization: Kernel = {
  op: "BatchNormalization",
  prepare(node: Node, ctx: PrepareContext) {
    const eps = node.float("epsilon", 1e-5);
    const momentum = node.float("momentum", 0.9);
    const training = ctx.opset >= 14 ? node.int("training_mode", 0) === 1 : ctx.opset >= 9 && node.outputs.filter((o) => o).length > 1;
    return (inputs, rt) => {
      const x = need(node, inputs[0], "X");
      const scale = floatData(need(node, inputs[1], "scale"));
      const bias = floatData(need(node, inputs[2], "B"));
      const mean = floatData(need(node, inputs[3], "mean"));
      const variance = floatData(need(node, inputs[4], "var"));
      const N = x.shape[0] ?? 1;
      const C = x.shape[1] ?? 1;
      let S = 1;
      for (let i = 2; i < x.shape.length; i++) S *= x.shape[i]!;
      const X = floatData(x);
      const out = floatOut(rt, x.dtype, x.shape);
      const Y = out.data;
      if (training) {
        const bm = new Float64Array(C);
        const bv = new Float64Array(C);
        const cnt = N * S;
        for (let c = 0; c < C; c++) {
          let s = 0;
          for (let n = 0; n < N; n++) for (let i = 0, o = (n * C + c) * S; i < S; i++) s += X[o + i]!;
          const m = s / cnt;
          let v = 0;
          for (let n = 0; n < N; n++)
            for (let i = 0, o = (n * C + c) * S; i < S; i++) {
              const d = X[o + i]! - m;
              v += d * d;
            }
          bm[c] = m;
          bv[c] = v / cnt;
        }
        for (let c = 0; c < C; c++) {
          const a = scale[c]! / Math.sqrt(bv[c]! + eps);
          const b = bias[c]! - bm[c]! * a;
          for (let n = 0; n < N; n++) for (let i = 0, o = (n * C + c) * S; i < S; i++) Y[o + i] = X[o + i]! * a + b;
        }
        const outs: (Tensor | undefined)[] = [out.commit()];
        const pt = inputs[3]!;
        const stat = (k: number, f: (c: number) => number): Tensor | undefined => {
          if (node.outputs[k] == null) return undefined;
          const o = floatOut(rt, pt.dtype, [C]);
          for (let c = 0; c < C; c++) o.data[c] = f(c);
          return o.commit();
        };
        outs.push(
          stat(1, (c) => mean[c]! * momentum + bm[c]! * (1 - momentum)),
          stat(2, (c) => variance[c]! * momentum + bv[c]! * (1 - momentum)),
        );
        if (ctx.opset < 14) outs.push(stat(3, (c) => bm[c]!), stat(4, (c) => bv[c]!));
        return outs;
      }
      const P = scale.length;
      if (P === C) {
        for (let c = 0; c < C; c++) {
          const a = scale[c]! / Math.sqrt(variance[c]! + eps);
          const b = bias[c]! - mean[c]! * a;
          for (let n = 0; n < N; n++) {
            const o = (n * C + c) * S;
            for (let i = 0; i < S; i++) Y[o + i] = X[o + i]! * a + b;
          }
        }
      } else if (P === C * S) {
        for (let n = 0; n < N; n++) {
          const o = n * P;
          for (let j = 0; j < P; j++) Y[o + j] = ((X[o + j]! - mean[j]!) * scale[j]!) / Math.sqrt(variance[j]! + eps) + bias[j]!;
        }
      } else throw invalid(node, `BatchNormalization: scale of ${P} values for X [${x.shape}]`);
      return [out.commit()];
    };
  },
};

/** InstanceNormalization (opset 1-22): per (n, c) statistics over the spatial dims. */
export const InstanceNormalization: Kernel = {
  op: "InstanceNormalization",
  prepare(node: Node) {
    const eps = node.float("epsilon", 1e-5);
    return (inputs, rt) => {
      const x = need(node, inputs[0], "input");
      const scale = floatData(need(node, inputs[1], "scale"));
      const bias = floatData(need(node, inputs[2], "B"));
      const N = x.shape[0] ?? 1;
      const C = x.shape[1] ?? 1;
      let S = 1;
      for (let i = 2; i < x.shape.length; i++) S *= x.shape[i]!;
      const X = floatData(x);
      const out = floatOut(rt, x.dtype, x.shape);
      const Y = out.data;
      for (let n = 0; n < N; n++) {
        for (let c = 0; c < C; c++) {
          const o = (n * C + c) * S;
          let s = 0;
          for (let i = 0; i < S; i++) s += X[o + i]!;
          const m = s / S;
          let v = 0;
          for (let i = 0; i < S; i++) {
            const d = X[o + i]! - m;
            v += d * d;
          }
          const a = scale[c]! / Math.sqrt(v / S + eps);
          const b = bias[c]! - m * a;
          for (let i = 0; i < S; i++) Y[o + i] = X[o + i]! * a + b;
        }
      }
      return [out.commit()];
    };
  },
};

/** Index of the element of a tensor of `shape` broadcast (numpy, right-aligned) to a row of `inner` values. */
function paramIndexer(shape: readonly number[], normShape: readonly number[]): Int32Array {
  let inner = 1;
  for (const d of normShape) inner *= d;
  const idx = new Int32Array(inner);
  const r = normShape.length;
  const st = new Array<number>(r).fill(0);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const j = r - (shape.length - i);
    if (j >= 0) st[j] = shape[i] === 1 ? 0 : acc;
    acc *= shape[i]!;
  }
  const cur = new Array<number>(r).fill(0);
  for (let n = 0; n < inner; n++) {
    let o = 0;
    for (let i = 0; i < r; i++) o += cur[i]! * st[i]!;
    idx[n] = o;
    for (let i = r - 1; i >= 0; i--) {
      if (++cur[i]! < normShape[i]!) break;
      cur[i] = 0;
    }
  }
  return idx;
}

/**
 * LayerNormalization (opset 17-22): normalises over dims [axis, rank), Scale and B broadcast to those
 * dims; optional Mean and InvStdDev outputs (shape X.shape[:axis] + 1s).
 */
export const LayerNormalization: Kernel = {
  op: "LayerNormalization",
  prepare(node: Node) {
    const axis0 = node.int("axis", -1);
    const eps = node.float("epsilon", 1e-5);
    let key = "";
    let sIdx: Int32Array | undefined;
    let bIdx: Int32Array | undefined;
    return (inputs, rt: RunContext) => {
      const x = need(node, inputs[0], "X");
      const sc = need(node, inputs[1], "Scale");
      const bt = inputs[2];
      const rank = x.shape.length;
      const axis = normAxis(axis0, rank, node);
      const normShape = x.shape.slice(axis);
      let outer = 1;
      for (let i = 0; i < axis; i++) outer *= x.shape[i]!;
      let inner = 1;
      for (const d of normShape) inner *= d;
      const k = `${x.shape}|${sc.shape}|${bt?.shape ?? "-"}`;
      if (k !== key) {
        sIdx = sc.data.length === inner ? undefined : paramIndexer(sc.shape, normShape);
        bIdx = !bt || bt.data.length === inner ? undefined : paramIndexer(bt.shape, normShape);
        key = k;
      }
      const X = floatData(x);
      const S = floatData(sc);
      const B = bt ? floatData(bt) : undefined;
      const out = floatOut(rt, x.dtype, x.shape);
      const Y = out.data;
      const statShape = [...x.shape.slice(0, axis), ...normShape.map(() => 1)];
      const wantMean = node.outputs[1] != null;
      const wantInv = node.outputs[2] != null;
      const statType = sc.dtype === "float64" || x.dtype === "float64" ? x.dtype : "float32";
      const mo = wantMean ? floatOut(rt, statType, statShape) : undefined;
      const io = wantInv ? floatOut(rt, statType, statShape) : undefined;
      for (let o = 0; o < outer; o++) {
        const base = o * inner;
        let s = 0;
        for (let i = 0; i < inner; i++) s += X[base + i]!;
        const m = s / inner;
        let v = 0;
        for (let i = 0; i < inner; i++) {
          const d = X[base + i]! - m;
          v += d * d;
        }
        const inv = 1 / Math.sqrt(v / inner + eps);
        if (mo) mo.data[o] = m;
        if (io) io.data[o] = inv;
        if (!sIdx && !bIdx) {
          if (B) for (let i = 0; i < inner; i++) Y[base + i] = (X[base + i]! - m) * inv * S[i]! + B[i]!;
          else for (let i = 0; i < inner; i++) Y[base + i] = (X[base + i]! - m) * inv * S[i]!;
        } else {
          for (let i = 0; i < inner; i++) {
            const sv = S[sIdx ? sIdx[i]! : i]!;
            const bv = B ? B[bIdx ? bIdx[i]! : i]! : 0;
            Y[base + i] = (X[base + i]! - m) * inv * sv + bv;
          }
        }
      }
      return [out.commit(), mo?.commit(), io?.commit()];
    };
  },
};

/**
 * GroupNormalization (opset 18-22): statistics per (n, group); scale/bias per group (opset 18) or per
 * channel (opset 21), told apart by their length.
 */
export const GroupNormalization: Kernel = {
  op: "GroupNormalization",
  prepare(node: Node) {
    const eps = node.float("epsilon", 1e-5);
    const G = node.int("num_groups", 0);
    if (G < 1) throw invalid(node, "GroupNormalization needs num_groups >= 1");
    return (inputs, rt) => {
      const x = need(node, inputs[0], "X");
      const scale = floatData(need(node, inputs[1], "scale"));
      const bias = floatData(need(node, inputs[2], "bias"));
      const N = x.shape[0] ?? 1;
      const C = x.shape[1] ?? 1;
      if (C % G !== 0) throw invalid(node, `GroupNormalization: ${C} channels not divisible by ${G} groups`);
      const perChannel = scale.length === C;
      if (!perChannel && scale.length !== G) throw invalid(node, `GroupNormalization: scale of ${scale.length} values for ${C} channels, ${G} groups`);
      let S = 1;
      for (let i = 2; i < x.shape.length; i++) S *= x.shape[i]!;
      const Cg = C / G;
      const X = floatData(x);
      const out = floatOut(rt, x.dtype, x.shape);
      const Y = out.data;
      const len = Cg * S;
      for (let n = 0; n < N; n++) {
        for (let g = 0; g < G; g++) {
          const o = (n * C + g * Cg) * S;
          let s = 0;
          for (let i = 0; i < len; i++) s += X[o + i]!;
          const m = s / len;
          let v = 0;
          for (let i = 0; i < len; i++) {
            const d = X[o + i]! - m;
            v += d * d;
          }
          const inv = 1 / Math.sqrt(v / len + eps);
          for (let c = 0; c < Cg; c++) {
            const ch = g * Cg + c;
            const a = (perChannel ? scale[ch]! : scale[g]!) * inv;
            const b = (perChannel ? bias[ch]! : bias[g]!) - m * a;
            const oc = o + c * S;
            for (let i = 0; i < S; i++) Y[oc + i] = X[oc + i]! * a + b;
          }
        }
      }
      return [out.commit()];
    };
  },
};

/** LRN (opset 1-22): across-channel local response normalisation. */
export const LRN: Kernel = {
  op: "LRN",
  prepare(node: Node) {
    const alpha = node.float("alpha", 1e-4);
    const beta = node.float("beta", 0.75);
    const bias = node.float("bias", 1);
    const size = node.int("size", 0);
    if (size < 1) throw invalid(node, "LRN needs size >= 1");
    const lo = Math.floor((size - 1) / 2);
    const hi = Math.ceil((size - 1) / 2);
    return (inputs, rt) => {
      const x = need(node, inputs[0], "X");
      const N = x.shape[0] ?? 1;
      const C = x.shape[1] ?? 1;
      let S = 1;
      for (let i = 2; i < x.shape.length; i++) S *= x.shape[i]!;
      const X = floatData(x);
      const out = floatOut(rt, x.dtype, x.shape);
      const Y = out.data;
      const k = alpha / size;
      for (let n = 0; n < N; n++) {
        for (let c = 0; c < C; c++) {
          const c0 = Math.max(0, c - lo);
          const c1 = Math.min(C - 1, c + hi);
          const o = (n * C + c) * S;
          for (let i = 0; i < S; i++) {
            let s = 0;
            for (let cc = c0; cc <= c1; cc++) {
              const v = X[(n * C + cc) * S + i]!;
              s += v * v;
            }
            Y[o + i] = X[o + i]! / (bias + k * s) ** beta;
          }
        }
      }
      return [out.commit()];
    };
  },
};

/** MeanVarianceNormalization (opset 1-22): (x - mean) / (sqrt(E[x^2] - mean^2) + 1e-9) over `axes` (default [0, 2, 3]). */
export const MeanVarianceNormalization: Kernel = {
  op: "MeanVarianceNormalization",
  prepare(node: Node) {
    const axes0 = node.ints("axes") ?? [0, 2, 3];
    const cache = planCache();
    return (inputs, rt) => {
      const x = need(node, inputs[0], "X");
      const axes = axes0.map((a) => normAxis(a, x.shape.length, node));
      const p = cache(x.shape, axes);
      const X = floatData(x);
      const out = floatOut(rt, x.dtype, x.shape);
      const Y = out.data;
      const ro = p.redOffs;
      const R = ro.length;
      for (const base of p.keptOffs) {
        let s = 0;
        let s2 = 0;
        for (let r = 0; r < R; r++) {
          const v = X[base + ro[r]!]!;
          s += v;
          s2 += v * v;
        }
        const m = s / R;
        const sd = Math.sqrt(Math.max(0, s2 / R - m * m)) + 1e-9;
        for (let r = 0; r < R; r++) {
          const i = base + ro[r]!;
          Y[i] = (X[i]! - m) / sd;
        }
      }
      return [out.commit()];
    };
  },
};

