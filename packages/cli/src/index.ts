export { main, VERSION, type Console, type CliOptions } from "./main.js";
export { DEFAULT_FORMATS, onnxFormat, formatOf, type FileFormat } from "./formats.js";
export { formatSummary, fmtBytes } from "./inspect.js";
export { UsageError, FileError, UnknownFormat } from "./errors.js";
