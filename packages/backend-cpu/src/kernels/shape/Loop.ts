import type { Tensor } from "@quanta/tensor";
import type { Kernel } from "../../kernel.js";
import { invalid } from "../util.js";
import { scalar } from "./common.js";
import { Owed, copyOf, declaredType, heldOutputs, writeAxis } from "./subgraph.js";

/**
 * Loop: runs `body` (planned once) while the iteration count is below M (input 0, optional) and the
 * condition (input 1, optional; then the body's first output) holds. Body inputs: iteration number
 * (int64 scalar), condition (bool scalar), loop-carried values; body outputs: condition, carried
 * values, scan outputs (stacked along a new first axis). Tensor values only (no sequences/optionals).
 * Intermediate carried values are released to the pool as soon as the next iteration has replaced them.
 */
export const Loop: Kernel = {
  op: "Loop",
  prepare(node, ctx) {
    const a = node.attributes.get("body");
    if (a?.type !== "graph") throw invalid(node, "Loop needs a body graph");
    const body = a.value;
    const plan = ctx.planSubgraph(body);
    const nCarried = node.inputs.length - 2;
    if (nCarried < 0) throw invalid(node, "Loop needs the M and cond inputs (possibly empty)");
    const nScan = body.outputs.length - 1 - nCarried;
    if (body.inputs.length !== nCarried + 2 || nScan < 0) {
      throw invalid(node, `Loop: body has ${body.inputs.length} inputs and ${body.outputs.length} outputs for ${nCarried} carried values`);
    }
    if (node.outputs.length > nCarried + nScan) throw invalid(node, `Loop: ${node.outputs.length} outputs, body gives ${nCarried + nScan}`);
    const held = heldOutputs(body);
    const wanted = Array.from({ length: nCarried + nScan }, (_, j) => !!node.outputs[j]);
    return (inputs, rt) => {
      const M = inputs[0] ? scalar(inputs[0]) : Number.POSITIVE_INFINITY;
      let cond = inputs[1] ? scalar(inputs[1]) !== 0 : true;
      let state: Tensor[] = [];
      for (let c = 0; c < nCarried; c++) {
        const t = inputs[c + 2];
        if (!t) throw invalid(node, `Loop: loop-carried input ${c} is missing`);
        state.push(t);
      }
      const carry = new Owed(rt);
      const scanned = new Owed(rt);
      const scans: Tensor[][] = Array.from({ length: nScan }, () => []);
      for (let i = 0; i < M && cond; i++) {
        const iter: Tensor = { dtype: "int64", shape: [], data: BigInt64Array.of(BigInt(i)) };
        const condIn: Tensor = { dtype: "bool", shape: [], data: Uint8Array.of(1) };
        const outs = rt.runSubgraph(plan, [iter, condIn, ...state]);
        carry.take(outs, held);
        cond = scalar(outs[0]!) !== 0;
        state = outs.slice(1, 1 + nCarried);
        const now = outs.slice(1 + nCarried);
        for (const [k, t] of now.entries()) if (wanted[nCarried + k]) scans[k]!.push(t);
        carry.settle(new Set(state), { when: new Set(now.filter((_, k) => wanted[nCarried + k])), into: scanned });
      }
      const results: (Tensor | undefined)[] = state.map((t, c) => (!wanted[c] ? undefined : carry.has(t) || scanned.has(t) ? copyOf(rt, t) : t));
      for (let k = 0; k < nScan; k++) {
        if (!wanted[nCarried + k]) {
          results.push(undefined);
          continue;
        }
        const parts = scans[k]!;
        const first = parts[0];
        let out: Tensor;
        if (first) {
          out = rt.alloc(first.dtype, [parts.length, ...first.shape]);
          for (const [i, p] of parts.entries()) writeAxis(node, out, 0, i, p);
        } else {
          const d = declaredType(body, 1 + nCarried + k);
          out = rt.alloc(d.dtype ?? "float32", [0, ...(d.shape ?? [])]);
        }
        results.push(out);
      }
      carry.settle();
      scanned.settle();
      return results;
    };
  },
};
