import type { Node } from "@quanta/ir";
import type { Tensor } from "@quanta/tensor";
import type { Kernel, PrepareContext } from "../../kernel.js";
import { invalid, unsupported } from "../util.js";
import { f32Data, f32Tensor, isFloatDType } from "./float_impl.js";
import { Packed, gemmPacked, packA, packB, packedASize } from "./sgemm_impl.js";

type Act = (x: number) => number;

const sigmoid: Act = (x) => 1 / (1 + Math.exp(-x));
const tanh: Act = Math.tanh;

/** The RNN activation functions of ONNX (names compared case-insensitively). */
function activation(name: string, alpha: number | undefined, beta: number | undefined): Act | undefined {
  switch (name.toLowerCase()) {
    case "sigmoid":
      return sigmoid;
    case "tanh":
      return tanh;
    case "relu":
      return (x) => Math.max(x, 0);
    case "affine": {
      const a = alpha ?? 1;
      const b = beta ?? 0;
      return (x) => a * x + b;
    }
    case "leakyrelu": {
      const a = alpha ?? 0.01;
      return (x) => (x >= 0 ? x : a * x);
    }
    case "thresholdedrelu": {
      const a = alpha ?? 1;
      return (x) => (x > a ? x : 0);
    }
    case "scaledtanh": {
      const a = alpha ?? 1;
      const b = beta ?? 1;
      return (x) => a * Math.tanh(b * x);
    }
    case "hardsigmoid": {
      const a = alpha ?? 0.2;
      const b = beta ?? 0.5;
      return (x) => Math.max(0, Math.min(1, a * x + b));
    }
    case "elu": {
      const a = alpha ?? 1;
      return (x) => (x >= 0 ? x : a * (Math.exp(x) - 1));
    }
    case "softsign":
      return (x) => x / (1 + Math.abs(x));
    case "softplus":
      return (x) => Math.log1p(Math.exp(x));
    default:
      return undefined;
  }
}
const USES_ALPHA = new Set(["affine", "leakyrelu", "thresholdedrelu", "scaledtanh", "hardsigmoid", "elu"]);
const USES_BETA = new Set(["affine", "scaledtanh", "hardsigmoid"]);

type Cell = "LSTM" | "GRU" | "RNN";
const GATES: Record<Cell, number> = { LSTM: 4, GRU: 3, RNN: 1 };
const DEFAULT_ACTS: Record<Cell, string[]> = { LSTM: ["Sigmoid", "Tanh", "Tanh"], GRU: ["Sigmoid", "Tanh"], RNN: ["Tanh"] };

interface DirWeights {
  /** W^T as packed B (K = input, N = G * hidden). */
  readonly w: Packed;
  /** R^T as packed B (K = hidden, N = G * hidden), or for GRU without linear_before_reset the z/r part. */
  readonly r: Packed;
  /** GRU (linear_before_reset = 0): Rh^T as packed B (N = hidden). */
  readonly rh?: Packed;
}

function packDir(cell: Cell, W: Float32Array, R: Float32Array, d: number, G: number, H: number, I: number, lbr: boolean): DirWeights {
  const GH = G * H;
  const w = packB(I, GH, W, d * GH * I, 1, I);
  if (cell === "GRU" && !lbr) {
    const r = packB(H, 2 * H, R, d * GH * H, 1, H);
    const rh = packB(H, H, R, d * GH * H + 2 * H * H, 1, H);
    return { w, r, rh };
  }
  return { w, r: packB(H, GH, R, d * GH * H, 1, H) };
}

function rnnKernel(cell: Cell): Kernel {
  return {
    op: cell,
    prepare(node: Node, ctx: PrepareContext) {
      const H = node.int("hidden_size", 0);
      const direction = node.string("direction", "forward");
      const layout = node.int("layout", 0);
      const clip = node.float("clip");
      const lbr = node.int("linear_before_reset", 0) !== 0;
      const inputForget = node.int("input_forget", 0) !== 0;
      if (direction !== "forward" && direction !== "reverse" && direction !== "bidirectional") throw invalid(node, `unknown direction '${direction}'`);
      const D = direction === "bidirectional" ? 2 : 1;
      const G = GATES[cell];
      const nAct = cell === "LSTM" ? 3 : cell === "GRU" ? 2 : 1;
      const names = node.attr("activations")?.type === "strings" ? [...(node.attr("activations")!.value as readonly string[])] : [];
      const actNames = names.length > 0 ? names : D === 2 ? [...DEFAULT_ACTS[cell], ...DEFAULT_ACTS[cell]] : DEFAULT_ACTS[cell];
      if (actNames.length === nAct && D === 2) actNames.push(...actNames);
      if (actNames.length !== nAct * D) throw invalid(node, `${cell} needs ${nAct * D} activations, got ${actNames.length}`);
      const alphas = node.attr("activation_alpha")?.type === "floats" ? [...(node.attr("activation_alpha")!.value as readonly number[])] : [];
      const betas = node.attr("activation_beta")?.type === "floats" ? [...(node.attr("activation_beta")!.value as readonly number[])] : [];
      let ai = 0;
      let bi = 0;
      const acts: Act[] = actNames.map((n) => {
        const l = n.toLowerCase();
        const a = USES_ALPHA.has(l) ? alphas[ai++] : undefined;
        const b = USES_BETA.has(l) ? betas[bi++] : undefined;
        const f = activation(n, a, b);
        if (!f) throw unsupported(node, ctx, `activation '${n}'`);
        return f;
      });
      const wc = ctx.constantInput(1);
      const rc = ctx.constantInput(2);
      let constPacked: DirWeights[] | undefined;
      if (wc && rc && H > 0 && wc.shape.length === 3) {
        const W = f32Data(wc);
        const R = f32Data(rc);
        const I = wc.shape[2]!;
        constPacked = [];
        for (let d = 0; d < D; d++) constPacked.push(packDir(cell, W, R, d, G, H, I, lbr));
      }
      return (inputs, rt) => {
        const x = inputs[0];
        const wt = inputs[1];
        const rtn = inputs[2];
        if (!x || !wt || !rtn) throw invalid(node, `${cell} needs X, W and R`);
        if (!isFloatDType(x.dtype)) throw invalid(node, `${cell} on ${x.dtype} is not supported`);
        const bT = inputs[3];
        const lensT = inputs[4];
        const h0T = inputs[5];
        const c0T = cell === "LSTM" ? inputs[6] : undefined;
        const pT = cell === "LSTM" ? inputs[7] : undefined;
        if (x.shape.length !== 3) throw invalid(node, `${cell}: X must be 3-D, got [${x.shape}]`);
        const T = layout === 0 ? x.shape[0]! : x.shape[1]!;
        const Bn = layout === 0 ? x.shape[1]! : x.shape[0]!;
        const I = x.shape[2]!;
        const hid = H || wt.shape[1]! / G;
        if (wt.shape[0] !== D || wt.shape[1] !== G * hid || wt.shape[2] !== I) throw invalid(node, `${cell}: W [${wt.shape}] does not match X [${x.shape}], hidden ${hid}, ${D} direction(s)`);
        const GH = G * hid;
        const X = f32Data(x);
        const packed = constPacked && H > 0 ? constPacked : Array.from({ length: D }, (_, d) => packDir(cell, f32Data(wt), f32Data(rtn), d, G, hid, I, lbr));
        const Bias = bT ? f32Data(bT) : undefined;
        const P = pT ? f32Data(pT) : undefined;
        const lens = new Int32Array(Bn).fill(T);
        if (lensT) for (let b = 0; b < Bn; b++) lens[b] = Number(lensT.data[b]!);
        const h0 = h0T ? f32Data(h0T) : undefined;
        const c0 = c0T ? f32Data(c0T) : undefined;
        // Outputs.
        const yShape = layout === 0 ? [T, D, Bn, hid] : [Bn, T, D, hid];
        const hShape = layout === 0 ? [D, Bn, hid] : [Bn, D, hid];
        // Outputs the graph does not use are not allocated from the pool.
        const want = (k: number) => node.outputs[k] != null;
        const y = want(0) ? rt.alloc("float32", yShape) : undefined;
        const yh = want(1) ? rt.alloc("float32", hShape) : undefined;
        const yc = cell === "LSTM" && want(2) ? rt.alloc("float32", hShape) : undefined;
        const stateIdx = (d: number, b: number) => (layout === 0 ? (d * Bn + b) * hid : (b * D + d) * hid);
        const yIdx = (t: number, d: number, b: number) => (layout === 0 ? ((t * D + d) * Bn + b) * hid : ((b * T + t) * D + d) * hid);
        // X rows: layout 0 rows are (t, b), layout 1 rows are (b, t).
        const xRow = (t: number, b: number) => (layout === 0 ? t * Bn + b : b * T + t);
        const rows = T * Bn;
        const xw = new Float32Array(rows * GH);
        const Ap = packA(rows, I, X, 0, I, 1, new Packed(packedASize(rows, I)));
        const hAp = new Packed(packedASize(Bn, hid));
        const hr = new Float32Array(Bn * GH);
        const hr2 = new Float32Array(Bn * hid);
        const Hs = new Float32Array(Bn * hid);
        const Cs = new Float32Array(Bn * hid);
        const rH = new Float32Array(Bn * hid);
        const gate = new Float64Array(GH);
        for (let d = 0; d < D; d++) {
          const pk = packed[d]!;
          const f = acts[d * nAct]!;
          const g = acts[d * nAct + 1] ?? f;
          const h = acts[d * nAct + 2] ?? g;
          const reverse = direction === "reverse" || d === 1;
          gemmPacked(rows, GH, I, Ap, pk.w, xw, 0, GH);
          // Biases: Wb + Rb, except GRU's Rbh with linear_before_reset (added inside the reset product).
          if (Bias) {
            const wb = d * 2 * GH;
            for (let r = 0; r < rows; r++) {
              const o = r * GH;
              for (let j = 0; j < GH; j++) {
                const rb = cell === "GRU" && lbr && j >= 2 * hid ? 0 : Bias[wb + GH + j]!;
                xw[o + j]! += Bias[wb + j]! + rb;
              }
            }
          }
          for (let b = 0; b < Bn; b++) {
            const so = stateIdx(d, b);
            for (let j = 0; j < hid; j++) {
              Hs[b * hid + j] = h0 ? h0[so + j]! : 0;
              Cs[b * hid + j] = c0 ? c0[so + j]! : 0;
            }
          }
          const pi = d * 3 * hid;
          for (let s = 0; s < T; s++) {
            // H_{t-1} * R^T for every batch row.
            packA(Bn, hid, Hs, 0, hid, 1, hAp);
            const rN = cell === "GRU" && !lbr ? 2 * hid : GH;
            gemmPacked(Bn, rN, hid, hAp, pk.r, hr, 0, GH);
            for (let b = 0; b < Bn; b++) {
              if (s >= lens[b]!) continue;
              const t = reverse ? lens[b]! - 1 - s : s;
              const xo = xRow(t, b) * GH;
              const ho = b * GH;
              const hb = b * hid;
              if (cell === "LSTM") {
                for (let j = 0; j < GH; j++) gate[j] = xw[xo + j]! + hr[ho + j]!;
                if (clip !== undefined) for (let j = 0; j < GH; j++) gate[j] = Math.max(-clip, Math.min(clip, gate[j]!));
                for (let j = 0; j < hid; j++) {
                  const cPrev = Cs[hb + j]!;
                  const iv = f(gate[j]! + (P ? P[pi + j]! * cPrev : 0));
                  const fv = inputForget ? 1 - iv : f(gate[2 * hid + j]! + (P ? P[pi + 2 * hid + j]! * cPrev : 0));
                  const cv = g(gate[3 * hid + j]!);
                  const cNew = fv * cPrev + iv * cv;
                  const ov = f(gate[hid + j]! + (P ? P[pi + hid + j]! * cNew : 0));
                  Cs[hb + j] = cNew;
                  Hs[hb + j] = ov * h(cNew);
                }
              } else if (cell === "RNN") {
                for (let j = 0; j < hid; j++) {
                  let v = xw[xo + j]! + hr[ho + j]!;
                  if (clip !== undefined) v = Math.max(-clip, Math.min(clip, v));
                  Hs[hb + j] = f(v);
                }
              } else {
                const cl = (v: number) => (clip === undefined ? v : Math.max(-clip, Math.min(clip, v)));
                for (let j = 0; j < 2 * hid; j++) gate[j] = f(cl(xw[xo + j]! + hr[ho + j]!));
                if (lbr) {
                  const rbh = Bias ? d * 2 * GH + GH + 2 * hid : -1;
                  for (let j = 0; j < hid; j++) {
                    const lin = hr[ho + 2 * hid + j]! + (rbh >= 0 ? Bias![rbh + j]! : 0);
                    gate[2 * hid + j] = g(cl(xw[xo + 2 * hid + j]! + gate[hid + j]! * lin));
                  }
                } else {
                  for (let j = 0; j < hid; j++) rH[hb + j] = gate[hid + j]! * Hs[hb + j]!;
                }
                if (lbr) {
                  for (let j = 0; j < hid; j++) {
                    const z = gate[j]!;
                    Hs[hb + j] = (1 - z) * gate[2 * hid + j]! + z * Hs[hb + j]!;
                  }
                } else {
                  // Keep z for this batch row; the candidate needs (r . H) * Rh^T of every row first.
                  for (let j = 0; j < hid; j++) hr[ho + j] = gate[j]!;
                }
              }
            }
            if (cell === "GRU" && !lbr) {
              packA(Bn, hid, rH, 0, hid, 1, hAp);
              gemmPacked(Bn, hid, hid, hAp, pk.rh!, hr2, 0, hid);
              for (let b = 0; b < Bn; b++) {
                if (s >= lens[b]!) continue;
                const t = reverse ? lens[b]! - 1 - s : s;
                const xo = xRow(t, b) * GH;
                const ho = b * GH;
                const hb = b * hid;
                for (let j = 0; j < hid; j++) {
                  let v = xw[xo + 2 * hid + j]! + hr2[hb + j]!;
                  if (clip !== undefined) v = Math.max(-clip, Math.min(clip, v));
                  const cand = g(v);
                  const z = hr[ho + j]!;
                  Hs[hb + j] = (1 - z) * cand + z * Hs[hb + j]!;
                }
              }
            }
            for (let b = 0; b < Bn; b++) {
              if (s >= lens[b]!) continue;
              const t = reverse ? lens[b]! - 1 - s : s;
              y?.data.set(Hs.subarray(b * hid, (b + 1) * hid), yIdx(t, d, b));
            }
          }
          for (let b = 0; b < Bn; b++) {
            yh?.data.set(Hs.subarray(b * hid, (b + 1) * hid), stateIdx(d, b));
            yc?.data.set(Cs.subarray(b * hid, (b + 1) * hid), stateIdx(d, b));
          }
        }
        const fin = (t: Tensor<"float32"> | undefined): Tensor | undefined => (t ? f32Tensor(rt, x.dtype, t) : undefined);
        return cell === "LSTM" ? [fin(y), fin(yh), fin(yc)] : [fin(y), fin(yh)];
      };
    },
  };
}

/**
 * LSTM (opset 1-22): forward/reverse/bidirectional, initial_h/initial_c, sequence_lens, peepholes, clip,
 * input_forget, layout 0/1, any ONNX activations. X * W^T for all steps is one packed sgemm; each step
 * is H * R^T with R^T packed once (at plan time when constant).
 */
export const LSTM: Kernel = rnnKernel("LSTM");
/** GRU (opset 1-22): as LSTM, with linear_before_reset. */
export const GRU: Kernel = rnnKernel("GRU");
/** RNN (opset 1-22): as LSTM, one gate. */
export const RNN: Kernel = rnnKernel("RNN");
