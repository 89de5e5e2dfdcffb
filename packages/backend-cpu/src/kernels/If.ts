import type { Kernel } from "../kernel.js";
import { invalid } from "./util.js";

/** If: runs then_branch or else_branch (planned once) on the condition's value. */
export const If: Kernel = {
  op: "If",
  prepare(node, ctx) {
    const t = node.attributes.get("then_branch");
    const e = node.attributes.get("else_branch");
    if (t?.type !== "graph" || e?.type !== "graph") throw invalid(node, "If needs then_branch and else_branch graphs");
    const thenPlan = ctx.planSubgraph(t.value);
    const elsePlan = ctx.planSubgraph(e.value);
    return (inputs, rt) => {
      const c = inputs[0];
      if (!c || c.data.length < 1) throw invalid(node, "If needs a one-element condition");
      return rt.runSubgraph(c.data[0] ? thenPlan : elsePlan, []);
    };
  },
};
