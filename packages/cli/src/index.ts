export { main, VERSION, type Console, type CliOptions } from "./main.js";
export { DEFAULT_FORMATS, onnxFormat, formatOf, type FileFormat } from "./formats.js";
export { formatSummary, fmtBytes } from "./inspect.js";
export { UsageError, FileError, UnknownFormat } from "./errors.js";
export { type QuantizedCopy, quantizedCopies } from "./copies.js";
export { compareModels, compareOnSamples, type Comparison, type LayerComparison, quantizeModel, schemeFor, type QuantizeOptions, type QuantizeResult } from "./quantize.js";
export { DEFAULT_BACKENDS, type RunBackend, runSamples, benchSamples, writeAtomic, type BenchResult } from "./run.js";
export { decodeNpy, encodeNpy, NpyError } from "./npy.js";
export { listSamples, safeName, DatasetError, type Sample } from "./dataset.js";
