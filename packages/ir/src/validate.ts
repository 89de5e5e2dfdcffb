import { InvalidGraph } from "./errors.js";
import { type Graph, type Model, describe } from "./graph.js";

/** Problems found in a graph, one line each; empty when the graph is valid. */
export function problems(model: Model): string[] {
  const out: string[] = [];
  for (const g of model.allGraphs()) checkGraph(g, out);
  return out;
}

/** Throws `InvalidGraph` naming the first problem (and how many more there are). */
export function validate(model: Model): void {
  const p = problems(model);
  if (p.length > 0) throw new InvalidGraph(p[0]! + (p.length > 1 ? ` (and ${p.length - 1} more problems)` : ""));
}

function checkGraph(g: Graph, out: string[]): void {
  const where = `graph '${g.name}'`;
  const nodeSet = new Set(g.nodes);
  if (nodeSet.size !== g.nodes.length) out.push(`${where}: a node is listed twice`);
  const defined = (v: { graph: Graph; name: string }) => v.graph.valueMap.get(v.name) === v;
  for (const v of g.inputs) if (!defined(v)) out.push(`${where}: input '${v.name}' is not defined in the graph`);
  for (const v of g.initializers) if (!v.constant) out.push(`${where}: initializer '${v.name}' has no constant`);
  for (const node of g.nodes) {
    if (node.graph !== g) out.push(`${where}: ${describe(node)} belongs to another graph`);
    for (const [i, v] of node.inputs.entries()) {
      if (!v) continue;
      if (!defined(v)) {
        out.push(`${where}: ${describe(node)} input ${i} reads '${v.name}', which is not defined`);
        continue;
      }
      let vis = false;
      for (let s: Graph | undefined = g; s; s = s.parent?.graph) if (s === v.graph) vis = true;
      if (!vis) out.push(`${where}: ${describe(node)} reads '${v.name}' from a graph that does not enclose it`);
      if (!v.uses.some((u) => u.node === node && u.index === i)) out.push(`${where}: use list of '${v.name}' misses ${describe(node)}`);
      if (!v.producer && !v.constant && !v.graph.inputs.includes(v)) out.push(`${where}: '${v.name}' read by ${describe(node)} has no producer`);
      if (v.producer && !v.producer.graph.nodes.includes(v.producer)) out.push(`${where}: producer of '${v.name}' was removed`);
    }
    for (const o of node.outputs) {
      if (!o) continue;
      if (o.producer !== node) out.push(`${where}: output '${o.name}' of ${describe(node)} names another producer`);
      if (!defined(o)) out.push(`${where}: output '${o.name}' of ${describe(node)} is not registered`);
    }
    for (const s of node.subgraphs()) if (s.parent !== node) out.push(`${where}: subgraph '${s.name}' of ${describe(node)} has the wrong parent`);
  }
  for (const v of g.valueMap.values()) {
    for (const u of v.uses) {
      if (u.node.inputs[u.index] !== v) out.push(`${where}: stale use of '${v.name}' by ${describe(u.node)}`);
    }
  }
  for (const v of g.outputs) {
    if (!defined(v)) out.push(`${where}: output '${v.name}' is not defined`);
    else if (!v.producer && !v.constant && !v.graph.inputs.includes(v)) out.push(`${where}: output '${v.name}' has no producer`);
  }
  try {
    g.topologicalOrder();
  } catch (e) {
    out.push((e as Error).message);
  }
}
