import { type Graph, type Model, type Node, type Value, describe, outerReads } from "@quanta/ir";
import { type DType, type Tensor, allocate, byteLength, size } from "@quanta/tensor";
import { InputMismatch, InvalidNode, UnsupportedOp } from "./errors.js";
import { type Input, type KernelFn, type KernelTable, type RunContext, type SubgraphPlan, findKernel } from "./kernel.js";

export interface RunOptions {
  /**
   * Called synchronously with every produced value whose name is in `observe` ("all": every value),
   * before its buffer can be reused: the tensor is not copied, so copy what you keep.
   */
  readonly observe?: ReadonlySet<string> | "all";
  readonly onValue?: (name: string, tensor: Tensor) => void;
}

interface Step {
  readonly node: Node;
  readonly fn: KernelFn;
  /** Values to drop after this step (their last reader in this graph). */
  readonly release: readonly Value[];
}

class GraphPlan implements SubgraphPlan {
  readonly steps: Step[] = [];
  readonly constants = new Map<Value, Tensor>();
  constructor(readonly graph: Graph) {}
}

/** Reference-counted buffer recycling: a buffer returns to the free list when no live value holds it. */
class Pool {
  private readonly refs = new Map<ArrayBufferLike, number>();
  private readonly free = new Map<number, ArrayBuffer[]>();

  alloc<D extends DType>(dtype: D, shape: readonly number[]): Tensor<D> {
    const n = size(shape);
    const bytes = byteLength(dtype, n);
    const list = this.free.get(bytes);
    const buf = list?.pop();
    if (buf) {
      new Uint8Array(buf).fill(0);
      this.refs.set(buf, 0);
      return { dtype, shape: [...shape], data: viewOf(dtype, buf, n) };
    }
    const data = allocate(dtype, n);
    this.refs.set(data.buffer, 0);
    return { dtype, shape: [...shape], data };
  }

  retain(t: Tensor): void {
    const r = this.refs.get(t.data.buffer);
    if (r !== undefined) this.refs.set(t.data.buffer, r + 1);
  }

  release(t: Tensor): void {
    const b = t.data.buffer;
    const r = this.refs.get(b);
    if (r === undefined) return;
    if (r > 1) this.refs.set(b, r - 1);
    else {
      this.refs.delete(b);
      const list = this.free.get(b.byteLength) ?? [];
      list.push(b as ArrayBuffer);
      this.free.set(b.byteLength, list);
    }
  }

  /** Forget a buffer (it escapes to the caller). */
  disown(t: Tensor): void {
    this.refs.delete(t.data.buffer);
  }
}

function viewOf<D extends DType>(dtype: D, buf: ArrayBuffer, n: number): Tensor<D>["data"] {
  // allocate() gives the right class; build a view of the recycled buffer with the same class.
  const proto = allocate(dtype, 0);
  const Ctor = proto.constructor as new (b: ArrayBuffer, o: number, l: number) => Tensor<D>["data"];
  const len = dtype === "int4" || dtype === "uint4" ? Math.ceil(n / 2) : n;
  return new Ctor(buf, 0, len);
}

class Env {
  readonly map = new Map<Value, Tensor>();
  constructor(readonly parent?: Env) {}
  get(v: Value): Tensor | undefined {
    for (let e: Env | undefined = this; e; e = e.parent) {
      const t = e.map.get(v);
      if (t) return t;
    }
    return undefined;
  }
}

export interface PlanOptions {
  readonly kernels: KernelTable;
}

/**
 * An execution plan: kernels chosen, attributes checked, constants decoded and value lifetimes
 * computed once; `run` executes it as many times as needed.
 */
export class ExecutionPlan {
  private readonly main: GraphPlan;
  private readonly pool = new Pool();
  /** Model inputs to feed (graph inputs that are not initializers). */
  readonly inputs: readonly Value[];
  readonly outputs: readonly Value[];

  constructor(
    readonly model: Model,
    private readonly options: PlanOptions,
  ) {
    const unsupported: UnsupportedOp[] = [];
    this.main = this.planGraph(model.graph, unsupported);
    if (unsupported.length > 0) {
      const first = unsupported[0]!;
      if (unsupported.length === 1) throw first;
      const kinds = [...new Set(unsupported.map((u) => `${u.domain ? `${u.domain}::` : ""}${u.op}`))];
      throw new UnsupportedOp(first.op, first.domain, first.version, first.node, `${first.reason} (${unsupported.length} nodes unsupported in all: ${kinds.join(", ")})`);
    }
    this.inputs = model.graph.inputs.filter((v) => !v.constant);
    this.outputs = model.graph.outputs;
  }

  private opset(domain: string): number {
    const d = domain === "ai.onnx" ? "" : domain;
    return this.model.opset(d) ?? (d === "" ? 1 : 1);
  }

  private planGraph(g: Graph, unsupported: UnsupportedOp[]): GraphPlan {
    const plan = new GraphPlan(g);
    for (const v of g.initializers) {
      try {
        plan.constants.set(v, v.constant!.load());
      } catch {
        // Undecodable constants (strings, sparse) fail only if a kernel reads them.
      }
    }
    const order = g.topologicalOrder();
    const lastUse = new Map<Value, number>();
    order.forEach((node, i) => {
      for (const v of node.inputs) if (v && v.graph === g) lastUse.set(v, i);
      for (const sub of node.subgraphs()) for (const v of outerReads(sub)) if (v.graph === g) lastUse.set(v, i);
    });
    const keep = new Set<Value>(g.outputs);
    const releaseAt: Value[][] = order.map(() => []);
    order.forEach((node, i) => {
      for (const o of node.outputs) if (o && !keep.has(o) && !lastUse.has(o)) releaseAt[i]!.push(o);
    });
    for (const [v, i] of lastUse) if (!keep.has(v) && !v.constant && !g.inputs.includes(v)) releaseAt[i]!.push(v);
    for (const [i, node] of order.entries()) {
      const version = this.opset(node.domain);
      const kernel = findKernel(this.options.kernels, node.op, node.domain, version);
      const name = node.name || describe(node);
      if (!kernel) {
        unsupported.push(new UnsupportedOp(node.op, node.domain, version, name));
        continue;
      }
      const ctx = {
        opset: version,
        planSubgraph: (sub: Graph) => this.planGraph(sub, unsupported),
        constantInput: (index: number): Tensor | undefined => {
          const v = node.inputs[index];
          if (!v) return undefined;
          return constantOf(v, plan);
        },
      };
      try {
        plan.steps.push({ node, fn: kernel.prepare(node, ctx), release: releaseAt[i]! });
      } catch (e) {
        if (e instanceof UnsupportedOp) unsupported.push(e);
        else if (e instanceof InvalidNode) throw e;
        else throw new InvalidNode(name, (e as Error).message);
      }
    }
    return plan;
  }

  /** Runs the model on named inputs; returns the graph outputs by name. */
  run(feeds: Readonly<Record<string, Tensor>>, options: RunOptions = {}): Record<string, Tensor> {
    for (const v of this.inputs) {
      const t = feeds[v.name];
      if (!t) throw new InputMismatch(v.name, describeType(v), "nothing (input missing)");
      checkInput(v, t);
    }
    for (const name of Object.keys(feeds)) {
      if (!this.model.graph.inputs.some((v) => v.name === name)) {
        throw new InputMismatch(name, `one of ${this.inputs.map((v) => `'${v.name}'`).join(", ")}`, "an input the model does not have");
      }
    }
    const env = new Env();
    for (const v of this.model.graph.inputs) {
      const t = feeds[v.name];
      if (t) env.map.set(v, t);
    }
    const outs = this.exec(this.main, env, options);
    const result: Record<string, Tensor> = {};
    this.model.graph.outputs.forEach((v, i) => {
      const t = outs[i]!;
      this.pool.disown(t);
      result[v.name] = t;
    });
    return result;
  }

  private exec(plan: GraphPlan, env: Env, options: RunOptions): Tensor[] {
    for (const [v, t] of plan.constants) if (!env.map.has(v)) env.map.set(v, t);
    const pool = this.pool;
    const observe = options.observe;
    const onValue = options.onValue;
    const ctx: RunContext = {
      alloc: (dtype, shape) => pool.alloc(dtype, shape),
      release: (t) => pool.release(t),
      runSubgraph: (sub, inputs) => {
        const gp = sub as GraphPlan;
        const child = new Env(env);
        gp.graph.inputs.forEach((v, i) => {
          const t = inputs[i];
          if (t) child.map.set(v, t);
        });
        return this.exec(gp, child, options);
      },
    };
    const ins: Input[] = [];
    for (const step of plan.steps) {
      const node = step.node;
      ins.length = 0;
      for (const v of node.inputs) {
        if (!v) {
          ins.push(undefined);
          continue;
        }
        const t = env.get(v);
        if (!t) throw new InvalidNode(node.name || describe(node), `input '${v.name}' has no value`);
        ins.push(t);
      }
      let outs: readonly (Tensor | undefined)[];
      try {
        outs = step.fn(ins, ctx);
      } catch (e) {
        if (e instanceof InvalidNode || e instanceof UnsupportedOp) throw e;
        throw new InvalidNode(node.name || describe(node), `${node.op} failed: ${(e as Error).message}`);
      }
      for (const [k, o] of node.outputs.entries()) {
        if (!o) continue;
        const t = outs[k];
        if (!t) throw new InvalidNode(node.name || describe(node), `${node.op} produced no value for output ${k} ('${o.name}')`);
        env.map.set(o, t);
        pool.retain(t);
        if (onValue && observe && (observe === "all" || observe.has(o.name))) onValue(o.name, t);
      }
      for (const v of step.release) {
        const t = env.map.get(v);
        if (t) {
          env.map.delete(v);
          pool.release(t);
        }
      }
    }
    return plan.graph.outputs.map((v) => {
      const t = env.get(v);
      if (!t) throw new InvalidNode(plan.graph.name, `graph output '${v.name}' has no value`);
      return t;
    });
  }
}

function constantOf(v: Value, plan: GraphPlan): Tensor | undefined {
  for (let p: GraphPlan | undefined = plan; p; p = undefined) {
    const t = p.constants.get(v);
    if (t) return t;
  }
  if (v.constant) {
    try {
      return v.constant.load();
    } catch {
      return undefined;
    }
  }
  const prod = v.producer;
  if (prod && prod.op === "Constant" && (prod.domain === "" || prod.domain === "ai.onnx")) {
    const a = prod.attributes.get("value");
    if (a?.type === "tensor") return a.value.load();
  }
  return undefined;
}

function describeType(v: Value): string {
  const t = v.type;
  if (!t) return "a tensor";
  return `${t.elem}${t.shape ? `[${t.shape.map((d) => (d === null ? "?" : d)).join(", ")}]` : ""}`;
}

function checkInput(v: Value, t: Tensor): void {
  const ty = v.type;
  if (!ty) return;
  const got = `${t.dtype}[${t.shape.join(", ")}]`;
  if (ty.elem !== t.dtype) throw new InputMismatch(v.name, describeType(v), got);
  if (ty.shape) {
    if (ty.shape.length !== t.shape.length) throw new InputMismatch(v.name, describeType(v), got);
    for (let i = 0; i < t.shape.length; i++) {
      const d = ty.shape[i];
      if (typeof d === "number" && d !== t.shape[i]) throw new InputMismatch(v.name, describeType(v), got);
    }
  }
}
