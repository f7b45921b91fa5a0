/**
 * Locates the Unicode TrueType fonts embedded in PDFs. pdfkit's built-in PDF base fonts
 * only cover WinAnsi, so Cyrillic, Greek and most diacritics need an embedded font.
 * The npm package `dejavu-fonts-ttf` ships DejaVu with the project; the Debian
 * `fonts-dejavu` paths are a fallback for an install without it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { openSync as openFont } from 'fontkit';
import { getScript } from 'unicode-properties';

export interface FontSet {
  serif: string;
  serifBold: string;
  serifItalic: string;
  sans: string;
}

const FILES: Record<keyof FontSet, string> = {
  serif: 'DejaVuSerif.ttf',
  serifBold: 'DejaVuSerif-Bold.ttf',
  serifItalic: 'DejaVuSerif-Italic.ttf',
  sans: 'DejaVuSans.ttf',
};

function candidateDirs(): string[] {
  const dirs: string[] = [];
  if (process.env.EBOOK_FONT_DIR) dirs.push(process.env.EBOOK_FONT_DIR);
  try {
    dirs.push(path.join(path.dirname(require.resolve('dejavu-fonts-ttf/package.json')), 'ttf'));
  } catch {
    // Package not installed: fall through to system locations.
  }
  dirs.push('/usr/share/fonts/truetype/dejavu', '/usr/share/fonts/TTF', '/usr/share/fonts/dejavu');
  return dirs;
}

let cached: FontSet | undefined;

/** Absolute paths of the fonts; throws with the places searched when none has them all. */
export function resolveFonts(): FontSet {
  if (cached) return cached;
  const dirs = candidateDirs();
  for (const dir of dirs) {
    const found = Object.fromEntries(
      Object.entries(FILES).map(([key, file]) => [key, path.join(dir, file)]),
    ) as unknown as FontSet;
    // Debian's fonts-dejavu-core has no italic (that is in fonts-dejavu-extra): use upright then.
    if (!fs.existsSync(found.serifItalic)) found.serifItalic = found.serif;
    if (Object.values(found).every((p) => fs.existsSync(p))) {
      cached = found;
      return found;
    }
  }
  throw new Error(
    `DejaVu TTF fonts not found (looked in ${dirs.join(', ')}); run npm install or apt-get install fonts-dejavu-core fonts-dejavu-extra`,
  );
}

/** One fallback font: a file, and for a collection (.ttc) the PostScript name inside it. */
export interface FallbackFont {
  file: string;
  postscriptName?: string;
}

/** Fallbacks for the scripts DejaVu lacks, in the order they are tried after the style's own font. */
export interface FallbackFonts {
  regular: FallbackFont[];
  bold: FallbackFont[];
}

const NOTO_DIRS = ['/usr/share/fonts/truetype/noto', '/usr/share/fonts/opentype/noto', '/usr/share/fonts/noto'];

function firstExisting(dirs: string[], file: string): string | undefined {
  for (const dir of dirs) {
    const p = path.join(dir, file);
    if (fs.existsSync(p)) return p;
  }
  return undefined;
}

/** Directory of an npm font package's fonts/ folder (its exports map hides package.json). */
function npmFontDir(pkg: string): string | undefined {
  try {
    return path.join(path.dirname(require.resolve(pkg)), '..', 'fonts');
  } catch {
    return undefined;
  }
}

/**
 * Which Noto CJK face of Debian's collections suits the book: Han characters differ in
 * shape between Chinese, Japanese and Korean, so the language picks the regional design.
 */
function cjkRegion(language: string): 'sc' | 'tc' | 'jp' | 'kr' | 'hk' {
  const tag = language.toLowerCase();
  if (tag.startsWith('ja')) return 'jp';
  if (tag.startsWith('ko')) return 'kr';
  if (/^zh[-_](hk|mo)/.test(tag)) return 'hk';
  if (/^zh[-_](tw|hant)/.test(tag) || tag.includes('hant')) return 'tc';
  return 'sc';
}

const fallbackCache = new Map<string, FallbackFonts>();

/**
 * Fallback fonts for text DejaVu cannot draw. Debian's Noto fonts are used when installed
 * (better Arabic and Hebrew, serif CJK); otherwise the npm packages `@embedpdf/fonts-sc`
 * (Noto Sans Hans: Han and kana) and `@embedpdf/fonts-kr` (Noto Sans KR: Hangul) keep CJK
 * working on a machine that has only what npm installs. DejaVu Sans comes right after the
 * Arabic/Hebrew Noto fonts: it covers both scripts too, plus many symbols.
 */
export function resolveFallbackFonts(language: string, serif: boolean, system = true): FallbackFonts {
  const key = `${cjkRegion(language)}/${serif}/${system}`;
  // 'bundled' (system = false) pretends no Debian font is installed, as on a fresh machine.
  const dirs = system ? NOTO_DIRS : [];
  const hit = fallbackCache.get(key);
  if (hit) return hit;
  const base = resolveFonts();
  const dejavuDir = path.dirname(base.sans);
  const regular: FallbackFont[] = [];
  const bold: FallbackFont[] = [];
  const add = (list: FallbackFont[], file: string | undefined, postscriptName?: string) => {
    if (file) list.push({ file, postscriptName });
  };

  for (const [list, weight] of [
    [regular, 'Regular'],
    [bold, 'Bold'],
  ] as const) {
    const style = serif ? 'Serif' : 'Sans';
    add(list, firstExisting(dirs, serif ? `NotoNaskhArabic-${weight}.ttf` : `NotoSansArabic-${weight}.ttf`));
    add(list, firstExisting(dirs, `Noto${style}Hebrew-${weight}.ttf`));
    const dejavuSans = path.join(dejavuDir, weight === 'Bold' ? 'DejaVuSans-Bold.ttf' : 'DejaVuSans.ttf');
    add(list, fs.existsSync(dejavuSans) ? dejavuSans : base.sans);

    const region = cjkRegion(language);
    const debianCjk = firstExisting(dirs, `Noto${style}CJK-${weight}.ttc`);
    if (debianCjk) {
      add(list, debianCjk, `Noto${style}CJK${region}-${weight}`);
    } else {
      const sc = npmFontDir('@embedpdf/fonts-sc');
      const kr = npmFontDir('@embedpdf/fonts-kr');
      // Korean books take Han from the Korean design; otherwise the Chinese font comes first.
      const order = region === 'kr' ? [kr && `${kr}/NotoSansKR`, sc && `${sc}/NotoSansHans`] : [sc && `${sc}/NotoSansHans`, kr && `${kr}/NotoSansKR`];
      for (const stem of order) {
        if (!stem) continue;
        const file = `${stem}-${weight}.otf`;
        add(list, fs.existsSync(file) ? file : firstExisting([path.dirname(stem)], `${path.basename(stem)}-Regular.otf`));
      }
    }
    add(list, firstExisting(dirs, 'NotoSansSymbols2-Regular.ttf'));
    add(list, firstExisting(dirs, `NotoSansSymbols-${weight}.ttf`) ?? firstExisting(dirs, 'NotoSansSymbols-Regular.ttf'));
    // Emoji as glyphs: the monochrome Noto Emoji (npm @fontsource/noto-emoji, cut by Unicode
    // range into files that are each a whole font). A colour emoji font cannot be embedded by pdfkit.
    for (const file of emojiFonts()) add(list, file);
  }
  const result = { regular, bold };
  fallbackCache.set(key, result);
  return result;
}

/**
 * Parsed fonts kept for the life of the process. pdfkit parses a font file (fontkit: cmap,
 * glyph outlines, GSUB/GPOS) for every document and keeps the shaped words in a cache on
 * its per-document font object; a worker renders book after book with the same few fonts,
 * so the first document's parsed font and its shaped words are handed to the next ones.
 * Subsetting and embedding stay per document: only what a document draws goes into it.
 */
interface ParsedFont {
  /** The fontkit font pdfkit made; pdfkit accepts it back in place of a file. */
  font: { layout: unknown };
  /** Shaped words (pdfkit's layoutCache): text → glyph run, positions in 1/1000 em. */
  layoutCache: Record<string, unknown>;
  entries: number;
}

/** pdfkit's per-document font object, the parts read here. */
interface EmbeddedFontInternals {
  font?: { layout: unknown };
  layoutCache?: Record<string, unknown>;
}

const parsedFonts = new Map<string, ParsedFont>();
/** A long-lived worker sees ever new words: a font's word cache is emptied past this many. */
const MAX_CACHED_RUNS = 20_000;

/**
 * Registers a font file under `name` in a pdfkit document, handing pdfkit the already
 * parsed font when an earlier document of this process loaded the same file.
 */
export function registerSharedFont(doc: PDFKit.PDFDocument, name: string, file: string, postscriptName?: string): void {
  const key = postscriptName ? `${file}#${postscriptName}` : file;
  const state = sharedState(doc);
  state.keys.set(name, key);
  const hit = parsedFonts.get(key);
  // @types/pdfkit only knows paths and buffers; pdfkit itself takes a fontkit font too.
  doc.registerFont(name, (hit ? hit.font : file) as unknown as string, postscriptName);
}

interface SharedState {
  /** Registered name → cache key (file, or file#postscriptName). */
  keys: Map<string, string>;
  adopted: WeakSet<object>;
}

const docStates = new WeakMap<object, SharedState>();

/**
 * Wraps `doc.font` so that each font pdfkit opens for this document uses (or, the first
 * time, becomes) the process-wide parsed font and word cache.
 */
function sharedState(doc: PDFKit.PDFDocument): SharedState {
  let state = docStates.get(doc);
  if (state) return state;
  const s: SharedState = { keys: new Map(), adopted: new WeakSet() };
  docStates.set(doc, s);
  const internals = doc as unknown as { font: (...args: unknown[]) => unknown; _font?: EmbeddedFontInternals };
  const open = internals.font.bind(doc);
  internals.font = (...args: unknown[]) => {
    open(...args);
    const f = internals._font;
    if (f && !s.adopted.has(f) && typeof args[0] === 'string') {
      s.adopted.add(f);
      const key = s.keys.get(args[0]);
      if (key && f.font) {
        let shared = parsedFonts.get(key);
        if (!shared || shared.font !== f.font) {
          keepCodePoints(f.font as unknown as GlyphCache);
          shared = { font: f.font, layoutCache: f.layoutCache ?? Object.create(null), entries: 0 };
          parsedFonts.set(key, shared);
        } else {
          // Counted once per document; an estimate is all the bound needs.
          shared.entries = Object.keys(shared.layoutCache).length;
          if (shared.entries > MAX_CACHED_RUNS) shared.layoutCache = Object.create(null);
        }
        if (f.layoutCache) f.layoutCache = shared.layoutCache;
      }
    }
    return doc;
  };
  return s;
}

/** fontkit's glyph cache: `getGlyph(id, codePoints)` returns the glyph it made first for `id`. */
interface GlyphCache {
  getGlyph(id: number, codePoints?: number[]): { codePoints?: number[] } | null;
}

/**
 * fontkit caches one glyph object per glyph id with the code points of the first request.
 * Subsetting a document asks for the components of composite glyphs (the "u" inside "ü")
 * without code points; in a font shared with the next document, that "u" would then be
 * drawn with no code point, and pdfkit's ToUnicode map (what pdftotext and copy/paste read)
 * would lose the letter. A glyph asked for again with its code points gets them back.
 */
function keepCodePoints(font: GlyphCache): void {
  const getGlyph = font.getGlyph.bind(font);
  font.getGlyph = (id, codePoints) => {
    const glyph = getGlyph(id, codePoints);
    if (glyph && codePoints?.length && !glyph.codePoints?.length) glyph.codePoints = codePoints;
    return glyph;
  };
}

/** The monochrome Noto Emoji files of npm @fontsource/noto-emoji (regular weight, WOFF: fontkit subsets WOFF2 glyphs wrongly), or none. */
function emojiFonts(): string[] {
  let dir: string;
  try {
    dir = path.join(path.dirname(require.resolve('@fontsource/noto-emoji/package.json')), 'files');
  } catch {
    return [];
  }
  return fs
    .readdirSync(dir)
    .filter((f) => /^noto-emoji-[\w]+-400-normal\.woff$/.test(f))
    .sort()
    .map((f) => path.join(dir, f));
}

/** Every installed Noto family's character set (Regular faces), best-ranked first; read on first need. */
let notoFaces: Array<{ file: string; name: string; chars: Set<number> }> | undefined;

function loadNotoFaces(): NonNullable<typeof notoFaces> {
  if (notoFaces) return notoFaces;
  const files: string[] = [];
  for (const dir of NOTO_DIRS) {
    if (!fs.existsSync(dir)) continue;
    for (const f of fs.readdirSync(dir)) if (/^Noto\w+-Regular\.(ttf|otf)$/.test(f)) files.push(path.join(dir, f));
  }
  // Sans before Serif and the plain families before their UI/display variants.
  const rank = (f: string) => (/NotoSans[A-Z]/.test(f) ? 0 : /NotoSans-/.test(f) ? 1 : /NotoSerif/.test(f) ? 2 : 3) * 10 + (/UI|Display|Looped|Unjoined|Mono/.test(f) ? 1 : 0);
  files.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  notoFaces = [];
  for (const file of files) {
    try {
      notoFaces.push({ file, name: path.basename(file).toLowerCase(), chars: new Set(openFont(file).characterSet) });
    } catch {
      // An unreadable font is skipped, not fatal.
    }
  }
  return notoFaces;
}

/**
 * The installed Noto font for a character no font of a style's chain has: Debian's
 * fonts-noto-core carries a family for nearly every script of a living language (Thai,
 * Devanagari, Ethiopic, Georgian, Tamil, Khmer, ...). The family named after the
 * character's script wins (Tamil letters from Noto Sans Tamil, not from Grantha, which has
 * some of them too: a word split between two fonts would not be shaped); else the first
 * family that has it. Reading every family's character map takes a second or two, so it
 * happens once per process, and only when a book needs it.
 */
export function findCoveringFont(cp: number): FallbackFont | undefined {
  const faces = loadNotoFaces();
  const script = getScript(cp).replace(/_/g, '').toLowerCase();
  const own = faces.find((f) => (f.name.startsWith(`notosans${script}-`) || f.name.startsWith(`notoserif${script}-`)) && f.chars.has(cp));
  const hit = own ?? faces.find((f) => f.chars.has(cp));
  return hit ? { file: hit.file } : undefined;
}
