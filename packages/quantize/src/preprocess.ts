import { Backend, type Pass } from "@quanta/core";
import { type Graph, Model, type Node, type Value, attr, constantOf, onnxDialect, traitsOf } from "@quanta/ir";
import { type Tensor, tensor } from "@quanta/tensor";
import { Effect, Option } from "effect";
import { rewriteNode } from "./lower-util.js";
import { upgradeToOpset13 } from "./upgrade.js";

const isOnnx = (n: Node) => n.domain === "" || n.domain === "ai.onnx";

/** A Constant node's value as a tensor (value, value_float(s), value_int(s)), or undefined. */
function constantNodeValue(n: Node): Tensor | undefined {
  const a = n.attributes.get("value");
  if (a?.type === "tensor") {
    try {
      return a.value.load();
    } catch {
      return undefined;
    }
  }
  const f = n.attributes.get("value_float");
  if (f?.type === "float") return tensor("float32", [], Float32Array.of(f.value));
  const fs = n.attributes.get("value_floats");
  if (fs?.type === "floats") return tensor("float32", [fs.value.length], Float32Array.from(fs.value));
  const i = n.attributes.get("value_int");
  if (i?.type === "int") return tensor("int64", [], BigInt64Array.of(i.value));
  const is = n.attributes.get("value_ints");
  if (is?.type === "ints") return tensor("int64", [is.value.length], BigInt64Array.from(is.value));
  return undefined;
}

/** Turns every ONNX Constant node (in every graph) into an initializer of its graph. Returns how many. */
export function promoteConstants(model: Model): number {
  let n = 0;
  for (const g of model.allGraphs()) {
    for (const node of [...g.nodes]) {
      if (node.op !== "Constant" || !isOnnx(node) || node.outputs.length !== 1 || !node.outputs[0]) continue;
      const t = constantNodeValue(node);
      if (!t) continue;
      const a = node.attributes.get("value");
      // The output value becomes the initializer: same name, same values.
      g.constantInPlace(node, a?.type === "tensor" ? a.value : constantOf(t));
      n++;
    }
  }
  return n;
}

/**
 * Folds inference-mode BatchNormalization into a preceding Conv whose weights are constant and whose
 * output feeds only the BatchNormalization. The folded Conv takes the BatchNormalization's place and
 * output value (its name, and graph-output role, stay). Returns how many were folded.
 */
export function foldBatchNorm(model: Model): number {
  let folded = 0;
  for (const g of model.allGraphs()) {
    for (const bn of [...g.nodes]) {
      if (bn.op !== "BatchNormalization" || !isOnnx(bn) || !bn.outputs[0] || bn.outputs.filter(Boolean).length !== 1) continue;
      if (bn.int("training_mode", 0) !== 0) continue;
      const x = bn.inputs[0];
      const conv = x?.producer;
      if (!x || !conv || conv.op !== "Conv" || !isOnnx(conv) || x.uses.length !== 1 || g.outputs.includes(x) || conv.graph !== g) continue;
      const w = conv.inputs[1];
      const b = conv.inputs[2];
      const params = [1, 2, 3, 4].map((i) => bn.inputs[i]?.constant);
      if (!w?.constant || params.some((p) => !p) || (b && !b.constant)) continue;
      if (w.uses.length !== 1 || (b && b.uses.length !== 1)) continue; // shared weights: leave them alone
      const W = w.constant.load();
      if (W.dtype !== "float32") continue;
      const [scale, beta, mean, variance] = params.map((p) => p!.load().data as Float32Array);
      const eps = bn.float("epsilon", 1e-5);
      const cout = W.shape[0]!;
      if (scale!.length !== cout || beta!.length !== cout || mean!.length !== cout || variance!.length !== cout) continue;
      const per = W.data.length / cout;
      const nw = new Float32Array(W.data.length);
      const nb = new Float32Array(cout);
      const oldB = b ? (b.constant!.load().data as Float32Array) : undefined;
      for (let c = 0; c < cout; c++) {
        const k = scale![c]! / Math.sqrt(variance![c]! + eps);
        for (let i = 0; i < per; i++) nw[c * per + i] = (W.data as Float32Array)[c * per + i]! * k;
        nb[c] = ((oldB ? oldB[c]! : 0) - mean![c]!) * k + beta![c]!;
      }
      const nwv = g.addConstant(`${w.name}_bn`, constantOf(tensor("float32", W.shape, nw)));
      const nbv = g.addConstant(`${b?.name ?? (conv.name || "conv")}_bn`, constantOf(tensor("float32", [cout], nb)));
      // The BatchNormalization node becomes the folded Conv, so that its output value stays as it was
      // (name, type, graph-output role, readers): the float model's tensor of that name holds the same values.
      const params0 = bn.inputs.slice(1);
      const inputs = [conv.inputs[0]!, nwv, nbv];
      for (let i = bn.inputs.length - 1; i >= 0; i--) bn.setInput(i, null);
      bn.inputs.length = 0;
      for (const [i, v] of inputs.entries()) bn.setInput(i, v);
      bn.outputs.length = 1;
      bn.op = conv.op;
      bn.domain = conv.domain;
      bn.attributes.clear();
      for (const [k, a] of conv.attributes) bn.attributes.set(k, a);
      bn.name = conv.name || bn.name;
      bn.docString = conv.docString;
      bn.origin = conv.origin;
      g.removeNode(conv);
      removeIfUnused(g, w);
      if (b) removeIfUnused(g, b);
      for (const p of params0) if (p) removeIfUnused(g, p);
      folded++;
    }
  }
  return folded;
}

/** The value of a float32 constant of one element (shape [] or [1]), or undefined. */
function scalarOf(v: Value | null | undefined): number | undefined {
  const c = v?.constant;
  if (c?.elem !== "float32" || c.shape.length > 1 || (c.shape.length === 1 && c.shape[0] !== 1)) return undefined;
  try {
    return (c.load().data as Float32Array)[0];
  } catch {
    return undefined;
  }
}

/** The other input of a two-input node, when one of its inputs is `v`. */
function otherInput(n: Node, v: Value): Value | null | undefined {
  if (n.inputs.length !== 2) return undefined;
  return n.inputs[0] === v ? n.inputs[1] : n.inputs[1] === v ? n.inputs[0] : undefined;
}

/** The only reader of `v` when `v` is an intermediate value (one use, not an output of this graph or a nested one). */
function onlyUse(g: Graph, v: Value | null | undefined): Node | undefined {
  if (v?.uses.length !== 1 || g.outputs.includes(v) || g.nestedGraphs().some((s) => s.outputs.includes(v))) return undefined;
  const n = v.uses[0]!.node;
  return n.graph === g && isOnnx(n) ? n : undefined;
}

/** The constant of `n` when `n` divides `v` by 6 or multiplies it by 1/6. */
function sixthOf(n: Node | undefined, v: Value): Value | undefined {
  if (n?.op === "Div") return n.inputs.length === 2 && n.inputs[0] === v && scalarOf(n.inputs[1]) === 6 ? n.inputs[1]! : undefined;
  if (n?.op !== "Mul") return undefined;
  const c = otherInput(n, v);
  const k = scalarOf(c);
  return c && k !== undefined && Math.abs(6 * k - 1) < 1e-6 ? c : undefined;
}

/**
 * HardSwish written out as x * relu6(x + 3) / 6 (paddle2onnx's PP-OCR models: Add, Clip(0, 6), Mul,
 * Div; also with the division before the product, or a product with 1/6) becomes
 * Mul(x, HardSigmoid(x; alpha 1/6, beta 0.5)), as PyTorch exports HardSwish below opset 14: the same
 * function in two nodes instead of four, and in static mode two quantized edges instead of three
 * (relu6(x + 3), the product and the result each had a Q/DQ pair; now the gate and the result do).
 * The Mul is the node that produced the result (its name, output value, readers and graph-output role
 * stay); the HardSigmoid takes the Clip's name. Returns how many were fused.
 */
export function fuseHardSwish(model: Model): number {
  if (model.format !== "onnx") return 0;
  let fused = 0;
  for (const g of model.allGraphs()) {
    for (const clip of [...g.nodes]) {
      if (!g.hasNode(clip) || clip.op !== "Clip" || !isOnnx(clip) || clip.inputs.length !== 3) continue;
      if (scalarOf(clip.inputs[1]) !== 0 || scalarOf(clip.inputs[2]) !== 6) continue;
      const sum = clip.inputs[0];
      const add = sum?.producer;
      if (!sum || !add || add.op !== "Add" || !isOnnx(add) || add.graph !== g || onlyUse(g, sum) !== clip) continue;
      const three = add.inputs.find((i) => scalarOf(i) === 3);
      const x = three ? otherInput(add, three) : undefined;
      if (!three || !x || x.constant) continue;
      const relu6 = clip.outputs[0];
      const next = onlyUse(g, relu6);
      if (!relu6 || !next) continue;
      // x * relu6 then / 6, or relu6 / 6 then x * that.
      let last: Node | undefined;
      let sixth: Value | undefined;
      if (next.op === "Mul" && otherInput(next, relu6) === x) {
        last = onlyUse(g, next.outputs[0]);
        sixth = sixthOf(last, next.outputs[0]!);
      } else if ((sixth = sixthOf(next, relu6))) {
        last = onlyUse(g, next.outputs[0]);
        if (last?.op !== "Mul" || otherInput(last, next.outputs[0]!) !== x) continue;
      }
      if (!last || !sixth) continue;
      const y = last.outputs[0];
      if (!y || last.outputs.length !== 1) continue;
      // A [1]-shaped 3 or 6 would widen a scalar x to [1]: fused only where x is known to have a rank.
      if ((three.constant!.shape.length === 1 || sixth.constant!.shape.length === 1) && !(x.type?.shape && x.type.shape.length >= 1)) continue;
      const middle = next; // between relu6 and the last node: the Mul, or the division
      const gate = g.addNode({
        op: "HardSigmoid",
        name: clip.name,
        inputs: [x],
        outputs: [`hs${fused}`],
        attributes: { alpha: attr.float(Math.fround(1 / 6)), beta: attr.float(0.5) },
        before: last,
      }).outputs[0]!;
      const consts = [three, ...clip.inputs.slice(1), ...middle.inputs, ...last.inputs].filter((v): v is Value => !!v?.constant);
      // The last node becomes Mul(x, gate), keeping its output value and its name (the node that
      // produced the result in the float model: what `quanta compare` names and --exclude takes).
      rewriteNode(last, { op: "Mul", inputs: [x, gate] });
      g.removeNode(middle);
      g.removeNode(clip);
      g.removeNode(add);
      for (const c of new Set(consts)) removeIfUnused(g, c);
      fused++;
    }
  }
  return fused;
}

/** Attribute values the ONNX spec gives when the attribute is absent, for the conv and pool ops. */
const DEFAULT_ATTRIBUTES: Readonly<Record<string, (a: import("@quanta/ir").Attribute) => boolean>> = {
  auto_pad: (a) => a.type === "string" && a.value === "NOTSET",
  dilations: (a) => a.type === "ints" && a.value.every((x) => x === 1n),
  strides: (a) => a.type === "ints" && a.value.every((x) => x === 1n),
  pads: (a) => a.type === "ints" && a.value.every((x) => x === 0n),
  output_padding: (a) => a.type === "ints" && a.value.every((x) => x === 0n),
  group: (a) => a.type === "int" && a.value === 1n,
  ceil_mode: (a) => a.type === "int" && a.value === 0n,
  count_include_pad: (a) => a.type === "int" && a.value === 0n,
  storage_order: (a) => a.type === "int" && a.value === 0n,
};
const WITH_DEFAULTS: Readonly<Record<string, readonly string[]>> = {
  Conv: ["auto_pad", "dilations", "strides", "pads", "group"],
  ConvTranspose: ["auto_pad", "dilations", "strides", "pads", "group", "output_padding"],
  MaxPool: ["auto_pad", "dilations", "strides", "pads", "ceil_mode", "storage_order"],
  AveragePool: ["auto_pad", "dilations", "strides", "pads", "ceil_mode", "count_include_pad"],
  LpPool: ["auto_pad", "dilations", "strides", "pads", "ceil_mode"],
};

/**
 * Drops the attributes of Conv, ConvTranspose and the pools that state their ONNX default (strides and
 * dilations of 1, zero pads, one group...): the same model in fewer bytes (exporters such as
 * paddle2onnx write all of them on every node: PP-OCR cls static int8 per tensor went from 30.1% to
 * 29.6% of the fp32 file). Returns how many.
 */
export function dropDefaultAttributes(model: Model): number {
  if (model.format !== "onnx") return 0;
  let dropped = 0;
  for (const g of model.allGraphs()) {
    for (const n of g.nodes) {
      const names = isOnnx(n) ? WITH_DEFAULTS[n.op] : undefined;
      if (!names) continue;
      for (const k of names) {
        const a = n.attributes.get(k);
        // An empty list is not a default: `pads: []` is invalid rather than "no padding".
        if (a && !(a.type === "ints" && a.value.length === 0) && DEFAULT_ATTRIBUTES[k]!(a)) {
          n.attributes.delete(k);
          dropped++;
        }
      }
    }
  }
  return dropped;
}

function removeIfUnused(g: Graph, v: import("@quanta/ir").Value): void {
  if (v.graph === g && v.constant && v.uses.length === 0 && !g.outputs.includes(v) && !g.inputs.includes(v)) g.removeValue(v);
}

/** Preprocessing pass: ONNX models below opset 13 are upgraded to it, Constant nodes become initializers, BatchNormalization folds into Conv. */
/** Ops folded when every input is a constant: data movement, shape arithmetic and elementwise math. Never DequantizeLinear (it would undo a quantized weight). */
export const FOLDABLE: ReadonlySet<string> = new Set([
  "Slice", "Concat", "Unsqueeze", "Squeeze", "Reshape", "Transpose", "Identity", "Flatten", "Expand", "Gather", "Split", "Cast",
  "Add", "Sub", "Mul", "Div", "Neg", "Sqrt", "Reciprocal", "Pow", "Shape", "ConstantOfShape", "Range", "Tile",
]);

/** Largest folded output (elements): bigger results stay computed at run time. */
const FOLD_LIMIT = 1 << 26;

/**
 * Constant folding: a node of FOLDABLE whose inputs are all constants is run once on `plan` (a
 * backend) and replaced by initializers holding its outputs; constants nobody reads any more are
 * dropped. In topological order, so chains (weight -> Slice -> Concat -> LSTM, as exporters write a
 * recurrent layer's gates) fold into one constant the quantizer then sees as a weight. Returns how
 * many nodes were folded.
 */
export function foldConstants(model: Model, plan: (m: Model) => { run(feeds: Readonly<Record<string, Tensor>>): Record<string, Tensor> }): number {
  let folded = 0;
  // Identical computations (same op, attributes and input values) fold once: subgraphs that each
  // slice the same outer weight share one folded constant instead of holding a copy each.
  const done = new Map<Graph, Map<string, (Value | undefined)[]>>();
  for (const g of model.allGraphs()) {
    for (const node of [...g.topologicalOrder()]) {
      if (!FOLDABLE.has(node.op) || !isOnnx(node)) continue;
      const ins = node.inputs.filter((v): v is Value => v !== null);
      if (ins.length === 0 || !ins.every((v) => v.constant !== undefined)) continue;
      if (node.outputs.some((o) => o && g.outputs.includes(o))) continue;
      const attrs = [...node.attributes].map(([k, a]) => `${k}=${JSON.stringify(a, (_, x) => (typeof x === "bigint" ? `${x}n` : x))}`);
      // Small constants (axes, starts, shapes) count by content, large ones (weights) by identity.
      const id = (v: Value | null) => (!v ? "" : v.constant!.byteLength <= SMALL ? `=${v.constant!.elem}[${v.constant!.shape}]${contentOf(v)}` : `@${v.name}`);
      // The result lives where the deepest of its large inputs lives (the node's own graph when all
      // are small): visible from every graph that reads those, so subgraphs slicing the same outer
      // weight share one result.
      const large = ins.filter((v) => v.constant!.byteLength > SMALL);
      let home: Graph = large.length ? large[0]!.graph : g;
      for (const v of large) if (depth(v.graph) > depth(home)) home = v.graph;
      if (!isAncestorOrSelf(home, g)) home = g;
      let cache = done.get(home);
      if (!cache) done.set(home, (cache = new Map()));
      const key = `${node.op}|${attrs.sort().join(",")}|${node.inputs.map(id).join(",")}|${node.outputs.length}`;
      let consts = cache.get(key);
      if (!consts) {
        let out: Record<string, Tensor>;
        try {
          const mini = new Model(model.format);
          mini.irVersion = model.irVersion;
          mini.opsets = model.opsets.map((o) => ({ ...o }));
          const copies = new Map<Value, Value>();
          for (const v of ins) if (!copies.has(v)) copies.set(v, mini.graph.addConstant(v.name, v.constant!, { exact: true }));
          const n = mini.graph.addNode({
            op: node.op,
            domain: node.domain,
            inputs: node.inputs.map((v) => (v ? copies.get(v)! : null)),
            outputs: node.outputs.map((o) => (o ? o.name : null)),
            attributes: node.attributes,
          });
          for (const o of n.outputs) if (o) mini.graph.outputs.push(o);
          out = plan(mini).run({});
        } catch {
          continue; // a kernel the backend lacks, a shape it rejects: the node stays
        }
        const results = node.outputs.map((o) => (o ? out[o.name] : undefined));
        if (results.some((t, i) => node.outputs[i] && (!t || t.data.length > FOLD_LIMIT))) continue;
        consts = node.outputs.map((o, i) => (o ? home.addConstant(o.name, constantOf(results[i]!)) : undefined));
        cache.set(key, consts);
      }
      g.removeNode(node, consts);
      for (const v of new Set(ins)) {
        const owner = v.graph;
        if (v.uses.length > 0 || !owner.initializers.includes(v) || owner.outputs.includes(v) || owner.inputs.includes(v)) continue;
        try {
          owner.removeValue(v);
        } catch {
          // still read somewhere (a subgraph output): keep it
        }
      }
      folded++;
    }
  }
  return folded;
}

const SMALL = 1024;

/** The largest integer constant (shapes, axes, indices) `shareConstants` shares. */
const SHARE_INT_BYTES = 64;

/**
 * Identical small initializers of a graph become one (as onnxruntime's constant sharing does): the
 * scalars of decomposed activations (PP-OCR's HardSwish: 3, 0, 6 and 6 again per layer), shapes and
 * axes. Scalars and integer tensors of up to 64 bytes; never a graph input or output, a value a
 * layer reads as a weight or bias (each layer's bias gets its own int32 scale), nor a float operand of
 * a quantizable op (quantized with that node's spec). Returns how many initializers were dropped.
 */
export function shareConstants(model: Model): number {
  // The weight/bias positions come from the ONNX op traits: other formats keep their constants.
  if (model.format !== "onnx") return 0;
  let dropped = 0;
  // A weight or bias position, or a float operand of a quantizable op (static mode quantizes it with
  // that node's spec, and the lowering would point every reader at the dequantized copy: Clip bounds,
  // Pow exponents, int16 and 8-bit nodes alike).
  const asParameter = (v: Value) =>
    v.uses.some((u) => {
      const t = traitsOf(onnxDialect, u.node.op, u.node.domain);
      return (t.weights ?? []).some((w) => w.input === u.index) || (v.constant!.elem === "float32" && t.quantizable && (t.activationInputs ?? []).includes(u.index));
    });
  for (const g of model.allGraphs()) {
    const first = new Map<string, Value>();
    for (const v of [...g.initializers]) {
      const c = v.constant!;
      const integer = c.elem.startsWith("int") || c.elem.startsWith("uint");
      const elements = c.shape.reduce((a, b) => a * b, 1);
      if (!(elements === 1 || (integer && c.byteLength <= SHARE_INT_BYTES)) || g.inputs.includes(v) || g.outputs.includes(v) || asParameter(v)) continue;
      let key: string;
      try {
        key = `${c.elem}[${c.shape}]${contentOf(v)}`;
      } catch {
        continue;
      }
      const kept = first.get(key);
      if (!kept) {
        first.set(key, v);
        continue;
      }
      g.replaceUses(v, kept);
      g.removeValue(v);
      dropped++;
    }
  }
  return dropped;
}

/** The bytes of a small constant, as hex (part of a fold key). */
function contentOf(v: Value): string {
  const t = v.constant!.load();
  const d = t.data as ArrayLike<number | bigint> & { buffer: ArrayBufferLike; byteOffset: number; byteLength: number };
  return Buffer.from(d.buffer, d.byteOffset, d.byteLength).toString("hex");
}

/** Is `a` the graph `g` or one enclosing it? */
function isAncestorOrSelf(a: Graph, g: Graph): boolean {
  for (let x: Graph | undefined = g; x; x = x.parent?.graph) if (x === a) return true;
  return false;
}

/** Nesting depth of a graph (the main graph is 0). */
function depth(g: Graph): number {
  let d = 0;
  for (let p = g.parent; p; p = p.graph.parent) d++;
  return d;
}

export const preprocess: Pass = {
  name: "preprocess",
  requires: ["model"],
  provides: ["preprocessed"],
  run: (model, ctx) =>
    Effect.gen(function* () {
      const from = model.format === "onnx" ? upgradeToOpset13(model) : undefined;
      if (from !== undefined && from < 13) yield* ctx.progress(0, 1, `upgraded the model from opset ${from} to 13`);
      const promoted = promoteConstants(model);
      // Constant folding runs on the pipeline's backend where one is provided (the CLI always provides one).
      const backend = yield* Effect.serviceOption(Backend);
      const constants = Option.isSome(backend) ? foldConstants(model, (m) => backend.value.plan(m)) : 0;
      const folded = foldBatchNorm(model);
      const hardSwish = fuseHardSwish(model);
      const defaults = dropDefaultAttributes(model);
      const shared = shareConstants(model);
      yield* ctx.progress(1, 1, `${promoted} Constant nodes promoted, ${constants} constant nodes folded, ${folded} BatchNormalization folded, ${hardSwish} HardSwish fused, ${defaults} default attributes dropped, ${shared} duplicate constants shared`);
      return model;
    }),
};
