import type { Node } from "@quanta/ir";
import type { Tensor } from "@quanta/tensor";
import type { Kernel, PrepareContext, RunContext } from "../../kernel.js";
import { invalid, normAxis, toNumbers, unsupported } from "../util.js";
import { floatData, writeFloats } from "./float_impl.js";
import { type AxisOptions, type AxisTaps, type ResizeMode, axisTaps, resizePass } from "./resize_impl.js";

const COORDS = new Set(["half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nn", "tf_crop_and_resize"]);
const NEAREST = new Set(["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"]);

interface ResizeOpts {
  readonly mode: ResizeMode;
  readonly coord: string;
  readonly nearest: string;
  readonly cubicA: number;
  readonly excludeOutside: boolean;
  readonly antialias: boolean;
  readonly extrapolation: number;
  readonly keepAspect: string;
  readonly axes: number[] | undefined;
}

/** Runs a resize of `x` to `outShape` with per-axis scales (output/input) and ROI. */
function resize(rt: RunContext, x: Tensor, outShape: readonly number[], scales: readonly number[], roi: readonly number[] | undefined, o: ResizeOpts, fromScales: boolean): Tensor {
  const rank = x.shape.length;
  const floatIO = x.dtype === "float32" || x.dtype === "float64";
  let cur: ArrayLike<number> = floatIO ? (x.data as Float32Array) : floatData(x);
  const shape = [...x.shape];
  // Innermost axes first (any order gives the same result; this keeps the big passes contiguous).
  const passes: { axis: number; taps: AxisTaps }[] = [];
  for (let a = rank - 1; a >= 0; a--) {
    const ax: AxisOptions = {
      mode: o.mode,
      coord: o.coord,
      nearest: o.nearest,
      cubicA: o.cubicA,
      excludeOutside: o.excludeOutside,
      antialias: o.antialias,
      roiStart: roi ? roi[a]! : 0,
      roiEnd: roi ? roi[a + rank]! : 1,
      outLenF: fromScales ? x.shape[a]! * scales[a]! : outShape[a]!,
      exact: !fromScales,
    };
    const taps = axisTaps(x.shape[a]!, outShape[a]!, scales[a]!, ax);
    if (!taps.identity) passes.push({ axis: a, taps });
  }
  const y = rt.alloc(x.dtype, outShape);
  if (passes.length === 0) {
    if (floatIO) (y.data as Float32Array).set(cur);
    else writeFloats(y, cur);
    return y;
  }
  for (const [k, p] of passes.entries()) {
    const last = k === passes.length - 1;
    let outer = 1;
    for (let i = 0; i < p.axis; i++) outer *= shape[i]!;
    let inner = 1;
    for (let i = p.axis + 1; i < rank; i++) inner *= shape[i]!;
    const inLen = shape[p.axis]!;
    shape[p.axis] = outShape[p.axis]!;
    const n = outer * outShape[p.axis]! * inner;
    const dst: { [i: number]: number } & ArrayLike<number> = last && floatIO ? (y.data as Float32Array) : x.dtype === "float64" ? new Float64Array(n) : new Float32Array(n);
    resizePass(cur, dst, outer, inLen, inner, p.taps, o.extrapolation);
    cur = dst;
  }
  if (!floatIO) {
    const isInt = !["float16", "bfloat16"].includes(x.dtype);
    if (isInt) {
      const r = new Float64Array(cur.length);
      for (let i = 0; i < r.length; i++) r[i] = Math.trunc(cur[i]!);
      writeFloats(y, r);
    } else writeFloats(y, cur);
  }
  return y;
}

function readOpts(node: Node, ctx: PrepareContext, legacy: boolean): ResizeOpts {
  const modeRaw = node.string("mode", "nearest").toLowerCase();
  const mode: ResizeMode = modeRaw === "bilinear" || modeRaw === "trilinear" ? "linear" : (modeRaw as ResizeMode);
  if (mode !== "nearest" && mode !== "linear" && mode !== "cubic") throw unsupported(node, ctx, `mode '${modeRaw}'`);
  const coord = legacy ? "asymmetric" : node.string("coordinate_transformation_mode", "half_pixel");
  if (!COORDS.has(coord)) throw unsupported(node, ctx, `coordinate_transformation_mode '${coord}'`);
  const nearest = legacy ? "simple" : node.string("nearest_mode", "round_prefer_floor");
  if (!legacy && !NEAREST.has(nearest)) throw unsupported(node, ctx, `nearest_mode '${nearest}'`);
  const keepAspect = node.string("keep_aspect_ratio_policy", "stretch");
  if (!["stretch", "not_larger", "not_smaller"].includes(keepAspect)) throw unsupported(node, ctx, `keep_aspect_ratio_policy '${keepAspect}'`);
  return {
    mode,
    coord,
    nearest,
    cubicA: node.float("cubic_coeff_a", -0.75),
    excludeOutside: node.int("exclude_outside", 0) === 1,
    antialias: node.int("antialias", 0) === 1,
    extrapolation: node.float("extrapolation_value", 0),
    keepAspect,
    axes: node.ints("axes"),
  };
}

const nonEmpty = (t: Tensor | undefined): Tensor | undefined => (t && t.data.length > 0 ? t : undefined);

/**
 * Resize (opset 10-22): nearest (every nearest_mode), linear, cubic (cubic_coeff_a, exclude_outside);
 * every coordinate_transformation_mode; scales or sizes; ROI for tf_crop_and_resize; antialias,
 * axes and keep_aspect_ratio_policy (opset 18+). Opset 10 behaves like Upsample (asymmetric, floor).
 */
export const Resize: Kernel = {
  op: "Resize",
  prepare(node: Node, ctx: PrepareContext) {
    const legacy = ctx.opset < 11;
    const o = readOpts(node, ctx, legacy);
    return (inputs, rt) => {
      const x = inputs[0];
      if (!x) throw invalid(node, "Resize needs X");
      const rank = x.shape.length;
      const roiT = legacy ? undefined : nonEmpty(inputs[1]);
      const scalesT = nonEmpty(legacy ? inputs[1] : inputs[2]);
      const sizesT = legacy ? undefined : nonEmpty(inputs[3]);
      const axes = o.axes ? o.axes.map((a) => normAxis(a, rank, node)) : x.shape.map((_, i) => i);
      const scales = new Array<number>(rank).fill(1);
      const outShape = [...x.shape];
      let roi: number[] | undefined;
      if (roiT && o.coord === "tf_crop_and_resize") {
        const r = Array.from(floatData(roiT));
        roi = [...new Array<number>(rank).fill(0), ...new Array<number>(rank).fill(1)];
        if (r.length !== 2 * axes.length) throw invalid(node, `Resize: roi has ${r.length} values, expected ${2 * axes.length}`);
        axes.forEach((a, i) => {
          roi![a] = r[i]!;
          roi![a + rank] = r[i + axes.length]!;
        });
      }
      if (scalesT) {
        const s = Array.from(floatData(scalesT));
        if (s.length !== axes.length) throw invalid(node, `Resize: ${s.length} scales for ${axes.length} axes`);
        axes.forEach((a, i) => {
          scales[a] = s[i]!;
          const extent = roi ? roi[a + rank]! - roi[a]! : 1;
          outShape[a] = Math.floor(x.shape[a]! * extent * s[i]!);
        });
      } else if (sizesT) {
        const sz = toNumbers(sizesT);
        if (sz.length !== axes.length) throw invalid(node, `Resize: ${sz.length} sizes for ${axes.length} axes`);
        if (o.keepAspect !== "stretch") {
          const ratios = axes.map((a, i) => sz[i]! / x.shape[a]!);
          const s = o.keepAspect === "not_larger" ? Math.min(...ratios) : Math.max(...ratios);
          axes.forEach((a) => {
            scales[a] = s;
            outShape[a] = Math.round(s * x.shape[a]!);
          });
        } else {
          axes.forEach((a, i) => {
            outShape[a] = sz[i]!;
            scales[a] = sz[i]! / x.shape[a]!;
          });
        }
      } else throw invalid(node, "Resize needs scales or sizes");
      return [resize(rt, x, outShape, scales, roi, o, scalesT !== undefined)];
    };
  },
};

/** Upsample (opset 7-9; scales attribute at 7, input at 9): nearest or (bi)linear, asymmetric coordinates. */
export const Upsample: Kernel = {
  op: "Upsample",
  prepare(node: Node, ctx: PrepareContext) {
    const o = readOpts(node, ctx, true);
    const attrScales = node.attr("scales")?.type === "floats" ? [...(node.attr("scales")!.value as readonly number[])] : undefined;
    return (inputs, rt) => {
      const x = inputs[0];
      if (!x) throw invalid(node, "Upsample needs X");
      const s = inputs[1] ? Array.from(floatData(inputs[1])) : attrScales;
      if (!s || s.length !== x.shape.length) throw invalid(node, `Upsample needs ${x.shape.length} scales`);
      const outShape = x.shape.map((d, i) => Math.floor(d * s[i]!));
      return [resize(rt, x, outShape, s, undefined, o, true)];
    };
  },
};

