// Small graph helpers shared by the dynamic, QOperator and float lowerings.
import { type Graph, type Model, type Node, type Value, constantOf } from "@quanta/ir";
import { type Storage, type Tensor, tensor } from "@quanta/tensor";

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

/** The integer types a zero point can have. */
export type ZeroPointDType = "int8" | "uint8" | "int16" | "uint16" | "int32" | "int4" | "uint4";

/** Zero-point storage of a quantized dtype (4-bit values packed two per byte, low nibble first). */
export function zeroPointTensor(dtype: ZeroPointDType, shape: readonly number[], zp: ArrayLike<number>): Tensor {
  switch (dtype) {
    case "int8":
      return tensor("int8", shape, Int8Array.from(zp));
    case "uint8":
      return tensor("uint8", shape, Uint8Array.from(zp));
    case "int16":
      return tensor("int16", shape, Int16Array.from(zp));
    case "uint16":
      return tensor("uint16", shape, Uint16Array.from(zp));
    case "int32":
      return tensor("int32", shape, Int32Array.from(zp));
    case "int4":
    case "uint4": {
      const packed = new Uint8Array(Math.ceil(zp.length / 2));
      for (let i = 0; i < zp.length; i++) packed[i >> 1]! |= (zp[i]! & 0xf) << ((i & 1) * 4);
      return tensor(dtype, shape, packed as Storage<typeof dtype>);
    }
    default:
      throw new Error(`no zero point for ${dtype as string}`);
  }
}

/** A zero-point constant. */
export function zeroPointConst(g: Graph, name: string, dtype: ZeroPointDType, shape: readonly number[], zp: ArrayLike<number>): Value {
  return g.addConstant(name, constantOf(zeroPointTensor(dtype, shape, zp)));
}

/** Is `v` a scalar constant of type `dtype` holding `z`? */
function holdsScalar(v: Value, dtype: ZeroPointDType, z: number): boolean {
  const c = v.constant;
  if (!c || c.elem !== dtype || c.shape.length !== 0) return false;
  const d = c.load().data as ArrayLike<number>;
  const x = dtype === "int4" ? ((d[0]! & 0xf) ^ 8) - 8 : dtype === "uint4" ? d[0]! & 0xf : d[0]!;
  return x === z;
}

const SHARED_ZEROS = new WeakMap<Graph, Map<string, Value>>();

/**
 * The graph's one scalar zero-point constant of a type and value (`zu8_128`, `zi8_0`...), shared by
 * every reader in every lowering (QDQ activation pairs, QLinearConv weights, dynamic weights): one
 * made earlier, or found under its name, is reused.
 */
export function sharedZeroPoint(g: Graph, dtype: ZeroPointDType, z: number): Value {
  let byKey = SHARED_ZEROS.get(g);
  if (!byKey) SHARED_ZEROS.set(g, (byKey = new Map()));
  const key = `${dtype}:${z}`;
  const known = byKey.get(key);
  if (known && g.value(known.name, false) === known) return known;
  const name = zeroPointName(dtype, z);
  const found = g.value(name, false);
  const v = found && g.initializers.includes(found) && !g.inputs.includes(found) && holdsScalar(found, dtype, z) ? found : zeroPointConst(g, name, dtype, [], [z]);
  byKey.set(key, v);
  return v;
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
