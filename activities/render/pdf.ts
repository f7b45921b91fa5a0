/**
 * PDF renderer: cover, title page, copyright page, table of contents, one chapter per
 * section, outline, metadata; PDF/UA-1 and PDF/A-2u (see pdf-standards.ts). Body text is
 * justified and hyphenated, broken across pages with no widow or orphan; folios on chapter
 * pages only, running heads (book title left, chapter title right) on the pages after a
 * chapter's first. Built with pdfkit in buffered-pages mode so the table of contents,
 * folios and running heads can be written once every page number is known.
 *
 * The print interior (`print`) is the book a printer binds: trim plus bleed with TrimBox and
 * BleedBox on every page, no cover (that is a file of its own), the title page on page 1 and
 * every chapter on a right-hand (odd) page with a blank left page before it where needed, an
 * even page count of at least MIN_PRINT_PAGES, mirrored margins whose inside one grows with
 * the page count (so the book is laid out again when the count moves the gutter), pictures of
 * at least MIN_PRINT_PPI at their printed size, and PDF/X-4 identification with an output
 * intent besides PDF/A-2u and PDF/UA-1.
 */
import PDFDocument from 'pdfkit';
import { createHash } from 'node:crypto';
import { gutterIn, MIN_PRINT_PAGES, MIN_PRINT_PPI, OUTSIDE_MARGIN_IN, type InteriorBleed } from '../../core/print';
import { chapterTitle, labelsFor, oneLine, startLimited, stripInvalidChars, textDirection, toJpeg, yearOf, type JpegImage } from './common';
import { declarePdfStandards } from './pdf-standards';
import { toPrintJpeg } from './print-images';
import { bookTextSetter, type BlockOptions, type LaidOut, type TextSetter } from './text';
import type { RenderBook } from './types';

export interface PrintOptions {
  /** Trim size: the page as it is after cutting, in inches. */
  trimWidthIn: number;
  trimHeightIn: number;
  /** Bleed added beyond the trim, in inches (0.125 is usual). */
  bleedIn: number;
  /** Which sides get the bleed: `all` (default) or `outside`, none at the binding (core/print.ts). */
  bleedEdges?: InteriorBleed;
}

export interface RenderPdfOptions {
  /** Called after each chapter is laid out, e.g. to heartbeat a Temporal activity. */
  onProgress?: (done: number, total: number) => void;
  /**
   * Print interior: the trim size plus bleed as MediaBox, TrimBox and BleedBox on every
   * page, no cover, chapters on right-hand pages, mirrored margins with a gutter that grows
   * with the page count, pictures at MIN_PRINT_PPI or more, PDF/X-4 (see the file's comment).
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
/** For print: pictures wider than this (~550 ppi across the text block) are reduced. */
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
  /** Margins of a right-hand (odd) page; left-hand pages mirror the sides in print. */
  margin: { top: number; bottom: number; left: number; right: number };
  contentW: number;
  contentH: number;
  maxImagePx: number;
  /** Left edge of the text block on physical page `n` (1-based). */
  leftAt(n: number): number;
  /** Where the trim's left edge lies on physical page `n` (1-based). */
  trimLeftAt(n: number): number;
}

function geometry(print?: PrintOptions, gutter = 0): Geometry {
  const trimW = print ? print.trimWidthIn * 72 : PAGE_W;
  const trimH = print ? print.trimHeightIn * 72 : PAGE_H;
  const bleed = print ? Math.max(0, print.bleedIn) * 72 : 0;
  if (!(trimW > 144 && trimH > 216)) throw new Error(`Trim size too small: ${trimW / 72} × ${trimH / 72} in`);
  // On screen both sides are MARGIN's; in print the outside is OUTSIDE_MARGIN_IN and the
  // inside that plus the gutter, on the left of odd pages and the right of even ones.
  const outside = print ? OUTSIDE_MARGIN_IN * 72 : MARGIN.right;
  const inside = print ? (OUTSIDE_MARGIN_IN + gutter) * 72 : MARGIN.left;
  const margin = {
    top: MARGIN.top + bleed,
    bottom: MARGIN.bottom + bleed,
    left: inside + bleed,
    right: outside + bleed,
  };
  // Outside-only bleed: none at the binding, so a right-hand (odd) page's trim starts at the
  // sheet's left edge and a left-hand page's one bleed in.
  const outsideOnly = print?.bleedEdges === 'outside';
  const trimLeftAt = (n: number) => (outsideOnly && n % 2 === 1 ? 0 : bleed);
  return {
    pageW: trimW + (outsideOnly ? 1 : 2) * bleed,
    pageH: trimH + 2 * bleed,
    bleed,
    trimW,
    trimH,
    margin,
    contentW: trimW - inside - outside,
    contentH: trimH - MARGIN.top - MARGIN.bottom,
    maxImagePx: print ? MAX_PRINT_IMAGE_PX : MAX_IMAGE_PX,
    leftAt: (n) => trimLeftAt(n) + (n % 2 === 1 ? inside : outside),
    trimLeftAt,
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

/** What a page is, for folios and running heads; a blank page (print only) carries nothing. */
type PageKind = 'cover' | 'front' | 'contents' | 'opener' | 'body' | 'blank';

/** Lines of a paragraph a page must hold at its foot (orphans) and at its head (widows). */
const MIN_LINES_AT_BREAK = 2;

/** Pictures in book order (cover first), each converted once and shared by every layout round. */
type Images = Array<Promise<JpegImage | undefined>>;

/**
 * The most layout rounds of a print interior. The page count only grows with the gutter, so
 * the rounds move the gutter one way and stop at the first that agrees with its count: one
 * round when the estimate's bracket is right, two when it is one bracket off.
 */
const MAX_PRINT_ROUNDS = 6;

export async function renderPdf(book: RenderBook, opts: RenderPdfOptions = {}): Promise<Buffer> {
  const print = opts.print;
  if (!print) {
    const g = geometry();
    // Every image conversion starts now, a few at a time on sharp's threads (libuv's pool),
    // and runs while the main thread lays out the text; each chapter awaits only its own.
    // The converted JPEGs are small (~100-200 KB), so holding all of them costs little.
    const images = startLimited([book.cover, ...book.chapters.map((c) => c.image)], IMAGE_CONVERSIONS, (img) =>
      img === book.cover
        ? toJpeg(img, { maxWidth: g.maxImagePx, aspect: g.pageH / g.pageW })
        : img
          ? toJpeg(img, { maxWidth: g.maxImagePx })
          : Promise.resolve(undefined),
    );
    const out = await layOut(book, opts, g, images);
    opts.onPageCount?.(out.pages);
    return out.pdf;
  }
  // The gutter depends on the page count, which depends on the text block's width: lay out
  // with the gutter of an estimated count, count, and lay out again while the count moves the gutter.
  const widest = geometry(print, gutterIn(MIN_PRINT_PAGES));
  let gutter = gutterIn(estimatePages(book, widest));
  // No cover inside; every picture is sized for the widest it can be printed (the text block
  // with the narrowest gutter) at MIN_PRINT_PPI, enlarged when too small.
  const minWidth = Math.ceil((widest.contentW / 72) * MIN_PRINT_PPI);
  const images: Images = [
    Promise.resolve(undefined),
    ...startLimited(book.chapters, IMAGE_CONVERSIONS, (c) =>
      c.image ? toPrintJpeg(c.image, { minWidth, maxWidth: Math.max(minWidth, widest.maxImagePx) }) : Promise.resolve(undefined),
    ),
  ];
  for (let round = 1; ; round++) {
    const out = await layOut(book, opts, geometry(print, gutter), images);
    const wanted = gutterIn(out.pages);
    if (wanted === gutter || round >= MAX_PRINT_ROUNDS) {
      opts.onPageCount?.(out.pages);
      return out.pdf;
    }
    gutter = wanted;
  }
}

/**
 * A quick guess at the print interior's page count, to choose the first round's gutter: body
 * lines of an average Latin letter width, the opening's heading and picture, blank left pages.
 * A wrong guess costs a layout round, never a wrong gutter (renderPdf counts and lays out again).
 */
function estimatePages(book: RenderBook, g: Geometry): number {
  const lineH = BODY_SIZE * 1.164 + BODY_LINE_GAP;
  const linesPerPage = Math.floor(g.contentH / lineH);
  const charsPerLine = g.contentW / (0.6 * BODY_SIZE);
  let pages = 2 + Math.ceil(book.chapters.length / 20);
  for (const c of book.chapters) {
    if (pages % 2 === 1) pages++;
    let lines = 3 + (c.image ? (g.contentH * 0.45) / lineH : 0);
    for (const p of c.paragraphs) lines += Math.ceil(p.length / charsPerLine) + PARAGRAPH_GAP / lineH;
    pages += Math.ceil(lines / linesPerPage);
  }
  return Math.max(MIN_PRINT_PAGES, pages + (pages % 2));
}

/** One layout of the whole book with geometry `g`: the PDF and its page count. */
async function layOut(book: RenderBook, opts: RenderPdfOptions, g: Geometry, images: Images): Promise<{ pdf: Buffer; pages: number }> {
  const labels = labelsFor(book.language);
  const bookDir = textDirection(book.language);
  const modified = new Date(book.modified);
  const date = Number.isNaN(modified.getTime()) ? new Date() : modified;
  const print = Boolean(opts.print);
  const { margin: MARGIN, contentW: CONTENT_W, contentH: CONTENT_H, pageW: PAGE_W, pageH: PAGE_H } = g;
  const bookTitle = oneLine(book.title) || '—';

  const keywords = book.keywords.map(oneLine).filter(Boolean).join(', ');
  const doc = new PDFDocument({
    size: [PAGE_W, PAGE_H],
    margins: MARGIN,
    autoFirstPage: false,
    bufferPages: true,
    // PDF/X-4 is built on PDF 1.6 and asks for no later header.
    pdfVersion: print ? '1.6' : '1.7',
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
  declarePdfStandards(
    doc,
    book.language,
    print ? { documentId: book.id, versionId: createHash('sha256').update(`${book.id}/${book.modified}`).digest('hex').slice(0, 16) } : undefined,
  );

  if (print) {
    // Every page gets the printer's boxes: MediaBox is the trim plus bleed, TrimBox the cut.
    const b = g.bleed;
    const bleedBox = [0, 0, PAGE_W, PAGE_H];
    doc.on('pageAdded', () => {
      const data = (doc.page as unknown as { dictionary: { data: Record<string, unknown> } }).dictionary.data;
      // The page being added is the next physical page (newPage records it just after).
      const x = g.trimLeftAt(kinds.length + 1);
      data.TrimBox = [x, b, x + g.trimW, b + g.trimH];
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

  const ts = bookTextSetter(doc, book.language, opts.fallbackFonts);
  const block = (o: BlockOptions): BlockOptions => ({ baseDir: bookDir, ...o });

  const kinds: Array<{ kind: PageKind; chapter?: number }> = [];
  /** Left edge of the text block on the current page (mirrored from page to page in print). */
  let X = MARGIN.left;
  const newPage = (kind: PageKind, chapter?: number, options?: PDFKit.PDFDocumentOptions) => {
    const n = kinds.length + 1;
    X = g.leftAt(n);
    // pdfkit's own margins matter only to its line breaking; keep them the page's.
    doc.addPage(options ?? (print ? { size: [PAGE_W, PAGE_H], margins: { ...MARGIN, left: X, right: PAGE_W - X - CONTENT_W } } : undefined));
    kinds.push({ kind, chapter });
  };
  /** In print, a blank left-hand page when the next page would be one: what follows starts on a right-hand page. */
  const toRightHand = () => {
    if (print && kinds.length % 2 === 1) newPage('blank');
  };

  const root = doc.struct('Document');
  doc.addStructure(root);
  // Front matter, contents and chapters are sections of their own, in reading order.
  const front = doc.struct('Sect');
  root.add(front);

  // --- Cover: the image cropped to the page's aspect ratio, full bleed (not in print: a file of its own). ---
  if (!print) {
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
        ts.draw('serif-bold', titleSize, bookTitle, X, titleY, block({ width: CONTENT_W, height: titleH + 1, ellipsis: true, align: 'center' }));
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
          ts.draw('serif-italic', 15, subtitle, X, sy, block({ width: CONTENT_W, height: h + 1, ellipsis: true, align: 'center' }));
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
          ts.draw('serif', 14, author, X, authorY, block({ width: CONTENT_W, height: authorH + 1, ellipsis: true, align: 'center' }));
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
        ts.draw('serif', 9, text, X, y, { ...opts9, height: h + 1, ellipsis: true });
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

    toRightHand();
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
        ts.draw('serif-bold', headingSize, tocTitles[i], X, MARGIN.top, { ...headingOpts, height: headingH + 1, ellipsis: true });
      }),
    );
    let y = MARGIN.top + headingH + 18;

    if (image && chapter.image) {
      // Fit into the text block, leaving room for at least two lines below it (the heading keeps its text).
      const boxH = Math.min(CONTENT_H * 0.58, bodyBottom - y - 60);
      const scale = Math.min(CONTENT_W / image.width, boxH / image.height);
      const w = image.width * scale;
      const h = image.height * scale;
      const x = X + (CONTENT_W - w) / 2;
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
          p.add(() => ts.drawLines(laid, from, from + take, X, top, bodyOpts));
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

  // The printer's book ends on an even page, and has at least MIN_PRINT_PAGES: blank pages at the end.
  while (print && (kinds.length % 2 === 1 || kinds.length < MIN_PRINT_PAGES)) newPage('blank');

  // --- Fill the reserved table of contents: TOC > TOCI > Reference > Link (text + annotation). ---
  // In print there is nothing to click: TOCI > Reference holds the text, with no annotation.
  {
    doc.switchToPage(tocFirstPage);
    doc.fillColor(TEXT_COLOR);
    const tocX = g.leftAt(tocFirstPage + 1);
    tocSect.add(
      doc.struct('H1', {}, () => {
        ts.draw('serif-bold', 18, labels.contents, tocX, MARGIN.top, block({ width: CONTENT_W, align: 'start' }));
      }),
    );
    const tocStruct = doc.struct('TOC');
    tocSect.add(tocStruct);
    // Right-to-left books mirror the entries: numbers on the left, titles set from the right.
    const rtl = bookDir === 'rtl';
    tocPlan.entries.forEach((entry, i) => {
      doc.switchToPage(tocFirstPage + entry.page);
      const left = g.leftAt(tocFirstPage + entry.page + 1);
      const titleX = rtl ? left + toc.numW + 10 : left;
      const numX = rtl ? left : left + CONTENT_W - toc.numW;
      const pageNo = String(chapterPages[i] + 1);
      doc.fillColor(TEXT_COLOR);
      const item = doc.struct('TOCI');
      tocStruct.add(item);
      const ref = doc.struct('Reference');
      item.add(ref);
      const link = print ? ref : doc.struct('Link');
      if (!print) ref.add(link);
      link.add(() => {
        ts.draw('serif', TOC_SIZE, tocTitles[i], titleX, entry.y, block({ width: toc.titleW, height: entry.height + 1, ellipsis: true, lineGap: TOC_LINE_GAP, align: 'start' }));
        doc.font('serif').fontSize(TOC_SIZE);
        doc.text(pageNo, numX, entry.y, { width: toc.numW, align: rtl ? 'left' : 'right', lineBreak: false });
      });
      if (!print) {
        // The annotation belongs to the Link element and says where it goes (PDF/UA 7.18.5).
        doc.goTo(left, entry.y, CONTENT_W, entry.height, chapterDest(i), {
          structParent: link,
          Contents: new String(`${tocTitles[i]} (${pageNo})`),
        } as unknown as PDFKit.Mixins.AnnotationOption);
        link.end();
      }
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
    if (kind === 'blank') continue;
    const left = g.leftAt(p + 1);
    // Writing inside the bottom margin would make pdfkit start a new page; lift the limit.
    const bottom = page.margins.bottom;
    page.margins.bottom = 0;
    const folio = p + 1;
    if (kind === 'opener' || kind === 'body') {
      doc.markContent('Artifact', { type: 'Pagination' });
      doc.font('sans').fontSize(9).fillColor(MUTED_COLOR);
      const w = doc.widthOfString(String(folio));
      doc.text(String(folio), left + (CONTENT_W - w) / 2, PAGE_H - MARGIN.bottom + 26, { lineBreak: false });
      doc.endMarkedContent();
    }
    if (kind === 'body') {
      // Book title over left-hand (even) pages, the chapter's over right-hand (odd) ones.
      const head = folio % 2 === 0 ? bookTitle : tocTitles[chapter!];
      doc.markContent('Artifact', { type: 'Pagination' });
      doc.fillColor(MUTED_COLOR);
      const laid = once('sans', 8.5, head, headOpts);
      ts.drawLines(laid, 0, laid.lines.length, left, MARGIN.top - 30, headOpts);
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
      ts.drawLines(laid, 0, laid.lines.length, left, wmY, wmOpts);
      doc.endMarkedContent();
    }
    page.margins.bottom = bottom;
  }

  doc.end();
  return { pdf: await done, pages: range.count };
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
