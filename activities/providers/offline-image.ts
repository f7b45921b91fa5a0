/**
 * The offline image provider: composes an SVG landscape from the palette and
 * seeds, and rasterises it with sharp (librsvg). No network, no model.
 *
 * The book seed picks what should stay the same across a book (the figure, sun
 * or moon, drawing quirks); the prompt hash varies each scene. Covers carry the
 * title and subtitle set large over the picture.
 */
import { createRequire } from 'node:module';
import sharp from 'sharp';
import type { ImageProvider, ImageRequest, ImageResult } from './types';
import { handFontsToSvg } from '../render/svg-fonts';
import { hash32, Rng } from './offline-text';
import { drawScene, hex, INK, mix, planScene, WHITE, type Rgb, type ScenePlan } from './offline-scene';

const MODEL = 'offline-painter-1';
const MIN_SIDE = 16;
const MAX_SIDE = 4096;
/** Named families first for a consistent look; the generic one lets librsvg fall back per script. */
const SERIF = "'DejaVu Serif', 'Noto Serif', 'Noto Serif CJK SC', 'Noto Naskh Arabic', serif";
const SANS = "'DejaVu Sans', 'Noto Sans', 'Noto Sans CJK SC', 'Noto Sans Arabic', sans-serif";

// ---------------------------------------------------------------------------
// Colour

function parseHex(value: unknown): Rgb | undefined {
  if (typeof value !== 'string') return undefined;
  const m = /^#?([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(value.trim());
  if (!m) return undefined;
  const h = m[1].length === 3 ? [...m[1]].map((c) => c + c).join('') : m[1];
  return [parseInt(h.slice(0, 2), 16), parseInt(h.slice(2, 4), 16), parseInt(h.slice(4, 6), 16)];
}

// ---------------------------------------------------------------------------
// Text

/** Escapes text for SVG and drops what XML cannot carry at all (controls, lone surrogates). */
export function escapeXml(text: string): string {
  return text
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '')
    .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

const WIDE = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\u3000-\u303f\uff00-\uffef]/u;

/** Rough advance width in ems; generous, so estimated lines never overflow the real ones. */
function charWidth(ch: string, bold: boolean): number {
  let w: number;
  if (WIDE.test(ch)) w = 1.0;
  else if (/\s/.test(ch)) w = 0.3;
  else if (/[ilj.,:;'’!|]/.test(ch)) w = 0.32;
  else if (/[mwMW@]/.test(ch)) w = 0.92;
  else if (/\p{Lu}/u.test(ch)) w = 0.72;
  else if (/[0-9]/.test(ch)) w = 0.62;
  else w = 0.58;
  return bold ? w * 1.08 : w;
}

function textWidth(text: string, fontSize: number, bold = false): number {
  let w = 0;
  for (const ch of text) w += charWidth(ch, bold);
  return w * fontSize;
}

/**
 * Greedy line wrapping by estimated width. Breaks at spaces and between CJK characters.
 * A word too long for a line is split by characters only when `splitWords` (a caption);
 * a title's or subtitle's word stays whole, and its line is wider than `maxWidth`, so the
 * caller shrinks the type or hyphenates at a legal point (`hyphenateToFit`).
 */
function wrap(text: string, maxWidth: number, fontSize: number, bold = false, splitWords = true): string[] {
  const units = text.match(/\s+|[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}][、。，．！？」』)]*|[^\s\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]+/gu) ?? [];
  const lines: string[] = [];
  let line = '';
  const push = () => {
    if (line.trim()) lines.push(line.trim());
    line = '';
  };
  for (const unit of units) {
    if (/^\s+$/.test(unit)) {
      if (line) line += ' ';
      continue;
    }
    if (textWidth(line + unit, fontSize, bold) <= maxWidth) {
      line += unit;
      continue;
    }
    if (line.trim()) push();
    if (!splitWords || textWidth(unit, fontSize, bold) <= maxWidth) {
      line = unit;
      continue;
    }
    // A single word wider than the line: split it by characters.
    for (const ch of unit) {
      if (line && textWidth(line + ch, fontSize, bold) > maxWidth) push();
      line += ch;
    }
  }
  push();
  return lines;
}

const requireHere = createRequire(__filename);
const hyphenators = new Map<string, ((word: string) => string) | null>();
const SOFT_HYPHEN = '\u00ad';

/** npm hyphen's TeX patterns for a BCP 47 tag (the tag, then its language), or null. */
function hyphenatorFor(language: string): ((word: string) => string) | null {
  const tag = language.toLowerCase();
  if (hyphenators.has(tag)) return hyphenators.get(tag)!;
  let found: ((word: string) => string) | null = null;
  for (const name of tag === 'en' ? ['en-us'] : [tag, tag.split('-')[0]]) {
    if (!/^[a-z]{2,3}(-[a-z0-9]+)*$/.test(name)) continue;
    try {
      const mod = requireHere(`hyphen/${name}`) as { hyphenateSync: (t: string, o: { hyphenChar: string }) => string };
      found = (word) => mod.hyphenateSync(word, { hyphenChar: SOFT_HYPHEN });
      break;
    } catch {
      // No patterns under this name.
    }
  }
  hyphenators.set(tag, found);
  return found;
}

/**
 * Lines wider than `maxWidth` (a word that does not fit even at the smallest size) broken at
 * the hyphenation patterns' legal points, a visible hyphen ending each piece; a word with no
 * legal point that fits is left whole (the caller clamps it), never cut at an arbitrary letter.
 */
function hyphenateToFit(lines: string[], maxWidth: number, fontSize: number, bold: boolean, language: string): string[] {
  const hyphenate = hyphenatorFor(language);
  if (!hyphenate) return lines;
  const out: string[] = [];
  for (const line of lines) {
    if (textWidth(line, fontSize, bold) <= maxWidth) {
      out.push(line);
      continue;
    }
    let rest = line;
    while (textWidth(rest, fontSize, bold) > maxWidth) {
      const pieces = hyphenate(rest).split(SOFT_HYPHEN);
      let head = '';
      let i = 0;
      while (i < pieces.length - 1 && textWidth(`${head}${pieces[i]}-`, fontSize, bold) <= maxWidth) head += pieces[i++];
      if (!head) break;
      out.push(`${head}-`);
      rest = pieces.slice(i).join('');
    }
    out.push(rest);
  }
  return out;
}

/**
 * Same line count as greedy wrapping, but with lines of even length: searches
 * the narrowest width that needs no more lines and breaks no word apart.
 */
function balancedWrap(text: string, maxWidth: number, fontSize: number, bold = false): string[] {
  const greedy = wrap(text, maxWidth, fontSize, bold, false);
  if (greedy.length < 2) return greedy;
  const words = greedy.join(' ');
  let lo = maxWidth * 0.4;
  let hi = maxWidth;
  for (let i = 0; i < 12; i++) {
    const mid = (lo + hi) / 2;
    const lines = wrap(text, mid, fontSize, bold, false);
    if (lines.length <= greedy.length && lines.join(' ') === words && lines.every((l) => textWidth(l, fontSize, bold) <= mid)) hi = mid;
    else lo = mid;
  }
  return wrap(text, hi, fontSize, bold, false);
}

/** Keeps at most `max` lines, ending the last one with an ellipsis if text was cut. */
function clampLines(lines: string[], max: number, maxWidth: number, fontSize: number, bold = false): string[] {
  if (lines.length <= max) return lines;
  const kept = lines.slice(0, max);
  let last = kept[max - 1];
  while (last && textWidth(`${last}…`, fontSize, bold) > maxWidth) last = [...last].slice(0, -1).join('');
  kept[max - 1] = `${last.replace(/[\s,;:.]+$/u, '')}…`;
  return kept;
}

function textBlock(
  lines: string[],
  opts: { x: number; y: number; size: number; lineHeight: number; fill: string; family: string; weight?: string; shadow?: number; opacity?: number },
): string {
  const { x, y, size, lineHeight, fill, family } = opts;
  const tspans = lines
    .map((l, i) => `<tspan x="${x.toFixed(1)}" y="${(y + i * lineHeight).toFixed(1)}">${escapeXml(l)}</tspan>`)
    .join('');
  const common = `font-family="${family}" font-size="${size.toFixed(1)}" font-weight="${opts.weight ?? 'normal'}" text-anchor="middle"`;
  // An offset dark copy reads as a soft shadow and costs far less than a blur filter.
  const shadow = opts.shadow
    ? `<text ${common} fill="#000" fill-opacity="0.45" transform="translate(${opts.shadow.toFixed(1)} ${opts.shadow.toFixed(1)})">${tspans}</text>`
    : '';
  return `${shadow}<text ${common} fill="${fill}"${opts.opacity !== undefined ? ` fill-opacity="${opts.opacity}"` : ''}>${tspans}</text>`;
}

/**
 * A cover title's lines and type size: as big as fits four lines of the cover's width with
 * every word whole and the lines balanced; a word too long even at the smallest size is
 * hyphenated at a legal point for `language`, never cut between two letters.
 */
export function coverTitleLayout(title: string, w: number, h: number, language = 'en'): { lines: string[]; size: number; maxWidth: number } {
  const maxWidth = w * 0.84;
  let size = Math.min(w * 0.12, h * 0.09);
  const fits = (ls: string[]) => ls.length <= 4 && ls.every((l) => textWidth(l, size, true) <= maxWidth);
  let lines = wrap(title, maxWidth, size, true, false);
  while (!fits(lines) && size > w * 0.04) {
    size *= 0.92;
    lines = wrap(title, maxWidth, size, true, false);
  }
  lines = fits(lines)
    ? balancedWrap(title, maxWidth, size, true)
    : clampLines(hyphenateToFit(lines, maxWidth, size, true, language), 4, maxWidth, size, true);
  return { lines, size, maxWidth };
}

/** The lettering, and the y where it ends (0 when there is none at the top). */
function composeText(req: ImageRequest, w: number, h: number, c1: Rgb, c2: Rgb, night: boolean): { svg: string; bottom: number } {
  const out: string[] = [];
  let bottom = 0;
  if (req.kind === 'cover') {
    const { lines, size } = coverTitleLayout((req.title ?? '').trim() || 'Untitled', w, h, req.language);
    const lineHeight = size * 1.16;
    const top = h * 0.1;
    const blockH = lines.length * lineHeight;
    // Darken the top so light lettering reads on any sky.
    out.push(
      `<defs><linearGradient id="veil" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="${hex(mix(c1, INK, 0.75))}" stop-opacity="0.78"/><stop offset="1" stop-color="${hex(mix(c1, INK, 0.75))}" stop-opacity="0"/></linearGradient></defs>`,
      `<rect width="${w}" height="${(top + blockH + h * 0.22).toFixed(1)}" fill="url(#veil)"/>`,
    );
    const ink = hex(mix(WHITE, c2, 0.12));
    out.push(textBlock(lines, { x: w / 2, y: top + size, size, lineHeight, fill: ink, family: SERIF, weight: 'bold', shadow: size * 0.04 }));
    let y = top + blockH + size * 0.45;
    const ruleW = w * 0.18;
    out.push(`<path d="M${(w / 2 - ruleW / 2).toFixed(1)} ${y.toFixed(1)}h${ruleW.toFixed(1)}" stroke="${ink}" stroke-opacity="0.8" stroke-width="${Math.max(1, w * 0.0025).toFixed(1)}"/>`);
    out.push(`<circle cx="${(w / 2).toFixed(1)}" cy="${y.toFixed(1)}" r="${Math.max(2, w * 0.005).toFixed(1)}" fill="${ink}"/>`);
    const subtitle = (req.subtitle ?? '').trim();
    if (subtitle) {
      const ss = Math.max(12, w * 0.034);
      const sw = w * 0.76;
      const sg = hyphenateToFit(wrap(subtitle, sw, ss, false, false), sw, ss, false, req.language ?? 'en');
      const sl = sg.length <= 4 && sg.every((l) => textWidth(l, ss) <= sw) ? balancedWrap(subtitle, sw, ss) : clampLines(sg, 4, sw, ss);
      y += ss * 1.9;
      out.push(textBlock(sl, { x: w / 2, y, size: ss, lineHeight: ss * 1.35, fill: ink, family: SERIF, opacity: 0.92, shadow: ss * 0.05 }));
      y += (sl.length - 1) * ss * 1.35;
    }
    bottom = y + size * 0.3;
    // A thin inset frame gives the cover a finished edge.
    const inset = Math.min(w, h) * 0.03;
    out.push(
      `<rect x="${inset.toFixed(1)}" y="${inset.toFixed(1)}" width="${(w - 2 * inset).toFixed(1)}" height="${(h - 2 * inset).toFixed(1)}" fill="none" stroke="${ink}" stroke-opacity="0.5" stroke-width="${Math.max(1, w * 0.002).toFixed(1)}"/>`,
    );
  } else if (req.caption && req.caption.trim()) {
    const size = Math.max(10, Math.min(w, h) * 0.026);
    const maxWidth = w * 0.9;
    const [line] = clampLines(wrap(req.caption.trim(), maxWidth, size), 1, maxWidth, size);
    const band = size * 2.3;
    out.push(`<rect y="${(h - band).toFixed(1)}" width="${w}" height="${band.toFixed(1)}" fill="${hex(night ? INK : mix(c1, INK, 0.7))}" fill-opacity="0.55"/>`);
    out.push(textBlock([line], { x: w / 2, y: h - band / 2 + size * 0.35, size, lineHeight: size, fill: '#fbf7ee', family: SANS }));
  }
  return { svg: out.join(''), bottom };
}

const FALLBACK_PALETTE: [Rgb, Rgb] = [
  [91, 108, 125],
  [217, 200, 169],
];

/**
 * The scene a request's picture shows. The picture's own words decide it (`scene`, else the
 * prompt before its bible); the bible ("Style: ... Setting: ...") is the same for every
 * picture of a book, so its setting only fills in where the own words name none.
 */
export function sceneOf(req: ImageRequest): ScenePlan {
  const prompt = req.prompt ?? '';
  const bibleAt = prompt.search(/\bStyle:/);
  const own = req.scene ?? (bibleAt > 0 ? prompt.slice(0, bibleAt) : prompt);
  const context = /\bSetting:\s*([^]*)$/.exec(prompt)?.[1] ?? '';
  const seed = Number.isFinite(req.seed) ? Math.trunc(req.seed) >>> 0 : 0;
  return planScene({ text: own, context, index: req.index, seed });
}

/** The SVG for a request; exported for tests and for previewing without rasterising. */
export function composeSvg(req: ImageRequest): { svg: string; width: number; height: number } {
  const width = Math.round(Number(req.width));
  const height = Math.round(Number(req.height));
  for (const [name, v] of [
    ['width', width],
    ['height', height],
  ] as const) {
    if (!Number.isFinite(v) || v < MIN_SIDE || v > MAX_SIDE) {
      throw new RangeError(`${name} must be between ${MIN_SIDE} and ${MAX_SIDE} pixels, got ${name === 'width' ? req.width : req.height}`);
    }
  }
  const c1 = parseHex(req.palette?.[0]) ?? FALLBACK_PALETTE[0];
  const c2 = parseHex(req.palette?.[1]) ?? FALLBACK_PALETTE[1];
  const seed = Number.isFinite(req.seed) ? Math.trunc(req.seed) >>> 0 : 0;
  const book = new Rng((seed ^ 0x9e3779b9) >>> 0);
  const scene = new Rng((seed ^ hash32(`${req.kind}\u241f${req.index ?? ''}\u241f${req.prompt ?? ''}`)) >>> 0);

  const plan = sceneOf(req);
  const look = { hat: book.chance(0.35), cape: book.chance(0.5) };
  const text = composeText(req, width, height, c1, c2, plan.time === 'night');
  let clearTop = 0;
  if (req.kind === 'cover') {
    // The picture's sky starts below the lettering: sun, clouds and birds stay clear of it.
    clearTop = text.bottom / height;
    plan.horizon = Math.min(0.8, Math.max(0.6, clearTop + scene.range(0.13, 0.17)));
  }
  const body = drawScene(plan, { w: width, h: height, c1, c2, clearTop }, look, scene);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${body}${text.svg}</svg>`;
  return { svg, width, height };
}

/** The SVG as the picture's file: a JPEG cover, a PNG illustration. */
export async function rasteriseSvg(svg: string, kind: 'cover' | 'illustration'): Promise<Buffer> {
  const img = sharp(Buffer.from(svg), { density: 72 });
  return kind === 'cover' ? img.jpeg({ quality: 88, mozjpeg: false }).toBuffer() : img.png({ compressionLevel: 6 }).toBuffer();
}

export function createOfflineImageProvider(): ImageProvider {
  return {
    name: 'offline',
    offline: true,
    async generateImage(req: ImageRequest, signal?: AbortSignal): Promise<ImageResult> {
      signal?.throwIfAborted();
      if (req.kind !== 'cover' && req.kind !== 'illustration') {
        throw new RangeError(`unknown image kind ${String(req.kind)}`);
      }
      const { svg, width, height } = composeSvg(req);
      // librsvg finds fonts through fontconfig only: it gets the files the PDF draws with.
      await handFontsToSvg([req.title, req.subtitle, req.caption].filter(Boolean).join(' '));
      const data = await rasteriseSvg(svg, req.kind);
      signal?.throwIfAborted();
      return {
        data,
        mime: req.kind === 'cover' ? 'image/jpeg' : 'image/png',
        width,
        height,
        usage: { images: 1 },
        model: MODEL,
      };
    },
  };
}
