// The report: Markdown (rows, determinism, escaping), JSON round trip (Infinity), atomic writes, and the
// HTML page opened in headless Chromium with every network request blocked (table, plots, escaping, screenshot).
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { chromium } from "playwright-core";
import { describe, expect, expectTypeOf, it } from "vitest";
import {
  type EvalLayer,
  type EvalResults,
  type EvalRow,
  niceTicks,
  renderHtml,
  renderMarkdown,
  resultsFromJson,
  resultsToJson,
  sortRows,
  writeReport,
} from "../src/report/index.js";
import type { Row } from "../src/run.js";

/** The few DOM members the page checks use (the package compiles without the DOM lib). */
interface El {
  readonly textContent: string | null;
  readonly firstChild: El | null;
  readonly hidden: boolean;
  readonly classList: { contains(c: string): boolean };
  getAttribute(name: string): string | null;
  querySelector(selector: string): El | null;
  querySelectorAll(selector: string): ArrayLike<El>;
  getBoundingClientRect(): { readonly width: number };
}
interface Doc extends El {
  getElementById(id: string): El | null;
}

const OUT = fileURLToPath(new URL("../out/", import.meta.url));
const CHROMIUM = "/usr/bin/chromium";

// Deterministic pseudo-random numbers (no Math.random: the fixture is the same every run).
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function scatter(n: number, seed: number, noise: number) {
  const r = rng(seed);
  const float: number[] = [];
  const quant: number[] = [];
  for (let i = 0; i < n; i++) {
    const f = r();
    float.push(Number(f.toFixed(4)));
    quant.push(Number(Math.min(1, Math.max(0, f + (r() - 0.5) * noise)).toFixed(4)));
  }
  return { float, quant };
}

function layers(n: number, seed: number, names: string[] = []): EvalLayer[] {
  const r = rng(seed);
  const ops = ["Conv", "MatMul", "Add", "Sqrt", "LSTM"];
  return Array.from({ length: n }, (_, i) => ({
    name: names[i] ?? `/encoder/layer_${i}/Conv`,
    op: ops[i % ops.length]!,
    sqnr: Number((8 + i * 1.7 + r() * 3).toFixed(2)),
    drop: Number((-12 + i * 0.3).toFixed(2)),
  }));
}

const M1 = "ocr/ch_PP-OCRv4_rec_infer";
const M2 = `vad/silero "v5" <b>&amp;</b>`;
const EVIL_LAYER = `encoder::Conv_1 <"x"> 'q' & </svg><script>window.__pwned = 1</script>`;

const base = {
  decisionLabel: "text line string",
  metric: "same text as float",
  agreeTruth: null,
  floatTruth: null,
  iou: null,
  sizeBytes: 1_234_567,
  msFloat: 4.2,
  excluded: [],
} as const;

const ROWS: EvalRow[] = [
  {
    ...base,
    model: M2,
    preset: "weight-only-int8",
    runtime: "quanta-cpu",
    decisionLabel: `speech per 32 ms chunk ("p > 0.5")`,
    metric: "speech / no speech agrees",
    agreeFloat: 0.97,
    agreeTruth: 0.9,
    floatTruth: 0.92,
    scoreError: { mean: 0.0123, max: 0.21 },
    sqnr: 25.04,
    sizeRatio: 0.31,
    msQuant: 3.9,
    targets: [{ metric: "sqnr", bound: 30, value: 25.04, met: false }],
    perLayer: layers(35, 5, ["inf", "Gemm_34"]),
    scatter: scatter(20, 6, 0.2),
    suggestion: { exclude: ["Gemm_34"], agreeFloat: 1, sqnr: 33.1, met: true, note: "the verifier's first layer moves a near-zero logit" },
  },
  {
    ...base,
    model: M1,
    preset: "static-int8",
    variant: "fix",
    runtime: "ort-node",
    agreeFloat: 1,
    agreeTruth: 0.95,
    floatTruth: 0.95,
    scoreError: { mean: 0.002, max: 0.01 },
    sqnr: 31.5,
    sizeRatio: 0.3,
    msQuant: 2.5,
    excluded: [EVIL_LAYER],
    targets: [
      { metric: "agreeFloat", bound: 0.95, value: 1, met: true },
      { metric: "sqnr", bound: 20, value: 31.5, met: true },
    ],
    note: "keep the first conv in float",
    scatter: scatter(50, 3, 0.02),
  },
  {
    ...base,
    model: M1,
    preset: "weight-only-int8",
    runtime: "ort-node",
    agreeFloat: 1,
    agreeTruth: 0.95,
    floatTruth: 0.95,
    scoreError: { mean: 0, max: 0 },
    sqnr: Number.POSITIVE_INFINITY,
    sizeRatio: 0.27,
    msQuant: 4.0,
    targets: [{ metric: "sqnr", bound: 30, value: Number.POSITIVE_INFINITY, met: true }],
    perLayer: [...layers(4, 4), { name: "head::Softmax", op: "Softmax", sqnr: Number.POSITIVE_INFINITY }],
    scatter: scatter(40, 4, 0),
  },
  {
    ...base,
    model: M1,
    preset: "static-int8",
    runtime: "ort-node",
    agreeFloat: 0.8333,
    agreeTruth: 0.8,
    floatTruth: 0.95,
    scoreError: { mean: 0.04, max: 0.38 },
    sqnr: 14.2,
    sizeRatio: 0.29,
    msQuant: 2.4,
    targets: [
      { metric: "agreeFloat", bound: 0.95, value: 0.8333, met: false },
      { metric: "sqnr", bound: 20, value: 14.2, met: false },
    ],
    note: "the first conv sees raw pixels: keep it in float",
    perLayer: layers(12, 1, [EVIL_LAYER]),
    scatter: scatter(50, 2, 0.3),
  },
  {
    ...base,
    model: M1,
    preset: "fp32",
    runtime: "ort-node",
    agreeFloat: 1,
    agreeTruth: 0.95,
    floatTruth: 0.95,
    scoreError: null,
    sqnr: null,
    sizeRatio: 1,
    msQuant: null,
  },
  {
    ...base,
    model: M2,
    preset: "static-int8",
    runtime: "quanta-cpu",
    decisionLabel: `speech per 32 ms chunk ("p > 0.5")`,
    metric: "speech / no speech agrees",
    agreeFloat: 0.99,
    agreeTruth: 0.91,
    floatTruth: 0.92,
    scoreError: { mean: 0.00004, max: 0.0003 },
    sqnr: 28.77,
    sizeRatio: 0.28,
    msQuant: 1.7,
    targets: [
      { metric: "agreeFloat", bound: 0.98, value: 0.99, met: true },
      { metric: "sqnr", bound: 20, value: 28.77, met: true },
    ],
    perLayer: layers(8, 7),
    scatter: scatter(30, 8, 0.05),
  },
];

const RESULTS: EvalResults = { generated: { size: "ci", items: 6, calibration: 8, node: "v20.20.2", ortVersion: "1.30.0" }, rows: ROWS };

/** Expected plots: per-layer bars per row with perLayer (at most 30), scatter points per (preset, variant). */
const EXPECTED_PER_LAYER = ROWS.filter((r) => r.perLayer).map((r) => ({
  model: r.model,
  preset: r.preset,
  variant: r.variant ?? "default",
  bars: Math.min(30, r.perLayer?.length ?? 0),
}));
const EXPECTED_SCATTER = ROWS.filter((r) => r.scatter && r.preset !== "fp32").map((r) => ({
  model: r.model,
  preset: r.preset,
  variant: r.variant ?? "default",
  points: r.scatter?.float.length ?? 0,
}));
const byKey = (a: { model: string; preset: string; variant: string }, b: { model: string; preset: string; variant: string }) =>
  `${a.model}|${a.preset}|${a.variant}` < `${b.model}|${b.preset}|${b.variant}` ? -1 : 1;

describe("report schema", () => {
  it("accepts the harness's rows as they are", () => {
    expectTypeOf<Row>().toExtend<EvalRow>();
  });

  it("round-trips through JSON with Infinity, leaving names alone", () => {
    const json = resultsToJson(RESULTS);
    expect(json).toContain('"sqnr": "inf"');
    expect(json).toContain('"name": "inf"');
    const back = resultsFromJson(json);
    expect(back).toEqual({ generated: RESULTS.generated, rows: sortRows(ROWS) });
    const wo = back.rows.find((r) => r.model === M1 && r.preset === "weight-only-int8")!;
    expect(wo.sqnr).toBe(Number.POSITIVE_INFINITY);
    expect(wo.perLayer?.at(-1)?.sqnr).toBe(Number.POSITIVE_INFINITY);
    expect(back.rows.find((r) => r.model === M2 && r.preset === "weight-only-int8")?.perLayer?.[0]?.name).toBe("inf");
    expect(resultsToJson(back)).toBe(json);
  });

  it("makes nice ticks", () => {
    expect(niceTicks(0, 1, 5).ticks).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(-0.03, 0.97, 5).ticks).toEqual([0, 0.2, 0.4, 0.6, 0.8]);
    expect(niceTicks(0, 60, 6).ticks).toEqual([0, 10, 20, 30, 40, 50, 60]);
  });
});

describe("renderMarkdown", () => {
  const md = renderMarkdown(RESULTS);

  it("has one table row per result row, grouped by model, in report order", () => {
    const lines = md.split("\n");
    const table = lines.filter((l) => l.startsWith("| ") && !l.startsWith("| #"));
    const header = table[0]!;
    expect(header).toContain("agree w/ float");
    expect(header).toContain("vs truth (float → quant)");
    expect(lines[lines.indexOf(header) + 1]).toMatch(/^\| ---/);
    // The main table ends at the first blank line after the header.
    const start = lines.indexOf(header) + 2;
    const end = lines.indexOf("", start);
    const body = lines.slice(start, end);
    expect(body).toHaveLength(ROWS.length);
    const cols = header.split(" | ").length;
    for (const l of body) expect(l.replace(/\\\|/g, "").split(" | ")).toHaveLength(cols);
    // Presets in report order: fp32, static-int8, its fix, weight-only-int8; then the next model.
    expect(body.map((l) => l.split(" | ")[1])).toEqual([
      "`fp32`",
      "`static-int8`",
      "`static-int8 + fix`",
      "`weight-only-int8`",
      "`static-int8`",
      "`weight-only-int8`",
    ]);
    expect(body[0]).toContain(`**\`${M1}\`**`);
    expect(body[1]!.startsWith("|  |")).toBe(true);
    expect(md).toContain("| 83.3% |");
    expect(md).toContain("| 95.0% → 80.0% |");
    expect(md).toMatch(/\| inf \|/);
    expect(md).toContain("| 4.20 / 2.40 |");
    expect(md).toContain("| 1.75x |");
  });

  it("is deterministic whatever the row order", () => {
    expect(renderMarkdown(RESULTS)).toBe(md);
    expect(renderMarkdown({ ...RESULTS, rows: [...ROWS].reverse() })).toBe(md);
    expect(md).toContain("`npm run eval`");
    expect(md).toMatch(/size `ci`/);
    expect(md).not.toMatch(/\d{4}-\d{2}-\d{2}/);
    expect(md.endsWith("\n")).toBe(true);
  });

  it("has a section per shortfall with the worst layers and the measured fix", () => {
    const sections = md.split("\n").filter((l) => l.startsWith("### "));
    expect(sections).toEqual([`### \`${M1}\` · \`static-int8\``, `### \`${M2}\` · \`weight-only-int8\``]);
    expect(md).toContain("missed agree w/ float 83.3% (target ≥ 95.0%), SQNR 14.2 dB (target ≥ 20.0 dB)");
    expect(md).toContain("Worst layers (per-layer SQNR of the quantized vs the float intermediate tensors, 10 of 12)");
    expect(md).toContain("agree w/ float 83.3% → 100.0%, SQNR 14.2 → 31.5 dB");
    expect(md).toContain("exclude `Gemm_34`: agree w/ float 97.0% → 100.0%, SQNR 25.0 → 33.1 dB, targets met ✓");
  });

  it("escapes names", () => {
    // Names go in code spans (where `|` is the only character to escape); free text is backslash-escaped.
    expect(md).toContain(`\`${M2}\``);
    expect(md).toContain("speech per 32 ms chunk (\"p \\> 0.5\")");
    // Outside code spans no raw "<" is left (a renderer would read it as HTML).
    expect(md.replace(/`+[^`]*`+/g, "")).not.toMatch(/(^|[^\\])</m);
  });
});

describe("writeReport", () => {
  it("writes the three files atomically", async () => {
    const dir = join(OUT, "report-write");
    rmSync(dir, { recursive: true, force: true });
    const paths = { markdownPath: join(dir, "eval.md"), htmlPath: join(dir, "eval.html"), jsonPath: join(dir, "eval.json") };
    expect(await writeReport(RESULTS, paths)).toEqual([paths.markdownPath, paths.htmlPath, paths.jsonPath]);
    expect(readFileSync(paths.markdownPath, "utf8")).toBe(renderMarkdown(RESULTS));
    expect(readFileSync(paths.htmlPath, "utf8")).toBe(renderHtml(RESULTS));
    expect(resultsFromJson(readFileSync(paths.jsonPath, "utf8")).rows).toHaveLength(ROWS.length);
    await writeReport(RESULTS, paths);
    expect(readdirSync(dir).sort()).toEqual(["eval.html", "eval.json", "eval.md"]);
  });
});

describe("renderHtml", () => {
  const html = renderHtml(RESULTS);

  it("is deterministic, self-contained and escapes names", () => {
    expect(renderHtml({ ...RESULTS, rows: [...ROWS].reverse() })).toBe(html);
    expect(html).not.toMatch(/(src|href)=["']?(https?:)?\/\//i);
    expect(html).not.toMatch(/@import|url\(/);
    expect(html.match(/<script>/g)).toHaveLength(1);
    expect(html).not.toContain("<b>&amp;</b>");
    expect(html).toContain("&lt;b&gt;&amp;amp;&lt;/b&gt;");
  });

  it.skipIf(!existsSync(CHROMIUM))(
    "renders in headless Chromium with no network: table, per-layer bars, scatter points, inf, literal names (skipped only where /usr/bin/chromium is missing)",
    async () => {
      mkdirSync(OUT, { recursive: true });
      const file = join(OUT, "report-test.html");
      await writeReport(RESULTS, { htmlPath: file });
      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: [
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--disable-quic",
          "--no-first-run",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
        ],
      });
      try {
        const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
        const errors: string[] = [];
        const network: string[] = [];
        page.on("console", (m) => {
          if (m.type() === "error" || m.type() === "warning") errors.push(`console ${m.type()}: ${m.text()}`);
        });
        page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
        page.on("request", (r) => {
          if (!/^(file|data|about):/.test(r.url())) network.push(r.url());
        });
        await page.route("**/*", (route) => {
          const url = route.request().url();
          if (/^(file|data):/.test(url)) return route.continue();
          network.push(url);
          return route.abort();
        });
        await page.goto(pathToFileURL(file).href, { waitUntil: "load" });

        const info = await page.evaluate(() => {
          const g = globalThis as unknown as { document: Doc; __pwned?: number };
          const document = g.document;
          const plots = Array.from(document.querySelectorAll("svg.plot")).map((s) => ({
            kind: s.classList.contains("per-layer") ? "per-layer" : s.classList.contains("scatter") ? "scatter" : "?",
            model: s.getAttribute("data-model") ?? "",
            preset: s.getAttribute("data-preset") ?? "",
            variant: s.getAttribute("data-variant") ?? "",
            bars: s.querySelectorAll("rect.bar").length,
            points: s.querySelectorAll("circle.pt").length,
            identity: s.querySelectorAll("line.identity").length,
            reference: s.querySelectorAll("line.reference").length,
            ticks: s.querySelectorAll("text.tick-label, text.tick").length,
            width: s.getBoundingClientRect().width,
          }));
          const rows = Array.from(document.querySelectorAll("#results tbody tr"));
          return {
            plots,
            bodyRows: rows.length,
            rowKeys: rows.map((r) => `${r.getAttribute("data-model")}|${r.getAttribute("data-preset")}|${r.getAttribute("data-variant")}`),
            sqnr: rows.map((r) => r.querySelector("td.sqnr")?.textContent ?? ""),
            modelHeads: Array.from(document.querySelectorAll("#results th.model-name")).map((th) => th.firstChild?.textContent ?? ""),
            excluded: Array.from(document.querySelectorAll("#results td.excluded code")).map((c) => c.textContent),
            barNames: Array.from(document.querySelectorAll("svg.per-layer rect.bar")).map((b) => b.getAttribute("data-name")),
            layerLabels: Array.from(document.querySelectorAll("svg.per-layer text.value")).map((t) => t.textContent ?? ""),
            scripts: document.querySelectorAll("script").length,
            pwned: g.__pwned ?? 0,
            targets: Array.from(document.querySelectorAll("#results td.target")).map((t) => t.textContent),
            filterVisible: !(document.getElementById("filter")?.hidden ?? true),
          };
        });

        expect(errors).toEqual([]);
        expect(network).toEqual([]);
        expect(info.bodyRows).toBe(ROWS.length);
        expect(info.rowKeys).toEqual(sortRows(ROWS).map((r) => `${r.model}|${r.preset}|${r.variant ?? "default"}`));
        expect(info.modelHeads).toEqual([M1, M2]);
        expect(info.targets).toEqual(["-", "✗", "✓", "✓", "✓", "✗"]);

        const perLayer = info.plots.filter((p) => p.kind === "per-layer");
        expect(perLayer.map(({ model, preset, variant, bars }) => ({ model, preset, variant, bars })).sort(byKey)).toEqual([...EXPECTED_PER_LAYER].sort(byKey));
        for (const p of perLayer) expect(p.reference).toBe(1);
        for (const m of [M1, M2]) expect(perLayer.some((p) => p.model === m)).toBe(true);
        const scatters = info.plots.filter((p) => p.kind === "scatter");
        expect(scatters.map(({ model, preset, variant, points }) => ({ model, preset, variant, points })).sort(byKey)).toEqual(
          [...EXPECTED_SCATTER].sort(byKey),
        );
        for (const p of scatters) {
          expect(p.identity).toBe(1);
          expect(p.ticks).toBeGreaterThanOrEqual(6);
        }
        for (const p of info.plots) expect(p.width).toBeGreaterThan(100);

        // Infinity shows as "inf" in the table and in the per-layer chart.
        expect(info.sqnr).toContain("inf");
        expect(info.layerLabels.some((t) => t.startsWith("inf dB"))).toBe(true);
        // Names with "::", "<", quotes and markup render literally (and inject nothing).
        expect(info.excluded).toContain(EVIL_LAYER);
        expect(info.barNames).toContain(EVIL_LAYER);
        expect(info.barNames).toContain("inf");
        expect(info.scripts).toBe(1);
        expect(info.pwned).toBe(0);
        expect(await page.getByText(`Decision: speech per 32 ms chunk ("p > 0.5")`, { exact: false }).count()).toBe(1);

        // The optional script: a model filter.
        expect(info.filterVisible).toBe(true);
        await page.selectOption("#model-filter", M2);
        expect(await page.locator("#results tbody:visible").count()).toBe(1);
        expect(await page.locator("svg.plot:visible").count()).toBe(info.plots.filter((p) => p.model === M2).length);
        await page.selectOption("#model-filter", "");

        await page.locator("svg.plot.per-layer").first().screenshot({ path: join(OUT, "report-per-layer.png") });
        await page.locator("svg.plot.scatter").first().screenshot({ path: join(OUT, "report-scatter.png") });
        const png = join(OUT, "report.png");
        await page.screenshot({ path: png, fullPage: true });
        expect(statSync(png).size).toBeGreaterThan(50_000);
        expect(errors).toEqual([]);
        expect(network).toEqual([]);
      } finally {
        await browser.close();
      }
    },
    30_000,
  );
});
