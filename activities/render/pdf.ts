/**
 * PDF renderer: cover, title page, copyright page, table of contents, one chapter per
 * section, outline, metadata; PDF/UA-1 and PDF/A-2u (see pdf-standards.ts). Body text is
 * justified and hyphenated, broken across pages with no widow or orphan; folios on chapter
 * pages only, running heads (book title left, chapter title right) on the pages after a
 * chapter's first. Built with pdfkit in buffered-pages mode so the table of contents,
 * folios and running heads can be written once every page number is known.
 */
import PDFDocument from 'pdfkit';
import { chapterTitle, labelsFor, oneLine, startLimited, stripInvalidChars, textDirection, toJpeg, yearOf } from './common';
import { registerSharedFont, resolveFallbackFonts, resolveFonts } from './fonts';
import { declarePdfStandards } from './pdf-standards';
import { TextSetter, type BlockOptions, type LaidOut } from './text';
import type { RenderBook } from './types';

export interface PrintOptions {
  /** Trim size: the page as it is after cutting, in inches. */
  trimWidthIn: number;
  trimHeightIn: number;
  /** Bleed added on every side of the trim, in inches (0.125 is usual). */
  bleedIn: number;
}

export interface RenderPdfOptions {
  /** Called after each chapter is laid out, e.g. to heartbeat a Temporal activity. */
  onProgress?: (done: number, total: number) => void;
  /**
   * Print-ready variant: the trim size plus bleed as MediaBox, TrimBox and BleedBox on
   * every page, the cover full-bleed and images at a higher resolution.
   */
  print?: PrintOptions;
  /**
   * Fallback fonts for scripts DejaVu lacks: 'system' (default) uses Debian's Noto fonts
   * when installed and the npm ones otherwise; 'bundled' only those npm installs.
   */
  fallbackFonts?: 'system' | 'bundled';
  /** Told the final page count once every page is laid out (the print cover's spine needs it). */
  onPageCount?: (pages: number) => void;
}

// 6 × 9 in trade format, in points.
const PAGE_W = 432;
const PAGE_H = 648;
const MARGIN = { top: 58, bottom: 68, left: 54, right: 54 };

/** Max pixel width of embedded images: ~370 dpi across the text block, plenty for screens. */
const MAX_IMAGE_PX = 1600;
/** For print: ~400 dpi across a 6 in full-bleed cover, above the 300 dpi printers ask for. */
const MAX_PRINT_IMAGE_PX = 2400;
/** Image conversions in flight at once: enough to keep libuv's 4 threads busy. */
const IMAGE_CONVERSIONS = 3;

/**
 * Page geometry in points. Without bleed the page is the trim; with it, everything is
 * shifted by the bleed (`ox`/`oy`) and the MediaBox grows by it on every side.
 */
interface Geometry {
  pageW: number;
  pageH: number;
  bleed: number;
  trimW: number;
  trimH: number;
  margin: { top: number; bottom: number; left: number; right: number };
  contentW: number;
  contentH: number;
  maxImagePx: number;
}

function geometry(print?: PrintOptions): Geometry {
  const trimW = print ? print.trimWidthIn * 72 : PAGE_W;
  const trimH = print ? print.trimHeightIn * 72 : PAGE_H;
  const bleed = print ? Math.max(0, print.bleedIn) * 72 : 0;
  if (!(trimW > 144 && trimH > 216)) throw new Error(`Trim size too small: ${trimW / 72} × ${trimH / 72} in`);
  const margin = {
    top: MARGIN.top + bleed,
    bottom: MARGIN.bottom + bleed,
    left: MARGIN.left + bleed,
    right: MARGIN.right + bleed,
  };
  return {
    pageW: trimW + 2 * bleed,
    pageH: trimH + 2 * bleed,
    bleed,
    trimW,
    trimH,
    margin,
    contentW: trimW - MARGIN.left - MARGIN.right,
    contentH: trimH - MARGIN.top - MARGIN.bottom,
    maxImagePx: print ? MAX_PRINT_IMAGE_PX : MAX_IMAGE_PX,
  };
}

const BODY_SIZE = 11.5;
const BODY_LINE_GAP = 4.5;
const PARAGRAPH_GAP = 7;
const TEXT_COLOR = '#1a1a1a';
const MUTED_COLOR = '#666666';
const WATERMARK_COLOR = '#9a9a9a';
const COVER_BAND_COLOR = '#3a3a3a';

/**
 * pdfkit's outline options include `fit` although @types/pdfkit omits it; without it the
 * XYZ destination pdfkit builds puts `left` at the page's right edge.
 */
type OutlineOptions = { expanded?: boolean; fit?: boolean };

/** What a page is, for folios and running heads. */
type PageKind = 'cover' | 'front' | 'contents' | 'opener' | 'body';

/** Lines of a paragraph a page must hold at its foot (orphans) and at its head (widows). */
const MIN_LINES_AT_BREAK = 2;

export async function renderPdf(book: RenderBook, opts: RenderPdfOptions = {}): Promise<Buffer> {
  const fonts = resolveFonts();
  const labels = labelsFor(book.language);
  const bookDir = textDirection(book.language);
  const modified = new Date(book.modified);
  const date = Number.isNaN(modified.getTime()) ? new Date() : modified;
  const g = geometry(opts.print);
  const { margin: MARGIN, contentW: CONTENT_W, contentH: CONTENT_H, pageW: PAGE_W, pageH: PAGE_H } = g;
  const bookTitle = oneLine(book.title) || '—';

  const keywords = book.keywords.map(oneLine).filter(Boolean).join(', ');
  const doc = new PDFDocument({
    size: [PAGE_W, PAGE_H],
    margins: MARGIN,
    autoFirstPage: false,
    bufferPages: true,
    pdfVersion: '1.7',
    tagged: true,
    lang: book.language,
    displayTitle: true,
    info: {
      Title: bookTitle,
      ...(oneLine(book.author) ? { Author: oneLine(book.author) } : {}),
      ...(oneLine(book.description) ? { Subject: oneLine(book.description) } : {}),
      ...(keywords ? { Keywords: keywords } : {}),
      Creator: 'ebook-engine',
      CreationDate: date,
      ModDate: date,
    },
  });
  declarePdfStandards(doc, book.language);

  if (opts.print) {
    // Every page gets the printer's boxes: MediaBox is the trim plus bleed, TrimBox the cut.
    const b = g.bleed;
    const trimBox = [b, b, b + g.trimW, b + g.trimH];
    const bleedBox = [0, 0, PAGE_W, PAGE_H];
    doc.on('pageAdded', () => {
      const data = (doc.page as unknown as { dictionary: { data: Record<string, unknown> } }).dictionary.data;
      data.TrimBox = trimBox;
      data.BleedBox = bleedBox;
    });
  }

  // Collect the output while pdfkit writes it (images are streamed out as they are embedded).
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('data', (chunk: Buffer) => chunks.push(chunk));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });

  registerSharedFont(doc, 'serif', fonts.serif);
  registerSharedFont(doc, 'serif-bold', fonts.serifBold);
  registerSharedFont(doc, 'serif-italic', fonts.serifItalic);
  registerSharedFont(doc, 'sans', fonts.sans);
  // Fallbacks are registered only: pdfkit reads a font file when text first needs it,
  // and embeds (a subset of) a font only when it is drawn with.
  const system = opts.fallbackFonts !== 'bundled';
  const ts = new TextSetter(doc, book.language, system);
  const serifFallbacks = resolveFallbackFonts(book.language, true, system);
  const sansFallbacks = resolveFallbackFonts(book.language, false, system);
  ts.defineStyle('serif', serifFallbacks.regular);
  ts.defineStyle('serif-italic', serifFallbacks.regular);
  ts.defineStyle('serif-bold', serifFallbacks.bold);
  ts.defineStyle('sans', sansFallbacks.regular);
  const block = (o: BlockOptions): BlockOptions => ({ baseDir: bookDir, ...o });

  const kinds: Array<{ kind: PageKind; chapter?: number }> = [];
  const newPage = (kind: PageKind, chapter?: number, options?: PDFKit.PDFDocumentOptions) => {
    doc.addPage(options);
    kinds.push({ kind, chapter });
  };

  const root = doc.struct('Document');
  doc.addStructure(root);
  // Front matter, contents and chapters are sections of their own, in reading order.
  const front = doc.struct('Sect');
  root.add(front);

  // Every image conversion starts now, a few at a time on sharp's threads (libuv's pool),
  // and runs while the main thread lays out the text; each chapter awaits only its own.
  // The converted JPEGs are small (~100-200 KB), so holding all of them costs little.
  const images = startLimited([book.cover, ...book.chapters.map((c) => c.image)], IMAGE_CONVERSIONS, (img) =>
    img === book.cover
      ? toJpeg(img, { maxWidth: g.maxImagePx, aspect: PAGE_H / PAGE_W })
      : img
        ? toJpeg(img, { maxWidth: g.maxImagePx })
        : Promise.resolve(undefined),
  );

  // --- Cover: the image cropped to the page's aspect ratio, full bleed. ---
  {
    const cover = (await images[0])!;
    newPage('cover', undefined, { size: [PAGE_W, PAGE_H], margins: { top: 0, bottom: 0, left: 0, right: 0 } });
    front.add(
      doc.struct('Figure', { alt: oneLine(book.cover.alt) || bookTitle }, () => {
        doc.image(cover.data, 0, 0, { width: PAGE_W, height: PAGE_H });
      }),
    );
  }

  // --- Title page. ---
  newPage('front');
  {
    const titleSize = fitFontSize(ts, 'serif-bold', bookTitle, 28, 14, CONTENT_H * 0.35, CONTENT_W, bookDir);
    doc.fillColor(TEXT_COLOR);
    const titleH = Math.min(ts.height('serif-bold', titleSize, bookTitle, block({ width: CONTENT_W, align: 'center' })), CONTENT_H * 0.35);
    const titleY = MARGIN.top + CONTENT_H * 0.22;
    front.add(
      doc.struct('H1', {}, () => {
        ts.draw('serif-bold', titleSize, bookTitle, MARGIN.left, titleY, block({ width: CONTENT_W, height: titleH + 1, ellipsis: true, align: 'center' }));
      }),
    );
    let y = titleY + titleH + 14;

    if (book.subtitle && oneLine(book.subtitle)) {
      const subtitle = oneLine(book.subtitle);
      doc.fillColor(MUTED_COLOR);
      const h = Math.min(ts.height('serif-italic', 15, subtitle, block({ width: CONTENT_W, align: 'center' })), CONTENT_H * 0.2);
      const sy = y;
      front.add(
        doc.struct('P', {}, () => {
          ts.draw('serif-italic', 15, subtitle, MARGIN.left, sy, block({ width: CONTENT_W, height: h + 1, ellipsis: true, align: 'center' }));
        }),
      );
      y = sy + h;
    }

    const author = oneLine(book.author);
    if (author) {
      doc.fillColor(TEXT_COLOR);
      const authorH = Math.min(ts.height('serif', 14, author, block({ width: CONTENT_W, align: 'center' })), CONTENT_H * 0.15);
      const authorY = Math.max(y + 40, MARGIN.top + CONTENT_H * 0.7);
      front.add(
        doc.struct('P', {}, () => {
          ts.draw('serif', 14, author, MARGIN.left, authorY, block({ width: CONTENT_W, height: authorH + 1, ellipsis: true, align: 'center' }));
        }),
      );
    }
  }

  // --- Copyright page: the small print, set at the foot of the page. ---
  newPage('front');
  {
    const lines = [
      bookTitle,
      `© ${yearOf(book.modified)} ${oneLine(book.author)}`.trim(),
      // Each credit is a sentence of its own ("Text written with …; pictures drawn with …").
      ...book.credits.map(oneLine).filter(Boolean),
    ];
    const text = lines.join('\n');
    doc.fillColor(MUTED_COLOR);
    const opts9 = block({ width: CONTENT_W, lineGap: 3, align: 'start' });
    const h = Math.min(ts.height('serif', 9, text, opts9), CONTENT_H);
    const y = MARGIN.top + CONTENT_H - h;
    front.add(
      doc.struct('P', {}, () => {
        ts.draw('serif', 9, text, MARGIN.left, y, { ...opts9, height: h + 1, ellipsis: true });
      }),
    );
  }
  front.end();

  // --- Table of contents: reserve its pages now, fill them once chapter pages are known. ---
  const tocTitles = book.chapters.map(chapterTitle);
  const toc = tocGeometry(g);
  const tocPlan = planToc(ts, g, tocTitles, labels.contents, bookDir);
  const tocFirstPage = doc.bufferedPageRange().count;
  for (let i = 0; i < tocPlan.pages; i++) newPage('contents');
  // Attached to the tree now so it sits before the chapters in reading order.
  const tocSect = doc.struct('Sect');
  root.add(tocSect);

  // --- Chapters. ---
  const chapterPages: number[] = [];
  const total = book.chapters.length;
  const bodyTop = MARGIN.top;
  const bodyBottom = MARGIN.top + CONTENT_H;
  const bodyOpts = block({ width: CONTENT_W, align: 'justify', hyphenate: true, lineGap: BODY_LINE_GAP });
  for (let i = 0; i < total; i++) {
    const chapter = book.chapters[i];
    const image = await images[i + 1];

    newPage('opener', i);
    const pageIndex = doc.bufferedPageRange().count - 1;
    chapterPages.push(pageIndex);
    doc.outline.addItem(tocTitles[i], { fit: true } as OutlineOptions as { expanded?: boolean });
    doc.addNamedDestination(chapterDest(i), 'Fit');

    const section = doc.struct('Sect');
    root.add(section);

    // Heading, capped so an absurdly long title cannot push the page over.
    const headingMaxH = CONTENT_H * 0.25;
    const headingSize = fitFontSize(ts, 'serif-bold', tocTitles[i], 20, 13, headingMaxH, CONTENT_W, bookDir);
    doc.fillColor(TEXT_COLOR);
    const headingOpts = block({ width: CONTENT_W, align: 'center', lineGap: 2 });
    const headingH = Math.min(ts.height('serif-bold', headingSize, tocTitles[i], headingOpts), headingMaxH);
    section.add(
      doc.struct('H1', {}, () => {
        ts.draw('serif-bold', headingSize, tocTitles[i], MARGIN.left, MARGIN.top, { ...headingOpts, height: headingH + 1, ellipsis: true });
      }),
    );
    let y = MARGIN.top + headingH + 18;

    if (image && chapter.image) {
      // Fit into the text block, leaving room for at least two lines below it (the heading keeps its text).
      const boxH = Math.min(CONTENT_H * 0.58, bodyBottom - y - 60);
      const scale = Math.min(CONTENT_W / image.width, boxH / image.height);
      const w = image.width * scale;
      const h = image.height * scale;
      const x = MARGIN.left + (CONTENT_W - w) / 2;
      const imgY = y;
      section.add(
        doc.struct('Figure', { alt: oneLine(chapter.image.alt) || tocTitles[i] }, () => {
          doc.image(image.data, x, imgY, { width: w, height: h });
        }),
      );
      y += h + 18;
    }

    doc.fillColor(TEXT_COLOR);
    for (const raw of chapter.paragraphs) {
      const para = stripInvalidChars(raw).trim();
      if (!para) continue;
      const laid = ts.layout('serif', BODY_SIZE, para, bodyOpts);
      const n = laid.lines.length;
      // Lines that fit from `top`: a line fits when its glyphs (not its gap below) end above the bottom.
      const fit = (top: number) => Math.max(0, Math.floor((bodyBottom - top - (laid.lineH - BODY_LINE_GAP)) / laid.lineH) + 1);
      const p = doc.struct('P');
      section.add(p);
      let first = 0;
      while (first < n) {
        const left = n - first;
        let take = Math.min(fit(y), left);
        if (take < left) {
          // Split across pages: at least two lines on either side of the break, else move lines over.
          if (left - take < MIN_LINES_AT_BREAK) take = left - MIN_LINES_AT_BREAK;
          if (take < MIN_LINES_AT_BREAK && y > bodyTop) take = 0;
          if (take <= 0 && y <= bodyTop) take = Math.min(fit(y), left); // a page of one paragraph's lines
        }
        if (take > 0) {
          const from = first;
          const top = y;
          // One marked-content sequence per page: a paragraph's part on each page is tagged on its own.
          p.add(() => ts.drawLines(laid, from, from + take, MARGIN.left, top, bodyOpts));
          first += take;
          y += take * laid.lineH;
        }
        if (first < n) {
          newPage('body', i);
          y = bodyTop;
        }
      }
      p.end();
      // Spacing added here rather than with pdfkit's paragraphGap, which it also applies
      // at every hard line break inside a paragraph (verse would come out double-spaced).
      y += PARAGRAPH_GAP;
    }
    section.end();
    opts.onProgress?.(i + 1, total);
  }

  // --- Fill the reserved table of contents: TOC > TOCI > Reference > Link (text + annotation). ---
  {
    doc.switchToPage(tocFirstPage);
    doc.fillColor(TEXT_COLOR);
    tocSect.add(
      doc.struct('H1', {}, () => {
        ts.draw('serif-bold', 18, labels.contents, MARGIN.left, MARGIN.top, block({ width: CONTENT_W, align: 'start' }));
      }),
    );
    const tocStruct = doc.struct('TOC');
    tocSect.add(tocStruct);
    // Right-to-left books mirror the entries: numbers on the left, titles set from the right.
    const rtl = bookDir === 'rtl';
    const titleX = rtl ? MARGIN.left + toc.numW + 10 : MARGIN.left;
    const numX = rtl ? MARGIN.left : MARGIN.left + CONTENT_W - toc.numW;
    tocPlan.entries.forEach((entry, i) => {
      doc.switchToPage(tocFirstPage + entry.page);
      const pageNo = String(chapterPages[i] + 1);
      doc.fillColor(TEXT_COLOR);
      const item = doc.struct('TOCI');
      tocStruct.add(item);
      const ref = doc.struct('Reference');
      item.add(ref);
      const link = doc.struct('Link');
      ref.add(link);
      link.add(() => {
        ts.draw('serif', TOC_SIZE, tocTitles[i], titleX, entry.y, block({ width: toc.titleW, height: entry.height + 1, ellipsis: true, lineGap: TOC_LINE_GAP, align: 'start' }));
        doc.font('serif').fontSize(TOC_SIZE);
        doc.text(pageNo, numX, entry.y, { width: toc.numW, align: rtl ? 'left' : 'right', lineBreak: false });
      });
      // The annotation belongs to the Link element and says where it goes (PDF/UA 7.18.5).
      doc.goTo(MARGIN.left, entry.y, CONTENT_W, entry.height, chapterDest(i), {
        structParent: link,
        Contents: new String(`${tocTitles[i]} (${pageNo})`),
      } as unknown as PDFKit.Mixins.AnnotationOption);
      link.end();
      ref.end();
      item.end();
    });
    tocStruct.end();
    tocSect.end();
  }
  root.end();

  // --- Running heads, folios and the watermark: artifacts, not content. ---
  const watermark = book.watermark ? oneLine(book.watermark) : '';
  // The same few lines repeat on every page: each is laid out once and drawn per page.
  const headOpts = block({ width: CONTENT_W, height: 12, align: 'center', ellipsis: true });
  const wmOpts = block({ width: CONTENT_W, height: 10, align: 'center', ellipsis: true });
  const laidOut = new Map<string, LaidOut>();
  const once = (style: string, size: number, text: string, o: BlockOptions) => {
    const key = `${style}/${size}/${text}`;
    let laid = laidOut.get(key);
    if (!laid) laidOut.set(key, (laid = ts.layout(style, size, text, o)));
    return laid;
  };
  const range = doc.bufferedPageRange();
  for (let p = range.start; p < range.start + range.count; p++) {
    doc.switchToPage(p);
    const page = doc.page;
    const { kind, chapter } = kinds[p];
    // Writing inside the bottom margin would make pdfkit start a new page; lift the limit.
    const bottom = page.margins.bottom;
    page.margins.bottom = 0;
    const folio = p + 1;
    if (kind === 'opener' || kind === 'body') {
      doc.markContent('Artifact', { type: 'Pagination' });
      doc.font('sans').fontSize(9).fillColor(MUTED_COLOR);
      const w = doc.widthOfString(String(folio));
      doc.text(String(folio), MARGIN.left + (CONTENT_W - w) / 2, PAGE_H - MARGIN.bottom + 26, { lineBreak: false });
      doc.endMarkedContent();
    }
    if (kind === 'body') {
      // Book title over left-hand (even) pages, the chapter's over right-hand (odd) ones.
      const head = folio % 2 === 0 ? bookTitle : tocTitles[chapter!];
      doc.markContent('Artifact', { type: 'Pagination' });
      doc.fillColor(MUTED_COLOR);
      const laid = once('sans', 8.5, head, headOpts);
      ts.drawLines(laid, 0, laid.lines.length, MARGIN.left, MARGIN.top - 30, headOpts);
      doc.endMarkedContent();
    }
    if (watermark) {
      doc.markContent('Artifact', { type: 'Pagination' });
      // Measured from the trim edge, so the line survives the cut.
      const wmY = PAGE_H - g.bleed - 20;
      if (kind === 'cover') {
        // On the full-bleed cover an opaque band keeps the line legible (no transparency: PDF/A).
        doc.save().rect(0, wmY - 4, PAGE_W, 16).fill(COVER_BAND_COLOR).restore();
        doc.fillColor('#ffffff');
      } else {
        doc.fillColor(WATERMARK_COLOR);
      }
      const laid = once('sans', 7, watermark, wmOpts);
      ts.drawLines(laid, 0, laid.lines.length, MARGIN.left, wmY, wmOpts);
      doc.endMarkedContent();
    }
    page.margins.bottom = bottom;
  }

  opts.onPageCount?.(range.count);
  doc.end();
  return done;
}

function chapterDest(i: number): string {
  return `chapter-${i + 1}`;
}

/** Largest font size (stepping by 1pt) at which `text` fits the content width within `maxH`. */
function fitFontSize(ts: TextSetter, style: string, text: string, max: number, min: number, maxH: number, width: number, baseDir: 'ltr' | 'rtl'): number {
  for (let size = max; size > min; size--) {
    if (ts.height(style, size, text, { width, align: 'center', baseDir }) <= maxH) return size;
  }
  return min;
}

const TOC_SIZE = 11.5;
const TOC_LINE_GAP = 3;
const TOC_ENTRY_GAP = 8;
const TOC_NUM_W = 36;
const TOC_MAX_LINES = 3;

function tocGeometry(g: Geometry) {
  return { numW: TOC_NUM_W, titleW: g.contentW - TOC_NUM_W - 10 };
}

interface TocPlan {
  pages: number;
  entries: Array<{ page: number; y: number; height: number }>;
}

/**
 * Positions every TOC entry (page offset and y) with the same metrics used to draw them,
 * so the number of pages to reserve is known before the chapters are laid out.
 */
function planToc(ts: TextSetter, g: Geometry, titles: string[], heading: string, baseDir: 'ltr' | 'rtl'): TocPlan {
  const { margin, contentW, contentH } = g;
  const { titleW } = tocGeometry(g);
  const headingH = ts.height('serif-bold', 18, heading, { width: contentW, baseDir });
  const lineH = ts.height('serif', TOC_SIZE, 'X', { width: titleW, lineGap: TOC_LINE_GAP });
  const maxEntryH = lineH * TOC_MAX_LINES;
  const bottom = margin.top + contentH;

  const entries: TocPlan['entries'] = [];
  let page = 0;
  let y = margin.top + headingH + 20;
  for (const title of titles) {
    const h = Math.min(ts.height('serif', TOC_SIZE, title, { width: titleW, lineGap: TOC_LINE_GAP, baseDir }), maxEntryH);
    if (y + h > bottom && y > margin.top) {
      page++;
      y = margin.top;
    }
    entries.push({ page, y, height: h });
    y += h + TOC_ENTRY_GAP;
  }
  return { pages: page + 1, entries };
}
