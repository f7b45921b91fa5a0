/**
 * Fonts for the SVG renderer (librsvg inside sharp), which finds fonts through fontconfig
 * only. The PDF takes its fonts from files (fonts.ts): DejaVu and the Noto CJK and emoji
 * fonts that npm installs are on no fontconfig path, so the lettering of a picture drawn
 * from SVG showed boxes for 美咲 where the PDF drew it. Here the same files are handed to
 * fontconfig as application fonts (libvips' text operation loads its `fontfile` with
 * FcConfigAppFontAddFile, into the configuration librsvg reads too), so every script the
 * PDF draws, the pictures draw.
 *
 * Pango reads the list of fonts once per font map, and librsvg's font maps live on libvips'
 * threads: fonts handed after a thread has drawn text may stay unseen by that thread. So the
 * PDF's whole fallback chain is handed over before the first picture; a font found for one
 * text only (fonts.ts `findCoveringFont`, for scripts the chain lacks) is handed before the
 * picture that needs it, which is seen by threads that have drawn nothing yet. The Noto
 * families that font comes from are on fontconfig's own path in a Debian install.
 */
import sharp from 'sharp';
import { getScript } from 'unicode-properties';
import { findCoveringFont, resolveFallbackFonts, resolveFonts } from './fonts';

/** Scripts the fallback chain draws (DejaVu, Noto Arabic/Hebrew, CJK, symbols, emoji). */
const CHAIN_SCRIPTS = new Set(['Latin', 'Common', 'Inherited', 'Greek', 'Cyrillic', 'Arabic', 'Hebrew', 'Han', 'Hiragana', 'Katakana', 'Hangul', 'Bopomofo', 'Armenian', 'Georgian', 'Unknown']);

const handed = new Set<string>();
let queue: Promise<void> = Promise.resolve();

/** The font files of the PDF's fallback chains (serif and sans, regular and bold), deduplicated. */
export function chainFontFiles(): string[] {
  const base = resolveFonts();
  const files = new Set<string>(Object.values(base));
  for (const serif of [true, false]) {
    for (const language of ['en', 'ko']) {
      const chain = resolveFallbackFonts(language, serif);
      for (const f of [...chain.regular, ...chain.bold]) files.add(f.file);
    }
  }
  return [...files];
}

/** Fonts for the characters of `text` that no font of the chain draws. */
export function coveringFontFiles(text: string): string[] {
  const files = new Set<string>();
  const seen = new Set<number>();
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x0370 || seen.has(cp)) continue;
    seen.add(cp);
    if (CHAIN_SCRIPTS.has(getScript(cp))) continue;
    const font = findCoveringFont(cp);
    if (font) files.add(font.file);
  }
  return [...files];
}

async function hand(file: string): Promise<void> {
  if (handed.has(file)) return;
  handed.add(file);
  try {
    // A one-letter text with the file as its font: libvips registers the file with fontconfig.
    await sharp({ text: { text: 'x', fontfile: file } }).raw().toBuffer();
  } catch {
    // A file fontconfig cannot read (the emoji WOFFs on a FreeType without zlib): drawn as boxes, as before.
  }
}

/**
 * Hands fontconfig the fonts the SVG renderer needs for `text` (and, the first time, the
 * whole chain); resolves once they are registered. Calls are queued, so a font is loaded once.
 */
export function handFontsToSvg(text = ''): Promise<void> {
  const run = async () => {
    for (const file of chainFontFiles()) await hand(file);
    for (const file of coveringFontFiles(text)) await hand(file);
  };
  queue = queue.then(run, run);
  return queue;
}
