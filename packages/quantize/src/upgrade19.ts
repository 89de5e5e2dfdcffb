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
  const from = upgradeToOpset13(model);
  const at = model.opset("") ?? 13;
  if (at >= 19) return from;
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
      }
    }
  }
  model.opsets = model.opsets.map((o) => (o.domain === "" || o.domain === "ai.onnx" ? { domain: o.domain, version: 19 } : o));
  if (model.irVersion < 9n) model.irVersion = 9n;
  return from;
}
