// Small graph helpers shared by the dynamic, QOperator and float lowerings.
import { type Graph, type Model, type Node, type Value, constantOf } from "@quanta/ir";
import { type Tensor, tensor } from "@quanta/tensor";

export const MS = "com.microsoft";

export const isOnnxDomain = (n: Node): boolean => n.domain === "" || n.domain === "ai.onnx";

export function ensureMsOpset(model: Model): void {
  if (model.opset(MS) === undefined) model.opsets = [...model.opsets, { domain: MS, version: 1 }];
}

/** A float32 constant. */
export const floatConst = (g: Graph, name: string, shape: readonly number[], values: ArrayLike<number>): Value =>
  g.addConstant(name, constantOf(tensor("float32", shape, Float32Array.from(values))));

/** An int64 constant. */
export const int64Const = (g: Graph, name: string, values: readonly number[]): Value =>
  g.addConstant(name, constantOf(tensor("int64", [values.length], BigInt64Array.from(values, (v) => BigInt(v)))));

/** The name of a shared scalar zero-point constant: `zu8_128`, `zi8_m3`, `zi16_0` (type and value; short, as it is repeated on every quantized edge). */
export function zeroPointName(dtype: string, z: number): string {
  const t = dtype.startsWith("uint") ? `u${dtype.slice(4)}` : dtype.startsWith("int") ? `i${dtype.slice(3)}` : dtype;
  return `z${t}_${z < 0 ? `m${-z}` : z}`;
}

/** An 8-bit or int32 zero-point constant. */
export function zeroPointConst(g: Graph, name: string, dtype: "int8" | "uint8" | "int32", shape: readonly number[], zp: ArrayLike<number>): Value {
  const t: Tensor =
    dtype === "int8" ? tensor("int8", shape, Int8Array.from(zp)) : dtype === "uint8" ? tensor("uint8", shape, Uint8Array.from(zp)) : tensor("int32", shape, Int32Array.from(zp));
  return g.addConstant(name, constantOf(t));
}

/** Replaces a node's inputs by `inputs` (keeping use lists exact). */
export function setInputs(node: Node, inputs: readonly (Value | null)[]): void {
  for (let i = node.inputs.length - 1; i >= inputs.length; i--) {
    node.setInput(i, null);
    node.inputs.pop();
  }
  for (const [i, v] of inputs.entries()) {
    if (i >= node.inputs.length) node.inputs.push(null);
    node.setInput(i, v);
  }
}

/** Turns `node` into another op in place (its outputs, and so their names and consumers, stay). */
export function rewriteNode(node: Node, init: { op: string; domain?: string; name?: string; inputs: readonly (Value | null)[]; attributes?: ReadonlyMap<string, import("@quanta/ir").Attribute> }): void {
  setInputs(node, init.inputs);
  node.op = init.op;
  node.domain = init.domain ?? "";
  if (init.name !== undefined) node.name = init.name;
  node.attributes.clear();
  for (const [k, a] of init.attributes ?? []) node.attributes.set(k, a);
}

/** Removes `v` when it is an initializer nobody reads any more. */
export function dropIfUnused(v: Value | null | undefined): void {
  if (!v?.constant) return;
  const g = v.graph;
  if (v.uses.length === 0 && !g.outputs.includes(v) && !g.inputs.includes(v) && g.initializers.includes(v)) g.removeValue(v);
}

/** The numbers of a constant value (integers and floats; int64 as numbers). */
export function constValues(v: Value): number[] {
  const d = v.constant!.load().data as ArrayLike<number | bigint>;
  return Array.from(d, (x) => Number(x));
}

/** Whether the value is float32 or of unknown type. */
export const isFloatValue = (v: Value | null | undefined): boolean =>
  !!v && (v.constant ? v.constant.elem === "float32" : v.type === undefined || v.type.elem === "float32");
