import { InvalidGraph, RewriteError } from "./errors.js";
import type { Attribute, Constant, MetadataEntry, OpsetImport, TensorType, ValueQuantization } from "./types.js";

/** One use of a value: input `index` of `node`. */
export interface Use {
  readonly node: Node;
  readonly index: number;
}

/**
 * A value (an SSA edge): produced by at most one node, a graph input or a constant (initializer).
 * A node in a subgraph may use a value of an enclosing graph (outer-scope reference).
 */
export class Value {
  /** The node that produces this value, if any. */
  producer: Node | undefined = undefined;
  /** Inputs of nodes that read this value, in no particular order. */
  readonly uses: Use[] = [];
  type: TensorType | undefined;
  /** Set for initializers. */
  constant: Constant | undefined = undefined;
  quantization: ValueQuantization | undefined = undefined;
  docString = "";
  /** Format-specific payload (for lossless writing). */
  origin: unknown = undefined;

  /** @internal use `graph.value()` / `graph.addInput()` / `graph.addConstant()` / `graph.addNode()`. */
  constructor(
    readonly graph: Graph,
    private _name: string,
    type?: TensorType,
  ) {
    this.type = type;
  }

  get name(): string {
    return this._name;
  }

  /** Renames the value; the new name must be unused in the model. */
  rename(name: string): void {
    if (name === this._name) return;
    const scope = this.graph.scope;
    if (scope.has(name)) throw new RewriteError(`cannot rename '${this._name}' to '${name}': name in use`);
    scope.add(name);
    this.graph.valueMap.delete(this._name);
    this._name = name;
    this.graph.valueMap.set(name, this);
  }

  get isConstant(): boolean {
    return this.constant !== undefined;
  }

  get isGraphInput(): boolean {
    return this.graph.inputs.includes(this);
  }

  get isGraphOutput(): boolean {
    return this.graph.outputs.includes(this);
  }
}

export interface NodeInit {
  readonly op: string;
  /** "" is the default ONNX domain. */
  readonly domain?: string;
  readonly name?: string;
  /** Inputs; `null` marks an omitted optional input. */
  readonly inputs: readonly (Value | null)[];
  /** Outputs: existing unproduced values, or names/null for new ones. */
  readonly outputs: readonly (Value | string | null)[];
  readonly attributes?: Readonly<Record<string, Attribute>> | ReadonlyMap<string, Attribute>;
  readonly docString?: string;
  /** Insert before this node (defaults to the end, or after the last producer of an input when using `insertOnEdge`). */
  readonly before?: Node;
}

/** An operator application. */
export class Node {
  op: string;
  domain: string;
  name: string;
  readonly inputs: (Value | null)[] = [];
  readonly outputs: (Value | null)[] = [];
  readonly attributes: Map<string, Attribute>;
  docString: string;
  /** Format-specific payload (for lossless writing). */
  origin: unknown = undefined;

  /** @internal use `graph.addNode()`. */
  constructor(
    readonly graph: Graph,
    init: NodeInit,
  ) {
    this.op = init.op;
    this.domain = init.domain ?? "";
    this.name = init.name ?? "";
    this.docString = init.docString ?? "";
    const a = init.attributes;
    this.attributes = a === undefined ? new Map() : a instanceof Map ? new Map(a) : new Map(Object.entries(a));
  }

  attr(name: string): Attribute | undefined {
    return this.attributes.get(name);
  }

  /** An int attribute as a number (int64 values beyond 2^53 lose precision), or `fallback`. */
  int(name: string, fallback: number): number;
  int(name: string): number | undefined;
  int(name: string, fallback?: number): number | undefined {
    const a = this.attributes.get(name);
    return a?.type === "int" ? Number(a.value) : fallback;
  }

  float(name: string, fallback: number): number;
  float(name: string): number | undefined;
  float(name: string, fallback?: number): number | undefined {
    const a = this.attributes.get(name);
    return a?.type === "float" ? a.value : fallback;
  }

  ints(name: string): number[] | undefined {
    const a = this.attributes.get(name);
    return a?.type === "ints" ? a.value.map(Number) : undefined;
  }

  string(name: string, fallback: string): string;
  string(name: string): string | undefined;
  string(name: string, fallback?: string): string | undefined {
    const a = this.attributes.get(name);
    return a?.type === "string" ? a.value : fallback;
  }

  /** Subgraphs held by graph/graphs attributes, in attribute order. */
  subgraphs(): Graph[] {
    const out: Graph[] = [];
    for (const a of this.attributes.values()) {
      if (a.type === "graph") out.push(a.value);
      else if (a.type === "graphs") out.push(...a.value);
    }
    return out;
  }

  /** Replaces input `index` (updating use lists). */
  setInput(index: number, value: Value | null): void {
    if (index < 0 || index > this.inputs.length) throw new RewriteError(`input index ${index} out of range for ${describe(this)}`);
    const old = this.inputs[index];
    if (old) removeUse(old, this, index);
    if (value) checkVisible(this.graph, value, this);
    this.inputs[index] = value;
    if (value) value.uses.push({ node: this, index });
  }
}

function removeUse(v: Value, node: Node, index: number): void {
  const i = v.uses.findIndex((u) => u.node === node && u.index === index);
  if (i >= 0) v.uses.splice(i, 1);
}

/** "Conv 'conv1'" style label for messages. */
export function describe(node: Node): string {
  const dom = node.domain && node.domain !== "ai.onnx" ? `${node.domain}::` : "";
  return `${dom}${node.op}${node.name ? ` '${node.name}'` : ""}`;
}

/** Is `v` visible from graph `g` (defined in g or an enclosing graph)? */
function visible(g: Graph, v: Value): boolean {
  for (let s: Graph | undefined = g; s; s = s.parent?.graph) if (v.graph === s) return true;
  return false;
}

function checkVisible(g: Graph, v: Value, node: Node): void {
  if (!visible(g, v)) throw new RewriteError(`value '${v.name}' is not visible from ${describe(node)}`);
}

/**
 * A graph: ordered nodes, inputs, outputs and initializers. Subgraphs (If/Loop/Scan bodies) are
 * graphs owned by a node's attribute; they share their model's name scope.
 */
export class Graph {
  name: string;
  readonly nodes: Node[] = [];
  readonly inputs: Value[] = [];
  readonly outputs: Value[] = [];
  /** Values holding constants, in file order. */
  readonly initializers: Value[] = [];
  docString = "";
  /** Format-specific payload (for lossless writing). */
  origin: unknown = undefined;
  /** @internal values defined in this graph, by name. */
  readonly valueMap = new Map<string, Value>();

  /** @internal use `new Model()` / `Graph.subgraph()`. */
  constructor(
    name: string,
    /**
     * Every name ever used in the model (shared by subgraphs); `uniqueName` avoids them all.
     * Names stay reserved after their value is removed.
     */
    readonly scope: Set<string>,
    /** The node whose attribute owns this graph (undefined for a main graph). */
    public parent: Node | undefined = undefined,
  ) {
    this.name = name;
  }

  /** Creates an empty subgraph sharing this graph's name scope; attach it with a graph attribute. */
  subgraph(name: string, owner?: Node): Graph {
    return new Graph(name, this.scope, owner);
  }

  /** The value named `name` defined in this graph or, when `outer` is true, an enclosing graph. */
  value(name: string, outer = true): Value | undefined {
    for (let g: Graph | undefined = this; g; g = outer ? g.parent?.graph : undefined) {
      const v = g.valueMap.get(name);
      if (v) return v;
    }
    return undefined;
  }

  /** Values defined in this graph (inputs, initializers, node outputs), in creation order. */
  values(): IterableIterator<Value> {
    return this.valueMap.values();
  }

  /** A name not used anywhere in the model, based on `base`. */
  uniqueName(base: string): string {
    if (!this.scope.has(base)) return base;
    for (let i = 1; ; i++) {
      const n = `${base}_${i}`;
      if (!this.scope.has(n)) return n;
    }
  }

  /**
   * @internal creates a value owned by this graph. With `exact`, `name` must not be defined in this
   * graph or an enclosing one (sibling subgraphs may reuse names); otherwise a fresh name is derived.
   */
  newValue(name: string, type?: TensorType, exact = false): Value {
    if (exact && this.value(name)) throw new InvalidGraph(`value '${name}' is defined twice`, `graph '${this.name}'`);
    const n = exact ? name : this.uniqueName(name);
    const v = new Value(this, n, type);
    this.scope.add(n);
    this.valueMap.set(n, v);
    return v;
  }

  addInput(name: string, type?: TensorType): Value {
    const v = this.newValue(name, type, true);
    this.inputs.push(v);
    return v;
  }

  /** Adds an initializer. With `exact`, `name` must be unused; otherwise a unique name is derived. */
  addConstant(name: string, constant: Constant, opts: { exact?: boolean } = {}): Value {
    const v = this.newValue(name, { elem: constant.elem, shape: constant.shape }, opts.exact ?? false);
    v.constant = constant;
    this.initializers.push(v);
    return v;
  }

  /** Marks `v` (visible from this graph) as a graph output. */
  addOutput(v: Value): void {
    if (!visible(this, v)) throw new RewriteError(`value '${v.name}' is not visible from graph '${this.name}'`);
    this.outputs.push(v);
  }

  /** Adds a node; new output values are created for names/nulls. Keeps `nodes` in insertion order. */
  addNode(init: NodeInit): Node {
    const node = new Node(this, init);
    for (const [i, v] of init.inputs.entries()) {
      if (v) checkVisible(this, v, node);
      node.inputs.push(v);
      if (v) v.uses.push({ node, index: i });
    }
    for (const o of init.outputs) {
      if (o === null) {
        node.outputs.push(null);
        continue;
      }
      const v = typeof o === "string" ? this.newValue(o) : o;
      if (v.graph !== this) throw new RewriteError(`output '${v.name}' belongs to another graph`);
      if (v.producer || v.constant || v.isGraphInput) throw new RewriteError(`value '${v.name}' is already defined`);
      v.producer = node;
      node.outputs.push(v);
    }
    if (init.before) {
      const at = this.nodes.indexOf(init.before);
      if (at < 0) throw new RewriteError(`'before' node ${describe(init.before)} is not in graph '${this.name}'`);
      this.nodes.splice(at, 0, node);
    } else this.nodes.push(node);
    return node;
  }

  /**
   * Points every use of `from` (node inputs in this graph and its subgraphs, and graph outputs
   * unless `keepOutputs`) at `to`. Uses by `except` are left alone (useful when `to` is computed from `from`).
   */
  replaceUses(from: Value, to: Value, opts: { except?: Node; keepOutputs?: boolean } = {}): void {
    if (from === to) return;
    for (const u of [...from.uses]) {
      if (u.node === opts.except) continue;
      if (!visible(u.node.graph, to)) throw new RewriteError(`value '${to.name}' is not visible from ${describe(u.node)}`);
      u.node.setInput(u.index, to);
    }
    if (!opts.keepOutputs) {
      const outs = this.outputs;
      for (let i = 0; i < outs.length; i++) if (outs[i] === from) outs[i] = to;
    }
  }

  /**
   * Inserts a node on the edge leaving `value`: the node reads `value` (as input 0 unless `inputs` is given)
   * and its first output replaces `value` for the chosen consumers (all of them by default,
   * graph outputs included unless `keepOutputs`). Returns the new node. The node is placed right
   * after `value`'s producer (or at the start for graph inputs and constants).
   */
  insertOnEdge(
    value: Value,
    init: Omit<NodeInit, "inputs" | "outputs"> & {
      inputs?: readonly (Value | null)[];
      outputs?: readonly (Value | string | null)[];
      consumers?: readonly Use[];
      keepOutputs?: boolean;
    },
  ): Node {
    if (!visible(this, value)) throw new RewriteError(`value '${value.name}' is not visible from graph '${this.name}'`);
    const consumers = init.consumers ? [...init.consumers] : value.uses.filter((u) => u.node.graph === this || isInside(u.node.graph, this));
    let before = init.before;
    if (!before) {
      const p = value.producer && value.producer.graph === this ? this.nodes.indexOf(value.producer) : -1;
      before = this.nodes[p + 1];
    }
    const node = this.addNode({
      ...init,
      inputs: init.inputs ?? [value],
      outputs: init.outputs ?? [`${value.name}_${init.op}`],
      ...(before ? { before } : {}),
    });
    const out = node.outputs[0];
    if (!out) throw new RewriteError(`inserted node ${describe(node)} has no first output`);
    for (const u of consumers) if (u.node !== node) u.node.setInput(u.index, out);
    if (!init.keepOutputs && !init.consumers) {
      for (let i = 0; i < this.outputs.length; i++) if (this.outputs[i] === value) this.outputs[i] = out;
    }
    return node;
  }

  /**
   * Removes `node`. Each used output must be given a replacement in `replaceOutputs` (same order as
   * outputs; `undefined` for unused ones), otherwise a RewriteError is thrown and nothing changes.
   */
  removeNode(node: Node, replaceOutputs: readonly (Value | undefined)[] = []): void {
    const at = this.nodes.indexOf(node);
    if (at < 0) throw new RewriteError(`${describe(node)} is not in graph '${this.name}'`);
    for (const [i, o] of node.outputs.entries()) {
      if (!o) continue;
      const used = o.uses.length > 0 || this.outputs.includes(o);
      if (used && !replaceOutputs[i]) throw new RewriteError(`cannot remove ${describe(node)}: output '${o.name}' is still used`);
    }
    for (const [i, o] of node.outputs.entries()) {
      if (!o) continue;
      const r = replaceOutputs[i];
      if (r) this.replaceUses(o, r);
      o.producer = undefined;
      this.valueMap.delete(o.name);
    }
    for (const [i, v] of node.inputs.entries()) if (v) removeUse(v, node, i);
    this.nodes.splice(at, 1);
  }

  /** Removes an unused initializer or graph input value. */
  removeValue(v: Value): void {
    if (v.graph !== this) throw new RewriteError(`value '${v.name}' belongs to graph '${v.graph.name}'`);
    if (v.uses.length > 0 || this.outputs.includes(v)) throw new RewriteError(`value '${v.name}' is still used`);
    if (v.producer) throw new RewriteError(`value '${v.name}' is produced by ${describe(v.producer)}: remove the node`);
    const ii = this.initializers.indexOf(v);
    if (ii >= 0) this.initializers.splice(ii, 1);
    const gi = this.inputs.indexOf(v);
    if (gi >= 0) this.inputs.splice(gi, 1);
    this.valueMap.delete(v.name);
  }

  /** Nodes in an order where every producer precedes its consumers (stable w.r.t. `nodes`). Throws InvalidGraph on a cycle. */
  topologicalOrder(): Node[] {
    return topoSort(this);
  }

  /** Sorts `nodes` in place topologically. */
  sort(): void {
    const order = topoSort(this);
    this.nodes.splice(0, this.nodes.length, ...order);
  }
}

function isInside(g: Graph, outer: Graph): boolean {
  for (let s: Graph | undefined = g.parent?.graph; s; s = s.parent?.graph) if (s === outer) return true;
  return false;
}

/** Outer-scope values read by `g` or its nested subgraphs (values defined outside `g`). */
export function outerReads(g: Graph): Set<Value> {
  const out = new Set<Value>();
  const walk = (s: Graph): void => {
    for (const n of s.nodes) {
      for (const v of n.inputs) if (v && !isOwnedBy(v.graph, g)) out.add(v);
      for (const sub of n.subgraphs()) walk(sub);
    }
  };
  walk(g);
  return out;
}

function isOwnedBy(inner: Graph, g: Graph): boolean {
  for (let s: Graph | undefined = inner; s; s = s.parent?.graph) if (s === g) return true;
  return false;
}

function topoSort(g: Graph): Node[] {
  const n = g.nodes.length;
  const index = new Map<Node, number>();
  for (const [i, node] of g.nodes.entries()) index.set(node, i);
  // Dependencies of a node: producers (in g) of its inputs and of the outer reads of its subgraphs.
  const indeg = new Int32Array(n);
  const succ: number[][] = Array.from({ length: n }, () => []);
  for (let i = 0; i < n; i++) {
    const node = g.nodes[i]!;
    const deps = new Set<number>();
    const add = (v: Value | null) => {
      if (!v?.producer || v.producer.graph !== g) return;
      const j = index.get(v.producer);
      if (j !== undefined) deps.add(j);
    };
    for (const v of node.inputs) add(v);
    for (const sub of node.subgraphs()) for (const v of outerReads(sub)) add(v);
    for (const j of deps) {
      succ[j]!.push(i);
      indeg[i]!++;
    }
  }
  // Kahn's algorithm with a min-heap on original position for stability.
  const heap: number[] = [];
  const push = (x: number) => {
    heap.push(x);
    let i = heap.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (heap[p]! <= heap[i]!) break;
      [heap[p], heap[i]] = [heap[i]!, heap[p]!];
      i = p;
    }
  };
  const pop = (): number => {
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && heap[l]! < heap[m]!) m = l;
        if (r < heap.length && heap[r]! < heap[m]!) m = r;
        if (m === i) break;
        [heap[m], heap[i]] = [heap[i]!, heap[m]!];
        i = m;
      }
    }
    return top;
  };
  for (let i = 0; i < n; i++) if (indeg[i] === 0) push(i);
  const order: Node[] = [];
  while (heap.length > 0) {
    const i = pop();
    order.push(g.nodes[i]!);
    for (const j of succ[i]!) if (--indeg[j]! === 0) push(j);
  }
  if (order.length !== n) {
    const stuck = g.nodes.find((_, i) => indeg[i]! > 0)!;
    throw new InvalidGraph(`cycle through ${describe(stuck)}`, `graph '${g.name}'`);
  }
  return order;
}

/** A model: a main graph plus model-level facts. Format-specific extras live in `origin`. */
export class Model {
  readonly scope = new Set<string>();
  readonly graph: Graph;
  /** Additional top-level graphs (TFLite subgraphs referenced by index, for example). */
  readonly graphs: Graph[] = [];
  /** Format the model was read from ("onnx", "tflite", ...). Decides which dialect's op traits apply. */
  format: string;
  opsets: OpsetImport[] = [];
  irVersion = 0n;
  producerName = "";
  producerVersion = "";
  domain = "";
  modelVersion = 0n;
  docString = "";
  metadata: MetadataEntry[] = [];
  /** Format-specific payload (for lossless writing). */
  origin: unknown = undefined;

  constructor(format: string, graphName = "main") {
    this.format = format;
    this.graph = new Graph(graphName, this.scope);
  }

  /** The version of `domain` ("" or "ai.onnx" for the default domain) imported by the model, if any. */
  opset(domain = ""): number | undefined {
    const d = domain === "ai.onnx" ? "" : domain;
    return this.opsets.find((o) => (o.domain === "ai.onnx" ? "" : o.domain) === d)?.version;
  }

  /** Every graph of the model: main graph(s) then nested subgraphs, depth first. */
  allGraphs(): Graph[] {
    const out: Graph[] = [];
    const walk = (g: Graph) => {
      out.push(g);
      for (const n of g.nodes) for (const s of n.subgraphs()) walk(s);
    };
    walk(this.graph);
    for (const g of this.graphs) walk(g);
    return out;
  }
}
