import type { Kernel } from "../../kernel.js";
import { invalid, unsupported } from "../util.js";
import { arr, need, nibbles, transposeInto } from "./common.js";

/** DepthToSpace (mode DCR, default, or CRD from opset 11): a reshape-transpose-reshape of NCHW. */
export const DepthToSpace: Kernel = {
  op: "DepthToSpace",
  prepare(node, ctx) {
    const b = node.int("blocksize");
    if (b === undefined || b < 1) throw invalid(node, "DepthToSpace needs a positive blocksize");
    const mode = node.string("mode", "DCR");
    if (mode !== "DCR" && mode !== "CRD") throw unsupported(node, ctx, `mode '${mode}'`);
    return nibbles((inputs, rt) => {
      const x = need(node, inputs, 0);
      if (x.shape.length !== 4) throw invalid(node, `DepthToSpace needs a 4-D input, got [${x.shape.join(",")}]`);
      const [N, C, H, W] = x.shape as [number, number, number, number];
      if (C % (b * b) !== 0) throw invalid(node, `DepthToSpace: channels ${C} not divisible by blocksize² ${b * b}`);
      const c = C / (b * b);
      const out = rt.alloc(x.dtype, [N, c, H * b, W * b]);
      if (mode === "DCR") transposeInto(arr(x), [N, b, b, c, H, W], [0, 3, 4, 1, 5, 2], arr(out));
      else transposeInto(arr(x), [N, c, b, b, H, W], [0, 1, 4, 2, 5, 3], arr(out));
      return [out];
    });
  },
};

/** SpaceToDepth: the inverse of DepthToSpace in DCR mode. */
export const SpaceToDepth: Kernel = {
  op: "SpaceToDepth",
  prepare(node) {
    const b = node.int("blocksize");
    if (b === undefined || b < 1) throw invalid(node, "SpaceToDepth needs a positive blocksize");
    return nibbles((inputs, rt) => {
      const x = need(node, inputs, 0);
      if (x.shape.length !== 4) throw invalid(node, `SpaceToDepth needs a 4-D input, got [${x.shape.join(",")}]`);
      const [N, C, H, W] = x.shape as [number, number, number, number];
      if (H % b !== 0 || W % b !== 0) throw invalid(node, `SpaceToDepth: [${H},${W}] not divisible by blocksize ${b}`);
      const out = rt.alloc(x.dtype, [N, C * b * b, H / b, W / b]);
      transposeInto(arr(x), [N, C, H / b, b, W / b, b], [0, 3, 5, 1, 2, 4], arr(out));
      return [out];
    });
  },
};
