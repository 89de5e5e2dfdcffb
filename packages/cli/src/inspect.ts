import type { Dim, ModelSummary } from "@quanta/ir";

const fmtShape = (s: readonly Dim[] | null): string => (s === null ? "[?]" : `[${s.map((d) => (d === null ? "?" : String(d))).join(", ")}]`);

export const fmtBytes = (n: number): string => {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(2)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
};

const fmtInt = (n: number): string => n.toLocaleString("en-US");

/** Human-readable report of a model summary. */
export function formatSummary(path: string, fileBytes: number, s: ModelSummary): string {
  const lines: string[] = [];
  lines.push(`${path}  (${s.format.toUpperCase()}, ${fmtBytes(fileBytes)}${s.irVersion ? `, IR ${s.irVersion}` : ""}${s.producer ? `, from ${s.producer}` : ""})`);
  if (s.opsets.length > 0) lines.push(`opsets: ${s.opsets.map((o) => `${o.domain || "ai.onnx"} ${o.version}`).join(", ")}`);
  const width = Math.max(4, ...s.inputs.map((v) => v.name.length), ...s.outputs.map((v) => v.name.length));
  lines.push("inputs:");
  for (const v of s.inputs) lines.push(`  ${v.name.padEnd(width)}  ${String(v.elem).padEnd(8)} ${fmtShape(v.shape)}`);
  lines.push("outputs:");
  for (const v of s.outputs) lines.push(`  ${v.name.padEnd(width)}  ${String(v.elem).padEnd(8)} ${fmtShape(v.shape)}`);
  lines.push(`ops: ${fmtInt(s.nodes)} nodes in ${s.graphs} graph${s.graphs === 1 ? "" : "s"}`);
  const opw = Math.max(...s.ops.map((o) => o.op.length), 2);
  for (const o of s.ops) lines.push(`  ${o.op.padEnd(opw)}  ${String(o.count).padStart(5)}`);
  lines.push(`parameters: ${fmtInt(s.totalParameters)} in ${fmtBytes(s.totalParameterBytes)}`);
  for (const p of s.parameters) {
    lines.push(`  ${String(p.elem).padEnd(8)}  ${String(p.tensors).padStart(5)} tensors  ${fmtInt(p.elements).padStart(13)} elements  ${fmtBytes(p.bytes).padStart(10)}`);
  }
  return lines.join("\n");
}
