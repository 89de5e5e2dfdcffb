import { realpathSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { type ParseArgsConfig, parseArgs } from "node:util";
import { type Model, QuantaError, summarize } from "@quanta/ir";
import { Effect, Either } from "effect";
import { FileError, UsageError } from "./errors.js";
import { DEFAULT_FORMATS, type FileFormat, formatForOutput, formatOf } from "./formats.js";
import { fmtBytes, formatSummary } from "./inspect.js";
import { DEFAULT_BACKENDS, type RunBackend, benchSamples, runSamples } from "./run.js";
import { fmtDb } from "./metrics.js";
import { type QuantizeOptions, compareModels, quantizeModel, schemeFor } from "./quantize.js";
import { listSamples } from "./dataset.js";
import type { ProgressEvent } from "@quanta/core";
import { correctsBias } from "@quanta/quantize";

export const VERSION = "0.0.0";

const USAGE = `quanta: neural-network quantization in JavaScript

usage:
  quanta inspect MODEL [--json]          inputs, outputs, op histogram, parameters by dtype, opsets
  quanta convert IN -o OUT [--external-data]
                                         read and write back (lossless); --external-data puts
                                         tensors of 1 KiB or more in OUT.data
  quanta run MODEL --data DIR -o OUTDIR [--backend cpu]
                                         runs every sample (DIR/<sample>/<input>.npy) and writes
                                         OUTDIR/<sample>/<output>.npy
  quanta bench MODEL --data DIR [--backend cpu] [--runs N] [--warmup N] [--json]
                                         median/min/max ms per inference of the first sample
  quanta quantize IN -o OUT [--calibration DIR] [--mode static|dynamic|weight-only]
                 [--weights int8|uint8|int4|uint4|fp16|fp8] [--activations uint8|int8|int16]
                 [--per-channel|--per-tensor] [--block-size N] [--format qdq|qoperator]
                 [--method mse|minmax|ema|percentile|entropy] [--int4-format matmulnbits|qdq]
                 [--exclude PATTERN]... [--int16-weights PATTERN]...
                 [--int8-weights PATTERN]... [--int16-activations PATTERN]...
                 [--unblocked-weights int8|4bit] [--float16-params]
                 [--no-bias-correction] [--json]
                                         static int8 QDQ with --calibration (default), else
                                         weight-only; --mode dynamic: DynamicQuantizeLinear +
                                         MatMulInteger/ConvInteger; --format qoperator: QLinear*
                                         ops; --weights fp16: float16 weights behind Cast;
                                         --weights fp8: float8 e4m3fn QDQ (opset 19; activations
                                         too with --calibration); prints sizes, kept-float
                                         layers, output SQNR; activation ranges: --method mse
                                         (default; minmax is onnxruntime's); with calibration
                                         data each layer's bias absorbs the output-mean shift of
                                         its rounded weights (weight-only mode too);
                                         --int16-weights / --int16-activations: those layers'
                                         weights / activations int16 (mixed precision);
                                         --int8-weights: those layers' weights int8 per
                                         channel under --weights int4/uint4;
                                         --block-size N: int4 blocks (default 32), or int8
                                         weights with a scale per N weights (weight-only);
                                         --unblocked-weights 4bit: int4/uint4 per channel for
                                         weights too short to block (depthwise 3x3), not int8;
                                         --float16-params: weight-only scales and biases
                                         stored float16 (the smallest file)
  quanta compare REF CAND --data DIR [--layers N] [--json]
                                         per-output SQNR (dB), cosine, max abs error; the layers
                                         that lose the most (own loss, node names for --exclude)
  quanta --version | --help
`;

/** What a command prints; injected so tests and embedders can capture it. */
export interface Console {
  out(line: string): void;
  err(line: string): void;
}

const processConsole: Console = {
  out: (l) => process.stdout.write(`${l}\n`),
  err: (l) => process.stderr.write(`${l}\n`),
};

export interface CliOptions {
  readonly console?: Console;
  readonly formats?: readonly FileFormat[];
  readonly backends?: readonly RunBackend[];
}

/** Runs the CLI; resolves to the exit code (0 ok, 1 failure, 2 usage). Never throws. */
export async function main(argv: readonly string[], options: CliOptions = {}): Promise<number> {
  const con = options.console ?? processConsole;
  const formats = options.formats ?? DEFAULT_FORMATS;
  const backends = options.backends ?? DEFAULT_BACKENDS;
  const result = await Effect.runPromise(Effect.either(command(argv, con, formats, backends)));
  if (Either.isRight(result)) return 0;
  const e = result.left;
  con.err(`quanta: ${e.message}`);
  if (e instanceof UsageError) {
    con.err("run 'quanta --help' for usage");
    return 2;
  }
  return 1;
}

type Failure = QuantaError;

/** Wraps a synchronous step: typed Quanta errors pass through, anything else becomes a FileError or a labelled crash. */
const step = <A>(what: string, path: string, f: () => A): Effect.Effect<A, Failure> =>
  Effect.try({
    try: f,
    catch: (e): Failure => {
      if (e instanceof QuantaError) return e;
      const code = (e as NodeJS.ErrnoException | undefined)?.code;
      if (typeof code === "string") return new FileError(path, `${what}: ${(e as Error).message}`);
      return new FileError(path, `${what} failed unexpectedly: ${e instanceof Error ? e.message : String(e)}`);
    },
  });

function parse<O extends NonNullable<ParseArgsConfig["options"]>>(argv: readonly string[], opts: O) {
  return Effect.try({
    try: () => parseArgs({ args: [...argv], options: opts, allowPositionals: true, strict: true }),
    catch: (e) => new UsageError((e as Error).message.split("\n")[0] ?? "bad arguments"),
  });
}

function command(argv: readonly string[], con: Console, formats: readonly FileFormat[], backends: readonly RunBackend[]): Effect.Effect<void, Failure> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case undefined:
    case "help":
    case "--help":
    case "-h":
      return Effect.sync(() => con.out(USAGE));
    case "--version":
    case "-v":
      return Effect.sync(() => con.out(VERSION));
    case "inspect":
      return inspect(rest, con, formats);
    case "convert":
      return convert(rest, con, formats);
    case "run":
      return run(rest, con, formats, backends);
    case "bench":
      return bench(rest, con, formats, backends);
    case "quantize":
      return quantize(rest, con, formats, backends);
    case "compare":
      return compare(rest, con, formats, backends);
    default:
      return Effect.fail(new UsageError(`unknown command '${cmd}'`));
  }
}

const readModel = (path: string, formats: readonly FileFormat[]): Effect.Effect<{ model: Model; format: FileFormat; bytes: number }, Failure> =>
  Effect.gen(function* () {
    const format = yield* step("reading", path, () => formatOf(path, formats));
    const model = yield* step("reading", path, () => format.read(path));
    const bytes = yield* step("reading", path, () => statSync(path).size);
    return { model, format, bytes };
  });

function inspect(argv: readonly string[], con: Console, formats: readonly FileFormat[]): Effect.Effect<void, Failure> {
  return Effect.gen(function* () {
    const { values, positionals } = yield* parse(argv, { json: { type: "boolean" } });
    if (positionals.length !== 1) return yield* Effect.fail(new UsageError("inspect takes one MODEL path"));
    const path = positionals[0]!;
    const { model, bytes } = yield* readModel(path, formats);
    const summary = summarize(model);
    if (values.json) con.out(JSON.stringify({ path, fileBytes: bytes, ...summary }));
    else con.out(formatSummary(path, bytes, summary));
  });
}

function convert(argv: readonly string[], con: Console, formats: readonly FileFormat[]): Effect.Effect<void, Failure> {
  return Effect.gen(function* () {
    const { values, positionals } = yield* parse(argv, {
      output: { type: "string", short: "o" },
      "external-data": { type: "boolean" },
    });
    if (positionals.length !== 1) return yield* Effect.fail(new UsageError("convert takes one input MODEL path"));
    const input = positionals[0]!;
    const output = values.output as string | undefined;
    if (!output) return yield* Effect.fail(new UsageError("convert needs -o OUT"));
    if (sameFile(input, output)) return yield* Effect.fail(new UsageError(`output '${output}' is the input: Quanta never writes over its input`));
    const { model, format, bytes } = yield* readModel(input, formats);
    const target = formatForOutput(output, format, formats);
    if (target.name !== model.format) return yield* Effect.fail(new UsageError(`cannot convert ${model.format} to ${target.name} yet`));
    const written = yield* step("writing", output, () =>
      target.write(model, output, { protect: [input], externalData: values["external-data"] ? true : "auto" }),
    );
    const ext = written.externalBytes > 0 ? ` + ${fmtBytes(written.externalBytes)} external data` : "";
    con.out(`wrote ${output} (${fmtBytes(written.bytes)}${ext}; input ${fmtBytes(bytes)})`);
  });
}

function sameFile(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return resolve(a) === resolve(b);
  }
}

function pickBackend(name: string | undefined, backends: readonly RunBackend[]): Effect.Effect<RunBackend, UsageError> {
  const b = backends.find((x) => x.name === (name ?? "cpu"));
  return b ? Effect.succeed(b) : Effect.fail(new UsageError(`unknown backend '${name}' (available: ${backends.map((x) => x.name).join(", ")})`));
}

function run(argv: readonly string[], con: Console, formats: readonly FileFormat[], backends: readonly RunBackend[]): Effect.Effect<void, Failure> {
  return Effect.gen(function* () {
    const { values, positionals } = yield* parse(argv, {
      data: { type: "string" },
      output: { type: "string", short: "o" },
      backend: { type: "string" },
    });
    if (positionals.length !== 1) return yield* Effect.fail(new UsageError("run takes one MODEL path"));
    const data = values.data as string | undefined;
    const out = values.output as string | undefined;
    if (!data) return yield* Effect.fail(new UsageError("run needs --data DIR"));
    if (!out) return yield* Effect.fail(new UsageError("run needs -o OUTDIR"));
    const backend = yield* pickBackend(values.backend as string | undefined, backends);
    const { model } = yield* readModel(positionals[0]!, formats);
    const n = yield* step("running", positionals[0]!, () => runSamples(model, backend, data, out, (id, ms) => con.out(`${id}: ${ms.toFixed(1)} ms`)));
    con.out(`ran ${n} sample${n === 1 ? "" : "s"} on ${backend.name}; outputs in ${out}`);
  });
}

function bench(argv: readonly string[], con: Console, formats: readonly FileFormat[], backends: readonly RunBackend[]): Effect.Effect<void, Failure> {
  return Effect.gen(function* () {
    const { values, positionals } = yield* parse(argv, {
      data: { type: "string" },
      backend: { type: "string" },
      runs: { type: "string" },
      warmup: { type: "string" },
      json: { type: "boolean" },
    });
    if (positionals.length !== 1) return yield* Effect.fail(new UsageError("bench takes one MODEL path"));
    const data = values.data as string | undefined;
    if (!data) return yield* Effect.fail(new UsageError("bench needs --data DIR"));
    const count = (v: unknown, name: string, dflt: number) => {
      if (v === undefined) return Effect.succeed(dflt);
      const n = Number(v);
      return Number.isInteger(n) && n >= 0 ? Effect.succeed(n) : Effect.fail(new UsageError(`--${name} takes a non-negative integer`));
    };
    const runs = Math.max(1, yield* count(values.runs, "runs", 10));
    const warmup = yield* count(values.warmup, "warmup", 3);
    const backend = yield* pickBackend(values.backend as string | undefined, backends);
    const path = positionals[0]!;
    const { model } = yield* readModel(path, formats);
    const r = yield* step("benchmarking", path, () => benchSamples(model, backend, data, runs, warmup));
    con.out(`${path} on ${r.backend}, sample ${r.sample}: median ${r.median_ms.toFixed(2)} ms, min ${r.min_ms.toFixed(2)} ms, max ${r.max_ms.toFixed(2)} ms (${r.runs} runs after ${r.warmup} warm-up)`);
    if (values.json) con.out(JSON.stringify({ model: path, ...r }));
  });
}

function oneOf<T extends string>(v: unknown, name: string, allowed: readonly T[], dflt: T): Effect.Effect<T, UsageError> {
  if (v === undefined) return Effect.succeed(dflt);
  return allowed.includes(v as T) ? Effect.succeed(v as T) : Effect.fail(new UsageError(`--${name} must be one of ${allowed.join(", ")}, got '${v}'`));
}

/** Progress: a redrawn bar on a terminal, plain lines otherwise (on stderr, so --json output stays clean). */
function progressPrinter(con: Console, json: boolean): (e: ProgressEvent) => void {
  const tty = !json && process.stderr.isTTY === true;
  return (e) => {
    if (json) return;
    if (e.type === "pass-start") con.err(`[${e.index + 1}/${e.total}] ${e.pass}`);
    else if (e.type === "pass-progress" && e.total) {
      if (tty) {
        const w = 30;
        const f = Math.round((e.done / e.total) * w);
        process.stderr.write(`\r  ${"#".repeat(f)}${".".repeat(w - f)} ${e.done}/${e.total}${e.done === e.total ? "\n" : ""}`);
      } else if (e.done === e.total || e.done % 10 === 0) con.err(`  ${e.pass}: ${e.done}/${e.total}${e.message ? ` ${e.message}` : ""}`);
    } else if (e.type === "pass-progress" && e.message) con.err(`  ${e.message}`);
    else if (e.type === "warning") con.err(`  warning: ${e.message}`);
  };
}

function quantize(argv: readonly string[], con: Console, formats: readonly FileFormat[], backends: readonly RunBackend[]): Effect.Effect<void, Failure> {
  return Effect.gen(function* () {
    const { values, positionals } = yield* parse(argv, {
      output: { type: "string", short: "o" },
      calibration: { type: "string" },
      mode: { type: "string" },
      weights: { type: "string" },
      activations: { type: "string" },
      "per-channel": { type: "boolean" },
      "per-tensor": { type: "boolean" },
      "block-size": { type: "string" },
      method: { type: "string" },
      format: { type: "string" },
      "int4-format": { type: "string" },
      exclude: { type: "string", multiple: true },
      "int16-weights": { type: "string", multiple: true },
      "int8-weights": { type: "string", multiple: true },
      "int16-activations": { type: "string", multiple: true },
      "no-bias-correction": { type: "boolean" },
      "float16-params": { type: "boolean" },
      "unblocked-weights": { type: "string" },
      backend: { type: "string" },
      json: { type: "boolean" },
    });
    if (positionals.length !== 1) return yield* Effect.fail(new UsageError("quantize takes one input MODEL path"));
    const input = positionals[0]!;
    const output = values.output as string | undefined;
    if (!output) return yield* Effect.fail(new UsageError("quantize needs -o OUT"));
    if (sameFile(input, output)) return yield* Effect.fail(new UsageError(`output '${output}' is the input: Quanta never writes over its input`));
    const calibration = values.calibration as string | undefined;
    const mode = yield* oneOf(values.mode, "mode", ["static", "dynamic", "weight-only"] as const, calibration ? "static" : "weight-only");
    const options: QuantizeOptions = {
      mode,
      weights: yield* oneOf(values.weights, "weights", ["int8", "uint8", "int4", "uint4", "fp16", "fp8"] as const, "int8"),
      activations: yield* oneOf(values.activations, "activations", ["uint8", "int8", "int16"] as const, "uint8"),
      perChannel: !values["per-tensor"],
      ...(values["block-size"] !== undefined ? { blockSize: Number(values["block-size"]) } : {}),
      // MSE ranges by default: on the eval's realistic data MinMax collapses the PP-OCRv4 recogniser
      // (17% same text with 32 calibration lines vs 92% for MSE) and is no better elsewhere (docs/eval.md).
      method: yield* oneOf(values.method, "method", ["minmax", "ema", "percentile", "entropy", "mse"] as const, "mse"),
      format: yield* oneOf(values.format, "format", ["qdq", "qoperator"] as const, "qdq"),
      int4Format: yield* oneOf(values["int4-format"], "int4-format", ["matmulnbits", "qdq"] as const, "matmulnbits"),
      exclude: (values.exclude as string[] | undefined) ?? [],
      int16Weights: (values["int16-weights"] as string[] | undefined) ?? [],
      int8Weights: (values["int8-weights"] as string[] | undefined) ?? [],
      int16Activations: (values["int16-activations"] as string[] | undefined) ?? [],
      biasCorrection: !values["no-bias-correction"],
      ...(values["float16-params"] ? { float16Params: true } : {}),
      ...(values["unblocked-weights"] !== undefined ? { unblockedWeights: yield* oneOf(values["unblocked-weights"], "unblocked-weights", ["int8", "4bit"] as const, "int8") } : {}),
    };
    const backend = yield* pickBackend(values.backend as string | undefined, backends);
    const json = !!values.json;
    const { model, format, bytes } = yield* readModel(input, formats);
    // Hold out up to a quarter of the calibration samples (at most 4) to measure the result; schemes
    // without calibration (dynamic, float16, weight-only) are measured on every sample.
    let calIds: string[] | undefined;
    let heldOut: string[] = [];
    if (calibration) {
      const scheme = yield* Effect.try({ try: () => schemeFor(options), catch: (e) => e as UsageError });
      // Static ranges and bias correction learn from the samples: hold some out to measure the result.
      const calibrated = scheme.mode === "static" || correctsBias(scheme, { biasCorrection: options.biasCorrection ?? true });
      const ids = [...(yield* step("reading", calibration, () => listSamples(calibration, model.graph.inputs.filter((v) => !v.constant)).ids))];
      const h = !calibrated ? ids.length : ids.length >= 4 ? Math.min(4, Math.floor(ids.length / 4)) : 0;
      heldOut = ids.slice(ids.length - h);
      calIds = ids.slice(0, ids.length - h);
    }
    const { model: reference } = yield* readModel(input, formats);
    const result = yield* quantizeModel(model, options, { backend, ...(calibration ? { calibration } : {}), ...(calIds ? { calibrationIds: calIds } : {}) }, progressPrinter(con, json));
    const written = yield* step("writing", output, () => format.write(result.model, output, { protect: [input] }));
    let metrics: ReturnType<typeof compareModels> | undefined;
    if (calibration && heldOut.length > 0) {
      metrics = yield* step("evaluating", output, () => compareModels(reference, result.model, backend, calibration, { ids: heldOut }));
    }
    const summary = {
      input,
      output,
      scheme: result.scheme.name,
      method:
        result.scheme.mode === "static"
          ? options.method
          : result.scheme.mode === "dynamic"
            ? "none (activations quantized at run time)"
            : calIds && correctsBias(result.scheme, { biasCorrection: options.biasCorrection ?? true })
              ? "input means for bias correction (weights only)"
              : "none (weights only)",
      inputBytes: bytes,
      outputBytes: written.bytes + written.externalBytes,
      ratio: (written.bytes + written.externalBytes) / bytes,
      quantizedNodes: result.quantizedNodes,
      floatNodes: result.floatNodes,
      heldOutSamples: heldOut.length,
      outputs: metrics?.outputs ?? [],
      warnings: result.warnings.map((w) => w.message),
    };
    if (json) {
      con.out(JSON.stringify(summary));
      return;
    }
    con.out(`wrote ${output}: ${fmtBytes(summary.outputBytes)} (${(summary.ratio * 100).toFixed(1)}% of ${fmtBytes(bytes)}), scheme ${summary.scheme}, calibration ${summary.method}`);
    con.out(`quantized ${summary.quantizedNodes} nodes${summary.floatNodes.length ? `; kept in float: ${summary.floatNodes.length}` : ""}`);
    for (const f of summary.floatNodes.slice(0, 10)) con.out(`  ${f.node}: ${f.reason}`);
    if (summary.floatNodes.length > 10) con.out(`  ... and ${summary.floatNodes.length - 10} more (--json lists all)`);
    for (const o of summary.outputs) con.out(`output ${o.name}: SQNR ${fmtDb(o.sqnr)} dB, cosine ${o.cosine.toFixed(5)}, max abs error ${o.maxAbs.toExponential(2)} on ${heldOut.length} held-out samples`);
    if (calibration && heldOut.length === 0) con.out("(fewer than 4 calibration samples: no held-out accuracy; run quanta compare on other data)");
  });
}

function compare(argv: readonly string[], con: Console, formats: readonly FileFormat[], backends: readonly RunBackend[]): Effect.Effect<void, Failure> {
  return Effect.gen(function* () {
    const { values, positionals } = yield* parse(argv, {
      data: { type: "string" },
      layers: { type: "string" },
      backend: { type: "string" },
      json: { type: "boolean" },
    });
    if (positionals.length !== 2) return yield* Effect.fail(new UsageError("compare takes REF and CAND model paths"));
    const data = values.data as string | undefined;
    if (!data) return yield* Effect.fail(new UsageError("compare needs --data DIR"));
    const show = Number(values.layers ?? 10);
    const backend = yield* pickBackend(values.backend as string | undefined, backends);
    const { model: ref } = yield* readModel(positionals[0]!, formats);
    const { model: cand } = yield* readModel(positionals[1]!, formats);
    const r = yield* step("comparing", positionals[1]!, () => compareModels(ref, cand, backend, data, { layers: true }));
    if (values.json) {
      con.out(JSON.stringify(r));
      return;
    }
    con.out(`${r.samples} samples`);
    for (const o of r.outputs) con.out(`output ${o.name}: SQNR ${fmtDb(o.sqnr)} dB, cosine ${o.cosine.toFixed(5)}, max abs error ${o.maxAbs.toExponential(2)}`);
    con.out(`layers that lose the most (${Math.min(show, r.layers.length)} of ${r.layers.length}; own loss = the layer's SQNR less its worst input's;`);
    con.out("keep one in float with quanta quantize --exclude NODE):");
    con.out(`  ${"own loss".padStart(9)}  ${"SQNR".padStart(8)}  node (op) -> tensor`);
    for (const l of r.layers.slice(0, show)) con.out(`  ${`${l.drop.toFixed(2)} dB`.padStart(9)}  ${`${fmtDb(l.sqnr)} dB`.padStart(8)}  ${l.node || "(unnamed)"} (${l.op}) -> ${l.name}`);
  });
}
