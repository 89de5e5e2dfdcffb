// ConvInteger and QLinearConv: integer im2col (zero point subtracted, padding contributes 0) into
// rows of output pixels, times the weights packed once at plan time (qgemm), int32 accumulation.
import type { Node } from "@quanta/ir";
import { type Tensor, size } from "@quanta/tensor";
import type { Input, Kernel, PrepareContext } from "../../kernel.js";
import { invalid } from "../util.js";
import { fround, intValues, qmax, qmin, scalesOf } from "./common.js";
import { type PackedB, Scratch, ScratchI32, packB, qgemm } from "./qgemm.js";
import { requantBlock } from "./requant.js";

interface ConvAttrs {
  readonly autoPad: string;
  readonly kernelShape: number[] | undefined;
  readonly pads: number[] | undefined;
  readonly strides: number[] | undefined;
  readonly dilations: number[] | undefined;
  readonly group: number;
}

function convAttrs(node: Node): ConvAttrs {
  return {
    autoPad: node.string("auto_pad", "NOTSET"),
    kernelShape: node.ints("kernel_shape"),
    pads: node.ints("pads"),
    strides: node.ints("strides"),
    dilations: node.ints("dilations"),
    group: node.int("group", 1),
  };
}

/** Spatial geometry of one convolution. */
export interface ConvGeometry {
  readonly inDims: number[];
  readonly kernel: number[];
  readonly strides: number[];
  readonly dilations: number[];
  readonly padsBegin: number[];
  readonly outDims: number[];
}

export function convGeometry(node: Node, a: ConvAttrs, inDims: readonly number[], kernel: readonly number[]): ConvGeometry {
  const nd = inDims.length;
  if (a.kernelShape && (a.kernelShape.length !== nd || a.kernelShape.some((k, i) => k !== kernel[i]))) {
    throw invalid(node, `kernel_shape [${a.kernelShape.join(",")}] does not match the weights' [${kernel.join(",")}]`);
  }
  const strides = a.strides ?? new Array<number>(nd).fill(1);
  const dilations = a.dilations ?? new Array<number>(nd).fill(1);
  const pads = a.pads ?? new Array<number>(2 * nd).fill(0);
  if (strides.length !== nd || dilations.length !== nd || pads.length !== 2 * nd) throw invalid(node, `strides, dilations and pads must have ${nd}, ${nd} and ${2 * nd} values`);
  const padsBegin: number[] = [];
  const outDims: number[] = [];
  for (let i = 0; i < nd; i++) {
    const x = inDims[i]!;
    const s = strides[i]!;
    const d = dilations[i]!;
    if (s < 1 || d < 1) throw invalid(node, "strides and dilations must be >= 1");
    const ek = (kernel[i]! - 1) * d + 1;
    let pb = pads[i]!;
    let pe = pads[i + nd]!;
    if (a.autoPad === "SAME_UPPER" || a.autoPad === "SAME_LOWER") {
      const o = Math.ceil(x / s);
      const total = Math.max(0, (o - 1) * s + ek - x);
      pb = a.autoPad === "SAME_UPPER" ? Math.floor(total / 2) : total - Math.floor(total / 2);
      pe = total - pb;
    } else if (a.autoPad === "VALID") {
      pb = 0;
      pe = 0;
    } else if (a.autoPad !== "NOTSET" && a.autoPad !== "") throw invalid(node, `unknown auto_pad '${a.autoPad}'`);
    padsBegin.push(pb);
    outDims.push(Math.max(0, Math.floor((x + pb + pe - ek) / s) + 1));
  }
  return { inDims: [...inDims], kernel: [...kernel], strides, dilations, padsBegin, outDims };
}

/**
 * im2col for output pixels [p0, p1) of one image and one group of `Cg` channels starting at `xOff`:
 * row r = p - p0 holds the K = Cg * prod(kernel) inputs under the window, minus `zx` (0 for padding).
 */
function im2col(x: ArrayLike<number>, xOff: number, Cg: number, g: ConvGeometry, zx: number, p0: number, p1: number, out: Float64Array): void {
  const nd = g.inDims.length;
  if (nd <= 2) {
    const H = nd === 2 ? g.inDims[0]! : 1;
    const W = g.inDims[nd - 1]!;
    const KH = nd === 2 ? g.kernel[0]! : 1;
    const KW = g.kernel[nd - 1]!;
    const sh = nd === 2 ? g.strides[0]! : 1;
    const sw = g.strides[nd - 1]!;
    const dh = nd === 2 ? g.dilations[0]! : 1;
    const dw = g.dilations[nd - 1]!;
    const ph = nd === 2 ? g.padsBegin[0]! : 0;
    const pw = g.padsBegin[nd - 1]!;
    const OW = g.outDims[nd - 1]!;
    const HW = H * W;
    let r = 0;
    if (KH === 1 && KW === 1 && sh === 1 && sw === 1 && ph === 0 && pw === 0 && g.outDims[0] === H && OW === W) {
      for (let p = p0; p < p1; p++) {
        let xi = xOff + p;
        for (let c = 0; c < Cg; c++, xi += HW) out[r++] = x[xi]! - zx;
      }
      return;
    }
    for (let p = p0; p < p1; p++) {
      const oh = (p / OW) | 0;
      const ow = p - oh * OW;
      const ih0 = oh * sh - ph;
      const iw0 = ow * sw - pw;
      for (let c = 0; c < Cg; c++) {
        const xc = xOff + c * HW;
        for (let i = 0; i < KH; i++) {
          const ih = ih0 + i * dh;
          if (ih < 0 || ih >= H) {
            for (let j = 0; j < KW; j++) out[r++] = 0;
            continue;
          }
          const xr = xc + ih * W;
          for (let j = 0, iw = iw0; j < KW; j++, iw += dw) out[r++] = iw >= 0 && iw < W ? x[xr + iw]! - zx : 0;
        }
      }
    }
    return;
  }
  // Any rank: odometers over output and kernel positions.
  const ks = size(g.kernel);
  const inStrides = new Array<number>(nd);
  let acc = 1;
  for (let i = nd - 1; i >= 0; i--) {
    inStrides[i] = acc;
    acc *= g.inDims[i]!;
  }
  const imageSize = acc;
  const opos = new Array<number>(nd);
  const kpos = new Array<number>(nd);
  let r = 0;
  for (let p = p0; p < p1; p++) {
    let rem = p;
    for (let i = nd - 1; i >= 0; i--) {
      opos[i] = rem % g.outDims[i]!;
      rem = Math.floor(rem / g.outDims[i]!);
    }
    for (let c = 0; c < Cg; c++) {
      kpos.fill(0);
      for (let k = 0; k < ks; k++) {
        let off = xOff + c * imageSize;
        let inside = true;
        for (let i = 0; i < nd; i++) {
          const ii = opos[i]! * g.strides[i]! - g.padsBegin[i]! + kpos[i]! * g.dilations[i]!;
          if (ii < 0 || ii >= g.inDims[i]!) {
            inside = false;
            break;
          }
          off += ii * inStrides[i]!;
        }
        out[r++] = inside ? x[off]! - zx : 0;
        for (let i = nd - 1; i >= 0; i--) {
          if (++kpos[i]! < g.kernel[i]!) break;
          kpos[i] = 0;
        }
      }
    }
  }
}

/**
 * One channel of a depthwise convolution (1-D or 2-D): out[p] = sum over the window of (x - zx) * w,
 * where `w` holds the channel's kernel minus its zero point (qgemm's packing of a single column).
 */
function depthwise2d(x: ArrayLike<number>, xOff: number, g: ConvGeometry, zx: number, w: Float64Array, out: Int32Array): void {
  const nd = g.inDims.length;
  const H = nd === 2 ? g.inDims[0]! : 1;
  const W = g.inDims[nd - 1]!;
  const KH = nd === 2 ? g.kernel[0]! : 1;
  const KW = g.kernel[nd - 1]!;
  const sh = nd === 2 ? g.strides[0]! : 1;
  const sw = g.strides[nd - 1]!;
  const dh = nd === 2 ? g.dilations[0]! : 1;
  const dw = g.dilations[nd - 1]!;
  const ph = nd === 2 ? g.padsBegin[0]! : 0;
  const pw = g.padsBegin[nd - 1]!;
  const OH = nd === 2 ? g.outDims[0]! : 1;
  const OW = g.outDims[nd - 1]!;
  // Row sweep: each kernel tap adds a strided input row segment into the output row.
  for (let oh = 0; oh < OH; oh++) {
    const o = oh * OW;
    out.fill(0, o, o + OW);
    for (let i = 0; i < KH; i++) {
      const ih = oh * sh - ph + i * dh;
      if (ih < 0 || ih >= H) continue;
      const xr = xOff + ih * W;
      for (let j = 0; j < KW; j++) {
        const wv = w[i * KW + j]!;
        const shift = j * dw - pw;
        // valid ow: 0 <= ow * sw + shift < W
        const lo = shift >= 0 ? 0 : Math.ceil(-shift / sw);
        const hi = Math.min(OW, Math.floor((W - 1 - shift) / sw) + 1);
        for (let ow = lo, xi = xr + lo * sw + shift; ow < hi; ow++, xi += sw) out[o + ow] = out[o + ow]! + (x[xi]! - zx) * wv;
      }
    }
  }
}

/** Weights of each group packed as qgemm's B (K x Mg), minus their zero point(s). */
function packWeights(w: Tensor, group: number, zw: Int32Array): PackedB[] {
  const M = w.shape[0]!;
  const K = size(w.shape.slice(1));
  const Mg = M / group;
  const out: PackedB[] = [];
  for (let g = 0; g < group; g++) {
    const z = zw.length === 1 ? zw[0]! : zw.subarray(g * Mg, (g + 1) * Mg);
    out.push(packB(K, Mg, w.data as ArrayLike<number>, g * Mg * K, 1, K, z));
  }
  return out;
}

const is8bit = (t: Tensor): boolean => t.dtype === "uint8" || t.dtype === "int8";

/** Target number of doubles in one im2col tile. */
const TILE = 1 << 16;

interface ConvRun {
  readonly geometry: ConvGeometry;
  readonly N: number;
  readonly C: number;
  readonly M: number;
  readonly outShape: number[];
}

function checkShapes(node: Node, x: Tensor, w: Tensor, attrs: ConvAttrs): ConvRun {
  if (!is8bit(x) || !is8bit(w)) throw invalid(node, `${node.op} needs 8-bit x and w, got ${x.dtype} and ${w.dtype}`);
  if (x.shape.length < 3 || w.shape.length !== x.shape.length) throw invalid(node, `${node.op}: x [${x.shape.join(",")}] and w [${w.shape.join(",")}] ranks do not match (need >= 3)`);
  const N = x.shape[0]!;
  const C = x.shape[1]!;
  const M = w.shape[0]!;
  const group = attrs.group;
  if (group < 1 || C % group !== 0 || M % group !== 0 || w.shape[1]! * group !== C) {
    throw invalid(node, `${node.op}: group ${group} does not fit x channels ${C} and w [${w.shape.join(",")}]`);
  }
  const geometry = convGeometry(node, attrs, x.shape.slice(2), w.shape.slice(2));
  return { geometry, N, C, M, outShape: [N, M, ...geometry.outDims] };
}

/**
 * The convolution driver: for each image, group and tile of output pixels, im2col then qgemm into an
 * int32 tile (pixels x Mg); `sink(n, g, p0, rows, C)` consumes each tile.
 */
function convolve(
  x: Tensor,
  zx: number,
  run: ConvRun,
  group: number,
  weights: PackedB[],
  scratch: Scratch,
  cbuf: ScratchI32,
  sink: (n: number, g: number, p0: number, rows: number, C: Int32Array) => void,
): void {
  const { geometry: g, N, C } = run;
  const Cg = C / group;
  const K = weights[0]!.K;
  const Mg = weights[0]!.N;
  const P = size(g.outDims);
  const imageSize = size(g.inDims);
  let rowsPerTile = Math.max(4, Math.floor(TILE / Math.max(K, 1)) & ~3);
  if (rowsPerTile > P) rowsPerTile = P;
  const xd = x.data as ArrayLike<number>;
  if (Cg === 1 && Mg === 1 && g.inDims.length <= 2) {
    // Depthwise: one input and one output channel per group, computed directly.
    const Ct = cbuf.get(P);
    for (let n = 0; n < N; n++) {
      for (let gi = 0; gi < group; gi++) {
        depthwise2d(xd, (n * C + gi) * imageSize, g, zx, weights[gi]!.data, Ct);
        sink(n, gi, 0, P, Ct);
      }
    }
    return;
  }
  const A = scratch.get(rowsPerTile * K);
  const Ct = cbuf.get(rowsPerTile * Mg);
  for (let n = 0; n < N; n++) {
    for (let gi = 0; gi < group; gi++) {
      const xOff = (n * C + gi * Cg) * imageSize;
      for (let p0 = 0; p0 < P; p0 += rowsPerTile) {
        const p1 = Math.min(P, p0 + rowsPerTile);
        im2col(xd, xOff, Cg, g, zx, p0, p1, A);
        qgemm(p1 - p0, A, 0, weights[gi]!, Ct, 0, Mg);
        sink(n, gi, p0, p1 - p0, Ct);
      }
    }
  }
}

/** Weights packed at plan time when w (and its zero point) are constants. */
function prepareWeights(node: Node, ctx: PrepareContext, wIdx: number, zIdx: number, group: number): PackedB[] | undefined {
  const w = ctx.constantInput(wIdx);
  const hasZ = node.inputs[zIdx] != null;
  const z = hasZ ? ctx.constantInput(zIdx) : undefined;
  if (!w || (hasZ && !z) || !is8bit(w) || w.shape.length < 3) return undefined;
  if (w.shape[0]! % group !== 0) return undefined;
  return packWeights(w, group, z ? intValues(z) : Int32Array.of(0));
}

function weightZeroPoints(node: Node, z: Input, M: number): Int32Array {
  const v = z ? intValues(z) : Int32Array.of(0);
  if (v.length !== 1 && v.length !== M) throw invalid(node, `w_zero_point has ${v.length} values; expected 1 or ${M}`);
  return v;
}

/** ConvInteger (opset 10): int32 convolution of (x - x_zero_point) and (w - w_zero_point). */
export const ConvInteger: Kernel = {
  op: "ConvInteger",
  prepare(node, ctx) {
    const attrs = convAttrs(node);
    const pre = prepareWeights(node, ctx, 1, 3, attrs.group);
    const scratch = new Scratch();
    const cbuf = new ScratchI32();
    return (inputs, rt) => {
      const [x, w, xz, wz] = inputs as [Tensor, Tensor, Input, Input];
      const run = checkShapes(node, x, w, attrs);
      const y = rt.alloc("int32", run.outShape);
      if (size(run.outShape) === 0) return [y];
      const Y = y.data as Int32Array;
      const zx = xz ? intValues(xz) : Int32Array.of(0);
      if (zx.length !== 1) throw invalid(node, "x_zero_point must be a scalar");
      const weights = pre ?? packWeights(w, attrs.group, weightZeroPoints(node, wz, run.M));
      const Mg = run.M / attrs.group;
      const P = size(run.geometry.outDims);
      convolve(x, zx[0]!, run, attrs.group, weights, scratch, cbuf, (n, g, p0, rows, C) => {
        const base = (n * run.M + g * Mg) * P + p0;
        for (let r = 0; r < rows; r++) {
          const c = r * Mg;
          for (let j = 0; j < Mg; j++) Y[base + j * P + r] = C[c + j]!;
        }
      });
      return [y];
    };
  },
};

/** QLinearConv (opset 10): per-tensor or per-output-channel weight parameters, optional int32 bias. */
export const QLinearConv: Kernel = {
  op: "QLinearConv",
  prepare(node, ctx) {
    const attrs = convAttrs(node);
    const pre = prepareWeights(node, ctx, 3, 5, attrs.group);
    const scratch = new Scratch();
    const cbuf = new ScratchI32();
    return (inputs, rt) => {
      const [x, xs, xz, w, ws, wz, ys, yz, bias] = inputs as [Tensor, Tensor, Input, Tensor, Tensor, Input, Tensor, Input, Input];
      const run = checkShapes(node, x, w, attrs);
      const outType = yz ? yz.dtype : x.dtype;
      if (outType !== "uint8" && outType !== "int8") throw invalid(node, `QLinearConv output type ${outType} is not supported`);
      const y = rt.alloc(outType, run.outShape);
      if (size(run.outShape) === 0) return [y];
      const Y = y.data as Uint8Array | Int8Array;
      const M = run.M;
      const zx = xz ? intValues(xz) : Int32Array.of(0);
      if (zx.length !== 1) throw invalid(node, "x_zero_point must be a scalar");
      const xScale = scalesOf(node, xs, "x_scale");
      const yScale = scalesOf(node, ys, "y_scale");
      if (xScale.length !== 1 || yScale.length !== 1) throw invalid(node, "x_scale and y_scale must be scalars");
      const wScale = scalesOf(node, ws, "w_scale");
      if (wScale.length !== 1 && wScale.length !== M) throw invalid(node, `w_scale has ${wScale.length} values; expected 1 or ${M}`);
      const scales = new Float32Array(M);
      for (let c = 0; c < M; c++) scales[c] = fround(fround(xScale[0]! * wScale[wScale.length === 1 ? 0 : c]!) / yScale[0]!);
      let B: Int32Array | undefined;
      if (bias) {
        if (bias.dtype !== "int32" || size(bias.shape) !== M) throw invalid(node, `B must be int32 [${M}], got ${bias.dtype}[${bias.shape.join(",")}]`);
        B = bias.data as Int32Array;
      }
      const zy = yz ? intValues(yz)[0]! : 0;
      const lo = qmin(outType);
      const hi = qmax(outType);
      const weights = pre ?? packWeights(w, attrs.group, weightZeroPoints(node, wz, M));
      const Mg = M / attrs.group;
      const P = size(run.geometry.outDims);
      convolve(x, zx[0]!, run, attrs.group, weights, scratch, cbuf, (n, g, p0, rows, C) => {
        const base = (n * M + g * Mg) * P + p0;
        const sc = scales.subarray(g * Mg, (g + 1) * Mg);
        const bg = B ? B.subarray(g * Mg, (g + 1) * Mg) : undefined;
        requantBlock(C, 0, Mg, rows, Mg, Y, base, 1, P, sc, true, bg, zy, lo, hi);
      });
      return [y];
    };
  },
};

/** [N, d1..dk, C] <-> [N, C, d1..dk] (toFirst: channels last to channels first). */
function moveChannels(t: Tensor, toFirst: boolean): Tensor {
  const s = t.shape;
  const N = s[0]!;
  const C = toFirst ? s[s.length - 1]! : s[1]!;
  const spatial = toFirst ? s.slice(1, -1) : s.slice(2);
  const P = size(spatial);
  const src = t.data as Uint8Array | Int8Array;
  const dst = new (src.constructor as Uint8ArrayConstructor)(src.length);
  for (let n = 0; n < N; n++) {
    const base = n * P * C;
    for (let p = 0; p < P; p++) {
      for (let c = 0; c < C; c++) {
        if (toFirst) dst[base + c * P + p] = src[base + p * C + c]!;
        else dst[base + p * C + c] = src[base + c * P + p]!;
      }
    }
  }
  return { dtype: t.dtype, shape: toFirst ? [N, C, ...spatial] : [N, ...spatial, C], data: dst };
}

/** com.microsoft QLinearConv: the ONNX op plus `channels_last` (NHWC input and output). */
export const MsQLinearConv: Kernel = {
  op: "QLinearConv",
  domain: "com.microsoft",
  prepare(node, ctx) {
    const inner = QLinearConv.prepare(node, ctx);
    if (node.int("channels_last", 0) === 0) return inner;
    return (inputs, rt) => {
      const x = inputs[0] as Tensor;
      const y = inner([moveChannels(x, true), ...inputs.slice(1)], rt)[0] as Tensor;
      const out = rt.alloc(y.dtype, [y.shape[0]!, ...y.shape.slice(2), y.shape[1]!]);
      (out.data as Uint8Array).set(moveChannels(y, false).data as Uint8Array);
      rt.release?.(y);
      return [out];
    };
  },
};
