// Text rendering with ImageMagick (`convert label:`) and DejaVu fonts, read back as 8-bit grey pixels.
// Many labels are rendered by one `convert` call (a multi-image PGM stream) and cached in memory per
// process (nothing is written to disk). The same style gives the same bytes on a given machine.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

/** An 8-bit grey image, row-major. */
export interface Grey {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

export const FONT_DIR = "/usr/share/fonts/truetype/dejavu";

/** DejaVu faces used for rendering (all part of fonts-dejavu-core / fonts-dejavu-extra). */
export const FONTS: readonly string[] = [
  "DejaVuSans.ttf",
  "DejaVuSans-Bold.ttf",
  "DejaVuSerif.ttf",
  "DejaVuSerif-Bold.ttf",
  "DejaVuSansMono.ttf",
  "DejaVuSansCondensed.ttf",
  "DejaVuSerifCondensed.ttf",
  "DejaVuSans-Oblique.ttf",
  "DejaVuSansMono-Bold.ttf",
  "DejaVuSerif-Italic.ttf",
  "DejaVuSansCondensed-Bold.ttf",
];

/** How one text label is drawn. */
export interface LabelStyle {
  readonly text: string;
  /** File name in FONT_DIR. */
  readonly font: string;
  readonly pointsize: number;
  /** Grey levels 0..255. */
  readonly fg: number;
  readonly bg: number;
  /** Margin around the text, pixels. */
  readonly border: number;
  /** Degrees (0: none); corners are filled with the background. */
  readonly rotate: number;
  /** Gaussian blur sigma in pixels (0: none). */
  readonly blur: number;
}

/** label: interprets "%" escapes, "\n" and a leading "@" (file read): escape them. */
function escapeLabel(text: string): string {
  if (text.startsWith("@")) throw new Error(`label text may not start with "@": ${text}`);
  return text.replaceAll("\\", "\\\\").replaceAll("%", "%%");
}

const fmt = (x: number) => String(Math.round(x * 1000) / 1000);

function labelArgs(s: LabelStyle): string[] {
  const font = join(FONT_DIR, s.font);
  const bg = `gray(${Math.round(s.bg)})`;
  const args = ["(", "-font", font, "-pointsize", fmt(s.pointsize), "-background", bg, "-fill", `gray(${Math.round(s.fg)})`];
  args.push(`label:${escapeLabel(s.text)}`, "-bordercolor", bg, "-border", `${Math.round(s.border)}x${Math.round(s.border)}`);
  if (s.rotate !== 0) args.push("-rotate", fmt(s.rotate));
  if (s.blur > 0) args.push("-blur", `0x${fmt(s.blur)}`);
  args.push("+repage", ")");
  return args;
}

/** Parses a stream of binary 8-bit PGM (P5) images. */
export function parsePgmStream(buf: Uint8Array): Grey[] {
  const out: Grey[] = [];
  let p = 0;
  const isSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
  const token = (): string => {
    for (;;) {
      while (p < buf.length && isSpace(buf[p]!)) p++;
      if (buf[p] === 0x23) while (p < buf.length && buf[p] !== 0x0a) p++;
      else break;
    }
    const start = p;
    while (p < buf.length && !isSpace(buf[p]!)) p++;
    return String.fromCharCode(...buf.subarray(start, p));
  };
  while (p < buf.length) {
    while (p < buf.length && isSpace(buf[p]!)) p++;
    if (p >= buf.length) break;
    const magic = token();
    const width = Number(token());
    const height = Number(token());
    const max = Number(token());
    if (magic !== "P5" || max !== 255 || !(width > 0) || !(height > 0)) throw new Error(`not an 8-bit binary PGM stream (${magic} ${width} ${height} ${max})`);
    p++; // the single whitespace after maxval
    const n = width * height;
    if (p + n > buf.length) throw new Error("truncated PGM stream");
    out.push({ width, height, data: buf.slice(p, p + n) });
    p += n;
  }
  return out;
}

let checked = false;
function checkTools(): void {
  if (checked) return;
  const r = spawnSync("convert", ["-version"], { encoding: "utf8" });
  if (r.status !== 0) throw new Error("ImageMagick `convert` is needed to render OCR eval data (apt-get install imagemagick)");
  for (const f of FONTS) if (!existsSync(join(FONT_DIR, f))) throw new Error(`font ${join(FONT_DIR, f)} is missing (apt-get install fonts-dejavu-core fonts-dejavu-extra)`);
  checked = true;
}

const cache = new Map<string, Grey>();
/** Forgets every cached render (tests use it to check that ImageMagick itself is deterministic). */
export function clearRenderCache(): void {
  cache.clear();
}

const keyOf = (s: LabelStyle) => JSON.stringify([s.text, s.font, s.pointsize, s.fg, s.bg, s.border, s.rotate, s.blur]);

/** Renders labels (one `convert` call per batch of 48 not yet cached); same order as `styles`. */
export function renderLabels(styles: readonly LabelStyle[]): Grey[] {
  checkTools();
  const missing = [...new Set(styles.map(keyOf).filter((k) => !cache.has(k)))];
  const byKey = new Map(styles.map((s) => [keyOf(s), s]));
  for (let i = 0; i < missing.length; i += 48) {
    const batch = missing.slice(i, i + 48);
    const args = batch.flatMap((k) => labelArgs(byKey.get(k)!));
    const r = spawnSync("convert", [...args, "-depth", "8", "pgm:-"], { maxBuffer: 1 << 28 });
    if (r.status !== 0) throw new Error(`convert failed (${r.status}): ${r.stderr?.toString() ?? ""}`);
    const images = parsePgmStream(new Uint8Array(r.stdout.buffer, r.stdout.byteOffset, r.stdout.byteLength));
    if (images.length !== batch.length) throw new Error(`convert returned ${images.length} images for ${batch.length} labels`);
    for (const [j, k] of batch.entries()) cache.set(k, images[j]!);
  }
  return styles.map((s) => cache.get(keyOf(s))!);
}

/** A copy with approximately Gaussian noise of standard deviation `sigma` grey levels (seeded). */
export function addNoise(img: Grey, sigma: number, rnd: () => number): Grey {
  const data = new Uint8Array(img.data);
  if (sigma > 0)
    for (let i = 0; i < data.length; i++) {
      // Irwin-Hall(4) approximation of N(0, 1): deterministic given the PRNG.
      const z = (rnd() + rnd() + rnd() + rnd() - 2) * Math.sqrt(3);
      data[i] = Math.min(255, Math.max(0, Math.round(data[i]! + sigma * z)));
    }
  return { width: img.width, height: img.height, data };
}

/** The image turned by 180 degrees. */
export function rotate180(img: Grey): Grey {
  return { width: img.width, height: img.height, data: new Uint8Array(img.data).reverse() };
}

/**
 * Bilinear resize as OpenCV's cv2.resize(..., INTER_LINEAR) does it (half-pixel centres, edge clamp, no
 * antialiasing), rounded back to 8 bits like cv2 on uint8 images.
 */
export function resizeBilinear(img: Grey, width: number, height: number): Grey {
  const out = new Uint8Array(width * height);
  const sx = img.width / width;
  const sy = img.height / height;
  const xs0 = new Int32Array(width);
  const xs1 = new Int32Array(width);
  const xf = new Float64Array(width);
  for (let x = 0; x < width; x++) {
    let fx = (x + 0.5) * sx - 0.5;
    if (fx < 0) fx = 0;
    let x0 = Math.floor(fx);
    if (x0 >= img.width - 1) {
      x0 = img.width - 1;
      fx = x0;
    }
    xs0[x] = x0;
    xs1[x] = Math.min(x0 + 1, img.width - 1);
    xf[x] = fx - x0;
  }
  for (let y = 0; y < height; y++) {
    let fy = (y + 0.5) * sy - 0.5;
    if (fy < 0) fy = 0;
    let y0 = Math.floor(fy);
    if (y0 >= img.height - 1) {
      y0 = img.height - 1;
      fy = y0;
    }
    const y1 = Math.min(y0 + 1, img.height - 1);
    const wy = fy - y0;
    const r0 = y0 * img.width;
    const r1 = y1 * img.width;
    for (let x = 0; x < width; x++) {
      const wx = xf[x]!;
      const a = img.data[r0 + xs0[x]!]! * (1 - wx) + img.data[r0 + xs1[x]!]! * wx;
      const b = img.data[r1 + xs0[x]!]! * (1 - wx) + img.data[r1 + xs1[x]!]! * wx;
      out[y * width + x] = Math.round(a * (1 - wy) + b * wy);
    }
  }
  return { width, height, data: out };
}

/** Copies `src` into `dst` (same grey background assumed) with its top-left corner at (x, y), clipped. */
export function blit(dst: { width: number; height: number; data: Uint8Array }, src: Grey, x: number, y: number): void {
  for (let r = 0; r < src.height; r++) {
    const dy = y + r;
    if (dy < 0 || dy >= dst.height) continue;
    for (let c = 0; c < src.width; c++) {
      const dx = x + c;
      if (dx < 0 || dx >= dst.width) continue;
      dst.data[dy * dst.width + dx] = src.data[r * src.width + c]!;
    }
  }
}
