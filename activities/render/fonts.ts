/**
 * Locates the Unicode TrueType fonts embedded in PDFs. pdfkit's built-in PDF base fonts
 * only cover WinAnsi, so Cyrillic, Greek and most diacritics need an embedded font.
 * The npm package `dejavu-fonts-ttf` ships DejaVu with the project; the Debian
 * `fonts-dejavu` paths are a fallback for an install without it.
 */
import fs from 'node:fs';
import path from 'node:path';

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
