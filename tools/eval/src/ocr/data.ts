// The OCR eval data: rendered text lines (rec, cls) and rendered document pages (det), deterministic
// (seeded PRNG, ImageMagick renders cached per process). Item i's rendering depends only on its set and
// index, so a small CI run reads the first items of a full run.
import { spawnSync } from "node:child_process";
import { prng } from "@quanta/models";
import { CALIBRATION_LINES, EVAL_LINES } from "./lines.js";
import { FONTS, type Grey, type LabelStyle, addNoise, blit, renderLabels, rotate180 } from "./render.js";

export type Purpose = "eval" | "calibration";

const SEED = { rec: 0x1e0c, cls: 0xc1a5, det: 0xde7 } as const;
const seedOf = (kind: keyof typeof SEED, purpose: Purpose, i: number) => SEED[kind] * 7919 + (purpose === "calibration" ? 500_009 : 0) + i * 104_729;

/** Chinese lines (all in ppocr_keys_v1), used where a CJK font is installed. */
const CHINESE_EVAL = ["欢迎光临", "总计：人民币58元", "北京市海淀区中关村大街27号", "营业时间 9:00-21:00", "请保管好您的小票", "上海浦东国际机场"];
const CHINESE_CALIBRATION = ["生产日期 2024年5月1日", "谢谢惠顾", "广州市天河区体育西路", "会员卡号 6222 0210", "新鲜水果特价", "本店支持微信支付"];

let cjk: string | null | undefined;
/** Path of an installed font covering Chinese (`fc-list :lang=zh`), or null (then no Chinese lines). */
export function cjkFont(): string | null {
  if (cjk === undefined) {
    const r = spawnSync("fc-list", [":lang=zh", "file"], { encoding: "utf8" });
    const files = r.status === 0 ? r.stdout.split("\n").map((l) => l.trim().replace(/:$/, "")) : [];
    cjk = files.filter((f) => /\.(ttf|otf|ttc)$/i.test(f)).sort()[0] ?? null;
  }
  return cjk;
}

/** One rendered text line's recipe. */
export interface LineItem {
  readonly text: string;
  readonly style: LabelStyle;
  readonly noise: number;
  readonly seed: number;
}

/**
 * Line i of a set: English lines in turn; every 8th line Chinese where a CJK font exists. Style: one of the
 * DejaVu faces, 16-38 pt, grey text 0-90 on background 195-255, margin 2-8 px, a third slightly rotated
 * (<= 1.5 deg), a third blurred (sigma 0.3-0.9), half with noise (sigma <= 8).
 */
export function lineItem(kind: "rec" | "cls", purpose: Purpose, i: number): LineItem {
  const seed = seedOf(kind, purpose, i);
  const rnd = prng(seed);
  // Always draw the same number of values, so that a change of one choice does not shift the others.
  const r = Array.from({ length: 10 }, () => rnd());
  const pool = purpose === "eval" ? EVAL_LINES : CALIBRATION_LINES;
  const zh = purpose === "eval" ? CHINESE_EVAL : CHINESE_CALIBRATION;
  const cjkPath = i % 8 === 7 ? cjkFont() : null;
  // cls lines are shorter on average (words and short phrases as well as whole lines).
  let text = pool[(i * (kind === "cls" ? 37 : 1)) % pool.length]!;
  if (kind === "cls" && r[9]! < 0.4) {
    const words = text.split(" ");
    const n = 1 + Math.floor(r[8]! * Math.min(3, words.length));
    text = words.slice(0, n).join(" ");
  }
  if (cjkPath) text = zh[Math.floor(i / 8) % zh.length]!;
  const style: LabelStyle = {
    text,
    font: cjkPath ?? FONTS[Math.floor(r[0]! * FONTS.length)]!,
    pointsize: Math.round(16 + r[1]! * 22),
    fg: Math.round(r[2]! * 90),
    bg: Math.round(195 + r[3]! * 60),
    border: 2 + Math.floor(r[4]! * 7),
    rotate: r[5]! < 0.33 ? Math.round((r[5]! / 0.33) * 300 - 150) / 100 : 0,
    blur: r[6]! < 0.33 ? Math.round(30 + (r[6]! / 0.33) * 60) / 100 : 0,
  };
  return { text, style, noise: r[7]! < 0.5 ? (r[7]! / 0.5) * 8 : 0, seed };
}

/** Renders lines 0..size-1 of a set (one ImageMagick call per 48 uncached lines). */
export function renderLines(kind: "rec" | "cls", purpose: Purpose, size: number): { item: LineItem; image: Grey }[] {
  const items = Array.from({ length: size }, (_, i) => lineItem(kind, purpose, i));
  const images = renderLabels(items.map((it) => it.style));
  return items.map((item, i) => ({ item, image: addNoise(images[i]!, item.noise, prng(item.seed ^ 0x5bd1e995)) }));
}

/** cls: odd items are turned by 180 degrees (class 1). */
export const clsRotated = (i: number) => i % 2 === 1;

export function renderClsLines(purpose: Purpose, size: number): { item: LineItem; image: Grey; label: 0 | 1 }[] {
  return renderLines("cls", purpose, size).map((l, i) => (clsRotated(i) ? { ...l, image: rotate180(l.image), label: 1 } : { ...l, label: 0 }));
}

/** Page sizes (width x height, multiples of 32 as DetResizeForTest would make them). */
const PAGE_SIZES: readonly (readonly [number, number])[] = [
  [320, 320],
  [384, 320],
  [416, 352],
  [480, 352],
  [352, 480],
  [512, 384],
  [448, 448],
  [640, 480],
];

export interface Page {
  readonly image: Grey;
  /** Lines placed on the page, with their boxes. */
  readonly lines: readonly { text: string; x: number; y: number; width: number; height: number }[];
}

interface PagePlan {
  readonly width: number;
  readonly height: number;
  readonly bg: number;
  readonly noise: number;
  readonly margin: number;
  readonly styles: LabelStyle[];
  readonly rnd: () => number;
  readonly seed: number;
}

function planPage(purpose: Purpose, i: number): PagePlan {
  const seed = seedOf("det", purpose, i);
  const rnd = prng(seed);
  const [width, height] = PAGE_SIZES[Math.floor(rnd() * PAGE_SIZES.length)]!;
  const bg = Math.round(200 + rnd() * 55);
  const fgPage = Math.round(rnd() * 60);
  const noise = rnd() < 0.5 ? rnd() * 6 : 0;
  const margin = 8 + Math.floor(rnd() * 16);
  const count = 3 + Math.floor(rnd() * 6);
  const pool = purpose === "eval" ? EVAL_LINES : CALIBRATION_LINES;
  const styles: LabelStyle[] = [];
  for (let k = 0; k < count; k++) {
    const font = FONTS[Math.floor(rnd() * FONTS.length)]!;
    let pointsize = Math.round(12 + rnd() * (height >= 448 ? 18 : 12));
    let text = pool[(i * 11 + k * 29 + Math.floor(rnd() * 5)) % pool.length]!;
    // Fit the page width: estimated advance ~0.62 em per character (0.7 for bold / mono faces).
    const em = /Bold|Mono/.test(font) ? 0.7 : 0.62;
    const avail = width - 2 * margin - 8;
    while (text.length * pointsize * em > avail && pointsize > 12) pointsize--;
    while (text.length * pointsize * em > avail && text.includes(" ")) text = text.slice(0, text.lastIndexOf(" "));
    const r = rnd();
    styles.push({
      text,
      font,
      pointsize,
      fg: Math.min(100, Math.max(0, fgPage + Math.round((rnd() - 0.5) * 40))),
      bg,
      border: 2,
      rotate: r < 0.25 ? Math.round((r / 0.25) * 300 - 150) / 100 : 0,
      blur: rnd() < 0.25 ? 0.5 : 0,
    });
  }
  return { width, height, bg, noise, margin, styles, rnd, seed };
}

/**
 * Document pages 0..size-1: 3-8 lines of text at different sizes and horizontal positions, top to bottom
 * with gaps of at least 0.5 line heights, on a grey page of 320x320 to 640x480; lines that do not fit are
 * left out (and not counted).
 */
export function renderPages(purpose: Purpose, size: number): Page[] {
  const plans = Array.from({ length: size }, (_, i) => planPage(purpose, i));
  const labels = renderLabels(plans.flatMap((p) => p.styles));
  let next = 0;
  return plans.map((p) => {
    const img = { width: p.width, height: p.height, data: new Uint8Array(p.width * p.height).fill(p.bg) };
    const lines: Page["lines"][number][] = [];
    let y = p.margin;
    for (const s of p.styles) {
      const l = labels[next++]!;
      const gap = lines.length === 0 ? Math.floor(p.rnd() * l.height) : Math.round(l.height * (0.5 + p.rnd() * 0.9));
      const room = p.width - 2 * p.margin - l.width;
      const x = p.margin + Math.floor(p.rnd() * Math.max(0, room));
      if (room < 0 || y + gap + l.height > p.height - p.margin) continue;
      y += gap;
      blit(img, l, x, y);
      lines.push({ text: s.text, x, y, width: l.width, height: l.height });
      y += l.height;
    }
    return { image: addNoise(img, p.noise, prng(p.seed ^ 0x27d4eb2f)), lines };
  });
}
