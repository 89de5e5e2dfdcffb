import type { Tensor } from "@quanta/tensor";
import type { Kernel, RunContext } from "../../kernel.js";
import { invalid } from "../util.js";
import { nums } from "./common.js";
import { Owed, copyOf, declaredType, heldOutputs, sliceAxis, writeAxis } from "./subgraph.js";

/**
 * Scan. Opset 9+: inputs are N state values then M scan inputs (`num_scan_inputs`), each scanned along
 * scan_input_axes[j] (forward, or reversed by scan_input_directions); body inputs: states, one slice
 * per scan input; body outputs: states, K scan output slices, stacked along scan_output_axes[k]
 * (reversed by scan_output_directions). Opset 8: a leading optional sequence_lens input, and every
 * input has a batch axis 0 (scan axis 1); `directions` reverses scan inputs.
 */
export const Scan: Kernel = {
  op: "Scan",
  prepare(node, ctx) {
    const a = node.attributes.get("body");
    if (a?.type !== "graph") throw invalid(node, "Scan needs a body graph");
    const body = a.value;
    const plan = ctx.planSubgraph(body);
    const M = node.int("num_scan_inputs");
    if (M === undefined || M < 1) throw invalid(node, "Scan needs num_scan_inputs >= 1");
    const v8 = ctx.opset < 9;
    const lead = v8 ? 1 : 0;
    const N = node.inputs.length - lead - M;
    const K = body.outputs.length - N;
    if (N < 0 || K < 0 || body.inputs.length !== N + M) {
      throw invalid(node, `Scan: body with ${body.inputs.length} inputs / ${body.outputs.length} outputs does not fit ${N} states and ${M} scan inputs`);
    }
    const zeros = (n: number) => new Array<number>(n).fill(0);
    const inAxes = (!v8 && node.ints("scan_input_axes")) || zeros(M);
    const inDirs = node.ints(v8 ? "directions" : "scan_input_directions") ?? zeros(M);
    const outAxes = (!v8 && node.ints("scan_output_axes")) || zeros(K);
    const outDirs = (!v8 && node.ints("scan_output_directions")) || zeros(K);
    if (inAxes.length !== M || inDirs.length !== M || outAxes.length !== K || outDirs.length !== K) {
      throw invalid(node, "Scan: axes/directions attributes do not match the number of scan inputs/outputs");
    }
    const held = heldOutputs(body);
    const wanted = Array.from({ length: N + K }, (_, j) => !!node.outputs[j]);

    /** One scan over `iters` steps; scan outputs have length L along their axis. `mine`: tensors allocated here. */
    const scanOnce = (rt: RunContext, init: readonly Tensor[], scans: readonly Tensor[], iters: number, L: number) => {
      const carry = new Owed(rt);
      const mine = new Set<Tensor>();
      let states = [...init];
      const outs: (Tensor | undefined)[] = new Array(K).fill(undefined);
      const outAxis: number[] = zeros(K);
      for (let t = 0; t < iters; t++) {
        const slices = scans.map((x, j) => {
          const ax = inAxes[j]! < 0 ? inAxes[j]! + x.shape.length : inAxes[j]!;
          return sliceAxis(node, x, ax, inDirs[j] ? iters - 1 - t : t);
        });
        const res = rt.runSubgraph(plan, [...states, ...slices]);
        carry.take(res, held);
        states = res.slice(0, N);
        for (let k = 0; k < K; k++) {
          if (!wanted[N + k]) continue;
          const part = res[N + k]!;
          let out = outs[k];
          if (!out) {
            const r = part.shape.length + 1;
            const ax = outAxes[k]! < 0 ? outAxes[k]! + r : outAxes[k]!;
            if (ax < 0 || ax >= r) throw invalid(node, `Scan: scan_output_axes ${outAxes[k]} out of range for rank ${r}`);
            outAxis[k] = ax;
            out = rt.alloc(part.dtype, [...part.shape.slice(0, ax), L, ...part.shape.slice(ax)]);
            outs[k] = out;
            mine.add(out);
          }
          writeAxis(node, out, outAxis[k]!, outDirs[k] ? L - 1 - t : t, part);
        }
        carry.settle(new Set(states));
      }
      const finals = states.map((t, j) => {
        if (!wanted[j] || !carry.has(t)) return t;
        const c = copyOf(rt, t);
        mine.add(c);
        return c;
      });
      carry.settle();
      const scanned = outs.map((o, k) => {
        if (o || !wanted[N + k]) return o;
        const d = declaredType(body, N + k);
        const s = d.shape ?? [];
        const ax = Math.min(Math.max(outAxes[k]! < 0 ? outAxes[k]! + s.length + 1 : outAxes[k]!, 0), s.length);
        const e = rt.alloc(d.dtype ?? "float32", [...s.slice(0, ax), L, ...s.slice(ax)]);
        mine.add(e);
        return e;
      });
      return { finals, scanned, mine };
    };

    return (inputs, rt) => {
      const states: Tensor[] = [];
      const scans: Tensor[] = [];
      for (let i = 0; i < N + M; i++) {
        const t = inputs[lead + i];
        if (!t) throw invalid(node, `Scan: input ${lead + i} is missing`);
        (i < N ? states : scans).push(t);
      }
      if (!v8) {
        const lens = scans.map((x, j) => x.shape[inAxes[j]! < 0 ? inAxes[j]! + x.shape.length : inAxes[j]!]);
        const L = lens[0];
        if (L === undefined || lens.some((l) => l !== L)) throw invalid(node, `Scan: scan inputs have different lengths [${lens.join(",")}]`);
        const { finals, scanned } = scanOnce(rt, states, scans, L, L);
        return [...finals, ...scanned];
      }
      // Opset 8: batch axis 0 everywhere, scan along axis 1 (axis 0 of each batch entry).
      const B = (states[0] ?? scans[0]!).shape[0] ?? 0;
      const L = scans[0]!.shape[1] ?? 0;
      const seq = inputs[0] ? nums(inputs[0]) : undefined;
      const results: (Tensor | undefined)[] = new Array(N + K).fill(undefined);
      for (let b = 0; b < B; b++) {
        const iters = seq ? seq[b]! : L;
        if (iters < 0 || iters > L) throw invalid(node, `Scan: sequence length ${iters} out of range [0, ${L}]`);
        const r = scanOnce(
          rt,
          states.map((s) => sliceAxis(node, s, 0, b)),
          scans.map((s) => sliceAxis(node, s, 0, b)),
          iters,
          L,
        );
        for (const [k, t] of [...r.finals, ...r.scanned].entries()) {
          if (!t || !wanted[k]) continue;
          let out = results[k];
          if (!out) {
            out = rt.alloc(t.dtype, [B, ...t.shape]);
            results[k] = out;
          }
          writeAxis(node, out, 0, b, t);
          if (r.mine.has(t)) rt.release?.(t);
        }
      }
      if (B === 0) {
        for (let k = 0; k < N + K; k++) {
          if (!wanted[k]) continue;
          const src = k < N ? states[k]! : undefined;
          const d = declaredType(body, k);
          results[k] = src ? copyOf(rt, src) : rt.alloc(d.dtype ?? "float32", [0, L, ...(d.shape ?? [])]);
        }
      }
      return results;
    };
  },
};
