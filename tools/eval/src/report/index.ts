// The eval report: results schema, Markdown (docs/eval.md), self-contained HTML, atomic writer.
export {
  type EvalGenerated,
  type EvalLayer,
  type EvalResults,
  type EvalRow,
  type EvalSuggestion,
  type EvalTarget,
  type RuntimeId,
  PRESET_ORDER,
  RUNTIME_ORDER,
  compareRows,
  decodeNumber,
  isShortfall,
  nonFiniteReplacer,
  resultsFromJson,
  resultsToJson,
  sortRows,
} from "./schema.js";
export { renderMarkdown, mdCode, mdText } from "./markdown.js";
export { renderHtml } from "./html.js";
export { esc, niceTicks, perLayerSvg, scatterPoints, scatterSvg } from "./svg.js";
export { type ReportPaths, writeFileAtomic, writeReport } from "./write.js";
