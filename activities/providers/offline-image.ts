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

const MODEL = 'offline-painter-1';
const MIN_SIDE = 16;
const MAX_SIDE = 4096;
/** Named families first for a consistent look; the generic one lets librsvg fall back per script. */
const SERIF = "'DejaVu Serif', 'Noto Serif', 'Noto Serif CJK SC', 'Noto Naskh Arabic', serif";
const SANS = "'DejaVu Sans', 'Noto Sans', 'Noto Sans CJK SC', 'Noto Sans Arabic', sans-serif";

// ---------------------------------------------------------------------------
// Colour

type Rgb = [number, number, number];

function parseHex(value: unknown): Rgb | undefined {
  if (typeof value !== 'string') return undefined;
  const m = /^#?([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(value.trim());
  if (!m) return undefined;
  const h = m[1].length === 3 ? [...m[1]].map((c) => c + c).join('') : m[1];
  return [parseInt(h.slice(0, 2), 16), parseInt(h.slice(2, 4), 16), parseInt(h.slice(4, 6), 16)];
}

function hex([r, g, b]: Rgb): string {
  const c = (v: number) => Math.round(Math.max(0, Math.min(255, v))).toString(16).padStart(2, '0');
  return `#${c(r)}${c(g)}${c(b)}`;
}

function mix(a: Rgb, b: Rgb, t: number): Rgb {
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
}

function luminance([r, g, b]: Rgb): number {
  return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
}

const WHITE: Rgb = [255, 255, 255];
const INK: Rgb = [14, 16, 28];
const NIGHT: Rgb = [10, 14, 38];

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

// ---------------------------------------------------------------------------
// Scene

type Terrain = 'hills' | 'sea' | 'forest' | 'city' | 'mountains';

const TERRAIN_CUES: Array<[Terrain, RegExp]> = [
  ['sea', /\b(sea|ocean|harbou?r|island|whale|ship|boat|lighthouse|beach|shore|sailor|pirate|mermaid|coast|tide|waves?|lake|river)\b/i],
  ['city', /\b(city|street|neon|subway|apartment|rooftop|caf[eé]|taxi|skyscraper|metropolis|tokyo|london|paris|new york|theatre|theater|stage)\b/i],
  ['mountains', /\b(mountains?|peaks?|snow|dragon|glacier|castle|climb|winter|pass|ridge)\b/i],
  ['forest', /\b(forest|woods?|trees?|fox|owl|wolf|deer|cabin|fairy|witch|moss|mushroom|creek|pines?|orchard|leaves)\b/i],
];

function terrainFor(prompt: string, rng: Rng): Terrain {
  for (const [t, re] of TERRAIN_CUES) if (re.test(prompt)) return t;
  return rng.pick<Terrain>(['hills', 'hills', 'forest', 'mountains', 'sea']);
}

/** Smooth closed ridge through random points (Catmull-Rom turned into cubic Béziers). */
function ridge(rng: Rng, w: number, h: number, baseY: number, amp: number, points: number): { d: string; yAt: (x: number) => number } {
  const pts: Array<[number, number]> = [];
  for (let i = 0; i <= points; i++) {
    const x = (i / points) * w;
    pts.push([x, baseY + rng.range(-amp, amp)]);
  }
  const ext = [pts[0], ...pts, pts[pts.length - 1]];
  let d = `M${(-2).toFixed(1)} ${h + 2} L${-2} ${pts[0][1].toFixed(1)}`;
  for (let i = 1; i < ext.length - 2; i++) {
    const [p0, p1, p2, p3] = [ext[i - 1], ext[i], ext[i + 1], ext[i + 2]];
    const c1 = [p1[0] + (p2[0] - p0[0]) / 6, p1[1] + (p2[1] - p0[1]) / 6];
    const c2 = [p2[0] - (p3[0] - p1[0]) / 6, p2[1] - (p3[1] - p1[1]) / 6];
    d += ` C${c1[0].toFixed(1)} ${c1[1].toFixed(1)} ${c2[0].toFixed(1)} ${c2[1].toFixed(1)} ${p2[0].toFixed(1)} ${p2[1].toFixed(1)}`;
  }
  d += ` L${w + 2} ${h + 2} Z`;
  const yAt = (x: number) => {
    const i = Math.max(0, Math.min(points - 1, Math.floor((x / w) * points)));
    const t = (x - pts[i][0]) / (pts[i + 1][0] - pts[i][0]);
    // Smoothstep between the two points is close enough to the drawn curve.
    const s = t * t * (3 - 2 * t);
    return pts[i][1] + (pts[i + 1][1] - pts[i][1]) * s;
  };
  return { d, yAt };
}

interface Look {
  night: boolean;
  hat: boolean;
  cape: boolean;
  lantern: boolean;
  sunX: number;
  sunY: number;
  /** Fraction of the height where land or sea meets the sky. */
  horizon: number;
  /** Fraction of the height above which clouds and birds stay away (the cover's lettering). */
  clearTop: number;
}

function composeScene(req: ImageRequest, w: number, h: number, c1: Rgb, c2: Rgb, rng: Rng, look: Look): string {
  const s = Math.min(w, h) / 1024; // scale for strokes and small things
  const parts: string[] = [];
  const defs: string[] = [];
  const { night } = look;

  // Sky
  const skyTop = night ? mix(c1, NIGHT, 0.55) : mix(c1, WHITE, 0.15);
  const skyMid = night ? mix(mix(c1, c2, 0.5), NIGHT, 0.35) : mix(mix(c1, c2, 0.55), WHITE, 0.3);
  const skyLow = night ? mix(c2, NIGHT, 0.15) : mix(c2, WHITE, 0.55);
  defs.push(
    `<linearGradient id="sky" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="${hex(skyTop)}"/><stop offset="0.55" stop-color="${hex(skyMid)}"/><stop offset="1" stop-color="${hex(skyLow)}"/></linearGradient>`,
  );
  parts.push(`<rect width="${w}" height="${h}" fill="url(#sky)"/>`);

  // Sun or moon with a glow
  const sx = look.sunX * w;
  const sy = look.sunY * h;
  const r = (night ? 46 : 70) * s * rng.range(0.85, 1.2);
  const orb = night ? mix(WHITE, c2, 0.15) : mix(WHITE, mix(c1, [255, 200, 90], 0.5), 0.55);
  defs.push(
    `<radialGradient id="glow"><stop offset="0" stop-color="${hex(orb)}" stop-opacity="0.55"/><stop offset="1" stop-color="${hex(orb)}" stop-opacity="0"/></radialGradient>`,
  );
  parts.push(`<circle cx="${sx.toFixed(1)}" cy="${sy.toFixed(1)}" r="${(r * 4.2).toFixed(1)}" fill="url(#glow)"/>`);

  if (night) {
    // Stars: more of them high up, fewer near the horizon.
    const stars: string[] = [];
    const count = Math.round(90 * (w * h) / (1024 * 1024)) + 30;
    for (let i = 0; i < count; i++) {
      const x = rng.range(0, w);
      const y = Math.pow(rng.float(), 1.6) * h * 0.62;
      const sr = rng.range(0.6, 2.1) * s;
      stars.push(`<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="${sr.toFixed(2)}" fill-opacity="${rng.range(0.35, 1).toFixed(2)}"/>`);
    }
    parts.push(`<g fill="#fffbe8">${stars.join('')}</g>`);
    for (let i = 0; i < 4; i++) {
      const x = rng.range(0.05, 0.95) * w;
      const y = rng.range(0.04, 0.4) * h;
      const l = rng.range(6, 12) * s;
      parts.push(
        `<path d="M${x - l} ${y}H${x + l}M${x} ${y - l}V${y + l}" stroke="#fffbe8" stroke-width="${(1.4 * s).toFixed(2)}" stroke-linecap="round" opacity="0.8"/>`,
      );
    }
    defs.push(`<mask id="crescent"><rect width="${w}" height="${h}" fill="#fff"/><circle cx="${(sx + r * 0.45).toFixed(1)}" cy="${(sy - r * 0.25).toFixed(1)}" r="${(r * 0.88).toFixed(1)}" fill="#000"/></mask>`);
    parts.push(`<circle cx="${sx.toFixed(1)}" cy="${sy.toFixed(1)}" r="${r.toFixed(1)}" fill="${hex(orb)}" mask="url(#crescent)"/>`);
  } else {
    parts.push(`<circle cx="${sx.toFixed(1)}" cy="${sy.toFixed(1)}" r="${r.toFixed(1)}" fill="${hex(orb)}"/>`);
    // Soft clouds from overlapping ellipses
    const clouds = rng.int(2, 4);
    for (let i = 0; i < clouds; i++) {
      const cw = rng.range(90, 170) * s;
      const cy = rng.range(look.clearTop + 0.04, Math.max(look.clearTop + 0.05, look.horizon - 0.22)) * h;
      // Keep the sun in view: a few tries for a spot that does not cover it.
      let cx = rng.range(0.05, 0.95) * w;
      for (let k = 0; k < 6 && Math.abs(cx - sx) < cw * 0.75 + r && Math.abs(cy - sy) < cw * 0.3 + r; k++) {
        cx = rng.range(0.05, 0.95) * w;
      }
      const puffs = [0, 1, 2, 3].map((k) => {
        const px = cx + (k - 1.5) * cw * 0.35;
        const py = cy - (k === 1 || k === 2 ? cw * 0.12 : 0);
        return `<ellipse cx="${px.toFixed(1)}" cy="${py.toFixed(1)}" rx="${(cw * 0.32).toFixed(1)}" ry="${(cw * 0.2).toFixed(1)}"/>`;
      });
      parts.push(`<g fill="#ffffff" fill-opacity="${rng.range(0.35, 0.6).toFixed(2)}">${puffs.join('')}</g>`);
    }
    // A few birds
    const birds = rng.int(2, 5);
    const bx = rng.range(0.2, 0.8) * w;
    const by = rng.range(look.clearTop + 0.06, Math.max(look.clearTop + 0.07, look.horizon - 0.12)) * h;
    for (let i = 0; i < birds; i++) {
      const x = bx + rng.range(-110, 110) * s;
      const y = by + rng.range(-50, 50) * s;
      const bw = rng.range(8, 15) * s;
      parts.push(
        `<path d="M${(x - bw).toFixed(1)} ${(y - bw * 0.4).toFixed(1)} Q${(x - bw * 0.4).toFixed(1)} ${(y - bw * 0.6).toFixed(1)} ${x.toFixed(1)} ${y.toFixed(1)} Q${(x + bw * 0.4).toFixed(1)} ${(y - bw * 0.6).toFixed(1)} ${(x + bw).toFixed(1)} ${(y - bw * 0.4).toFixed(1)}" fill="none" stroke="${hex(mix(c1, INK, 0.6))}" stroke-width="${(2 * s).toFixed(2)}" stroke-linecap="round"/>`,
      );
    }
  }

  const terrain = terrainFor(req.prompt ?? '', rng);
  const horizon = h * look.horizon;
  // Tall shapes stop short of the lettering, and of the sun or moon.
  const clearance = Math.max(0.05 * h, horizon - look.clearTop * h - 0.03 * h);
  const heightAt = (x: number, wanted: number, halfWidth = 0): number => {
    const nearOrb = Math.abs(x - sx) < r * 2.2 + halfWidth;
    const cap = nearOrb ? Math.min(clearance, horizon - sy - r * 1.6) : clearance;
    return Math.max(nearOrb ? 0.015 * h : 0.04 * h, Math.min(wanted, cap));
  };
  // Distant layers fade toward the sky colour (aerial perspective), near ones darken.
  const layerColor = (depth: number): Rgb => {
    const base = mix(c1, c2, 0.65 - depth * 0.45);
    const toward = night ? mix(base, NIGHT, 0.35 + depth * 0.45) : mix(base, INK, depth * 0.55);
    return mix(toward, skyLow, (1 - depth) * 0.55);
  };

  if (terrain === 'mountains') {
    const peaks = rng.int(3, 5);
    for (let i = 0; i < peaks; i++) {
      const px = ((i + rng.range(0.1, 0.9)) / peaks) * w;
      const ph = heightAt(px, rng.range(0.22, 0.38) * h);
      const pw = rng.range(0.25, 0.4) * w;
      const top = horizon - ph;
      const col = layerColor(0.15);
      parts.push(`<path d="M${(px - pw / 2).toFixed(1)} ${horizon + 40 * s} L${px.toFixed(1)} ${top.toFixed(1)} L${(px + pw / 2).toFixed(1)} ${horizon + 40 * s} Z" fill="${hex(col)}"/>`);
      const cap = ph * 0.22;
      parts.push(
        `<path d="M${(px - (pw / 2) * (cap / ph)).toFixed(1)} ${(top + cap).toFixed(1)} L${px.toFixed(1)} ${top.toFixed(1)} L${(px + (pw / 2) * (cap / ph)).toFixed(1)} ${(top + cap).toFixed(1)} L${(px + pw * 0.03).toFixed(1)} ${(top + cap * 0.8).toFixed(1)} L${(px - pw * 0.04).toFixed(1)} ${(top + cap * 1.05).toFixed(1)} Z" fill="${hex(mix(WHITE, c2, 0.12))}" fill-opacity="${night ? 0.55 : 0.9}"/>`,
      );
    }
  }

  if (terrain === 'city') {
    const col = layerColor(night ? 0.6 : 0.3);
    const lit = night ? '#ffe6a3' : hex(mix(WHITE, c2, 0.3));
    let x = -10 * s;
    const windows: string[] = [];
    while (x < w) {
      const bw = rng.range(50, 120) * s;
      const bh = heightAt(x + bw / 2, rng.range(0.12, 0.34) * h, bw / 2);
      parts.push(`<rect x="${x.toFixed(1)}" y="${(horizon - bh).toFixed(1)}" width="${bw.toFixed(1)}" height="${(bh + 60 * s).toFixed(1)}" fill="${hex(col)}"/>`);
      if (rng.chance(0.3)) {
        parts.push(`<rect x="${(x + bw * 0.45).toFixed(1)}" y="${(horizon - bh - 28 * s).toFixed(1)}" width="${(3 * s).toFixed(1)}" height="${(28 * s).toFixed(1)}" fill="${hex(col)}"/>`);
      }
      // Keep window count modest: every rect costs render time.
      for (let wy = horizon - bh + 14 * s; wy < horizon - 10 * s; wy += 22 * s) {
        for (let wx = x + 10 * s; wx < x + bw - 14 * s; wx += 20 * s) {
          if (rng.chance(night ? 0.35 : 0.15)) {
            windows.push(`<rect x="${wx.toFixed(1)}" y="${wy.toFixed(1)}" width="${(8 * s).toFixed(1)}" height="${(11 * s).toFixed(1)}"/>`);
          }
        }
      }
      x += bw + rng.range(2, 14) * s;
    }
    parts.push(`<g fill="${lit}" fill-opacity="${night ? 0.9 : 0.45}">${windows.join('')}</g>`);
  }

  // Rolling layers of land (or water for the sea), back to front.
  const layers = terrain === 'sea' ? 2 : 3;
  let front: { d: string; yAt: (x: number) => number } | undefined;
  for (let i = 0; i < layers; i++) {
    const depth = (i + 1) / (layers + 0.5);
    const base = horizon + (h - horizon) * (i / (layers + 0.3)) * 0.8 + 10 * s;
    const amp = (terrain === 'city' ? 14 : 46 - i * 8) * s;
    const rd = ridge(rng, w, h, base, amp, rng.int(4, 7));
    if (terrain === 'sea' && i === 0) {
      // Water: a flat band with glints, the land comes in front of it.
      const water = mix(mix(c1, c2, 0.5), night ? NIGHT : INK, night ? 0.45 : 0.2);
      defs.push(
        `<linearGradient id="water" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="${hex(mix(water, skyLow, 0.4))}"/><stop offset="1" stop-color="${hex(water)}"/></linearGradient>`,
      );
      parts.push(`<rect y="${horizon.toFixed(1)}" width="${w}" height="${(h - horizon).toFixed(1)}" fill="url(#water)"/>`);
      const glints: string[] = [];
      for (let k = 0; k < 40; k++) {
        const gy = horizon + Math.pow(rng.float(), 1.4) * (h - horizon) * 0.7;
        const near = Math.abs(rng.range(-1, 1));
        const gx = sx + (rng.float() - 0.5) * (60 + (gy - horizon) * 0.8) * s * (0.5 + near);
        const gl = rng.range(10, 40) * s * (1 + (gy - horizon) / h);
        glints.push(`<path d="M${(gx - gl / 2).toFixed(1)} ${gy.toFixed(1)}h${gl.toFixed(1)}"/>`);
      }
      parts.push(`<g stroke="${hex(orb)}" stroke-opacity="0.55" stroke-width="${(2.2 * s).toFixed(2)}" stroke-linecap="round">${glints.join('')}</g>`);
      // A little lighthouse or sail on the horizon
      if (rng.chance(0.5)) {
        const lx = rng.range(0.1, 0.9) * w;
        const lh = 70 * s;
        parts.push(`<path d="M${(lx - 9 * s).toFixed(1)} ${horizon.toFixed(1)} L${(lx - 5 * s).toFixed(1)} ${(horizon - lh).toFixed(1)} L${(lx + 5 * s).toFixed(1)} ${(horizon - lh).toFixed(1)} L${(lx + 9 * s).toFixed(1)} ${horizon.toFixed(1)} Z" fill="${hex(layerColor(0.5))}"/>`);
        parts.push(`<circle cx="${lx.toFixed(1)}" cy="${(horizon - lh - 5 * s).toFixed(1)}" r="${(6 * s).toFixed(1)}" fill="#fff3c4"/>`);
      } else {
        const lx = rng.range(0.1, 0.9) * w;
        parts.push(`<path d="M${lx.toFixed(1)} ${(horizon - 2 * s).toFixed(1)} l${(-26 * s).toFixed(1)} 0 l${(6 * s).toFixed(1)} ${(8 * s).toFixed(1)} l${(40 * s).toFixed(1)} 0 l${(6 * s).toFixed(1)} ${(-8 * s).toFixed(1)} Z M${lx.toFixed(1)} ${(horizon - 4 * s).toFixed(1)} l0 ${(-44 * s).toFixed(1)} l${(22 * s).toFixed(1)} ${(40 * s).toFixed(1)} Z" fill="${hex(layerColor(0.6))}"/>`);
      }
      continue;
    }
    const col = layerColor(terrain === 'sea' ? 0.75 : depth);
    parts.push(`<path d="${rd.d}" fill="${hex(col)}"/>`);
    front = rd;

    // Trees on the land layers
    if (terrain === 'forest' || (terrain === 'hills' && i < layers - 1) || (terrain === 'mountains' && i === 0)) {
      const trees: string[] = [];
      const n = terrain === 'forest' ? rng.int(10, 18) : rng.int(3, 7);
      const tc = hex(mix(col, INK, 0.25));
      for (let k = 0; k < n; k++) {
        const tx = rng.range(0, w);
        const ty = rd.yAt(tx) + 6 * s;
        const th = rng.range(40, 90) * s * (0.6 + depth);
        if (rng.chance(0.65)) {
          trees.push(`<path d="M${(tx - th * 0.28).toFixed(1)} ${ty.toFixed(1)} L${tx.toFixed(1)} ${(ty - th).toFixed(1)} L${(tx + th * 0.28).toFixed(1)} ${ty.toFixed(1)} Z"/>`);
        } else {
          trees.push(
            `<rect x="${(tx - th * 0.03).toFixed(1)}" y="${(ty - th * 0.45).toFixed(1)}" width="${(th * 0.06).toFixed(1)}" height="${(th * 0.45).toFixed(1)}"/><circle cx="${tx.toFixed(1)}" cy="${(ty - th * 0.6).toFixed(1)}" r="${(th * 0.26).toFixed(1)}"/>`,
          );
        }
      }
      parts.push(`<g fill="${tc}">${trees.join('')}</g>`);
    }
  }

  // Grass tufts and a few flowers along the nearest ridge, so the foreground is not bare.
  if (front) {
    const grass: string[] = [];
    const flowers: string[] = [];
    const tufts = rng.int(14, 24);
    for (let i = 0; i < tufts; i++) {
      const gx = rng.range(0, w);
      const gy = front.yAt(gx) + rng.range(6, Math.max(6, 0.2 * (h - front.yAt(gx))));
      const gh = rng.range(10, 22) * s;
      grass.push(`<path d="M${(gx - gh * 0.4).toFixed(1)} ${(gy - gh).toFixed(1)} Q${(gx - gh * 0.1).toFixed(1)} ${(gy - gh * 0.3).toFixed(1)} ${gx.toFixed(1)} ${gy.toFixed(1)} Q${(gx + gh * 0.05).toFixed(1)} ${(gy - gh * 0.6).toFixed(1)} ${(gx + gh * 0.15).toFixed(1)} ${(gy - gh * 1.2).toFixed(1)} Q${(gx + gh * 0.15).toFixed(1)} ${(gy - gh * 0.4).toFixed(1)} ${(gx + gh * 0.5).toFixed(1)} ${(gy - gh * 0.9).toFixed(1)}"/>`);
      if (!night && rng.chance(0.45)) {
        flowers.push(`<circle cx="${(gx + gh * 0.15).toFixed(1)}" cy="${(gy - gh * 1.25).toFixed(1)}" r="${(3.2 * s).toFixed(1)}"/>`);
      }
    }
    const gc = hex(mix(layerColor(1), INK, 0.3));
    parts.push(`<g fill="none" stroke="${gc}" stroke-width="${(2 * s).toFixed(2)}" stroke-linecap="round">${grass.join('')}</g>`);
    if (flowers.length) parts.push(`<g fill="${hex(mix(c2, WHITE, 0.45))}">${flowers.join('')}</g>`);
  }

  // Falling leaves by day, fireflies by night
  const bits: string[] = [];
  const bitCount = rng.int(10, 22);
  for (let i = 0; i < bitCount; i++) {
    const x = rng.range(0, w);
    const y = rng.range(0.3, 0.95) * h;
    if (night) {
      bits.push(`<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="${rng.range(1.5, 3.5) * s}" fill="#fff2a8" fill-opacity="${rng.range(0.5, 0.95).toFixed(2)}"/>`);
    } else {
      const lw = rng.range(5, 10) * s;
      const leaf = hex(mix(c2, c1, rng.range(0, 0.6)));
      bits.push(
        `<ellipse cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" rx="${lw.toFixed(1)}" ry="${(lw * 0.45).toFixed(1)}" fill="${leaf}" fill-opacity="0.85" transform="rotate(${rng.int(0, 179)} ${x.toFixed(1)} ${y.toFixed(1)})"/>`,
      );
    }
  }

  // The figure: same build across the book (book rng), placed per scene.
  if (front) {
    const fx = rng.range(0.28, 0.72) * w;
    const fy = front.yAt(fx) + 4 * s;
    const fh = h * 0.13 * (Math.min(w, h) / h) * rng.range(0.95, 1.1);
    const body = hex(night ? mix(INK, c1, 0.12) : mix(INK, c1, 0.25));
    const head = fh * 0.12;
    const neckY = fy - fh * 0.74;
    const fig: string[] = [];
    const spread = look.cape ? 0.28 : 0.2;
    fig.push(
      `<path d="M${(fx - fh * 0.08).toFixed(1)} ${neckY.toFixed(1)} Q${(fx - fh * 0.16).toFixed(1)} ${(neckY + fh * 0.2).toFixed(1)} ${(fx - fh * spread).toFixed(1)} ${(fy - fh * 0.22).toFixed(1)} L${(fx + fh * spread).toFixed(1)} ${(fy - fh * 0.22).toFixed(1)} Q${(fx + fh * 0.16).toFixed(1)} ${(neckY + fh * 0.2).toFixed(1)} ${(fx + fh * 0.08).toFixed(1)} ${neckY.toFixed(1)} Z"/>`,
    );
    fig.push(
      `<path d="M${(fx - fh * 0.07).toFixed(1)} ${(fy - fh * 0.23).toFixed(1)} L${(fx - fh * 0.08).toFixed(1)} ${fy.toFixed(1)} M${(fx + fh * 0.07).toFixed(1)} ${(fy - fh * 0.23).toFixed(1)} L${(fx + fh * 0.09).toFixed(1)} ${fy.toFixed(1)}" stroke="${body}" stroke-width="${(fh * 0.05).toFixed(1)}" stroke-linecap="round" fill="none"/>`,
    );
    fig.push(`<circle cx="${fx.toFixed(1)}" cy="${(neckY - head * 0.9).toFixed(1)}" r="${head.toFixed(1)}"/>`);
    if (look.hat) {
      fig.push(
        `<path d="M${(fx - head * 1.7).toFixed(1)} ${(neckY - head * 1.3).toFixed(1)} L${(fx + head * 1.7).toFixed(1)} ${(neckY - head * 1.3).toFixed(1)} L${(fx + head * 0.8).toFixed(1)} ${(neckY - head * 1.55).toFixed(1)} L${(fx + head * 0.6).toFixed(1)} ${(neckY - head * 2.6).toFixed(1)} L${(fx - head * 0.6).toFixed(1)} ${(neckY - head * 2.6).toFixed(1)} L${(fx - head * 0.8).toFixed(1)} ${(neckY - head * 1.55).toFixed(1)} Z"/>`,
      );
    } else {
      // Hair flowing to one side, as if in a breeze
      fig.push(
        `<path d="M${(fx - head).toFixed(1)} ${(neckY - head).toFixed(1)} Q${(fx - head * 2.4).toFixed(1)} ${(neckY - head * 0.2).toFixed(1)} ${(fx - head * 2.2).toFixed(1)} ${(neckY + head * 1.3).toFixed(1)} Q${(fx - head * 1.2).toFixed(1)} ${(neckY + head * 0.4).toFixed(1)} ${(fx - head * 0.3).toFixed(1)} ${(neckY + head * 0.1).toFixed(1)} Z"/>`,
      );
    }
    const figure = `<g fill="${body}">${fig.join('')}</g>`;
    let lantern = '';
    if (look.lantern) {
      const lx = fx + fh * 0.3;
      const ly = fy - fh * 0.42;
      defs.push(
        `<radialGradient id="lamp"><stop offset="0" stop-color="#fff1b0" stop-opacity="0.9"/><stop offset="1" stop-color="#ffcf6b" stop-opacity="0"/></radialGradient>`,
      );
      lantern =
        `<path d="M${(fx + fh * 0.12).toFixed(1)} ${(fy - fh * 0.6).toFixed(1)} L${lx.toFixed(1)} ${(ly - fh * 0.05).toFixed(1)}" stroke="${body}" stroke-width="${(fh * 0.035).toFixed(1)}" stroke-linecap="round"/>` +
        `<circle cx="${lx.toFixed(1)}" cy="${ly.toFixed(1)}" r="${(fh * 0.5).toFixed(1)}" fill="url(#lamp)"/>` +
        `<circle cx="${lx.toFixed(1)}" cy="${ly.toFixed(1)}" r="${(fh * 0.045).toFixed(1)}" fill="#fff6cf"/>`;
    }
    // Long shadow away from the sun or moon
    const shadowDir = fx < sx ? -1 : 1;
    parts.push(
      `<ellipse cx="${(fx + shadowDir * fh * 0.35).toFixed(1)}" cy="${fy.toFixed(1)}" rx="${(fh * 0.4).toFixed(1)}" ry="${(fh * 0.04).toFixed(1)}" fill="#000" fill-opacity="0.18"/>`,
      figure,
      lantern,
    );
  }
  parts.push(bits.join(''));

  // Gentle vignette to frame the picture
  defs.push(
    `<radialGradient id="vignette" cx="0.5" cy="0.45" r="0.75"><stop offset="0.6" stop-color="#000" stop-opacity="0"/><stop offset="1" stop-color="#000" stop-opacity="${night ? 0.45 : 0.28}"/></radialGradient>`,
  );
  parts.push(`<rect width="${w}" height="${h}" fill="url(#vignette)"/>`);
  return `<defs>${defs.join('')}</defs>${parts.join('')}`;
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
  const scene = new Rng((seed ^ hash32(`${req.kind}\u241f${req.prompt ?? ''}`)) >>> 0);

  const nightWords = /\b(night|midnight|moon|moonlit|stars?|starlit|dark|darkness|nocturne|insomnia)\b/i.test(req.prompt ?? '');
  const look: Look = {
    night: nightWords || luminance(c1) < 0.16 || book.chance(0.15),
    hat: book.chance(0.35),
    cape: book.chance(0.5),
    lantern: false,
    sunX: 0,
    sunY: 0,
    horizon: 0,
    clearTop: 0,
  };
  look.lantern = look.night && book.chance(0.7);
  look.sunX = scene.range(0.18, 0.82);
  const text = composeText(req, width, height, c1, c2, look.night);
  if (req.kind === 'cover') {
    // The picture's sky starts below the lettering: sun, clouds and birds stay clear of it.
    look.clearTop = text.bottom / height;
    look.horizon = Math.min(0.8, Math.max(0.6, look.clearTop + scene.range(0.13, 0.17)));
    look.sunY = look.clearTop + (look.horizon - look.clearTop) * scene.range(0.3, 0.4);
  } else {
    look.horizon = scene.range(0.55, 0.64);
    look.sunY = scene.range(0.14, 0.32);
  }

  const body = composeScene(req, width, height, c1, c2, scene, look);
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
