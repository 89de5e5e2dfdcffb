import type { Node } from "@quanta/ir";
import type { Tensor } from "@quanta/tensor";
import type { Input, Kernel } from "../../kernel.js";
import { invalid, unsupported } from "../util.js";
import { arr, copyND, encoder, is4, need, nibbles, nums, size, strides } from "./common.js";

type Mode = "constant" | "reflect" | "edge" | "wrap";

/** Copies the part of `x` that lands inside `out` when `x` starts at offset `at[d]` (may be negative) of each dim. */
function place(x: Tensor, out: Tensor, at: readonly number[]): void {
  const r = x.shape.length;
  const xs = strides(x.shape);
  const os = strides(out.shape);
  const len = new Array<number>(r);
  let sOff = 0;
  let dOff = 0;
  for (let d = 0; d < r; d++) {
    const s0 = Math.max(0, -at[d]!);
    const d0 = Math.max(0, at[d]!);
    len[d] = Math.max(0, Math.min(x.shape[d]! - s0, out.shape[d]! - d0));
    sOff += s0 * xs[d]!;
    dOff += d0 * os[d]!;
  }
  copyND(len, arr(x), sOff, xs, arr(out), dOff, os);
}

/** Source index along a dim of size n for output position i (x = i - begin), per mode. */
function sourceMap(mode: Mode, n: number, begin: number, outDim: number): Int32Array {
  const m = new Int32Array(outDim);
  for (let i = 0; i < outDim; i++) {
    let x = i - begin;
    if (x < 0 || x >= n) {
      if (mode === "edge") x = x < 0 ? 0 : n - 1;
      else if (mode === "wrap") x = ((x % n) + n) % n;
      else if (n === 1) x = 0;
      else {
        const p = 2 * (n - 1);
        x = ((x % p) + p) % p;
        if (x >= n) x = p - x;
      }
    }
    m[i] = x;
  }
  return m;
}

/** Pads by the per-dim [begins..., ends...] (negative values crop). */
function pad(node: Node, x: Tensor, pads: readonly number[], mode: Mode, raw: number | bigint, out: Tensor): Tensor {
  const r = x.shape.length;
  if (mode === "constant") {
    if (raw !== 0 && raw !== 0n) arr(out).fill(raw as number);
    place(x, out, pads.slice(0, r));
    return out;
  }
  if (size(out.shape) === 0) return out;
  if (size(x.shape) === 0) throw invalid(node, `Pad: ${mode} mode cannot pad an empty tensor`);
  if (r === 0) {
    arr(out)[0] = arr(x)[0]!;
    return out;
  }
  const maps = x.shape.map((n, d) => sourceMap(mode, n, pads[d]!, out.shape[d]!));
  const xs = strides(x.shape);
  const s = arr(x);
  const o = arr(out);
  const W = out.shape[r - 1]!;
  const inner = maps[r - 1]!;
  const outerShape = out.shape.slice(0, r - 1);
  const rows = size(outerShape);
  const ctr = new Array<number>(r - 1).fill(0);
  for (let row = 0, d = 0; row < rows; row++, d += W) {
    let base = 0;
    for (let k = 0; k < r - 1; k++) base += maps[k]![ctr[k]!]! * xs[k]!;
    for (let j = 0; j < W; j++) o[d + j] = s[base + inner[j]!]!;
    for (let k = r - 2; k >= 0; k--) {
      if (++ctr[k]! < outerShape[k]!) break;
      ctr[k] = 0;
    }
  }
  return out;
}

/**
 * Pad: opset 1 (paddings attribute), 2-10 (pads / value attributes), 11+ (pads, constant_value inputs;
 * 18+: axes input). Modes constant, reflect, edge and wrap (19+); negative pads crop.
 */
export const Pad: Kernel = {
  op: "Pad",
  prepare(node, ctx) {
    const mode = node.string("mode", "constant");
    if (mode !== "constant" && mode !== "reflect" && mode !== "edge" && mode !== "wrap") throw unsupported(node, ctx, `mode '${mode}'`);
    const attrPads = ctx.opset < 11 ? node.ints(ctx.opset < 2 ? "paddings" : "pads") : undefined;
    if (ctx.opset < 11 && !attrPads) throw invalid(node, "Pad needs pads");
    const value = node.float("value", 0);
    const cp = ctx.constantInput(1);
    const constPads = cp ? nums(cp) : undefined;
    const ca = ctx.constantInput(3);
    const constAxes = ca ? nums(ca) : undefined;
    const padsOf = (inputs: readonly Input[], r: number): number[] => {
      if (attrPads) return attrPads;
      const p = constPads ?? nums(need(node, inputs, 1));
      const axesT = inputs[3];
      const axes = constAxes ?? (axesT ? nums(axesT) : undefined);
      if (!axes) return p;
      const full = new Array<number>(2 * r).fill(0);
      const k = axes.length;
      if (p.length !== 2 * k) throw invalid(node, `Pad: ${p.length} pads for ${k} axes`);
      axes.forEach((a0, i) => {
        const a = a0 < 0 ? a0 + r : a0;
        if (a < 0 || a >= r) throw invalid(node, `Pad: axis ${a0} out of range for rank ${r}`);
        full[a] = p[i]!;
        full[a + r] = p[i + k]!;
      });
      return full;
    };
    return nibbles((inputs, rt) => {
      const x = need(node, inputs, 0);
      const r = x.shape.length;
      const pads = padsOf(inputs, r);
      if (pads.length !== 2 * r) throw invalid(node, `Pad: ${pads.length} pads for rank ${r}`);
      const shape = x.shape.map((d, i) => d + pads[i]! + pads[i + r]!);
      if (shape.some((d) => d < 0)) throw invalid(node, `Pad: pads [${pads.join(",")}] crop [${x.shape.join(",")}] below zero`);
      let raw: number | bigint = 0;
      if (mode === "constant") {
        const cv = ctx.opset >= 11 ? inputs[2] : undefined;
        if (cv && cv.data.length > 0) raw = cv.data[0] as number | bigint;
        else if (value !== 0) {
          const enc = encoder(x.dtype);
          if (!enc || is4(x.dtype)) throw invalid(node, `Pad: constant value on ${x.dtype}`);
          raw = enc(value);
        }
      }
      return [pad(node, x, pads, mode, raw, rt.alloc(x.dtype, shape))];
    });
  },
};

/** CenterCropPad (opset 18): crops or zero-pads each listed axis to the target size, centred. */
export const CenterCropPad: Kernel = {
  op: "CenterCropPad",
  prepare(node) {
    const axesAttr = node.ints("axes");
    return nibbles((inputs, rt) => {
      const x = need(node, inputs, 0);
      const target = nums(need(node, inputs, 1));
      const r = x.shape.length;
      const axes = axesAttr ?? x.shape.map((_, i) => i);
      if (target.length !== axes.length) throw invalid(node, `CenterCropPad: ${target.length} sizes for ${axes.length} axes`);
      const shape = [...x.shape];
      const at = new Array<number>(r).fill(0);
      axes.forEach((a0, i) => {
        const a = a0 < 0 ? a0 + r : a0;
        if (a < 0 || a >= r) throw invalid(node, `CenterCropPad: axis ${a0} out of range for rank ${r}`);
        const t = target[i]!;
        const d = x.shape[a]!;
        shape[a] = t;
        at[a] = t < d ? -Math.floor((d - t) / 2) : Math.floor((t - d) / 2);
      });
      const out = rt.alloc(x.dtype, shape);
      place(x, out, at);
      return [out];
    });
  },
};
