/**
 * The wraparound cover of the print-on-demand package: one page, left to right bleed,
 * back, spine, front, bleed (core/print.ts `coverLayout`), sized from the interior's final
 * page count so it wraps the book it is printed with.
 *
 * - Front (and its bleed): the book's cover art, full bleed, resampled (Lanczos) to at
 *   least MIN_PRINT_PPI at its printed size.
 * - Back: a panel in the book's palette with the title, the blurb and the author, and a
 *   white area of BARCODE_AREA_IN at its lower right for the ISBN barcode the printer (or
 *   the operator) places there.
 * - Spine: the panel's colour; title and author running top to bottom from
 *   SPINE_TEXT_MIN_PAGES pages, kept SPINE_TEXT_MARGIN_IN inside the folds.
 *
 * Text goes through the PDF's own TextSetter and fonts (fonts.ts), so every script the
 * interior draws, the cover draws. MediaBox is the whole sheet, TrimBox the cut, BleedBox
 * the sheet.
 */
import PDFDocument from 'pdfkit';
import sharp from 'sharp';
import { coverLayout, MIN_PRINT_PPI, PAPER_THICKNESS_IN, SPINE_TEXT_MARGIN_IN, type CoverLayout } from '../../core/print';
import { oneLine, textDirection } from './common';
import { bookTextSetter } from './text';
import type { RenderBook } from './types';

export interface PrintCoverOptions {
  /** The interior's final page count (renderPdf's `onPageCount`): it sets the spine. */
  pageCount: number;
  /** Inches per page (half a sheet); default: white paper. */
  paperThicknessIn?: number;
  /** The book's two palette colours (CSS hex); the back and the spine take the first. */
  palette?: string[];
  /** As renderPdf's: 'bundled' keeps to the fonts npm installs. */
  fallbackFonts?: 'system' | 'bundled';
}

/** Clear space kept white at the back's lower right for the ISBN barcode, in inches (KDP's 2 × 1.2 in). */
export const BARCODE_AREA_IN = { widthIn: 2, heightIn: 1.2 };
/** Distance of the barcode area from the back's trim at the spine side and at the bottom. */
export const BARCODE_INSET_IN = 0.25;
/** Text on the back keeps this far inside the trim (printers ask for at least 0.125–0.25 in). */
const BACK_MARGIN_IN = 0.5;
/** Upper bound of the front picture's resolution: more only makes the file bigger. */
const MAX_FRONT_PPI = 400;

const PT = 72;

type Rgb = [number, number, number];

function parseHex(value: unknown): Rgb | undefined {
  if (typeof value !== 'string') return undefined;
  const m = /^#?([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(value.trim());
  if (!m) return undefined;
  const h = m[1].length === 3 ? [...m[1]].map((c) => c + c).join('') : m[1];
  return [parseInt(h.slice(0, 2), 16), parseInt(h.slice(2, 4), 16), parseInt(h.slice(4, 6), 16)];
}

const luminance = ([r, g, b]: Rgb) => (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
const toHex = (c: Rgb) => `#${c.map((v) => Math.round(Math.max(0, Math.min(255, v))).toString(16).padStart(2, '0')).join('')}`;

/**
 * The front picture at print resolution: cropped (centre) to the front's shape with its
 * bleed and resampled with Lanczos to between MIN_PRINT_PPI and MAX_FRONT_PPI.
 */
export async function frontPicture(image: Buffer, widthIn: number, heightIn: number): Promise<{ data: Buffer; width: number; height: number; ppi: number }> {
  const meta = await sharp(image).metadata();
  const srcW = meta.autoOrient?.width ?? meta.width;
  const srcH = meta.autoOrient?.height ?? meta.height;
  if (!srcW || !srcH) throw new Error('The cover image has no dimensions');
  // After a centre crop to the front's shape, the side that limits is the one that fills.
  const nativePpi = Math.min(srcW / widthIn, srcH / heightIn);
  const ppi = Math.min(MAX_FRONT_PPI, Math.max(MIN_PRINT_PPI, nativePpi));
  const width = Math.ceil(widthIn * ppi);
  const height = Math.ceil(heightIn * ppi);
  const data = await sharp(image)
    .autoOrient()
    .resize(width, height, { fit: 'cover', position: 'centre', kernel: 'lanczos3' })
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb')
    .jpeg({ quality: 90, mozjpeg: false, progressive: false, chromaSubsampling: '4:4:4' })
    .toBuffer();
  return { data, width, height, ppi: Math.min(width / widthIn, height / heightIn) };
}

/** The panel colour: the palette's first colour, else the cover picture's dominant one. */
async function panelColour(book: RenderBook, palette?: string[]): Promise<Rgb> {
  const given = parseHex(palette?.[0]);
  if (given) return given;
  const { dominant } = await sharp(book.cover.data).stats();
  return [dominant.r, dominant.g, dominant.b];
}

export async function renderPrintCover(book: RenderBook, opts: PrintCoverOptions): Promise<Buffer> {
  const layout: CoverLayout = coverLayout(opts.pageCount, { paperThicknessIn: opts.paperThicknessIn ?? PAPER_THICKNESS_IN.white });
  const W = layout.widthIn * PT;
  const H = layout.heightIn * PT;
  const bleed = layout.bleedIn * PT;
  const backX = bleed;
  const spineX = bleed + layout.backIn * PT;
  const spineW = layout.spineIn * PT;
  const frontX = spineX + spineW;
  const title = oneLine(book.title) || '—';
  const author = oneLine(book.author);
  const blurb = oneLine(book.description);
  const dir = textDirection(book.language);

  const front = frontPicture(book.cover.data, layout.frontIn + layout.bleedIn, layout.heightIn);
  const bg = await panelColour(book, opts.palette);
  const dark = luminance(bg) < 0.55;
  const ink = dark ? '#f7f3ea' : '#1a1a1a';
  const accent = parseHex(opts.palette?.[1]);
  const rule = accent && Math.abs(luminance(accent) - luminance(bg)) > 0.25 ? toHex(accent) : ink;

  const doc = new PDFDocument({
    size: [W, H],
    margin: 0,
    autoFirstPage: false,
    pdfVersion: '1.7',
    lang: book.language,
    info: {
      Title: `${title} (cover)`,
      ...(author ? { Author: author } : {}),
      Creator: 'ebook-engine',
      CreationDate: new Date(book.modified),
      ModDate: new Date(book.modified),
    },
  });
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('data', (c: Buffer) => chunks.push(c));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });
  doc.addPage();
  const page = (doc.page as unknown as { dictionary: { data: Record<string, unknown> } }).dictionary.data;
  page.TrimBox = [bleed, bleed, W - bleed, H - bleed];
  page.BleedBox = [0, 0, W, H];

  const ts = bookTextSetter(doc, book.language, opts.fallbackFonts);

  // Back, spine and the left bleed: one panel of the book's colour.
  doc.rect(0, 0, frontX, H).fill(toHex(bg));

  // Front: the cover art over the front and its bleed.
  const pic = await front;
  doc.image(pic.data, frontX, 0, { width: W - frontX, height: H });

  // Back: title, rule, blurb, author; the barcode area stays white.
  const m = BACK_MARGIN_IN * PT;
  const boxX = backX + m;
  const boxW = layout.backIn * PT - 2 * m;
  const barcodeW = BARCODE_AREA_IN.widthIn * PT;
  const barcodeH = BARCODE_AREA_IN.heightIn * PT;
  const barcodeX = spineX - BARCODE_INSET_IN * PT - barcodeW;
  const barcodeY = H - bleed - BARCODE_INSET_IN * PT - barcodeH;
  doc.rect(barcodeX, barcodeY, barcodeW, barcodeH).fill('#ffffff');

  let y = bleed + m;
  doc.fillColor(ink);
  // The title as large as fits three lines (22 pt down to 14 pt); longer still, it ends in an ellipsis.
  const titleBase = { width: boxW, align: 'center' as const, baseDir: dir, lineGap: 2 };
  let titleSize = 22;
  const lines = (size: number) => ts.height('serif-bold', size, title, titleBase) / ts.height('serif-bold', size, 'X', titleBase);
  while (titleSize > 14 && lines(titleSize) > 3.01) titleSize -= 1;
  ts.draw('serif-bold', titleSize, title, boxX, y, { ...titleBase, height: ts.height('serif-bold', titleSize, 'X', titleBase) * 3.2, ellipsis: true });
  y = doc.y + 12;
  doc.moveTo(boxX + boxW * 0.4, y).lineTo(boxX + boxW * 0.6, y).lineWidth(1).strokeColor(rule).stroke();
  y += 18;
  const authorSize = 13;
  const authorGap = 18;
  // The blurb ends above the author line, which ends above the barcode area.
  const blurbBottom = barcodeY - 24 - authorSize * 1.6 - authorGap;
  if (blurb && blurbBottom - y > 30) {
    doc.fillColor(ink);
    ts.draw('serif', 12, blurb, boxX, y, { width: boxW, align: 'justify', baseDir: dir, lineGap: 5, hyphenate: true, height: blurbBottom - y, ellipsis: true });
    y = Math.min(doc.y, blurbBottom);
  }
  if (author) {
    doc.fillColor(ink);
    ts.draw('sans', authorSize, author, boxX, y + authorGap, { width: boxW, align: 'center', baseDir: dir, height: authorSize * 1.6, ellipsis: true });
  }

  // Spine: title and author top to bottom, from SPINE_TEXT_MIN_PAGES pages.
  if (layout.spineText) {
    const room = spineW - 2 * SPINE_TEXT_MARGIN_IN * PT;
    // A line of the spine font is ~1.2 em tall (DejaVu's ascent + descent): it must fit the room.
    const size = Math.min(16, room / 1.3);
    const length = layout.heightIn * PT - 2 * (bleed + m);
    doc.save();
    // Rotated a quarter turn clockwise about the spine's centre: local +x runs down the page.
    doc.translate(spineX + spineW / 2, H / 2).rotate(90);
    doc.fillColor(ink);
    const lineTop = -size * 0.62;
    const one = { baseDir: dir, height: size * 1.5, ellipsis: true };
    const titleW = author ? length * 0.62 : length;
    ts.draw('serif-bold', size, title, -length / 2, lineTop, { ...one, width: titleW, align: author ? 'left' : 'center' });
    if (author) ts.draw('sans', size * 0.9, author, -length / 2 + titleW + size, lineTop + size * 0.05, { ...one, width: length - titleW - size, align: 'right' });
    doc.restore();
  }

  doc.end();
  return done;
}
