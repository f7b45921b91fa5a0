/**
 * Script-aware text for the PDF: per-character font fallback, right-to-left lines and
 * CJK line breaking on top of pdfkit.
 *
 * Text that one font can draw and that has no right-to-left characters goes straight to
 * pdfkit (its own wrapping and page breaks; the common case stays as fast as before).
 * Anything else is laid out here: split into cells (a character plus its combining marks),
 * each cell given the first font of the style's chain that has its glyphs, broken into
 * lines by measured width, and each line reordered for display (a small subset of the
 * Unicode bidi algorithm: strong RTL vs LTR runs, neutrals resolved from their
 * neighbours) and drawn run by run on one baseline with `lineBreak: false`.
 */
import { registerSharedFont, type FallbackFont } from './fonts';

type Doc = PDFKit.PDFDocument;

/** The part of a fontkit font we use. */
interface GlyphSource {
  hasGlyphForCodePoint(cp: number): boolean;
}

/** pdfkit internals read here: the current EmbeddedFont (its fontkit font and ascender). */
interface DocInternals {
  _font: { font: GlyphSource; ascender: number } | undefined;
}

export type Align = 'left' | 'center' | 'right' | 'start';
export type Direction = 'ltr' | 'rtl';

export interface BlockOptions {
  width: number;
  align?: Align;
  lineGap?: number;
  /** Lines that would end below y + height are dropped (the last kept one ends in '…' with `ellipsis`). */
  height?: number;
  ellipsis?: boolean;
  goTo?: string;
  /** Body text: continue on a new page when a line would pass `bottom`; the new page starts at `top`. */
  pageBreak?: { top: number; bottom: number };
  /** Direction of a paragraph without strong characters (the book's). */
  baseDir?: Direction;
}

interface Cell {
  text: string;
  cp: number;
  /** Index in the style's chain; the drawing font. */
  font: number;
  /** 'L' strong left-to-right, 'R' strong right-to-left, 'N' neutral (spaces, punctuation, symbols). */
  bidi: 'L' | 'R' | 'N';
  space: boolean;
}

interface Piece {
  text: string;
  font: string;
  /** Contains right-to-left letters: pdfkit must lay it out as one run so fontkit reverses it whole. */
  rtl: boolean;
  width: number;
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
const MIRROR = new Map<string, string>(
  ['()', '[]', '{}', '<>', '«»', '‹›'].flatMap(([a, b]) => [
    [a, b],
    [b, a],
  ]),
);
const STRONG = /[\p{L}\p{Nd}]/u;
const REPLACEMENT = 0xfffd;
/** ASCII, Latin-1, Latin Extended-A, dashes and quotes; tab and line breaks need no glyph. */
const COMMON_LATIN_RANGES: Array<[number, number]> = [
  [0x20, 0x7e],
  [0xa0, 0x17f],
  [0x2010, 0x2026],
];
const COMMON_LATIN = /^[\t\n\r\x20-\x7e\u00a0-\u017f\u2010-\u2026]*$/;

/** Direction of a paragraph from its first strong character, as the bidi algorithm's rules P2/P3 do. */
export function paragraphDirection(text: string, fallback: Direction = 'ltr'): Direction {
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (isRtlCp(cp) && STRONG.test(ch)) return 'rtl';
    if (/\p{L}/u.test(ch)) return 'ltr';
  }
  return fallback;
}

export class TextSetter {
  private chains = new Map<string, string[]>();
  private registered = new Set<string>();
  private glyphSources = new Map<string, GlyphSource>();
  private hasGlyphCache = new Map<string, Map<number, boolean>>();
  private ascenders = new Map<string, number>();

  constructor(private readonly doc: Doc) {}

  /** Declares a style (an already registered pdfkit font name) and the fonts tried after it. */
  defineStyle(style: string, fallbacks: FallbackFont[]): void {
    const names = [style];
    for (const fb of fallbacks) {
      const name = `fallback:${fb.file}${fb.postscriptName ? `#${fb.postscriptName}` : ''}`;
      if (!this.registered.has(name)) {
        registerSharedFont(this.doc, name, fb.file, fb.postscriptName);
        this.registered.add(name);
      }
      if (!names.includes(name)) names.push(name);
    }
    this.chains.set(style, names);
  }

  /** Height `draw` would take with the same arguments (without page breaks). */
  height(style: string, size: number, text: string, opts: BlockOptions): number {
    const simple = this.simpleFont(style, text);
    if (simple !== undefined) {
      this.doc.font(simple).fontSize(size);
      return this.doc.heightOfString(text, this.pdfkitOptions(opts, 'ltr'));
    }
    const { lines, lineH } = this.layout(style, size, text, opts);
    return lines.length * lineH;
  }

  /** Draws a block of text with its top-left corner at (x, y); leaves doc.y below it. */
  draw(style: string, size: number, text: string, x: number, y: number, opts: BlockOptions): void {
    const doc = this.doc;
    const simple = this.simpleFont(style, text);
    if (simple !== undefined) {
      doc.font(simple).fontSize(size);
      doc.text(text, x, y, this.pdfkitOptions(opts, 'ltr'));
      return;
    }
    const { lines, lineH, primaryAscent } = this.layout(style, size, text, opts);
    let top = y;
    for (const line of lines) {
      if (opts.pageBreak && top + lineH - (opts.lineGap ?? 0) > opts.pageBreak.bottom && top > opts.pageBreak.top) {
        doc.addPage();
        top = opts.pageBreak.top;
      }
      const total = line.pieces.reduce((s, p) => s + p.width, 0);
      const align = resolveAlign(opts.align ?? 'left', line.dir);
      let px = align === 'left' ? x : align === 'right' ? x + opts.width - total : x + (opts.width - total) / 2;
      const baseline = top + primaryAscent;
      for (const p of line.pieces) {
        doc.font(p.font).fontSize(size);
        const ascent = ((doc as unknown as DocInternals)._font?.ascender ?? 0) * (size / 1000);
        doc.text(p.text, px, baseline - ascent, {
          lineBreak: false,
          ...(p.rtl ? { features: [] } : {}),
          ...(opts.goTo ? { goTo: opts.goTo } : {}),
        });
        px += p.width;
      }
      top += lineH;
    }
    doc.x = x;
    doc.y = top;
  }

  private pdfkitOptions(opts: BlockOptions, dir: Direction): PDFKit.Mixins.TextOptions {
    const o: PDFKit.Mixins.TextOptions = { width: opts.width, align: resolveAlign(opts.align ?? 'left', dir) };
    if (opts.lineGap !== undefined) o.lineGap = opts.lineGap;
    if (opts.height !== undefined) o.height = opts.height;
    if (opts.ellipsis) o.ellipsis = true;
    if (opts.goTo) o.goTo = opts.goTo;
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
      const f = internals._font!;
      src = f.font;
      this.ascenders.set(name, f.ascender);
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

  /** The one font to hand `text` to pdfkit with, when a single font has every glyph and nothing is right-to-left. */
  private simpleFont(style: string, text: string): string | undefined {
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

  /** Splits a hard line into cells and gives each a font and a bidi class. */
  private cells(chain: string[], line: string): Cell[] {
    const cells: Cell[] = [];
    for (const ch of line) {
      const cp = ch.codePointAt(0)!;
      if (isIgnorable(cp)) continue;
      if (MARK.test(ch) && cells.length) {
        cells[cells.length - 1].text += ch;
        continue;
      }
      const bidi: Cell['bidi'] = STRONG.test(ch) ? (isRtlCp(cp) ? 'R' : 'L') : 'N';
      cells.push({ text: ch, cp, font: -1, bidi, space: /\s/u.test(ch) && cp !== 0xa0 && cp !== 0x202f });
    }
    const covers = (fi: number, c: Cell) => [...c.text].every((ch) => this.has(chain[fi], ch.codePointAt(0)!));
    const firstFont = (c: Cell) => {
      let fi = chain.findIndex((_, i) => covers(i, c));
      if (fi < 0) fi = chain.findIndex((n) => this.has(n, c.cp));
      return fi;
    };
    // Strong characters (letters, digits) take the first font that has them.
    for (const c of cells) {
      if (c.bidi === 'N') continue;
      c.font = firstFont(c);
    }
    // Neutrals stay in the font of the text around them when it has the glyph, so the
    // spaces and punctuation of an Arabic or Chinese sentence do not switch fonts.
    let prevStrong = -1;
    for (let i = 0; i < cells.length; i++) {
      const c = cells[i];
      if (c.bidi !== 'N') {
        prevStrong = c.font;
        continue;
      }
      let nextStrong = -1;
      for (let j = i + 1; j < cells.length; j++) {
        if (cells[j].bidi !== 'N') {
          nextStrong = cells[j].font;
          break;
        }
      }
      if (prevStrong >= 0 && covers(prevStrong, c)) c.font = prevStrong;
      else if (nextStrong >= 0 && covers(nextStrong, c)) c.font = nextStrong;
      else c.font = firstFont(c);
    }
    // No font has it (e.g. a colour emoji): draw a replacement character instead.
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
      const text = cells.slice(i, j).map((c) => c.text).join('');
      w += this.measure(chain[cells[i].font], size, text, cells.slice(i, j).some((c) => c.bidi === 'R'));
      i = j;
    }
    return w;
  }

  private layout(style: string, size: number, text: string, opts: BlockOptions) {
    const chain = this.chain(style);
    const doc = this.doc;
    doc.font(chain[0]).fontSize(size);
    const lineGap = opts.lineGap ?? 0;
    const lineH = doc.currentLineHeight(true) + lineGap;
    const primaryAscent = ((doc as unknown as DocInternals)._font?.ascender ?? 0) * (size / 1000);

    type Line = { cells: Cell[]; start: number; end: number; dir: Direction };
    const lines: Line[] = [];
    for (const hard of text.split(/\r?\n/)) {
      const cells = this.cells(chain, hard);
      const dir = paragraphDirection(hard, opts.baseDir ?? 'ltr');
      if (!cells.length) {
        lines.push({ cells, start: 0, end: 0, dir });
        continue;
      }
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
        const wContent = this.rangeWidth(chain, size, cells, segStart, contentEnd);
        const wFull = wContent + (contentEnd < segEnd ? this.rangeWidth(chain, size, cells, contentEnd, segEnd) : 0);
        if (segStart > lineStart && lineW + wContent > opts.width) {
          lines.push({ cells, start: lineStart, end: segStart, dir });
          lineStart = segStart;
          lineW = 0;
        }
        if (lineW === 0 && wContent > opts.width) {
          // A word wider than the line: break it between characters.
          let w = 0;
          for (let k = segStart; k < contentEnd; k++) {
            const cw = this.rangeWidth(chain, size, cells, k, k + 1);
            if (k > lineStart && w + cw > opts.width) {
              lines.push({ cells, start: lineStart, end: k, dir });
              lineStart = k;
              w = 0;
            }
            w += cw;
          }
          lineW = w + (wFull - wContent);
        } else {
          lineW += wFull;
        }
        segStart = segEnd;
      }
      lines.push({ cells, start: lineStart, end: cells.length, dir });
    }

    // Height cap: keep the lines that fit (pdfkit's rule: a line fits when its top + line height does).
    let kept = lines;
    let truncated = false;
    if (opts.height !== undefined) {
      const plainH = lineH - lineGap;
      const max = Math.max(1, Math.floor((opts.height - plainH) / lineH) + 1);
      if (lines.length > max) {
        kept = lines.slice(0, max);
        truncated = true;
      }
    }

    const out = kept.map((line, li) => {
      let cells = line.cells.slice(line.start, line.end);
      while (cells.length && cells[cells.length - 1].space) cells.pop();
      if (truncated && opts.ellipsis && li === kept.length - 1) {
        const ell = this.cells(chain, '…')[0];
        const ellW = this.rangeWidth(chain, size, [ell], 0, 1);
        while (cells.length && this.rangeWidth(chain, size, cells, 0, cells.length) + ellW > opts.width) cells.pop();
        while (cells.length && cells[cells.length - 1].space) cells.pop();
        cells = [...cells, ell];
      }
      return { dir: line.dir, pieces: this.visualPieces(chain, size, cells, line.dir) };
    });
    return { lines: out, lineH, primaryAscent };
  }

  /** Cells of one line in display order, grouped into runs of one font and one direction. */
  private visualPieces(chain: string[], size: number, cells: Cell[], dir: Direction): Piece[] {
    const base = dir === 'rtl' ? 'R' : 'L';
    // Resolve neutrals: between two strong characters of one direction they take it,
    // otherwise the paragraph's.
    const level: Array<'L' | 'R'> = new Array(cells.length);
    let prev: 'L' | 'R' = base;
    for (let i = 0; i < cells.length; i++) {
      const c = cells[i];
      if (c.bidi !== 'N') {
        level[i] = prev = c.bidi;
        continue;
      }
      let next: 'L' | 'R' = base;
      for (let j = i + 1; j < cells.length; j++) {
        if (cells[j].bidi !== 'N') {
          next = cells[j].bidi as 'L' | 'R';
          break;
        }
      }
      level[i] = prev === next ? prev : base;
    }
    // Directional runs in logical order, each split by font.
    const runs: Array<{ dir: 'L' | 'R'; pieces: Piece[] }> = [];
    let i = 0;
    while (i < cells.length) {
      let j = i + 1;
      while (j < cells.length && level[j] === level[i]) j++;
      const pieces: Piece[] = [];
      let k = i;
      while (k < j) {
        let m = k + 1;
        while (m < j && cells[m].font === cells[k].font) m++;
        const part = cells.slice(k, m);
        const rtl = part.some((c) => c.bidi === 'R');
        // Brackets in a right-to-left run show their mirror image, as the bidi algorithm's rule L4 asks.
        let text = part.map((c) => (level[i] === 'R' && c.bidi === 'N' ? MIRROR.get(c.text) ?? c.text : c.text)).join('');
        // fontkit reverses runs of right-to-left script itself; a neutral-only piece inside
        // a right-to-left run (punctuation from another font) is reversed here.
        if (level[i] === 'R' && !rtl) text = [...text].reverse().join('');
        pieces.push({ text, font: chain[cells[k].font], rtl, width: this.measure(chain[cells[k].font], size, text, rtl) });
        k = m;
      }
      if (level[i] === 'R') pieces.reverse();
      runs.push({ dir: level[i], pieces });
      i = j;
    }
    if (dir === 'rtl') runs.reverse();
    return runs.flatMap((r) => r.pieces);
  }
}

function resolveAlign(align: Align, dir: Direction): 'left' | 'center' | 'right' {
  if (align === 'start') return dir === 'rtl' ? 'right' : 'left';
  return align;
}
