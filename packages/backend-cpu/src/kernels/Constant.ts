import { type Tensor, tensor } from "@quanta/tensor";
import type { Kernel } from "../kernel.js";
import { invalid } from "./util.js";

/** Constant: value (tensor) or value_float(s) / value_int(s); decoded once when the plan is built. */
export const Constant: Kernel = {
  op: "Constant",
  prepare(node) {
    let t: Tensor | undefined;
    const a = [...node.attributes.values()][0];
    const name = [...node.attributes.keys()][0];
    if (name === "value" && a?.type === "tensor") t = a.value.load();
    else if (name === "value_float" && a?.type === "float") t = tensor("float32", [], Float32Array.of(a.value));
    else if (name === "value_floats" && a?.type === "floats") t = tensor("float32", [a.value.length], Float32Array.from(a.value));
    else if (name === "value_int" && a?.type === "int") t = tensor("int64", [], BigInt64Array.of(a.value));
    else if (name === "value_ints" && a?.type === "ints") t = tensor("int64", [a.value.length], BigInt64Array.from(a.value));
    if (!t) throw invalid(node, `Constant needs one of value, value_float(s), value_int(s); got ${name ?? "nothing"}`);
    const out = t;
    return () => [out];
  },
};
