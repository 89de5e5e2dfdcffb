// Convolution helpers (pure functions): output geometry for Conv/pooling, im2col straight into the
// packed-B layout of sgemm_impl, a direct depthwise loop and col2im for ConvTranspose.
import type { Node } from "@quanta/ir";
import { NR, type Packed } from "./sgemm_impl.js";

/** Conv attributes shared with ConvTranspose and the pools. */
export interface WindowAttrs {
  readonly autoPad: string;
  readonly kernelShape: number[] | undefined;
  readonly pads: number[] | undefined;
  readonly strides: number[] | undefined;
  readonly dilations: number[] | undefined;
  readonly group: number;
}

export function windowAttrs(node: Node): WindowAttrs {
  return {
    autoPad: node.string("auto_pad", "NOTSET"),
    kernelShape: node.ints("kernel_shape"),
    pads: node.ints("pads"),
    strides: node.ints("strides"),
    dilations: node.ints("dilations"),
    group: node.int("group", 1),
  };
}

export type AutoPad = "NOTSET" | "SAME_UPPER" | "SAME_LOWER" | "VALID";

/** Spatial geometry of a convolution or pooling window. */
export interface Geometry {
  /** Input spatial dims. */
  readonly inDims: readonly number[];
  readonly kernel: readonly number[];
  readonly strides: readonly number[];
  readonly dilations: readonly number[];
  readonly padsBegin: readonly number[];
  readonly padsEnd: readonly number[];
  /** Output spatial dims. */
  readonly outDims: readonly number[];
}

/**
 * Output dims and pads of a convolution/pooling over `inDims` (ONNX rules: explicit pads or auto_pad;
 * `ceilMode` for pooling; throws on a bad attribute).
 */
export function convGeometry(inDims: readonly number[], kernel: readonly number[], opts: { autoPad: string; pads?: readonly number[]; strides?: readonly number[]; dilations?: readonly number[]; ceilMode?: boolean }): Geometry {
  const nd = inDims.length;
  if (kernel.length !== nd) throw new Error(`kernel has ${kernel.length} spatial dims, input has ${nd}`);
  const strides = opts.strides ?? new Array<number>(nd).fill(1);
  const dilations = opts.dilations ?? new Array<number>(nd).fill(1);
  if (strides.length !== nd || dilations.length !== nd) throw new Error(`strides/dilations need ${nd} values`);
  const pads = opts.pads ?? new Array<number>(2 * nd).fill(0);
  if (pads.length !== 2 * nd) throw new Error(`pads need ${2 * nd} values, got ${pads.length}`);
  const padsBegin: number[] = [];
  const padsEnd: number[] = [];
  const outDims: number[] = [];
  for (let i = 0; i < nd; i++) {
    const x = inDims[i]!;
    const s = strides[i]!;
    const ek = (kernel[i]! - 1) * dilations[i]! + 1;
    if (s < 1 || dilations[i]! < 1) throw new Error("strides and dilations must be >= 1");
    let pb = pads[i]!;
    let pe = pads[i + nd]!;
    let o: number;
    switch (opts.autoPad) {
      case "SAME_UPPER":
      case "SAME_LOWER": {
        o = Math.ceil(x / s);
        const total = Math.max(0, (o - 1) * s + ek - x);
        pb = opts.autoPad === "SAME_UPPER" ? Math.floor(total / 2) : total - Math.floor(total / 2);
        pe = total - pb;
        break;
      }
      case "VALID":
        pb = 0;
        pe = 0;
        o = Math.max(0, Math.floor((x - ek) / s) + 1);
        if (opts.ceilMode) o = Math.max(0, Math.ceil((x - ek) / s) + 1);
        break;
      case "NOTSET":
      case "":
        if (opts.ceilMode) {
          o = Math.ceil((x + pb + pe - ek) / s) + 1;
          // The last window must start inside the input or the begin padding.
          if ((o - 1) * s >= x + pb) o--;
        } else o = Math.floor((x + pb + pe - ek) / s) + 1;
        o = Math.max(0, o);
        break;
      default:
        throw new Error(`unknown auto_pad '${opts.autoPad}'`);
    }
    padsBegin.push(pb);
    padsEnd.push(pe);
    outDims.push(o);
  }
  return { inDims: [...inDims], kernel: [...kernel], strides, dilations, padsBegin, padsEnd, outDims };
}

/**
 * im2col of one image's channels [c0, c0 + C) (planes of H x W at X[xOff + c * H * W]) for a 2-D
 * window, written as columns [n0, n1) of the packed-B layout (K = C * KH * KW rows, panel width NR):
 * out[(((n - n0) / NR) * K + k) * NR + (n - n0) % NR], n = oh * OW + ow. n0 must be a multiple of NR.
 */
export function im2colPacked2d(
  X: Float32Array,
  xOff: number,
  C: number,
  H: number,
  W: number,
  KH: number,
  KW: number,
  SH: number,
  SW: number,
  DH: number,
  DW: number,
  PH: number,
  PW: number,
  OW: number,
  n0: number,
  n1: number,
  out: Packed,
): void {
  const K = C * KH * KW;
  const jump = K * NR - (NR - 1);
  const HW = H * W;
  for (let c = 0; c < C; c++) {
    const plane = xOff + c * HW;
    for (let ki = 0; ki < KH; ki++) {
      const dy = ki * DH - PH;
      for (let kj = 0; kj < KW; kj++) {
        const k = (c * KH + ki) * KW + kj;
        const dx = kj * DW - PW;
        // ow in [owLo, owHi) reads inside the row.
        const owLo = dx >= 0 ? 0 : Math.min(OW, Math.ceil(-dx / SW));
        const owHi = Math.max(owLo, Math.min(OW, Math.floor((W - 1 - dx) / SW) + 1));
        let n = n0;
        let oh = Math.floor(n0 / OW);
        let ow = n0 - oh * OW;
        let d = k * NR;
        let lane = 0;
        while (n < n1) {
          const end = Math.min(n1, n - ow + OW);
          const ih = oh * SH + dy;
          if (ih < 0 || ih >= H) {
            for (; n < end; n++) {
              out[d] = 0;
              if (++lane === NR) {
                lane = 0;
                d += jump;
              } else d++;
            }
          } else {
            const row = plane + ih * W + dx;
            const owEnd = ow + (end - n);
            for (; ow < owEnd; ow++) {
              out[d] = ow >= owLo && ow < owHi ? X[row + ow * SW]! : 0;
              if (++lane === NR) {
                lane = 0;
                d += jump;
              } else d++;
            }
            n = end;
          }
          ow = 0;
          oh++;
        }
        // Zero the padding lanes of the last panel.
        if (lane !== 0) for (; lane < NR; lane++) out[d++] = 0;
      }
    }
  }
}

/**
 * im2col for any number of spatial dims (generic, slower): channel planes of `inDims` at X[xOff + c * plane],
 * columns [n0, n1) of the output positions into the packed-B layout (as im2colPacked2d).
 */
export function im2colPackedNd(X: Float32Array, xOff: number, C: number, g: Geometry, n0: number, n1: number, out: Packed): void {
  const nd = g.inDims.length;
  let ksz = 1;
  for (const k of g.kernel) ksz *= k;
  let plane = 1;
  for (const d of g.inDims) plane *= d;
  const K = C * ksz;
  const kidx = new Array<number>(nd).fill(0);
  const oidx = new Array<number>(nd).fill(0);
  for (let c = 0; c < C; c++) {
    for (let kk = 0; kk < ksz; kk++) {
      let r = kk;
      for (let i = nd - 1; i >= 0; i--) {
        kidx[i] = r % g.kernel[i]!;
        r = Math.floor(r / g.kernel[i]!);
      }
      const k = c * ksz + kk;
      let r2 = n0;
      for (let i = nd - 1; i >= 0; i--) {
        oidx[i] = r2 % g.outDims[i]!;
        r2 = Math.floor(r2 / g.outDims[i]!);
      }
      for (let n = n0; n < n1; n++) {
        let off = 0;
        let ok = true;
        for (let i = 0; i < nd; i++) {
          const x = oidx[i]! * g.strides[i]! - g.padsBegin[i]! + kidx[i]! * g.dilations[i]!;
          if (x < 0 || x >= g.inDims[i]!) {
            ok = false;
            break;
          }
          off = off * g.inDims[i]! + x;
        }
        const j = n - n0;
        out[(Math.floor(j / NR) * K + k) * NR + (j % NR)] = ok ? X[xOff + c * plane + off]! : 0;
        for (let i = nd - 1; i >= 0; i--) {
          if (++oidx[i]! < g.outDims[i]!) break;
          oidx[i] = 0;
        }
      }
      const j = n1 - n0;
      if (j % NR !== 0) {
        const base = Math.floor(j / NR) * K * NR + k * NR;
        for (let l = j % NR; l < NR; l++) out[base + l] = 0;
      }
    }
  }
}

/**
 * Depthwise 2-D convolution of one image: output channel oc reads input channel floor(oc / mult);
 * Y[yOff + oc * OH * OW ...] += sum over the window (Y holds the bias or zeros on entry). W is
 * [Cout, 1, KH, KW]. Each output is accumulated in a register over its taps (interior columns without
 * bounds checks; 3- and 5-wide rows unrolled).
 */
export function depthwise2d(
  X: Float32Array,
  xOff: number,
  H: number,
  W: number,
  Wt: Float32Array,
  Cout: number,
  mult: number,
  KH: number,
  KW: number,
  SH: number,
  SW: number,
  DH: number,
  DW: number,
  PH: number,
  PW: number,
  OH: number,
  OW: number,
  Y: Float32Array,
  yOff: number,
): void {
  const HW = H * W;
  const OHW = OH * OW;
  // Output columns whose taps all fall inside the row.
  const owIn0 = Math.min(OW, Math.max(0, Math.ceil(PW / SW)));
  const owIn1 = Math.max(owIn0, Math.min(OW, Math.floor((W - 1 + PW - (KW - 1) * DW) / SW) + 1));
  const w = new Float64Array(KH * KW);
  for (let oc = 0; oc < Cout; oc++) {
    const plane = xOff + Math.floor(oc / mult) * HW;
    const yo = yOff + oc * OHW;
    for (let i = 0; i < KH * KW; i++) w[i] = Wt[oc * KH * KW + i]!;
    for (let oh = 0; oh < OH; oh++) {
      const ih0 = oh * SH - PH;
      const kiLo = ih0 >= 0 ? 0 : Math.min(KH, Math.ceil(-ih0 / DH));
      const kiHi = Math.max(kiLo, Math.min(KH, Math.floor((H - 1 - ih0) / DH) + 1));
      const yr = yo + oh * OW;
      // Edge columns: bounds-checked.
      for (let ow = 0; ow < OW; ow++) {
        if (ow === owIn0 && owIn1 > owIn0) ow = owIn1;
        if (ow >= OW) break;
        const iw0 = ow * SW - PW;
        let acc = Y[yr + ow]!;
        for (let ki = kiLo; ki < kiHi; ki++) {
          const row = plane + (ih0 + ki * DH) * W;
          for (let kj = 0; kj < KW; kj++) {
            const iw = iw0 + kj * DW;
            if (iw >= 0 && iw < W) acc += w[ki * KW + kj]! * X[row + iw]!;
          }
        }
        Y[yr + ow] = acc;
      }
      // Interior columns; full 3x3 and 5x5 windows in one pass.
      if (KH === 3 && KW === 3 && kiLo === 0 && kiHi === 3) {
        const r0 = plane + ih0 * W - PW;
        const r1 = r0 + DH * W;
        const r2 = r1 + DH * W;
        const w00 = w[0]!;
        const w01 = w[1]!;
        const w02 = w[2]!;
        const w10 = w[3]!;
        const w11 = w[4]!;
        const w12 = w[5]!;
        const w20 = w[6]!;
        const w21 = w[7]!;
        const w22 = w[8]!;
        const d2 = 2 * DW;
        for (let ow = owIn0, b = owIn0 * SW; ow < owIn1; ow++, b += SW) {
          Y[yr + ow]! += w00 * X[r0 + b]! + w01 * X[r0 + b + DW]! + w02 * X[r0 + b + d2]! + w10 * X[r1 + b]! + w11 * X[r1 + b + DW]! + w12 * X[r1 + b + d2]! + w20 * X[r2 + b]! + w21 * X[r2 + b + DW]! + w22 * X[r2 + b + d2]!;
        }
        continue;
      }
      if (KH === 5 && KW === 5 && kiLo === 0 && kiHi === 5) {
        const r0 = plane + ih0 * W - PW;
        const r1 = r0 + DH * W;
        const r2 = r1 + DH * W;
        const r3 = r2 + DH * W;
        const r4 = r3 + DH * W;
        const v00 = w[0]!;
        const v01 = w[1]!;
        const v02 = w[2]!;
        const v03 = w[3]!;
        const v04 = w[4]!;
        const v10 = w[5]!;
        const v11 = w[6]!;
        const v12 = w[7]!;
        const v13 = w[8]!;
        const v14 = w[9]!;
        const v20 = w[10]!;
        const v21 = w[11]!;
        const v22 = w[12]!;
        const v23 = w[13]!;
        const v24 = w[14]!;
        const v30 = w[15]!;
        const v31 = w[16]!;
        const v32 = w[17]!;
        const v33 = w[18]!;
        const v34 = w[19]!;
        const v40 = w[20]!;
        const v41 = w[21]!;
        const v42 = w[22]!;
        const v43 = w[23]!;
        const v44 = w[24]!;
        const d1 = DW;
        const d2 = 2 * DW;
        const d3 = 3 * DW;
        const d4 = 4 * DW;
        for (let ow = owIn0, b = owIn0 * SW; ow < owIn1; ow++, b += SW) {
          Y[yr + ow]! += v00 * X[r0 + b]! + v01 * X[r0 + b + d1]! + v02 * X[r0 + b + d2]! + v03 * X[r0 + b + d3]! + v04 * X[r0 + b + d4]! + v10 * X[r1 + b]! + v11 * X[r1 + b + d1]! + v12 * X[r1 + b + d2]! + v13 * X[r1 + b + d3]! + v14 * X[r1 + b + d4]! + v20 * X[r2 + b]! + v21 * X[r2 + b + d1]! + v22 * X[r2 + b + d2]! + v23 * X[r2 + b + d3]! + v24 * X[r2 + b + d4]! + v30 * X[r3 + b]! + v31 * X[r3 + b + d1]! + v32 * X[r3 + b + d2]! + v33 * X[r3 + b + d3]! + v34 * X[r3 + b + d4]! + v40 * X[r4 + b]! + v41 * X[r4 + b + d1]! + v42 * X[r4 + b + d2]! + v43 * X[r4 + b + d3]! + v44 * X[r4 + b + d4]!;
        }
        continue;
      }
      for (let ki = kiLo; ki < kiHi; ki++) {
        const row = plane + (ih0 + ki * DH) * W - PW;
        const wk = ki * KW;
        if (KW === 3) {
          const w0 = w[wk]!;
          const w1 = w[wk + 1]!;
          const w2 = w[wk + 2]!;
          const d2 = 2 * DW;
          for (let ow = owIn0, b = row + owIn0 * SW; ow < owIn1; ow++, b += SW) Y[yr + ow]! += w0 * X[b]! + w1 * X[b + DW]! + w2 * X[b + d2]!;
        } else if (KW === 5) {
          const w0 = w[wk]!;
          const w1 = w[wk + 1]!;
          const w2 = w[wk + 2]!;
          const w3 = w[wk + 3]!;
          const w4 = w[wk + 4]!;
          const d2 = 2 * DW;
          const d3 = 3 * DW;
          const d4 = 4 * DW;
          for (let ow = owIn0, b = row + owIn0 * SW; ow < owIn1; ow++, b += SW) Y[yr + ow]! += w0 * X[b]! + w1 * X[b + DW]! + w2 * X[b + d2]! + w3 * X[b + d3]! + w4 * X[b + d4]!;
        } else {
          for (let ow = owIn0, b = row + owIn0 * SW; ow < owIn1; ow++, b += SW) {
            let acc = 0;
            for (let kj = 0; kj < KW; kj++) acc += w[wk + kj]! * X[b + kj * DW]!;
            Y[yr + ow]! += acc;
          }
        }
      }
    }
  }
}

/**
 * col2im for ConvTranspose (any spatial rank): adds col[(c * ksz + kk) * inSize + n] (C channels, kernel
 * positions kk, input positions n) into Y planes of `outDims` at Y[yOff + c * outSize + ...], where
 * output position = in * stride - padBegin + k * dilation.
 */
export function col2im(
  col: Float32Array,
  C: number,
  inDims: readonly number[],
  kernel: readonly number[],
  strides: readonly number[],
  dilations: readonly number[],
  padsBegin: readonly number[],
  outDims: readonly number[],
  Y: Float32Array,
  yOff: number,
): void {
  const nd = inDims.length;
  let inSize = 1;
  for (const d of inDims) inSize *= d;
  let outSize = 1;
  for (const d of outDims) outSize *= d;
  let ksz = 1;
  for (const k of kernel) ksz *= k;
  if (nd === 2 || nd === 1) {
    const H = nd === 2 ? inDims[0]! : 1;
    const W = inDims[nd - 1]!;
    const OH = nd === 2 ? outDims[0]! : 1;
    const OW = outDims[nd - 1]!;
    const KH = nd === 2 ? kernel[0]! : 1;
    const KW = kernel[nd - 1]!;
    const SH = nd === 2 ? strides[0]! : 1;
    const SW = strides[nd - 1]!;
    const DH = nd === 2 ? dilations[0]! : 1;
    const DW = dilations[nd - 1]!;
    const PH = nd === 2 ? padsBegin[0]! : 0;
    const PW = padsBegin[nd - 1]!;
    for (let c = 0; c < C; c++) {
      const yo = yOff + c * outSize;
      for (let ki = 0; ki < KH; ki++) {
        const dy = ki * DH - PH;
        // ih such that 0 <= ih * SH + dy < OH
        const ihLo = dy >= 0 ? 0 : Math.min(H, Math.ceil(-dy / SH));
        const ihHi = Math.max(ihLo, Math.min(H, Math.floor((OH - 1 - dy) / SH) + 1));
        for (let kj = 0; kj < KW; kj++) {
          const dx = kj * DW - PW;
          const iwLo = dx >= 0 ? 0 : Math.min(W, Math.ceil(-dx / SW));
          const iwHi = Math.max(iwLo, Math.min(W, Math.floor((OW - 1 - dx) / SW) + 1));
          const src = ((c * KH + ki) * KW + kj) * inSize;
          for (let ih = ihLo; ih < ihHi; ih++) {
            const yr = yo + (ih * SH + dy) * OW + dx;
            const sr = src + ih * W;
            if (SW === 1) for (let iw = iwLo; iw < iwHi; iw++) Y[yr + iw]! += col[sr + iw]!;
            else for (let iw = iwLo; iw < iwHi; iw++) Y[yr + iw * SW]! += col[sr + iw]!;
          }
        }
      }
    }
    return;
  }
  const kidx = new Array<number>(nd).fill(0);
  const iidx = new Array<number>(nd).fill(0);
  for (let c = 0; c < C; c++) {
    for (let kk = 0; kk < ksz; kk++) {
      let r = kk;
      for (let i = nd - 1; i >= 0; i--) {
        kidx[i] = r % kernel[i]!;
        r = Math.floor(r / kernel[i]!);
      }
      iidx.fill(0);
      const src = (c * ksz + kk) * inSize;
      for (let n = 0; n < inSize; n++) {
        let off = 0;
        let ok = true;
        for (let i = 0; i < nd; i++) {
          const y = iidx[i]! * strides[i]! - padsBegin[i]! + kidx[i]! * dilations[i]!;
          if (y < 0 || y >= outDims[i]!) {
            ok = false;
            break;
          }
          off = off * outDims[i]! + y;
        }
        if (ok) Y[yOff + c * outSize + off]! += col[src + n]!;
        for (let i = nd - 1; i >= 0; i--) {
          if (++iidx[i]! < inDims[i]!) break;
          iidx[i] = 0;
        }
      }
    }
  }
}
