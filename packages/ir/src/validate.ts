import { InvalidGraph } from "./errors.js";
import { type Graph, type Model, type Node, type Value, describe } from "./graph.js";

/** Problems found in a graph, one line each; empty when the graph is valid. */
export function problems(model: Model): string[] {
  const out: string[] = [];
  const ctx = new Context();
  for (const g of model.allGraphs()) checkGraph(g, out, ctx);
  return out;
}

/** Throws `InvalidGraph` naming the first problem (and how many more there are). */
export function validate(model: Model): void {
  const p = problems(model);
  if (p.length > 0) throw new InvalidGraph(p[0]! + (p.length > 1 ? ` (and ${p.length - 1} more problems)` : ""));
}

/** Per-graph indexes built once, so that checking a graph is linear in its size. */
class Context {
  private readonly nodeSets = new Map<Graph, Set<Node>>();
  private readonly inputSets = new Map<Graph, Set<Value>>();
  private readonly ids = new Map<Node, number>();
  private readonly useKeys = new Map<Value, Set<string>>();

  listed(node: Node): boolean {
    let s = this.nodeSets.get(node.graph);
    if (!s) this.nodeSets.set(node.graph, (s = new Set(node.graph.nodes)));
    return s.has(node);
  }

  isInput(v: Value): boolean {
    let s = this.inputSets.get(v.graph);
    if (!s) this.inputSets.set(v.graph, (s = new Set(v.graph.inputs)));
    return s.has(v);
  }

  key(node: Node, index: number): string {
    let id = this.ids.get(node);
    if (id === undefined) this.ids.set(node, (id = this.ids.size));
    return `${id}:${index}`;
  }

  /** Does `v`'s use list record input `index` of `node`? */
  hasUse(v: Value, node: Node, index: number): boolean {
    if (v.uses.length < 8) return v.uses.some((u) => u.node === node && u.index === index);
    let s = this.useKeys.get(v);
    if (!s) this.useKeys.set(v, (s = new Set(v.uses.map((u) => this.key(u.node, u.index)))));
    return s.has(this.key(node, index));
  }
}

const enclosing = (g: Graph, v: Value): boolean => {
  for (let s: Graph | undefined = g; s; s = s.parent?.graph) if (s === v.graph) return true;
  return false;
};

function checkGraph(g: Graph, out: string[], ctx: Context): void {
  const where = `graph '${g.name}'`;
  const nodes = [...g.nodes];
  const nodeSet = new Set(nodes);
  if (nodeSet.size !== nodes.length) out.push(`${where}: a node is listed twice`);
  const defined = (v: Value) => v.graph.valueMap.get(v.name) === v;
  const hasSource = (v: Value) => !!v.producer || !!v.constant || ctx.isInput(v);
  for (const v of g.inputs) if (!defined(v)) out.push(`${where}: input '${v.name}' is not defined in the graph`);
  for (const v of g.initializers) {
    if (!v.constant) out.push(`${where}: initializer '${v.name}' has no constant`);
    if (!defined(v)) out.push(`${where}: initializer '${v.name}' is not defined in the graph`);
  }
  // A subgraph may reuse a sibling's names, not an enclosing graph's.
  if (g.parent) {
    for (const name of g.valueMap.keys()) {
      const outer = g.parent.graph.value(name);
      if (outer) out.push(`${where}: '${name}' redefines a value of enclosing graph '${outer.graph.name}'`);
    }
  }
  for (const node of nodes) {
    if (node.graph !== g) out.push(`${where}: ${describe(node)} belongs to another graph`);
    for (const [i, v] of node.inputs.entries()) {
      if (!v) continue;
      if (!defined(v)) {
        out.push(`${where}: ${describe(node)} input ${i} reads '${v.name}', which is not defined`);
        continue;
      }
      if (!enclosing(g, v)) out.push(`${where}: ${describe(node)} reads '${v.name}' from a graph that does not enclose it`);
      if (!ctx.hasUse(v, node, i)) out.push(`${where}: use list of '${v.name}' misses ${describe(node)}`);
      if (!hasSource(v)) out.push(`${where}: '${v.name}' read by ${describe(node)} has no producer`);
      if (v.producer && !ctx.listed(v.producer)) out.push(`${where}: producer of '${v.name}' was removed`);
    }
    for (const o of node.outputs) {
      if (!o) continue;
      if (o.producer !== node) out.push(`${where}: output '${o.name}' of ${describe(node)} names another producer`);
      if (!defined(o)) out.push(`${where}: output '${o.name}' of ${describe(node)} is not registered`);
    }
    for (const s of node.subgraphs()) if (s.parent !== node) out.push(`${where}: subgraph '${s.name}' of ${describe(node)} has the wrong parent`);
  }
  for (const v of g.valueMap.values()) {
    const seen = new Set<string>();
    for (const u of v.uses) {
      if (u.node.inputs[u.index] !== v) out.push(`${where}: stale use of '${v.name}' by ${describe(u.node)}`);
      else if (!ctx.listed(u.node)) out.push(`${where}: '${v.name}' is used by ${describe(u.node)}, which was removed`);
      const k = ctx.key(u.node, u.index);
      if (seen.has(k)) out.push(`${where}: use of '${v.name}' by ${describe(u.node)} is listed twice`);
      seen.add(k);
    }
  }
  for (const v of g.outputs) {
    if (!defined(v)) out.push(`${where}: output '${v.name}' is not defined`);
    else if (!enclosing(g, v)) out.push(`${where}: output '${v.name}' comes from a graph that does not enclose it`);
    else if (!hasSource(v)) out.push(`${where}: output '${v.name}' has no producer`);
  }
  try {
    g.topologicalOrder();
  } catch (e) {
    out.push((e as Error).message);
  }
}
