import { type Model, type Node, attr, constantOf, describe } from "@quanta/ir";
import { tensor } from "@quanta/tensor";
import { OpsetUpgradeError, upgradeToOpset13 } from "./upgrade.js";

const isOnnx = (n: Node) => n.domain === "" || n.domain === "ai.onnx";

/** Reductions whose `axes` attribute became an input in opset 18 (ReduceSum moved in 13). */
const REDUCE_18 = new Set(["ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"]);

/**
 * Rewrites a model to default-domain opset 19 (needed for float8 QuantizeLinear/DequantizeLinear):
 * first to opset 13 (`upgradeToOpset13`), then the changes of 14-19 that are not backwards
 * compatible: reductions' `axes` attribute becomes an input (18), Split without a `split` input
 * gets `num_outputs` (18), BatchNormalization loses its training outputs (14). Every other op of
 * opsets 13-19 only gained types, optional inputs or attributes whose defaults keep the old
 * meaning. Returns the old version. Throws `OpsetUpgradeError` for what it cannot rewrite.
 */
export function upgradeToOpset19(model: Model): number {
  return upgradeTo(model, 19);
}

/**
 * Rewrites a model to default-domain opset 21 (needed for block-wise and int4 DequantizeLinear): the
 * opset-19 rewrite, then the changes of 20-21 that are not backwards compatible: GridSample's modes
 * `bilinear`/`bicubic` became `linear`/`cubic` (20), GroupNormalization's scale and bias went from one
 * value per group to one per channel (21; constant ones are repeated). DFT (its `axis` attribute became
 * an input in 20) and a GroupNormalization with computed scale or bias are not rewritten: see
 * `opset21Blockers`; OpsetUpgradeError before any change. Every other op of opsets 20-21 only gained
 * types. Returns the old version.
 */
export function upgradeToOpset21(model: Model): number {
  // Checked before anything changes, so a model that cannot be rewritten is left as it was.
  const blockers = opset21Blockers(model);
  if (blockers.length) throw new OpsetUpgradeError("the model", blockers.join("; "), 21);
  return upgradeTo(model, 21);
}

function upgradeTo(model: Model, target: 19 | 21): number {
  const from = upgradeToOpset13(model);
  const at = model.opset("") ?? 13;
  if (at >= target) return from;
  for (const g of model.allGraphs()) {
    for (const n of [...g.nodes]) {
      if (!isOnnx(n)) continue;
      if (REDUCE_18.has(n.op) && at < 18) {
        const axes = n.ints("axes");
        n.attributes.delete("axes");
        if (axes !== undefined) {
          const c = g.addConstant(`${n.name || n.op}_axes`, constantOf(tensor("int64", [axes.length], BigInt64Array.from(axes, (x) => BigInt(x)))));
          while (n.inputs.length < 1) n.inputs.push(null);
          if (n.inputs.length === 1) n.inputs.push(null);
          n.setInput(1, c);
        }
      } else if (n.op === "Split" && at < 18) {
        if (!n.inputs[1]) n.attributes.set("num_outputs", attr.int(n.outputs.length));
      } else if (n.op === "BatchNormalization" && at < 14) {
        if (n.outputs.slice(3).some((o) => o && (o.uses.length > 0 || g.outputs.includes(o)))) {
          throw new OpsetUpgradeError(describe(n), "BatchNormalization's saved_mean/saved_var outputs are gone in opset 14", 19);
        }
        while (n.outputs.length > 3) {
          const o = n.outputs.pop();
          if (o) o.producer = undefined;
        }
      } else if (target >= 21) upgrade20to21(n, at);
    }
  }
  model.opsets = model.opsets.map((o) => (o.domain === "" || o.domain === "ai.onnx" ? { domain: o.domain, version: target } : o));
  if (model.irVersion < 9n) model.irVersion = 9n;
  return from;
}

/** Why a model cannot be rewritten to opset 21 (empty when it can): checked before anything changes. */
export function opset21Blockers(model: Model): string[] {
  const at = model.opset("") ?? 0;
  const out: string[] = [];
  for (const g of model.allGraphs()) {
    for (const n of g.nodes) {
      if (!isOnnx(n)) continue;
      if (n.op === "DFT" && at < 20) out.push(`${describe(n)}: DFT's axis attribute became an input in opset 20`);
      if (n.op === "GroupNormalization" && at < 21) {
        const groups = n.int("num_groups");
        const channels = n.inputs[0]?.type?.shape?.[1];
        const ok = groups !== undefined && typeof channels === "number" && channels % groups === 0 && [1, 2].every((i) => n.inputs[i]?.constant?.elem === "float32");
        if (!ok) out.push(`${describe(n)}: GroupNormalization's scale and bias became per-channel in opset 21 and are not constants of a known channel count`);
      }
    }
  }
  return out;
}

/** The opset 20-21 changes of one node (see `upgradeToOpset21`; `opset21Blockers` has ruled out what they cannot rewrite). */
function upgrade20to21(n: Node, at: number): void {
  if (n.op === "GridSample" && at < 20) {
    const mode = n.string("mode");
    if (mode === "bilinear") n.attributes.set("mode", attr.string("linear"));
    if (mode === "bicubic") n.attributes.set("mode", attr.string("cubic"));
  } else if (n.op === "GroupNormalization" && at < 21) {
    const groups = n.int("num_groups")!;
    const channels = n.inputs[0]!.type!.shape![1] as number;
    for (const i of [1, 2]) {
      const v = n.inputs[i]!;
      const per = v.constant!.load().data as Float32Array;
      const out = new Float32Array(channels);
      for (let k = 0; k < channels; k++) out[k] = per[Math.floor(k / (channels / groups))]!;
      n.setInput(i, n.graph.addConstant(`${v.name}_per_channel`, constantOf(tensor("float32", [channels], out))));
    }
  }
}
