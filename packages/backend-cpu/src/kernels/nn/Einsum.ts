import type { Node } from "@quanta/ir";
import type { Tensor } from "@quanta/tensor";
import type { Kernel } from "../../kernel.js";
import { invalid } from "../util.js";
import { writeFloats } from "./float_impl.js";
import { numbers } from "./Reduce.js";
import { Packed, gemmPacked, packA, packB, packedASize, packedBSize } from "./sgemm_impl.js";

interface Parsed {
  /** Labels of each input ('.' stands for the ellipsis, expanded at run time). */
  readonly inputs: string[][];
  /** Output labels, or undefined for the implicit form. */
  readonly output: string[] | undefined;
}

function parse(eq: string): Parsed {
  const s = eq.replace(/\s+/g, "");
  const [lhs, rhs] = s.split("->") as [string, string | undefined];
  const term = (t: string): string[] => {
    const out: string[] = [];
    for (let i = 0; i < t.length; i++) {
      if (t.startsWith("...", i)) {
        out.push(".");
        i += 2;
      } else if (/[a-zA-Z]/.test(t[i]!)) out.push(t[i]!);
      else throw new Error(`bad character '${t[i]}' in einsum equation '${eq}'`);
    }
    return out;
  };
  return { inputs: lhs.split(",").map(term), output: rhs === undefined ? undefined : term(rhs) };
}

/**
 * Einsum (opset 12-22): any equation (explicit or implicit output, ellipsis, repeated labels for
 * diagonals, broadcasting). Two-operand float32 contractions that are (batched) matrix products run
 * through the packed sgemm; everything else through a generic loop in double precision.
 */
export const Einsum: Kernel = {
  op: "Einsum",
  prepare(node: Node) {
    const eq = node.string("equation", "");
    let parsed: Parsed;
    try {
      parsed = parse(eq);
    } catch (e) {
      throw invalid(node, (e as Error).message);
    }
    return (inputs, rt) => {
      const ts = inputs.map((t, i) => {
        if (!t) throw invalid(node, `Einsum input ${i} missing`);
        return t;
      });
      if (ts.length !== parsed.inputs.length) throw invalid(node, `Einsum '${eq}' has ${parsed.inputs.length} terms, got ${ts.length} inputs`);
      const dtype = ts[0]!.dtype;
      // Expand ellipses into labels '0', '1', ... (right-aligned, broadcast).
      let ell = 0;
      parsed.inputs.forEach((labels, i) => {
        if (labels.includes(".")) ell = Math.max(ell, ts[i]!.shape.length - (labels.length - 1));
      });
      const ellLabels = Array.from({ length: ell }, (_, i) => String(i));
      const terms = parsed.inputs.map((labels, i) => {
        const r = ts[i]!.shape.length;
        const expanded = labels.flatMap((l) => (l === "." ? ellLabels.slice(ell - (r - (labels.length - 1))) : [l]));
        if (expanded.length !== r) throw invalid(node, `Einsum term ${i} '${labels.join("")}' does not match rank ${r}`);
        return expanded;
      });
      const size = new Map<string, number>();
      const counts = new Map<string, number>();
      terms.forEach((labels, i) => {
        labels.forEach((l, d) => {
          const n = ts[i]!.shape[d]!;
          const cur = size.get(l);
          if (cur === undefined || cur === 1) size.set(l, n);
          else if (n !== cur && n !== 1) throw invalid(node, `Einsum label '${l}' has sizes ${cur} and ${n}`);
          counts.set(l, (counts.get(l) ?? 0) + 1);
        });
      });
      let outLabels: string[];
      if (parsed.output) outLabels = parsed.output.flatMap((l) => (l === "." ? ellLabels : [l]));
      else
        outLabels = [
          ...ellLabels,
          ...[...counts.keys()]
            .filter((l) => !ellLabels.includes(l) && counts.get(l) === 1)
            .sort(),
        ];
      for (const l of outLabels) if (!size.has(l)) throw invalid(node, `Einsum output label '${l}' is not in any input`);
      const outShape = outLabels.map((l) => size.get(l)!);
      const sumLabels = [...size.keys()].filter((l) => !outLabels.includes(l));
      const y = rt.alloc(dtype, outShape);
      const fast = dtype === "float32" && ts.length === 2 ? tryMatmul(terms, outLabels, sumLabels, size, ts[0]!, ts[1]!, y as Tensor<"float32">) : false;
      if (fast) return [y];
      const all = [...outLabels, ...sumLabels];
      const dims = all.map((l) => size.get(l)!);
      // Element strides of each input per label (summed for repeated labels: diagonals; 0 when broadcast).
      const strides = terms.map((labels, i) => {
        const sh = ts[i]!.shape;
        const st = new Array<number>(sh.length);
        let acc = 1;
        for (let d = sh.length - 1; d >= 0; d--) {
          st[d] = acc;
          acc *= sh[d]!;
        }
        return all.map((l) => labels.reduce((s, m, d) => (m === l && sh[d] !== 1 ? s + st[d]! : s), 0));
      });
      const data = ts.map((t) => numbers(t));
      const nOut = outShape.reduce((a, b) => a * b, 1);
      let nSum = 1;
      for (const l of sumLabels) nSum *= size.get(l)!;
      const Y = new Float64Array(nOut);
      const nl = all.length;
      const idx = new Array<number>(nl).fill(0);
      const offs = new Array<number>(ts.length).fill(0);
      const total = nOut * nSum;
      for (let n = 0; n < total; n++) {
        let p = 1;
        for (let t = 0; t < ts.length; t++) p *= data[t]![offs[t]!]!;
        Y[Math.floor(n / nSum)]! += p;
        for (let d = nl - 1; d >= 0; d--) {
          idx[d]!++;
          for (let t = 0; t < ts.length; t++) offs[t]! += strides[t]![d]!;
          if (idx[d]! < dims[d]!) break;
          for (let t = 0; t < ts.length; t++) offs[t]! -= strides[t]![d]! * dims[d]!;
          idx[d] = 0;
        }
      }
      writeFloats(y, Y);
      return [y];
    };
  },
};

/**
 * A two-operand contraction "b.. m k, b.. k n -> b.. m n" (labels in any order inside each group, no
 * repeated or broadcast labels) computed as batched packed sgemms. Returns false when it does not apply.
 */
function tryMatmul(terms: string[][], out: string[], sum: string[], size: Map<string, number>, a: Tensor, b: Tensor, y: Tensor<"float32">): boolean {
  const [la, lb] = terms as [string[], string[]];
  if (new Set(la).size !== la.length || new Set(lb).size !== lb.length || new Set(out).size !== out.length) return false;
  if (a.shape.some((d, i) => d !== size.get(la[i]!)) || b.shape.some((d, i) => d !== size.get(lb[i]!))) return false;
  const inA = new Set(la);
  const inB = new Set(lb);
  const batch = out.filter((l) => inA.has(l) && inB.has(l));
  const m = out.filter((l) => inA.has(l) && !inB.has(l));
  const n = out.filter((l) => inB.has(l) && !inA.has(l));
  const k = sum.filter((l) => inA.has(l) && inB.has(l));
  if (k.length !== sum.length || batch.length + m.length + n.length !== out.length) return false;
  // Output must be ordered batch, m, n.
  if (out.join() !== [...batch, ...m, ...n].join()) return false;
  const stridesOf = (labels: string[], shape: readonly number[]) => {
    const st = new Map<string, number>();
    let acc = 1;
    for (let d = shape.length - 1; d >= 0; d--) {
      st.set(labels[d]!, acc);
      acc *= shape[d]!;
    }
    return st;
  };
  const sa = stridesOf(la, a.shape);
  const sb = stridesOf(lb, b.shape);
  // Each group must be contiguous-mergeable: require one label per group, or simple C-order groups.
  const merge = (labels: string[], st: Map<string, number>): [number, number] | undefined => {
    if (labels.length === 0) return [1, 0];
    let n = 1;
    for (let i = labels.length - 1; i >= 0; i--) {
      const expected = i === labels.length - 1 ? st.get(labels[i]!)! : st.get(labels[i + 1]!)! * size.get(labels[i + 1]!)!;
      if (st.get(labels[i]!) !== expected) return undefined;
      n *= size.get(labels[i]!)!;
    }
    return [n, st.get(labels[labels.length - 1]!)!];
  };
  const Ma = merge(m, sa);
  const Ka = merge(k, sa);
  const Kb = merge(k, sb);
  const Nb = merge(n, sb);
  const Ba = merge(batch, sa);
  const Bb = merge(batch, sb);
  if (!Ma || !Ka || !Kb || !Nb || !Ba || !Bb) return false;
  const [M, sam] = Ma;
  const [K, sak] = Ka;
  const [, sbk] = Kb;
  const [N, sbn] = Nb;
  const [B, sab] = Ba;
  const [, sbb] = Bb;
  const A = a.data as Float32Array;
  const Bd = b.data as Float32Array;
  const ap = new Packed(packedASize(M, K));
  const bp = new Packed(packedBSize(K, N));
  for (let i = 0; i < B; i++) {
    packA(M, K, A, i * sab, sam, sak, ap);
    packB(K, N, Bd, i * sbb, sbk, sbn, bp);
    gemmPacked(M, N, K, ap, bp, y.data, i * M * N, N);
  }
  return true;
}
