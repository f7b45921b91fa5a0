/**
 * Script-aware text for the PDF: per-character font fallback, the Unicode Bidirectional
 * Algorithm (npm bidi-js), justified lines with language-aware hyphenation (npm hyphen's
 * TeX patterns) and CJK line breaking, on top of pdfkit.
 *
 * Short one-font, left-to-right texts (titles, the copyright lines) go straight to pdfkit.
 * Everything else is laid out here: split into cells (a character plus its combining marks),
 * each cell given the first font of the style's chain that has its glyphs (a font that has
 * none of the chain's fonts is looked up among the installed Noto families), broken into
 * lines by measured width, each line put in display order from the embedding levels
 * bidi-js resolves, and drawn piece by piece (one font, one direction) on one baseline with
 * `lineBreak: false`, justified lines with their spaces widened. Body text is laid out first and
 * drawn line by line, so the caller decides page breaks (widows, orphans).
 */
import bidiFactory from 'bidi-js';
import { createRequire } from 'node:module';
import { getScript } from 'unicode-properties';
import { findCoveringFont, registerSharedFont, resolveFallbackFonts, resolveFonts, type FallbackFont } from './fonts';

const bidi = bidiFactory();

type Doc = PDFKit.PDFDocument;

/** The part of a fontkit font we use. */
interface GlyphSource {
  hasGlyphForCodePoint(cp: number): boolean;
}

/** pdfkit internals read here: the current EmbeddedFont (its fontkit font and ascender). */
interface DocInternals {
  _font: ({ font: GlyphSource; ascender: number } & Partial<StretchableFont>) | undefined;
  /** Draws one run at (x, y) (y: the run's top), as text() does after its layout. */
  _fragment(text: string, x: number, y: number, options: { textWidth: number; wordCount: number; features?: string[] }): void;
}

/** pdfkit's EmbeddedFont.layout: glyphs and positions (1/1000 em) that its text drawing encodes. */
interface GlyphRun {
  glyphs: Array<{ codePoints?: number[] }>;
  positions: Array<{ xAdvance: number }>;
  advanceWidth: number;
}
interface StretchableFont {
  layout(text: string, features?: unknown, onlyWidth?: boolean): GlyphRun;
}

/**
 * Justifies by widening the space glyphs (or, in a CJK line, the ideographs) of the next
 * text pdfkit draws with this font, by `add` (1/1000 em): pdfkit writes a glyph's extra advance as a TJ adjustment, so the line
 * stays one text object with its spaces in it (pdfkit's own `wordSpacing` drops the space
 * glyphs, and text extraction and screen readers then run words together). An own property
 * shadows the prototype's method for one call; the caller deletes it. Positions are copied,
 * never changed: pdfkit caches them per word.
 */
function widenSpaces(font: Partial<StretchableFont>, add: number, widens: (cp: number) => boolean): void {
  const proto = Object.getPrototypeOf(font) as StretchableFont;
  font.layout = function (this: StretchableFont, text, features, onlyWidth) {
    const run = proto.layout.call(this, text, features, onlyWidth);
    if (onlyWidth) return run;
    const positions = run.positions.map((p, i) => {
      const cp = run.glyphs[i].codePoints?.[0];
      return cp !== undefined && widens(cp) ? { ...p, xAdvance: p.xAdvance + add } : p;
    });
    return { ...run, positions };
  };
}

export type Align = 'left' | 'center' | 'right' | 'start' | 'justify';
export type Direction = 'ltr' | 'rtl';

export interface BlockOptions {
  width: number;
  align?: Align;
  lineGap?: number;
  /** Lines that would end below y + height are dropped (the last kept one ends in '…' with `ellipsis`). */
  height?: number;
  ellipsis?: boolean;
  /** The paragraph direction: the book's, from its language (rule P3 is not applied). */
  baseDir?: Direction;
  /** Break words at the hyphenation points of the setter's language. */
  hyphenate?: boolean;
}

interface Cell {
  text: string;
  cp: number;
  /** Index in the style's chain; the drawing font. */
  font: number;
  /** Strong character (letter or digit): neutrals around it take its font. */
  strong: boolean;
  space: boolean;
  /** Embedding level from the bidi algorithm: odd is right to left. */
  level: number;
}

interface Piece {
  /** In the order pdfkit is handed it: fontkit reverses runs of right-to-left scripts itself. */
  text: string;
  font: string;
  /** fontkit lays it out right to left (its script is written that way). */
  rtl: boolean;
  width: number;
  /** Glyphs in it that justification widens: inter-word spaces, or the ideographs of a line without spaces. */
  spaces: number;
}

/** One line of a laid-out block, ready to draw. */
export interface Line {
  pieces: Piece[];
  /** Natural width, without justification. */
  width: number;
  dir: Direction;
  /** Stretched to the full measure when the block is justified (not a paragraph's last line). */
  justify: boolean;
  /** Number of gaps justification widens. */
  gaps: number;
  /** A line with no space to widen (Chinese, Japanese): its ideographs and kana are spaced out instead. */
  cjk?: boolean;
}

export interface LaidOut {
  lines: Line[];
  /** Distance from one line's top to the next one's (line gap included). */
  lineH: number;
  /** Ascent of the style's first font: where the baseline sits below a line's top. */
  ascent: number;
  size: number;
}

const RTL_RANGES: Array<[number, number]> = [
  [0x0590, 0x08ff],
  [0xfb1d, 0xfdff],
  [0xfe70, 0xfeff],
  [0x10800, 0x10fff],
  [0x1e800, 0x1efff],
];

function isRtlCp(cp: number): boolean {
  for (const [a, b] of RTL_RANGES) if (cp >= a && cp <= b) return true;
  return false;
}

function isSpaceCp(cp: number): boolean {
  return cp === 0x20;
}

/** Ideographs, kana and fullwidth forms: a line may break between any two of them. Hangul breaks at spaces. */
function isCjkCp(cp: number): boolean {
  return (
    (cp >= 0x2e80 && cp <= 0x9fff) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xffef) ||
    (cp >= 0x20000 && cp <= 0x3ffff)
  );
}

// Kinsoku: characters that must not start a line, or must not end one.
const NO_BREAK_BEFORE = new Set([...'、。，．・：；！？）」』】〕〉》〙〗’”ゝゞー々…‥ぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ,.!?:;)]}%']);
const NO_BREAK_AFTER = new Set([...'（「『【〔〈《〘〖‘“([{']);

/** Invisible format characters with no glyph of their own (emoji joiners, variation selectors, tags). */
function isIgnorable(cp: number): boolean {
  return (
    cp === 0x200b ||
    cp === 0x200c ||
    cp === 0x200d ||
    cp === 0x2060 ||
    cp === 0xfeff ||
    (cp >= 0xfe00 && cp <= 0xfe0f) ||
    (cp >= 0x1f3fb && cp <= 0x1f3ff) ||
    (cp >= 0xe0000 && cp <= 0xe0fff)
  );
}

const MARK = /\p{M}/u;
const LETTER = /\p{L}/u;
const STRONG = /[\p{L}\p{N}]/u;
const REPLACEMENT = 0xfffd;
/** ASCII, Latin-1, Latin Extended-A, dashes and quotes; tab and line breaks need no glyph. */
const COMMON_LATIN_RANGES: Array<[number, number]> = [
  [0x20, 0x7e],
  [0xa0, 0x17f],
  [0x2010, 0x2026],
];
const COMMON_LATIN = /^[\t\n\r\x20-\x7e\u00a0-\u017f\u2010-\u2026]*$/;

/** Unicode scripts fontkit lays out right to left (its own list, by Unicode script name). */
const FONTKIT_RTL_SCRIPTS = new Set([
  'Arabic', 'Hebrew', 'Syriac', 'Thaana', 'Cypriot', 'Kharoshthi', 'Phoenician', 'Nko', 'Lydian', 'Avestan',
  'Imperial_Aramaic', 'Inscriptional_Pahlavi', 'Inscriptional_Parthian', 'Old_South_Arabian', 'Old_Turkic',
  'Samaritan', 'Mandaic', 'Meroitic_Cursive', 'Meroitic_Hieroglyphs', 'Manichaean', 'Mende_Kikakui',
  'Nabataean', 'Old_North_Arabian', 'Palmyrene', 'Psalter_Pahlavi',
]);

/** Whether fontkit will reverse this text (it decides by the first character of a real script). */
function fontkitReverses(text: string): boolean {
  for (const ch of text) {
    const script = getScript(ch.codePointAt(0)!);
    if (script !== 'Common' && script !== 'Inherited' && script !== 'Unknown') return FONTKIT_RTL_SCRIPTS.has(script);
  }
  return false;
}

/** Text that may need the bidi algorithm: right-to-left letters or explicit direction controls. */
const MAY_NEED_BIDI = /[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufeff\u200f\u202a-\u202e\u2066-\u2069\u{10800}-\u{10fff}\u{1e800}-\u{1efff}]/u;

/**
 * A paragraph's base direction: the book's, unless the paragraph has letters of the other
 * direction only (an Arabic quotation standing alone in an English book). An English
 * paragraph that starts with an Arabic word stays left to right (rule P2 would flip it).
 */
export function paragraphDirection(text: string, book: Direction): Direction {
  if (!MAY_NEED_BIDI.test(text)) return LETTER.test(text) ? 'ltr' : book;
  let rtl = false;
  let ltr = false;
  for (const ch of text) {
    if (!LETTER.test(ch)) continue;
    if (isRtlCp(ch.codePointAt(0)!)) rtl = true;
    else ltr = true;
    if (rtl && ltr) return book;
  }
  return rtl ? 'rtl' : ltr ? 'ltr' : book;
}

const requireHere = createRequire(__filename);
const hyphenators = new Map<string, ((word: string) => string) | null>();

/**
 * The hyphenator for a BCP 47 tag from npm hyphen's TeX patterns (the full tag, then its
 * primary subtag); null for a language without patterns (CJK, Arabic: no hyphenation).
 */
function hyphenatorFor(language: string): ((word: string) => string) | null {
  const tag = language.toLowerCase().replace(/_/g, '-');
  let hit = hyphenators.get(tag);
  if (hit !== undefined) return hit;
  hit = null;
  for (const name of [tag, tag.split('-')[0]]) {
    if (!/^[a-z]{2,3}(-[a-z0-9]+)*$/.test(name)) continue;
    try {
      const mod = requireHere(`hyphen/${name}`) as { hyphenateSync: (t: string, o: { hyphenChar: string }) => string };
      hit = (word) => mod.hyphenateSync(word, { hyphenChar: SOFT_HYPHEN });
      break;
    } catch {
      // No patterns under this name.
    }
  }
  hyphenators.set(tag, hit);
  return hit;
}

const SOFT_HYPHEN = '\u00ad';
/** Hyphenate only words this long, leaving at least this much on either side of the break. */
const MIN_HYPHEN_WORD = 6;
const MIN_HYPHEN_LEFT = 2;
const MIN_HYPHEN_RIGHT = 3;

export class TextSetter {
  private chains = new Map<string, string[]>();
  private registered = new Set<string>();
  private glyphSources = new Map<string, GlyphSource>();
  private hasGlyphCache = new Map<string, Map<number, boolean>>();
  private readonly hyphenator: ((word: string) => string) | null;

  /**
   * `language` (BCP 47) picks the hyphenation patterns; `systemFonts` false keeps to the
   * fonts npm installs (no search of the installed Noto families).
   */
  constructor(
    private readonly doc: Doc,
    language = 'en',
    private readonly systemFonts = true,
  ) {
    this.hyphenator = hyphenatorFor(language);
  }

  /** Declares a style (an already registered pdfkit font name) and the fonts tried after it. */
  defineStyle(style: string, fallbacks: FallbackFont[]): void {
    const names = [style];
    for (const fb of fallbacks) {
      const name = this.registerFallback(fb);
      if (!names.includes(name)) names.push(name);
    }
    this.chains.set(style, names);
    this.ownLength.set(names, names.length);
  }

  /** Word widths by font and size (latinLines). */
  private widthCache = new Map<string, Map<string, number>>();

  /** How many of a chain's fonts the style declared (those after them were found per character). */
  private ownLength = new WeakMap<string[], number>();

  private registerFallback(fb: FallbackFont): string {
    const name = `fallback:${fb.file}${fb.postscriptName ? `#${fb.postscriptName}` : ''}`;
    if (!this.registered.has(name)) {
      registerSharedFont(this.doc, name, fb.file, fb.postscriptName);
      this.registered.add(name);
    }
    return name;
  }

  /** Height `draw` would take with the same arguments. */
  height(style: string, size: number, text: string, opts: BlockOptions): number {
    const simple = this.simpleFont(style, text, opts);
    if (simple !== undefined) {
      this.doc.font(simple).fontSize(size);
      return this.doc.heightOfString(text, this.pdfkitOptions(opts));
    }
    const laid = this.layout(style, size, text, opts);
    return laid.lines.length * laid.lineH;
  }

  /** Draws a block of text with its top-left corner at (x, y), on this page; leaves doc.y below it. */
  draw(style: string, size: number, text: string, x: number, y: number, opts: BlockOptions): void {
    const doc = this.doc;
    const simple = this.simpleFont(style, text, opts);
    if (simple !== undefined) {
      doc.font(simple).fontSize(size);
      doc.text(text, x, y, this.pdfkitOptions(opts));
      return;
    }
    const laid = this.layout(style, size, text, opts);
    this.drawLines(laid, 0, laid.lines.length, x, y, opts);
    doc.x = x;
    doc.y = y + laid.lines.length * laid.lineH;
  }

  /** Draws lines [from, to) of a laid-out block, the first with its top at `top`. */
  drawLines(laid: LaidOut, from: number, to: number, x: number, top: number, opts: BlockOptions): void {
    const doc = this.doc;
    const internals = doc as unknown as DocInternals;
    const align = opts.align ?? 'left';
    for (let li = from; li < to; li++) {
      const line = laid.lines[li];
      const justify = align === 'justify' && line.justify && line.gaps > 0;
      const extra = justify ? Math.max(0, (opts.width - line.width) / line.gaps) : 0;
      const side = resolveAlign(align, line.dir);
      let px = justify || side === 'left' ? x : side === 'right' ? x + opts.width - line.width : x + (opts.width - line.width) / 2;
      const baseline = top + (li - from) * laid.lineH + laid.ascent;
      for (const p of line.pieces) {
        doc.font(p.font).fontSize(laid.size);
        const font = (doc as unknown as DocInternals)._font!;
        const ascent = font.ascender * (laid.size / 1000);
        const stretch = extra && p.spaces ? (extra * 1000) / laid.size : 0;
        if (stretch) widenSpaces(font, stretch, line.cjk ? isCjkCp : isSpaceCp);
        try {
          // pdfkit's text() would measure the run twice more (for its own wrapping and to
          // advance doc.x); the width is known, so the run goes to the routine that draws it.
          internals._fragment(p.text, px, baseline - ascent, { textWidth: p.width, wordCount: p.spaces + 1, ...(p.rtl ? { features: [] } : {}) });
        } finally {
          if (stretch) delete (font as Partial<StretchableFont>).layout;
        }
        px += p.width + p.spaces * extra;
      }
    }
  }

  private pdfkitOptions(opts: BlockOptions): PDFKit.Mixins.TextOptions {
    const o: PDFKit.Mixins.TextOptions = { width: opts.width, align: resolveAlign(opts.align ?? 'left', 'ltr') };
    if (opts.lineGap !== undefined) o.lineGap = opts.lineGap;
    if (opts.height !== undefined) o.height = opts.height;
    if (opts.ellipsis) o.ellipsis = true;
    return o;
  }

  private chain(style: string): string[] {
    const c = this.chains.get(style);
    if (!c) throw new Error(`Unknown text style ${style}`);
    return c;
  }

  private source(name: string): GlyphSource {
    let src = this.glyphSources.get(name);
    if (!src) {
      // Load through pdfkit so the font is parsed once and shared with drawing.
      const internals = this.doc as unknown as DocInternals;
      const prev = internals._font;
      this.doc.font(name);
      src = internals._font!.font;
      internals._font = prev;
      this.glyphSources.set(name, src);
    }
    return src;
  }

  private has(name: string, cp: number): boolean {
    let cache = this.hasGlyphCache.get(name);
    if (!cache) this.hasGlyphCache.set(name, (cache = new Map()));
    let v = cache.get(cp);
    if (v === undefined) {
      v = this.source(name).hasGlyphForCodePoint(cp);
      cache.set(cp, v);
    }
    return v;
  }

  /** The one font to hand `text` to pdfkit with: one font has every glyph, nothing needs bidi, no justification. */
  private simpleFont(style: string, text: string, opts: BlockOptions): string | undefined {
    if (opts.align === 'justify' || opts.hyphenate || opts.baseDir === 'rtl') return undefined;
    const chain = this.chain(style);
    // Most books are Latin: a regex answers for them without a per-character lookup.
    if (COMMON_LATIN.test(text) && this.coversCommonLatin(chain[0])) return chain[0];
    let font: string | undefined = chain[0];
    for (const ch of text) {
      const cp = ch.codePointAt(0)!;
      if (cp === 0x0a || cp === 0x0d || cp === 0x09) continue;
      if (isRtlCp(cp) || isIgnorable(cp)) return undefined;
      if (font !== chain[0]) {
        // Letters the primary font has (Latin in a Chinese title) stay in it: mixed path.
        if (!this.has(font, cp) || (LETTER.test(ch) && this.has(chain[0], cp))) return undefined;
      } else if (!this.has(font, cp)) {
        // Text wholly in one fallback font (e.g. a Chinese title) still takes the fast path,
        // provided what came before is only spaces, digits or punctuation that font has.
        font = chain.find((n) => this.has(n, cp));
        if (!font) return undefined;
        for (const prev of text) {
          const pcp = prev.codePointAt(0)!;
          if (pcp === cp) break;
          if (LETTER.test(prev) || (pcp > 0x20 && !this.has(font, pcp))) return undefined;
        }
      }
    }
    return font;
  }

  private commonLatin = new Map<string, boolean>();

  /** Whether a font has every character COMMON_LATIN accepts (checked once per font). */
  private coversCommonLatin(name: string): boolean {
    let v = this.commonLatin.get(name);
    if (v === undefined) {
      v = true;
      for (const [a, b] of COMMON_LATIN_RANGES) for (let cp = a; cp <= b && v; cp++) v = this.has(name, cp);
      this.commonLatin.set(name, v);
    }
    return v;
  }

  /** Index in `chain` of the font for this code point: a style font, else the Noto font found for it (it joins the chain). */
  private fontFor(chain: string[], cp: number): number {
    const own = this.ownLength.get(chain) ?? chain.length;
    for (let i = 0; i < own; i++) if (this.has(chain[i], cp)) return i;
    const extra = this.systemFonts ? findCoveringFont(cp) : undefined;
    if (!extra) return -1;
    const name = this.registerFallback(extra);
    if (!chain.includes(name)) chain.push(name);
    return this.has(name, cp) ? chain.indexOf(name) : -1;
  }

  /** Splits a hard line into cells, gives each a font and its bidi embedding level. */
  private cells(chain: string[], line: string, baseDir: Direction): Cell[] {
    const cells: Cell[] = [];
    for (const ch of line) {
      const cp = ch.codePointAt(0)!;
      if (isIgnorable(cp)) continue;
      if (MARK.test(ch) && cells.length) {
        cells[cells.length - 1].text += ch;
        continue;
      }
      cells.push({ text: ch, cp, font: -1, strong: STRONG.test(ch), space: /\s/u.test(ch) && cp !== 0xa0 && cp !== 0x202f, level: 0 });
    }
    // Levels from the bidi algorithm over the cells' text, the book's direction as base.
    const text = cells.map((c) => c.text).join('');
    if (baseDir === 'rtl' || MAY_NEED_BIDI.test(text)) {
      const { levels } = bidi.getEmbeddingLevels(text, baseDir);
      let offset = 0;
      for (const c of cells) {
        c.level = levels[offset];
        offset += c.text.length;
      }
    }
    const covers = (fi: number, c: Cell) => [...c.text].every((ch) => this.has(chain[fi], ch.codePointAt(0)!));
    // The style's own fonts first; past them, the Noto family of the character's script.
    const own = this.ownLength.get(chain) ?? chain.length;
    const firstFont = (c: Cell) => {
      for (let i = 0; i < own; i++) if (covers(i, c)) return i;
      return this.fontFor(chain, c.cp);
    };
    // Strong characters (letters, digits) take the first font that has them.
    for (const c of cells) if (c.strong) c.font = firstFont(c);
    // Neutrals stay in the font of the text around them when it has the glyph, so the
    // spaces and punctuation of an Arabic or Chinese sentence do not switch fonts.
    let prevStrong = -1;
    let nextIdx = 0;
    for (let i = 0; i < cells.length; i++) {
      const c = cells[i];
      if (c.strong) {
        prevStrong = c.font;
        continue;
      }
      if (nextIdx <= i) {
        nextIdx = i + 1;
        while (nextIdx < cells.length && !cells[nextIdx].strong) nextIdx++;
      }
      const nextStrong = nextIdx < cells.length ? cells[nextIdx].font : -1;
      if (prevStrong >= 0 && covers(prevStrong, c)) c.font = prevStrong;
      else if (nextStrong >= 0 && covers(nextStrong, c)) c.font = nextStrong;
      else c.font = firstFont(c);
    }
    // No installed font has it: a replacement character, so the gap is visible rather than silent.
    for (const c of cells) {
      if (c.font >= 0) continue;
      const fi = chain.findIndex((n) => this.has(n, REPLACEMENT));
      c.text = fi >= 0 ? '\uFFFD' : '?';
      c.cp = fi >= 0 ? REPLACEMENT : 0x3f;
      c.font = Math.max(fi, 0);
    }
    return cells;
  }

  private measure(font: string, size: number, text: string, rtl: boolean): number {
    this.doc.font(font).fontSize(size);
    return this.doc.widthOfString(text, rtl ? { features: [] } : {});
  }

  /** Width of cells [a, b) measured font run by font run. */
  private rangeWidth(chain: string[], size: number, cells: Cell[], a: number, b: number): number {
    let w = 0;
    let i = a;
    while (i < b) {
      let j = i + 1;
      while (j < b && cells[j].font === cells[i].font) j++;
      let text = '';
      for (let k = i; k < j; k++) text += cells[k].text;
      w += this.measure(chain[cells[i].font], size, text, fontkitReverses(text));
      i = j;
    }
    return w;
  }

  /** A visible hyphen cell for a word broken at the end of a line, in the font of the letter before it. */
  private hyphenCell(chain: string[], before: Cell): Cell {
    const font = this.has(chain[before.font], 0x2d) ? before.font : Math.max(0, this.fontFor(chain, 0x2d));
    return { text: '-', cp: 0x2d, font, strong: false, space: false, level: before.level };
  }

  /**
   * Cell indices in (a, b) where the word in cells [a, b) may be hyphenated: only words of
   * letters (punctuation around them aside) in the patterns' language.
   */
  private hyphenPoints(cells: Cell[], a: number, b: number): number[] {
    if (!this.hyphenator) return [];
    while (a < b && !LETTER.test(cells[a].text)) a++;
    while (b > a && !LETTER.test(cells[b - 1].text)) b--;
    if (b - a < MIN_HYPHEN_WORD) return [];
    let word = '';
    for (let k = a; k < b; k++) {
      if (!LETTER.test(cells[k].text) || isCjkCp(cells[k].cp) || cells[k].level % 2) return [];
      word += cells[k].text;
    }
    const marked = this.hyphenator(word);
    const points: number[] = [];
    let k = a;
    let used = 0;
    for (const ch of marked) {
      if (ch === SOFT_HYPHEN) {
        if (k - a >= MIN_HYPHEN_LEFT && b - k >= MIN_HYPHEN_RIGHT) points.push(k);
        continue;
      }
      used += ch.length;
      if (used >= cells[k].text.length) {
        k++;
        used = 0;
      }
    }
    return points;
  }

  /** Lays out a block: lines broken to the width (hyphenated when asked), each in display order. */
  layout(style: string, size: number, text: string, opts: BlockOptions): LaidOut {
    const chain = this.chain(style);
    const doc = this.doc;
    doc.font(chain[0]).fontSize(size);
    const lineGap = opts.lineGap ?? 0;
    const lineH = doc.currentLineHeight(true) + lineGap;
    const ascent = ((doc as unknown as DocInternals)._font?.ascender ?? 0) * (size / 1000);
    const baseDir = opts.baseDir ?? 'ltr';

    type Raw = { cells: Cell[]; last: boolean; dir: Direction } | { ready: Line };
    const raws: Raw[] = [];
    for (const hard of text.split(/\r?\n/)) {
      const dir = paragraphDirection(hard, baseDir);
      if (opts.height === undefined && dir === 'ltr' && COMMON_LATIN.test(hard) && this.coversCommonLatin(chain[0])) {
        const ready = this.latinLines(chain[0], size, hard, opts);
        if (ready) {
          for (const line of ready) raws.push({ ready: line });
          continue;
        }
      }
      const cells = this.cells(chain, hard, dir);
      const lines: Cell[][] = [];
      // Break opportunities: after a run of spaces, and around CJK characters (kinsoku aside).
      const breakAfter = (i: number) => {
        const c = cells[i];
        const n = cells[i + 1];
        if (!n) return true;
        if (c.space) return !n.space;
        if (n.space) return false;
        if (!(isCjkCp(c.cp) || isCjkCp(n.cp))) return false;
        return !NO_BREAK_BEFORE.has(n.text[0]) && !NO_BREAK_AFTER.has(c.text[0]);
      };
      let lineStart = 0;
      let lineW = 0;
      let segStart = 0;
      for (let i = 0; i < cells.length; i++) {
        if (!breakAfter(i)) continue;
        const segEnd = i + 1;
        let contentEnd = segEnd;
        while (contentEnd > segStart && cells[contentEnd - 1].space) contentEnd--;
        let wContent = this.rangeWidth(chain, size, cells, segStart, contentEnd);
        const wSpace = contentEnd < segEnd ? this.rangeWidth(chain, size, cells, contentEnd, segEnd) : 0;
        if (segStart > lineStart && lineW + wContent > opts.width) {
          // The word does not fit: hyphenate it when a first part does, else move it down whole.
          let split = -1;
          if (opts.hyphenate) {
            const points = this.hyphenPoints(cells, segStart, contentEnd);
            for (let p = points.length - 1; p >= 0 && split < 0; p--) {
              const head = cells.slice(segStart, points[p]);
              const w = this.rangeWidth(chain, size, [...head, this.hyphenCell(chain, head[head.length - 1])], 0, head.length + 1);
              if (lineW + w <= opts.width) split = points[p];
            }
          }
          if (split > 0) {
            lines.push([...cells.slice(lineStart, split), this.hyphenCell(chain, cells[split - 1])]);
            lineStart = split;
            wContent = this.rangeWidth(chain, size, cells, split, contentEnd);
          } else {
            lines.push(cells.slice(lineStart, segStart));
            lineStart = segStart;
          }
          lineW = 0;
        }
        if (lineW === 0 && wContent > opts.width) {
          // A word wider than the line: break it between characters.
          let w = 0;
          for (let k = lineStart; k < contentEnd; k++) {
            const cw = this.rangeWidth(chain, size, cells, k, k + 1);
            if (k > lineStart && w + cw > opts.width) {
              lines.push(cells.slice(lineStart, k));
              lineStart = k;
              w = 0;
            }
            w += cw;
          }
          lineW = w + wSpace;
        } else {
          lineW += wContent + wSpace;
        }
        segStart = segEnd;
      }
      lines.push(cells.slice(lineStart));
      lines.forEach((l, i) => raws.push({ cells: l, last: i === lines.length - 1, dir }));
    }

    // Height cap: keep the lines that fit (pdfkit's rule: a line fits when its top + line height does).
    let kept = raws;
    let truncated = false;
    if (opts.height !== undefined) {
      const max = Math.max(1, Math.floor((opts.height - (lineH - lineGap)) / lineH) + 1);
      if (raws.length > max) {
        kept = raws.slice(0, max);
        truncated = true;
      }
    }

    const justify = opts.align === 'justify';
    const lines = kept.map((raw, li) => {
      if ('ready' in raw) return raw.ready;
      let cells = raw.cells;
      // Spaces at a line's end are not drawn (rule L1 puts them at the paragraph level anyway).
      let end = cells.length;
      while (end > 0 && cells[end - 1].space) end--;
      cells = cells.slice(0, end);
      if (truncated && opts.ellipsis && li === kept.length - 1) {
        const ell = this.cells(chain, '…', baseDir)[0];
        const ellW = this.rangeWidth(chain, size, [ell], 0, 1);
        while (cells.length && this.rangeWidth(chain, size, cells, 0, cells.length) + ellW > opts.width) cells.pop();
        while (cells.length && cells[cells.length - 1].space) cells.pop();
        ell.level = cells.length ? cells[cells.length - 1].level : raw.dir === 'rtl' ? 1 : 0;
        cells = [...cells, ell];
      }
      const stretch = justify && !raw.last && !(truncated && li === kept.length - 1);
      return this.line(chain, size, cells, raw.dir, stretch);
    });
    return { lines, lineH, ascent, size };
  }

  /**
   * Lines of a left-to-right paragraph that the style's own font draws whole (most books):
   * broken word by word, with words measured through pdfkit's per-word cache and no
   * per-character cells. Undefined when a word is wider than the measure (the general path
   * breaks it between characters).
   */
  private latinLines(font: string, size: number, text: string, opts: BlockOptions): Line[] | undefined {
    const words = text.split(/[ \t]+/).filter(Boolean);
    if (!words.length) return [{ pieces: [], width: 0, dir: 'ltr', justify: false, gaps: 0 }];
    this.doc.font(font).fontSize(size);
    // Books repeat their words: widths are kept per font and size for the document.
    const cacheKey = `${font}@${size}`;
    let widths = this.widthCache.get(cacheKey);
    if (!widths) this.widthCache.set(cacheKey, (widths = new Map()));
    const known = widths;
    const width = (t: string) => {
      let w = known.get(t);
      if (w === undefined) known.set(t, (w = this.doc.widthOfString(t)));
      return w;
    };
    const space = width(' ');
    // pdfkit lays a line out (and caches the shaped runs) word by word with each word's
    // trailing space: measuring "word " rather than "word" reuses those runs, where shaping
    // both forms would double the shaping work and the cache.
    const wordWidth = (t: string) => width(`${t} `) - space;
    const lines: Array<{ words: string[]; width: number }> = [];
    let line: string[] = [];
    let lineW = 0;
    for (const word of words) {
      const w = wordWidth(word);
      if (w > opts.width) return undefined;
      if (!line.length) {
        line.push(word);
        lineW = w;
        continue;
      }
      if (lineW + space + w <= opts.width) {
        line.push(word);
        lineW += space + w;
        continue;
      }
      // Does not fit: the longest hyphenated head that does ends this line.
      let rest = word;
      if (opts.hyphenate && this.hyphenator) {
        const m = /^(\P{L}*)(\p{L}+)(\P{L}*)$/u.exec(word);
        if (m && m[2].length >= MIN_HYPHEN_WORD) {
          const parts = this.hyphenator(m[2]).split(SOFT_HYPHEN);
          for (let k = parts.length - 1; k > 0; k--) {
            const headLetters = parts.slice(0, k).join('');
            if (headLetters.length < MIN_HYPHEN_LEFT || m[2].length - headLetters.length < MIN_HYPHEN_RIGHT) continue;
            const head = `${m[1]}${headLetters}-`;
            const headW = width(head);
            if (lineW + space + headW <= opts.width) {
              line.push(head);
              lineW += space + headW;
              rest = word.slice(m[1].length + headLetters.length);
              break;
            }
          }
        }
      }
      lines.push({ words: line, width: lineW });
      line = [rest];
      lineW = wordWidth(rest);
    }
    lines.push({ words: line, width: lineW });
    const justify = opts.align === 'justify';
    // Widths summed word by word: what pdfkit draws, as it lays text out word by word too.
    return lines.map(({ words: ws, width: w }, i) => {
      const last = i === lines.length - 1;
      const spaces = justify && !last ? ws.length - 1 : 0;
      return { pieces: [{ text: ws.join(' '), font, rtl: false, width: w, spaces }], width: w, dir: 'ltr' as const, justify: justify && !last, gaps: spaces };
    });
  }

  /** One line in display order (rule L2 over the resolved levels), cut into drawable pieces. */
  private line(chain: string[], size: number, cells: Cell[], dir: Direction, justify: boolean): Line {
    const order = cells.map((_, i) => i);
    let maxLevel = 0;
    let minOdd = Infinity;
    for (const c of cells) {
      maxLevel = Math.max(maxLevel, c.level);
      if (c.level % 2) minOdd = Math.min(minOdd, c.level);
    }
    // L2: from the highest level down to the lowest odd one, reverse every run at that level or above.
    for (let lvl = maxLevel; lvl >= minOdd && lvl > 0; lvl--) {
      let i = 0;
      while (i < order.length) {
        if (cells[order[i]].level < lvl) {
          i++;
          continue;
        }
        let j = i;
        while (j < order.length && cells[order[j]].level >= lvl) j++;
        order.splice(i, j - i, ...order.slice(i, j).reverse());
        i = j;
      }
    }
    const visual = order.map((i) => cells[i]);
    const pieces: Piece[] = [];
    let gaps = 0;
    // Without spaces, a justified CJK line spreads its width between its characters (not after the last).
    const cjk = justify && !visual.some((c) => c.cp === 0x20) && visual.some((c) => isCjkCp(c.cp));
    const lastCell = visual[visual.length - 1];
    let k = 0;
    while (k < visual.length) {
      let m = k + 1;
      const odd = visual[k].level % 2;
      while (
        m < visual.length &&
        visual[m].font === visual[k].font &&
        visual[m].level % 2 === odd
      )
        m++;
      const part = visual.slice(k, m);
      // L4: mirrored glyphs (brackets) for characters set right to left.
      const shown = part.map((c) => (c.level % 2 && c.text.length === 1 ? bidi.getMirroredCharacter(c.text) ?? c.text : c.text));
      const visualText = shown.join('');
      const rtl = fontkitReverses(visualText);
      // fontkit shows a right-to-left script's run reversed: hand it that run in logical order.
      const text = rtl ? shown.slice().reverse().join('') : visualText;
      const spaces = !justify ? 0 : part.reduce((n, c) => n + ((cjk ? isCjkCp(c.cp) && c !== lastCell : c.cp === 0x20) ? 1 : 0), 0);
      gaps += spaces;
      pieces.push({ text, font: chain[visual[k].font], rtl, width: this.measure(chain[visual[k].font], size, text, rtl), spaces });
      k = m;
    }
    return { pieces, width: pieces.reduce((s, p) => s + p.width, 0), dir, justify, gaps, cjk };
  }
}

function resolveAlign(align: Align, dir: Direction): 'left' | 'center' | 'right' {
  if (align === 'start' || align === 'justify') return dir === 'rtl' ? 'right' : 'left';
  return align;
}

/**
 * A TextSetter for one of a book's PDFs (the book, its print cover): the shared serif,
 * serif-bold, serif-italic and sans faces, and each style's fallbacks for the book's
 * language. Fallbacks are registered only: pdfkit reads a font file when text first needs
 * it, and embeds (a subset of) a font only when it is drawn with. `fallbackFonts`: see
 * RenderPdfOptions ('system' uses Debian's Noto fonts when installed).
 */
export function bookTextSetter(doc: PDFKit.PDFDocument, language: string, fallbackFonts: 'system' | 'bundled' = 'system'): TextSetter {
  const fonts = resolveFonts();
  registerSharedFont(doc, 'serif', fonts.serif);
  registerSharedFont(doc, 'serif-bold', fonts.serifBold);
  registerSharedFont(doc, 'serif-italic', fonts.serifItalic);
  registerSharedFont(doc, 'sans', fonts.sans);
  const system = fallbackFonts !== 'bundled';
  const ts = new TextSetter(doc, language, system);
  const serifFallbacks = resolveFallbackFonts(language, true, system);
  const sansFallbacks = resolveFallbackFonts(language, false, system);
  ts.defineStyle('serif', serifFallbacks.regular);
  ts.defineStyle('serif-italic', serifFallbacks.regular);
  ts.defineStyle('serif-bold', serifFallbacks.bold);
  ts.defineStyle('sans', sansFallbacks.regular);
  return ts;
}
