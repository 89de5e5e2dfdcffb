import type { Node } from "@quanta/ir";
import type { Kernel, PrepareContext } from "../../kernel.js";
import { invalid, unsupported } from "../util.js";
import { col2im, windowAttrs } from "./conv_impl.js";
import { f32Data, f32Tensor, isFloatDType } from "./float_impl.js";
import { Packed, gemmPacked, packA, packB, packedBSize } from "./sgemm_impl.js";

/** Packs W [C, Mg, k...] per group as the (Mg * ksz) x Cg matrices W_g^T. */
function packWeights(w: Float32Array, C: number, Mg: number, ksz: number, group: number): Packed[] {
  const Cg = C / group;
  const rows = Mg * ksz;
  const out: Packed[] = [];
  for (let g = 0; g < group; g++) out.push(packA(rows, Cg, w, g * Cg * rows, 1, rows));
  return out;
}

/**
 * ConvTranspose (opset 1-22): any spatial rank, group, strides, dilations, pads / auto_pad,
 * output_padding, output_shape, optional bias; float32 natively (other floats computed in float32).
 * Each group is a packed sgemm W_g^T * X_g followed by col2im.
 */
export const ConvTranspose: Kernel = {
  op: "ConvTranspose",
  prepare(node: Node, ctx: PrepareContext) {
    const a = windowAttrs(node);
    const outputPadding = node.ints("output_padding");
    const outputShape = node.ints("output_shape");
    const group = a.group;
    if (group < 1) throw invalid(node, `group must be >= 1, got ${group}`);
    const wConst = ctx.constantInput(1);
    if (wConst && !isFloatDType(wConst.dtype)) throw unsupported(node, ctx, `ConvTranspose on ${wConst.dtype}`);
    // A constant W is packed once (on first run, when the group count is checked against X).
    let constPacked: Packed[] | undefined;
    let scratchB: Packed = new Packed(0);
    let col: Float32Array = new Float32Array(0);
    return (inputs, rt) => {
      const x = inputs[0];
      const wt = inputs[1];
      const bias = inputs[2];
      if (!x || !wt) throw invalid(node, "ConvTranspose needs X and W");
      if (!isFloatDType(x.dtype)) throw invalid(node, `ConvTranspose on ${x.dtype} is not supported`);
      const nd = x.shape.length - 2;
      if (nd < 1 || wt.shape.length !== nd + 2) throw invalid(node, `ConvTranspose: X [${x.shape}] and W [${wt.shape}] ranks do not match`);
      const [N, C] = x.shape as [number, number];
      if (wt.shape[0] !== C) throw invalid(node, `ConvTranspose: X has ${C} channels, W [${wt.shape}]`);
      if (C % group !== 0) throw invalid(node, `ConvTranspose: ${C} channels not divisible by group ${group}`);
      const Mg = wt.shape[1]!;
      const M = Mg * group;
      const kernel = wt.shape.slice(2);
      const inDims = x.shape.slice(2);
      const strides = a.strides ?? new Array<number>(nd).fill(1);
      const dilations = a.dilations ?? new Array<number>(nd).fill(1);
      const opad = outputPadding ?? new Array<number>(nd).fill(0);
      const pads = a.pads ?? new Array<number>(2 * nd).fill(0);
      const padsBegin: number[] = [];
      const outDims: number[] = [];
      for (let i = 0; i < nd; i++) {
        const ek = (kernel[i]! - 1) * dilations[i]! + 1;
        const natural = strides[i]! * (inDims[i]! - 1) + opad[i]! + ek;
        let out: number;
        let pb: number;
        if (outputShape || a.autoPad === "SAME_UPPER" || a.autoPad === "SAME_LOWER") {
          out = outputShape ? outputShape[outputShape.length - nd + i]! : inDims[i]! * strides[i]!;
          let total = natural - out;
          if (!outputShape && total < 0) {
            // SAME with a kernel smaller than the stride: no negative padding (as onnxruntime).
            total = 0;
            out = natural;
          }
          pb = a.autoPad === "SAME_UPPER" ? Math.floor(total / 2) : total - Math.floor(total / 2);
        } else {
          pb = a.autoPad === "VALID" ? 0 : pads[i]!;
          const pe = a.autoPad === "VALID" ? 0 : pads[i + nd]!;
          out = natural - pb - pe;
        }
        padsBegin.push(pb);
        outDims.push(out);
      }
      let ksz = 1;
      for (const k of kernel) ksz *= k;
      let isz = 1;
      for (const d of inDims) isz *= d;
      let osz = 1;
      for (const d of outDims) osz *= d;
      const y = rt.alloc("float32", [N, M, ...outDims]);
      const Y = y.data;
      if (bias) {
        const B = f32Data(bias);
        for (let n = 0; n < N; n++) for (let m = 0; m < M; m++) Y.fill(B[m]!, (n * M + m) * osz, (n * M + m + 1) * osz);
      }
      const Cg = C / group;
      const rows = Mg * ksz;
      let packed: Packed[];
      if (wConst) packed = constPacked ??= packWeights(f32Data(wConst), C, Mg, ksz, group);
      else packed = packWeights(f32Data(wt), C, Mg, ksz, group);
      const X = f32Data(x);
      const nb = packedBSize(Cg, isz);
      if (scratchB.length < nb) scratchB = new Packed(nb);
      if (col.length < rows * isz) col = new Float32Array(rows * isz);
      for (let n = 0; n < N; n++) {
        for (let g = 0; g < group; g++) {
          packB(Cg, isz, X, (n * C + g * Cg) * isz, isz, 1, scratchB);
          gemmPacked(rows, isz, Cg, packed[g]!, scratchB, col, 0, isz);
          col2im(col, Mg, inDims, kernel, strides, dilations, padsBegin, outDims, Y, (n * M + g * Mg) * osz);
        }
      }
      return [f32Tensor(rt, x.dtype, y)];
    };
  },
};
