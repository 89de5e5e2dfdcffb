import { type Graph, type Model, type Node, QuantaError, attr, constantOf, describe } from "@quanta/ir";
import { tensor } from "@quanta/tensor";

/** The model uses an op whose older form this converter cannot rewrite. */
export class OpsetUpgradeError extends QuantaError {
  readonly _tag = "OpsetUpgradeError";
  constructor(
    readonly node: string,
    readonly reason: string,
    readonly target = 13,
  ) {
    super(`cannot upgrade ${node} to opset ${target}: ${reason}`);
  }
}

const isOnnx = (n: Node) => n.domain === "" || n.domain === "ai.onnx";

const ints = (g: Graph, base: string, v: readonly number[]) => g.addConstant(base, constantOf(tensor("int64", [v.length], BigInt64Array.from(v, (x) => BigInt(x)))));

/** Moves an ints attribute to a new int64 input at `index` (nothing when the attribute is absent and optional). */
function attrToInput(n: Node, name: string, index: number): void {
  const v = n.ints(name);
  n.attributes.delete(name);
  if (v === undefined) return;
  while (n.inputs.length < index) n.inputs.push(null);
  const c = ints(n.graph, `${n.name || n.op}_${name}`, v);
  if (n.inputs.length === index) n.inputs.push(null);
  n.setInput(index, c);
}

/**
 * Rewrites the default-domain ops of a model from its opset (9..12) to opset 13, where their
 * semantics changed: attributes that became inputs (Clip, Slice, Squeeze, Unsqueeze, Split,
 * ReduceSum, Pad, TopK, Dropout) and Softmax/LogSoftmax/Hardmax's 2-D coercion (kept with Flatten
 * and Reshape). Quantized QDQ models need opset 13 for per-channel DequantizeLinear, and
 * onnxruntime fuses Q/DQ into QLinear ops only from opset 10. Returns the old version.
 */
export function upgradeToOpset13(model: Model): number {
  const from = model.opset("") ?? 1;
  if (from >= 13) return from;
  if (from < 9) throw new OpsetUpgradeError("the model", `opset ${from} is older than 9`);
  for (const g of model.allGraphs()) {
    for (const n of [...g.nodes]) {
      if (!isOnnx(n)) continue;
      switch (n.op) {
        case "Clip":
          if (from < 11) {
            const lo = n.float("min");
            const hi = n.float("max");
            n.attributes.delete("min");
            n.attributes.delete("max");
            const s = (x: number, tag: string) => g.addConstant(`${n.name || "clip"}_${tag}`, constantOf(tensor("float32", [], Float32Array.of(x))));
            n.inputs.push(null, null);
            if (lo !== undefined) n.setInput(1, s(lo, "min"));
            if (hi !== undefined) n.setInput(2, s(hi, "max"));
            while (n.inputs.length > 1 && n.inputs[n.inputs.length - 1] === null) n.inputs.pop();
          }
          break;
        case "Slice":
          if (from < 10) {
            const starts = n.ints("starts");
            const ends = n.ints("ends");
            const axes = n.ints("axes");
            if (!starts || !ends) throw new OpsetUpgradeError(describe(n), "Slice without starts/ends");
            for (const k of ["starts", "ends", "axes"]) n.attributes.delete(k);
            n.inputs.push(null, null);
            n.setInput(1, ints(g, `${n.name || "slice"}_starts`, starts));
            n.setInput(2, ints(g, `${n.name || "slice"}_ends`, ends));
            if (axes) {
              n.inputs.push(null);
              n.setInput(3, ints(g, `${n.name || "slice"}_axes`, axes));
            }
          }
          break;
        case "Squeeze":
        case "Unsqueeze":
          attrToInput(n, "axes", 1);
          break;
        case "Split":
          attrToInput(n, "split", 1);
          break;
        case "ReduceSum":
          attrToInput(n, "axes", 1);
          break;
        case "TopK":
          if (from < 10) {
            const k = n.int("k");
            n.attributes.delete("k");
            if (k === undefined) throw new OpsetUpgradeError(describe(n), "TopK without k");
            n.inputs.push(null);
            n.setInput(1, ints(g, `${n.name || "topk"}_k`, [k]));
          }
          break;
        case "Pad":
          if (from < 11) {
            const pads = n.ints("pads") ?? n.ints("paddings");
            const value = n.float("value", 0);
            for (const k of ["pads", "paddings", "value"]) n.attributes.delete(k);
            if (!pads) throw new OpsetUpgradeError(describe(n), "Pad without pads");
            n.inputs.push(null, null);
            n.setInput(1, ints(g, `${n.name || "pad"}_pads`, pads));
            n.setInput(2, g.addConstant(`${n.name || "pad"}_value`, constantOf(tensor("float32", [], Float32Array.of(value)))));
          }
          break;
        case "Dropout":
          if (from < 12) {
            n.attributes.delete("ratio");
            n.attributes.delete("is_test");
          }
          break;
        case "Softmax":
        case "LogSoftmax":
        case "Hardmax": {
          // Before 13: flatten to 2-D at `axis` (default 1), normalise each row. Keep that exactly.
          const axis = n.int("axis", 1);
          const x = n.inputs[0];
          const y = n.outputs[0];
          if (!x || !y) break;
          const rank = x.type?.shape?.length;
          const last = rank !== undefined && (axis === rank - 1 || axis === -1);
          n.attributes.set("axis", attr.int(last ? -1 : 1));
          if (last) break;
          // The node becomes the final Reshape (so its output value and name stay); Flatten, the
          // opset-13 op and Shape are inserted before it.
          const name = n.name || n.op;
          const flat = g.addNode({ op: "Flatten", name: `${name}_flatten`, inputs: [x], outputs: [`${x.name}_flat2d`], attributes: { axis: attr.int(axis) }, before: n });
          const op = g.addNode({ op: n.op, name, inputs: [flat.outputs[0]!], outputs: [`${y.name}_2d`], attributes: { axis: attr.int(1) }, before: n });
          const shape = g.addNode({ op: "Shape", name: `${name}_shape`, inputs: [x], outputs: [`${x.name}_shape`], before: n });
          n.op = "Reshape";
          n.name = `${name}_reshape`;
          n.attributes.clear();
          n.setInput(0, op.outputs[0]!);
          if (n.inputs.length < 2) n.inputs.push(null);
          n.setInput(1, shape.outputs[0]!);
          break;
        }
        case "Upsample":
          throw new OpsetUpgradeError(describe(n), "Upsample has no opset-13 form here yet (convert it to Resize first)");
        default:
          break;
      }
    }
  }
  model.opsets = model.opsets.map((o) => (o.domain === "" || o.domain === "ai.onnx" ? { domain: o.domain, version: 13 } : o));
  if (model.irVersion < 7n) model.irVersion = 7n;
  return from;
}
