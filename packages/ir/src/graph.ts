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

  /** Renames the value; the new name must be unused in the model (names of removed values stay reserved). */
  rename(name: string): void {
    if (name === this._name) return;
    const scope = this.graph.scope;
    if (scope.has(name)) throw new RewriteError(`cannot rename '${this._name}' to '${name}': name in use`);
    scope.add(name);
    const map = this.graph.valueMap;
    const registered = map.get(this._name) === this;
    if (registered) map.delete(this._name);
    this._name = name;
    if (registered) map.set(name, this);
  }

  get isConstant(): boolean {
    return this.constant !== undefined;
  }

  get isGraphInput(): boolean {
    return this.graph.hasInput(this);
  }

  get isGraphOutput(): boolean {
    return this.graph.hasOutput(this);
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
  /** @internal neighbours in the graph's node list (see `Graph.nodes`). */
  _prev: Node | undefined = undefined;
  /** @internal */
  _next: Node | undefined = undefined;
  /** @internal the graph whose node list holds this node, undefined once removed. */
  _in: Graph | undefined = undefined;
  /** @internal generation of `_in`'s node list this node was linked in. */
  _stamp = 0;

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

  /** Replaces input `index` (updating use lists); `index` may be `inputs.length` to append an input. */
  setInput(index: number, value: Value | null): void {
    if (!Number.isInteger(index) || index < 0 || index > this.inputs.length) {
      throw new RewriteError(`input index ${index} out of range for ${describe(this)}`);
    }
    // Check before touching anything, so that a refused change leaves the use lists intact.
    if (value) checkVisible(this.graph, value, this);
    const old = this.inputs[index];
    if (old === value) return;
    if (old) removeUse(old, this, index);
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
  return isOwnedBy(g, v.graph);
}

function checkVisible(g: Graph, v: Value, node: Node): void {
  if (!visible(g, v)) throw new RewriteError(`value '${v.name}' is not visible from ${describe(node)}`);
}

/** Is `inner` the graph `g` or nested (at any depth) in it? */
function isOwnedBy(inner: Graph, g: Graph): boolean {
  for (let s: Graph | undefined = inner; s; s = s.parent?.graph) if (s === g) return true;
  return false;
}

/**
 * A view of `target` that runs `read` before every access and `write` before every change, so that
 * an array the graph hands out stays a plain, mutable array while the graph keeps indexes over it.
 */
function watched<T>(target: T[], read: () => void, write: () => void): T[] {
  return new Proxy(target, {
    get(t, p) {
      read();
      return Reflect.get(t, p);
    },
    has(t, p) {
      read();
      return Reflect.has(t, p);
    },
    ownKeys(t) {
      read();
      return Reflect.ownKeys(t);
    },
    getOwnPropertyDescriptor(t, p) {
      read();
      return Reflect.getOwnPropertyDescriptor(t, p);
    },
    set(t, p, v) {
      read();
      write();
      return Reflect.set(t, p, v);
    },
    deleteProperty(t, p) {
      read();
      write();
      return Reflect.deleteProperty(t, p);
    },
    defineProperty(t, p, d) {
      read();
      write();
      return Reflect.defineProperty(t, p, d);
    },
  });
}

const noop = (): void => {};

/** Per name scope: the next suffix to try for a base name (names never leave a scope, so it only grows). */
const suffixes = new WeakMap<Set<string>, Map<string, number>>();

/**
 * A graph: ordered nodes, inputs, outputs and initializers. Subgraphs (If/Loop/Scan bodies) are
 * graphs owned by a node's attribute; they share their model's name scope.
 */
export class Graph {
  name: string;
  /**
   * The nodes, in order. Prefer the graph's methods to change it (`addNode`, `insertOnEdge`,
   * `removeNode`, `sort`): they keep use lists right and run in constant time, the list being
   * linked internally; direct changes to the array are allowed and picked up.
   */
  readonly nodes: Node[];
  readonly inputs: Value[];
  readonly outputs: Value[];
  /** Values holding constants, in file order. */
  readonly initializers: Value[] = [];
  docString = "";
  /** Format-specific payload (for lossless writing). */
  origin: unknown = undefined;
  /** @internal values defined in this graph, by name. */
  readonly valueMap = new Map<string, Value>();

  // Node order: `_arr` (behind the `nodes` view) and a linked list through Node._prev/_next.
  // At most one of them is stale: the array after list edits, the list after direct array writes.
  private readonly _arr: Node[] = [];
  private _arrStale = false;
  private _listStale = false;
  private _head: Node | undefined = undefined;
  private _tail: Node | undefined = undefined;
  private _stamp = 1;
  // Membership indexes of `inputs` / `outputs`, rebuilt after a write.
  private readonly _ins: Value[] = [];
  private readonly _outs: Value[] = [];
  private _insSet: Set<Value> | undefined = undefined;
  private _outsSet: Set<Value> | undefined = undefined;
  /** Nodes of this graph that may own subgraphs (pruned lazily). */
  private readonly _owners = new Set<Node>();
  private _parent: Node | undefined;

  /** @internal use `new Model()` / `Graph.subgraph()` / `Model.addGraph()`. */
  constructor(
    name: string,
    /**
     * Every name ever used in the model (shared by subgraphs); `uniqueName` avoids them all.
     * Names stay reserved after their value is removed.
     */
    readonly scope: Set<string>,
    parent: Node | undefined = undefined,
  ) {
    this.name = name;
    this.nodes = watched(
      this._arr,
      () => this._syncArray(),
      () => {
        this._listStale = true;
      },
    );
    // util.inspect looks at a proxy's target without its traps: bring the target up to date first.
    Object.defineProperty(this._arr, Symbol.for("nodejs.util.inspect.custom"), {
      value: () => {
        this._syncArray();
        return [...this._arr];
      },
    });
    this.inputs = watched(this._ins, noop, () => {
      this._insSet = undefined;
    });
    this.outputs = watched(this._outs, noop, () => {
      this._outsSet = undefined;
    });
    this._parent = parent;
    parent?.graph._owners.add(parent);
  }

  /** The node whose attribute owns this graph (undefined for a top-level graph). */
  get parent(): Node | undefined {
    return this._parent;
  }

  set parent(node: Node | undefined) {
    this._parent = node;
    node?.graph._owners.add(node);
  }

  /** Creates an empty subgraph sharing this graph's name scope; attach it with a graph attribute of `owner`. */
  subgraph(name: string, owner?: Node): Graph {
    if (owner && owner.graph !== this) throw new RewriteError(`${describe(owner)} does not belong to graph '${this.name}'`);
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

  /** Is `v` one of this graph's inputs? (Constant time.) */
  hasInput(v: Value): boolean {
    this._insSet ??= new Set(this._ins);
    return this._insSet.has(v);
  }

  /** Is `v` one of this graph's outputs? (Constant time.) */
  hasOutput(v: Value): boolean {
    this._outsSet ??= new Set(this._outs);
    return this._outsSet.has(v);
  }

  /** Is `node` in this graph's node list? (Constant time.) */
  hasNode(node: Node): boolean {
    this._syncList();
    return node._in === this && node._stamp === this._stamp;
  }

  /** A name not used anywhere in the model, based on `base`. */
  uniqueName(base: string): string {
    if (!this.scope.has(base)) return base;
    let next = suffixes.get(this.scope);
    if (!next) suffixes.set(this.scope, (next = new Map()));
    for (let i = next.get(base) ?? 1; ; i++) {
      const n = `${base}_${i}`;
      if (!this.scope.has(n)) {
        next.set(base, i);
        return n;
      }
    }
  }

  /**
   * @internal creates a value owned by this graph. With `exact`, `name` must not be defined in this
   * graph, an enclosing one or a nested one (sibling subgraphs may reuse names); otherwise a fresh name is derived.
   */
  newValue(name: string, type?: TensorType, exact = false): Value {
    if (exact) {
      if (this.value(name)) throw new InvalidGraph(`value '${name}' is defined twice`, `graph '${this.name}'`);
      for (const sub of this.nestedGraphs()) {
        if (sub.valueMap.has(name)) throw new InvalidGraph(`value '${name}' is already defined in nested graph '${sub.name}'`, `graph '${this.name}'`);
      }
    }
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

  /**
   * Adds a node; new output values are created for names/nulls. Appends to `nodes` unless `before`
   * is given. Everything is checked first: on a RewriteError the graph is unchanged.
   */
  addNode(init: NodeInit): Node {
    for (const v of init.inputs) {
      if (v && !visible(this, v)) throw new RewriteError(`value '${v.name}' is not visible from graph '${this.name}'`);
    }
    const seen = new Set<Value>();
    for (const o of init.outputs) {
      if (o === null || typeof o === "string") continue;
      if (o.graph !== this) throw new RewriteError(`output '${o.name}' belongs to another graph`);
      if (o.producer || o.constant || this.hasInput(o) || seen.has(o)) throw new RewriteError(`value '${o.name}' is already defined`);
      if (this.valueMap.get(o.name) !== o) throw new RewriteError(`value '${o.name}' was removed from graph '${this.name}'`);
      seen.add(o);
    }
    if (init.before && !this.hasNode(init.before)) {
      throw new RewriteError(`'before' node ${describe(init.before)} is not in graph '${this.name}'`);
    }
    const node = new Node(this, init);
    for (const [i, v] of init.inputs.entries()) {
      node.inputs.push(v);
      if (v) v.uses.push({ node, index: i });
    }
    for (const o of init.outputs) {
      const v = o === null ? null : typeof o === "string" ? this.newValue(o) : o;
      if (v) v.producer = node;
      node.outputs.push(v);
    }
    for (const a of node.attributes.values()) if (a.type === "graph" || a.type === "graphs") this._owners.add(node);
    this._link(node, init.before);
    return node;
  }

  /**
   * Points every use of `from` (node inputs in any graph, and outputs of this graph and of the
   * graphs nested in it unless `keepOutputs`) at `to`. Uses by `except` are left alone (useful when
   * `to` is computed from `from`). Checked first: on a RewriteError nothing changes.
   */
  replaceUses(from: Value, to: Value, opts: { except?: Node; keepOutputs?: boolean } = {}): void {
    if (from === to) return;
    const uses = from.uses.filter((u) => u.node !== opts.except);
    const outs = opts.keepOutputs ? [] : this.graphsOutputting(from);
    for (const u of uses) if (!visible(u.node.graph, to)) throw new RewriteError(`value '${to.name}' is not visible from ${describe(u.node)}`);
    for (const g of outs) if (!visible(g, to)) throw new RewriteError(`value '${to.name}' is not visible from graph '${g.name}'`);
    for (const u of uses) u.node.setInput(u.index, to);
    for (const g of outs) replaceOutput(g, from, to);
  }

  /**
   * Inserts a node on the edge leaving `value`: the node reads `value` (as input 0 unless `inputs` is given)
   * and its first output replaces `value` for the chosen consumers (by default all of them in this
   * graph and its subgraphs, graph outputs included unless `keepOutputs`). Returns the new node.
   * The node is placed right after the last producer of its inputs in this graph (`value`'s producer,
   * or the start of the graph for graph inputs and constants) unless `before` is given.
   * Checked first: on a RewriteError nothing changes.
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
    let consumers: Use[];
    if (init.consumers) {
      consumers = [...init.consumers];
      for (const u of consumers) {
        if (u.node.inputs[u.index] !== value) throw new RewriteError(`input ${u.index} of ${describe(u.node)} does not read '${value.name}'`);
        if (!isOwnedBy(u.node.graph, this)) throw new RewriteError(`${describe(u.node)} is not in graph '${this.name}' or one of its subgraphs`);
      }
    } else consumers = value.uses.filter((u) => isOwnedBy(u.node.graph, this));
    const inputs = init.inputs ?? [value];
    const outputs = init.outputs ?? [`${value.name}_${init.op}`];
    if (outputs[0] === null || outputs[0] === undefined) throw new RewriteError(`a node inserted on '${value.name}' needs a first output`);
    const outs = init.keepOutputs || init.consumers ? [] : this.graphsOutputting(value);
    const before = init.before ?? this._afterProducers(inputs);
    const { consumers: _c, keepOutputs: _k, ...rest } = init;
    const node = this.addNode({ ...rest, inputs, outputs, ...(before ? { before } : {}) });
    const out = node.outputs[0]!;
    for (const u of consumers) if (u.node !== node) u.node.setInput(u.index, out);
    for (const g of outs) replaceOutput(g, value, out);
    return node;
  }

  /**
   * Replaces a node without inputs that computes one value (an ONNX Constant node) by an initializer
   * holding `constant`: the value itself stays (name, readers, graph-output role), it is just no longer
   * produced by a node. Throws a RewriteError (nothing changed) for a node with inputs or other outputs.
   */
  constantInPlace(node: Node, constant: Constant): Value {
    if (!this.hasNode(node)) throw new RewriteError(`${describe(node)} is not in graph '${this.name}'`);
    const out = node.outputs[0];
    if (!out || node.outputs.length !== 1 || node.inputs.some((v) => v !== null)) throw new RewriteError(`${describe(node)} is not a node without inputs computing one value`);
    if (out.graph !== this) throw new RewriteError(`value '${out.name}' belongs to graph '${out.graph.name}'`);
    node.outputs.length = 0;
    out.producer = undefined;
    this.removeNode(node);
    out.constant = constant;
    out.type = { elem: constant.elem, shape: constant.shape };
    this.initializers.push(out);
    return out;
  }

  /**
   * Removes `node`. Each used output (read by a node or listed as an output of this graph or a
   * nested one) must be given a replacement in `replaceOutputs` (same order as outputs; `undefined`
   * for unused ones), otherwise a RewriteError is thrown and nothing changes. Uses that nodes of the
   * removed node's subgraphs held on outer values are dropped.
   */
  removeNode(node: Node, replaceOutputs: readonly (Value | undefined)[] = []): void {
    if (!this.hasNode(node)) throw new RewriteError(`${describe(node)} is not in graph '${this.name}'`);
    for (const [i, o] of node.outputs.entries()) {
      if (!o) continue;
      const r = replaceOutputs[i];
      const outs = this.graphsOutputting(o);
      if (!r) {
        if (o.uses.length > 0 || outs.length > 0) throw new RewriteError(`cannot remove ${describe(node)}: output '${o.name}' is still used`);
        continue;
      }
      if (r.producer === node) throw new RewriteError(`cannot replace output '${o.name}' of ${describe(node)} by its own output '${r.name}'`);
      for (const u of o.uses) if (!visible(u.node.graph, r)) throw new RewriteError(`value '${r.name}' is not visible from ${describe(u.node)}`);
      for (const g of outs) if (!visible(g, r)) throw new RewriteError(`value '${r.name}' is not visible from graph '${g.name}'`);
    }
    for (const [i, o] of node.outputs.entries()) {
      if (!o) continue;
      const r = replaceOutputs[i];
      if (r) this.replaceUses(o, r);
      o.producer = undefined;
      if (this.valueMap.get(o.name) === o) this.valueMap.delete(o.name);
    }
    for (const [i, v] of node.inputs.entries()) if (v) removeUse(v, node, i);
    for (const sub of node.subgraphs()) dropOuterUses(sub, sub);
    this._owners.delete(node);
    this._unlink(node);
  }

  /** Removes an unused initializer or graph input value. */
  removeValue(v: Value): void {
    if (v.graph !== this) throw new RewriteError(`value '${v.name}' belongs to graph '${v.graph.name}'`);
    if (v.uses.length > 0 || this.graphsOutputting(v).length > 0) throw new RewriteError(`value '${v.name}' is still used`);
    if (v.producer) throw new RewriteError(`value '${v.name}' is produced by ${describe(v.producer)}: remove the node`);
    const ii = this.initializers.indexOf(v);
    if (ii >= 0) this.initializers.splice(ii, 1);
    for (let gi = this.inputs.indexOf(v); gi >= 0; gi = this.inputs.indexOf(v)) this.inputs.splice(gi, 1);
    if (this.valueMap.get(v.name) === v) this.valueMap.delete(v.name);
  }

  /** Nodes in an order where every producer precedes its consumers (stable w.r.t. `nodes`). Throws InvalidGraph on a cycle. */
  topologicalOrder(): Node[] {
    this._syncArray();
    return topoSort(this, this._arr);
  }

  /** Sorts `nodes` in place topologically. */
  sort(): void {
    const order = this.topologicalOrder();
    const a = this._arr;
    for (let i = 0; i < order.length; i++) a[i] = order[i]!;
    this._relink();
  }

  /** Graphs nested in this one (subgraphs of its nodes, at any depth), depth first. */
  nestedGraphs(): Graph[] {
    const out: Graph[] = [];
    const walk = (g: Graph): void => {
      for (const n of g._owners) {
        if (!g.hasNode(n)) {
          g._owners.delete(n);
          continue;
        }
        for (const s of n.subgraphs()) {
          if (s.parent !== n) continue;
          out.push(s);
          walk(s);
        }
      }
    };
    walk(this);
    return out;
  }

  /** This graph and the graphs nested in it that list `v` among their outputs. */
  private graphsOutputting(v: Value): Graph[] {
    const out: Graph[] = [];
    if (this.hasOutput(v)) out.push(this);
    if (this._owners.size > 0) for (const g of this.nestedGraphs()) if (g.hasOutput(v)) out.push(g);
    return out;
  }

  /** The node before which to insert a node reading `inputs`: the one after the last producer in this graph. */
  private _afterProducers(inputs: readonly (Value | null)[]): Node | undefined {
    this._syncList();
    const producers = new Set<Node>();
    for (const v of inputs) if (v?.producer && this.hasNode(v.producer)) producers.add(v.producer);
    if (producers.size === 0) return this._head;
    let last: Node | undefined;
    if (producers.size === 1) [last] = producers;
    else {
      // Rare: several producers. Find the latest by walking the list once.
      let left = producers.size;
      for (let n = this._head; n && left > 0; n = n._next) {
        if (!producers.has(n)) continue;
        last = n;
        left--;
      }
    }
    return last?._next;
  }

  /** Brings `_arr` up to date with the linked list. */
  private _syncArray(): void {
    if (!this._arrStale) return;
    this._arrStale = false;
    const a = this._arr;
    let i = 0;
    for (let n = this._head; n; n = n._next) a[i++] = n;
    a.length = i;
  }

  /** Brings the linked list up to date with `_arr` (after direct writes to `nodes`). */
  private _syncList(): void {
    if (!this._listStale) return;
    this._relink();
  }

  private _relink(): void {
    const where = `graph '${this.name}'`;
    const seen = new Set<Node>();
    for (const n of this._arr) {
      if (seen.has(n)) throw new InvalidGraph(`${describe(n)} is listed twice`, where);
      if (n.graph !== this) throw new InvalidGraph(`${describe(n)} belongs to graph '${n.graph.name}'`, where);
      seen.add(n);
    }
    const stamp = ++this._stamp;
    let prev: Node | undefined;
    for (const n of this._arr) {
      n._in = this;
      n._stamp = stamp;
      n._prev = prev;
      if (prev) prev._next = n;
      else this._head = n;
      prev = n;
    }
    if (prev) prev._next = undefined;
    else this._head = undefined;
    this._tail = prev;
    this._listStale = false;
    this._arrStale = false;
  }

  private _link(node: Node, before: Node | undefined): void {
    this._syncList();
    node._in = this;
    node._stamp = this._stamp;
    const next = before;
    const prev = next ? next._prev : this._tail;
    node._prev = prev;
    node._next = next;
    if (prev) prev._next = node;
    else this._head = node;
    if (next) next._prev = node;
    else this._tail = node;
    if (!next && !this._arrStale) this._arr.push(node);
    else this._arrStale = true;
  }

  private _unlink(node: Node): void {
    this._syncList();
    const { _prev: prev, _next: next } = node;
    if (prev) prev._next = next;
    else this._head = next;
    if (next) next._prev = prev;
    else this._tail = prev;
    node._prev = node._next = node._in = undefined;
    if (!next && !this._arrStale && this._arr[this._arr.length - 1] === node) this._arr.pop();
    else this._arrStale = true;
  }
}

function replaceOutput(g: Graph, from: Value, to: Value): void {
  const outs = g.outputs;
  for (let i = 0; i < outs.length; i++) if (outs[i] === from) outs[i] = to;
}

/** Drops the uses that nodes of `g` (nested in `root`) hold on values defined outside `root`. */
function dropOuterUses(g: Graph, root: Graph): void {
  for (const n of g.nodes) {
    for (const [i, v] of n.inputs.entries()) if (v && !isOwnedBy(v.graph, root)) removeUse(v, n, i);
    for (const s of n.subgraphs()) dropOuterUses(s, root);
  }
}

/**
 * Outer-scope values read by `g` or its nested subgraphs (values defined outside `g`): node inputs,
 * and graph outputs that pass an enclosing graph's value through.
 */
export function outerReads(g: Graph): Set<Value> {
  const out = new Set<Value>();
  const walk = (s: Graph): void => {
    for (const v of s.outputs) if (!isOwnedBy(v.graph, g)) out.add(v);
    for (const n of s.nodes) {
      for (const v of n.inputs) if (v && !isOwnedBy(v.graph, g)) out.add(v);
      for (const sub of n.subgraphs()) walk(sub);
    }
  };
  walk(g);
  return out;
}

function topoSort(g: Graph, nodes: readonly Node[]): Node[] {
  const n = nodes.length;
  const index = new Map<Node, number>();
  for (const [i, node] of nodes.entries()) index.set(node, i);
  // Dependencies of a node: producers (in g) of its inputs and of the outer reads of its subgraphs.
  const indeg = new Int32Array(n);
  const succ: number[][] = Array.from({ length: n }, () => []);
  const preds: number[][] = Array.from({ length: n }, () => []);
  for (let i = 0; i < n; i++) {
    const node = nodes[i]!;
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
      preds[i]!.push(j);
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
    order.push(nodes[i]!);
    for (const j of succ[i]!) if (--indeg[j]! === 0) push(j);
  }
  if (order.length !== n) {
    // Every node left over waits on another left-over node: walking back through them must loop.
    let at = indeg.findIndex((d) => d > 0);
    const step = new Map<number, number>();
    while (!step.has(at)) {
      const p = preds[at]!.find((j) => indeg[j]! > 0)!;
      step.set(at, p);
      at = p;
    }
    const cycle = [at];
    for (let k = step.get(at)!; k !== at; k = step.get(k)!) cycle.push(k);
    // Producer-to-consumer order, starting at the node listed first.
    cycle.reverse();
    const first = cycle.indexOf(cycle.reduce((a, b) => Math.min(a, b)));
    const path = [...cycle.slice(first), ...cycle.slice(0, first)].map((k) => describe(nodes[k]!));
    throw new InvalidGraph(`cycle through ${path.join(" -> ")} -> ${path[0]}`, `graph '${g.name}'`);
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

  /** Adds another top-level graph (a TFLite subgraph, for example) sharing the model's name scope. */
  addGraph(name: string): Graph {
    const g = new Graph(name, this.scope);
    this.graphs.push(g);
    return g;
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
