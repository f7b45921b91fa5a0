/**
 * PDF renderer: cover, title page, copyright page, table of contents, one chapter per
 * section, page numbers, outline, metadata. Built with pdfkit in buffered-pages mode so
 * the table of contents and footers can be written once every page number is known.
 */
import PDFDocument from 'pdfkit';
import { chapterTitle, labelsFor, oneLine, stripInvalidChars, toJpeg, yearOf } from './common';
import { resolveFonts } from './fonts';
import type { RenderBook } from './types';

export interface RenderPdfOptions {
  /** Called after each chapter is laid out, e.g. to heartbeat a Temporal activity. */
  onProgress?: (done: number, total: number) => void;
}

// 6 × 9 in trade format, in points.
const PAGE_W = 432;
const PAGE_H = 648;
const MARGIN = { top: 58, bottom: 68, left: 54, right: 54 };
const CONTENT_W = PAGE_W - MARGIN.left - MARGIN.right;
const CONTENT_H = PAGE_H - MARGIN.top - MARGIN.bottom;

/** Max pixel width of embedded images: ~370 dpi across the text block, plenty for screens. */
const MAX_IMAGE_PX = 1600;

const BODY_SIZE = 11.5;
const BODY_LINE_GAP = 4.5;
const PARAGRAPH_GAP = 7;
const TEXT_COLOR = '#1a1a1a';
const MUTED_COLOR = '#666666';
const WATERMARK_COLOR = '#9a9a9a';

/**
 * pdfkit's outline options include `fit` although @types/pdfkit omits it; without it the
 * XYZ destination pdfkit builds puts `left` at the page's right edge.
 */
type OutlineOptions = { expanded?: boolean; fit?: boolean };

export async function renderPdf(book: RenderBook, opts: RenderPdfOptions = {}): Promise<Buffer> {
  const fonts = resolveFonts();
  const labels = labelsFor(book.language);
  const modified = new Date(book.modified);
  const date = Number.isNaN(modified.getTime()) ? new Date() : modified;

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
      Title: oneLine(book.title),
      Author: oneLine(book.author),
      Subject: oneLine(book.description),
      Keywords: book.keywords.map(oneLine).filter(Boolean).join(', '),
      Creator: 'ebook-engine',
      CreationDate: date,
      ModDate: date,
    },
  });

  // Collect the output while pdfkit writes it (images are streamed out as they are embedded).
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('data', (chunk: Buffer) => chunks.push(chunk));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });

  doc.registerFont('serif', fonts.serif);
  doc.registerFont('serif-bold', fonts.serifBold);
  doc.registerFont('serif-italic', fonts.serifItalic);
  doc.registerFont('sans', fonts.sans);

  const root = doc.struct('Document');
  doc.addStructure(root);

  // --- Cover: the image cropped to the page's aspect ratio, full bleed. ---
  {
    const cover = await toJpeg(book.cover, { maxWidth: MAX_IMAGE_PX, aspect: PAGE_H / PAGE_W });
    doc.addPage({ size: [PAGE_W, PAGE_H], margins: { top: 0, bottom: 0, left: 0, right: 0 } });
    root.add(
      doc.struct('Figure', { alt: oneLine(book.cover.alt) }, () => {
        doc.image(cover.data, 0, 0, { width: PAGE_W, height: PAGE_H });
      }),
    );
  }

  // --- Title page. ---
  doc.addPage();
  {
    const title = oneLine(book.title);
    const titleSize = fitFontSize(doc, 'serif-bold', title, 28, 14, CONTENT_H * 0.35);
    doc.font('serif-bold').fontSize(titleSize).fillColor(TEXT_COLOR);
    const titleH = Math.min(doc.heightOfString(title, { width: CONTENT_W, align: 'center' }), CONTENT_H * 0.35);
    doc.y = MARGIN.top + CONTENT_H * 0.22;
    root.add(
      doc.struct('H1', {}, () => {
        doc.text(title, MARGIN.left, doc.y, { width: CONTENT_W, height: titleH + 1, ellipsis: true, align: 'center' });
      }),
    );
    doc.y = MARGIN.top + CONTENT_H * 0.22 + titleH + 14;

    if (book.subtitle) {
      const subtitle = oneLine(book.subtitle);
      doc.font('serif-italic').fontSize(15).fillColor(MUTED_COLOR);
      const h = Math.min(doc.heightOfString(subtitle, { width: CONTENT_W, align: 'center' }), CONTENT_H * 0.2);
      const y = doc.y;
      root.add(
        doc.struct('P', {}, () => {
          doc.text(subtitle, MARGIN.left, y, { width: CONTENT_W, height: h + 1, ellipsis: true, align: 'center' });
        }),
      );
      doc.y = y + h;
    }

    const author = oneLine(book.author);
    doc.font('serif').fontSize(14).fillColor(TEXT_COLOR);
    const authorH = Math.min(doc.heightOfString(author, { width: CONTENT_W, align: 'center' }), CONTENT_H * 0.15);
    const authorY = Math.max(doc.y + 40, MARGIN.top + CONTENT_H * 0.7);
    root.add(
      doc.struct('P', {}, () => {
        doc.text(author, MARGIN.left, authorY, { width: CONTENT_W, height: authorH + 1, ellipsis: true, align: 'center' });
      }),
    );
  }

  // --- Copyright page: the small print, set at the foot of the page. ---
  doc.addPage();
  {
    const lines = [
      oneLine(book.title),
      `© ${yearOf(book.modified)} ${oneLine(book.author)}`,
      ...(book.credits.length ? [`${labels.credits}: ${book.credits.map(oneLine).join(', ')}`] : []),
    ];
    const text = lines.join('\n');
    doc.font('serif').fontSize(9).fillColor(MUTED_COLOR);
    const opts9 = { width: CONTENT_W, lineGap: 3 };
    const h = Math.min(doc.heightOfString(text, opts9), CONTENT_H);
    const y = MARGIN.top + CONTENT_H - h;
    root.add(
      doc.struct('P', {}, () => {
        doc.text(text, MARGIN.left, y, { ...opts9, height: h + 1, ellipsis: true });
      }),
    );
  }

  // --- Table of contents: reserve its pages now, fill them once chapter pages are known. ---
  const tocTitles = book.chapters.map(chapterTitle);
  const tocPlan = planToc(doc, tocTitles, labels.contents);
  const tocFirstPage = doc.bufferedPageRange().count;
  for (let i = 0; i < tocPlan.pages; i++) doc.addPage();
  // Attached to the tree now so it sits before the chapters in reading order.
  const tocStruct = doc.struct('TOC');
  root.add(tocStruct);

  // --- Chapters. ---
  const chapterPages: number[] = [];
  const total = book.chapters.length;
  // sharp converts on libuv's threads: the next chapter's image is converted while
  // this one is laid out, and at most two converted images are held at a time.
  const convert = (i: number) => {
    const img = i < total ? book.chapters[i].image : undefined;
    return img ? toJpeg(img, { maxWidth: MAX_IMAGE_PX }) : Promise.resolve(undefined);
  };
  let nextImage = convert(0);
  for (let i = 0; i < total; i++) {
    const chapter = book.chapters[i];
    const image = await nextImage;
    nextImage = convert(i + 1);
    // A failed prefetch is reported when its chapter awaits it, not as an unhandled rejection.
    nextImage.catch(() => undefined);

    doc.addPage();
    const pageIndex = doc.bufferedPageRange().count - 1;
    chapterPages.push(pageIndex);
    doc.outline.addItem(tocTitles[i], { fit: true } as OutlineOptions as { expanded?: boolean });
    doc.addNamedDestination(chapterDest(i), 'Fit');

    const section = doc.struct('Sect');
    root.add(section);

    // Heading, capped so an absurdly long title cannot push the page over.
    const headingMaxH = CONTENT_H * 0.25;
    const headingSize = fitFontSize(doc, 'serif-bold', tocTitles[i], 20, 13, headingMaxH);
    doc.font('serif-bold').fontSize(headingSize).fillColor(TEXT_COLOR);
    const headingH = Math.min(doc.heightOfString(tocTitles[i], { width: CONTENT_W, align: 'center', lineGap: 2 }), headingMaxH);
    section.add(
      doc.struct('H2', {}, () => {
        doc.text(tocTitles[i], MARGIN.left, MARGIN.top, {
          width: CONTENT_W,
          height: headingH + 1,
          ellipsis: true,
          align: 'center',
          lineGap: 2,
        });
      }),
    );
    let y = MARGIN.top + headingH + 18;

    if (image && chapter.image) {
      // Fit into the text block, leaving room for text below it on the same page.
      const boxH = Math.min(CONTENT_H * 0.58, MARGIN.top + CONTENT_H - y - 40);
      const scale = Math.min(CONTENT_W / image.width, boxH / image.height);
      const w = image.width * scale;
      const h = image.height * scale;
      const x = MARGIN.left + (CONTENT_W - w) / 2;
      const imgY = y;
      section.add(
        doc.struct('Figure', { alt: oneLine(chapter.image.alt) }, () => {
          doc.image(image.data, x, imgY, { width: w, height: h });
        }),
      );
      y += h + 18;
    }

    doc.font('serif').fontSize(BODY_SIZE).fillColor(TEXT_COLOR);
    doc.x = MARGIN.left;
    doc.y = y;
    for (const raw of chapter.paragraphs) {
      const para = stripInvalidChars(raw).trim();
      if (!para) continue;
      section.add(
        doc.struct('P', {}, () => {
          doc.text(para, MARGIN.left, doc.y, {
            width: CONTENT_W,
            // Not 'justify': pdfkit then drops the space glyphs, so copy/paste, search
            // and screen readers get run-together words.
            align: 'left',
            lineGap: BODY_LINE_GAP,
          });
        }),
      );
      // Spacing added here rather than with pdfkit's paragraphGap, which it also applies
      // at every hard line break inside a paragraph (verse would come out double-spaced).
      doc.y += PARAGRAPH_GAP;
    }
    section.end();
    opts.onProgress?.(i + 1, total);
  }

  // --- Fill the reserved table of contents. ---
  {
    doc.switchToPage(tocFirstPage);
    doc.font('serif-bold').fontSize(18).fillColor(TEXT_COLOR);
    tocStruct.add(
      doc.struct('H2', {}, () => {
        doc.text(labels.contents, MARGIN.left, MARGIN.top, { width: CONTENT_W, lineBreak: false });
      }),
    );
    tocPlan.entries.forEach((entry, i) => {
      doc.switchToPage(tocFirstPage + entry.page);
      const pageNo = String(chapterPages[i] + 1);
      doc.font('serif').fontSize(TOC_SIZE).fillColor(TEXT_COLOR);
      tocStruct.add(
        doc.struct('TOCI', {}, () => {
          doc.text(tocTitles[i], MARGIN.left, entry.y, {
            width: TOC_TITLE_W,
            height: entry.height + 1,
            ellipsis: true,
            lineGap: TOC_LINE_GAP,
            goTo: chapterDest(i),
          });
          doc.text(pageNo, MARGIN.left + CONTENT_W - TOC_NUM_W, entry.y, {
            width: TOC_NUM_W,
            align: 'right',
            lineBreak: false,
            goTo: chapterDest(i),
          });
        }),
      );
    });
    tocStruct.end();
  }
  root.end();

  // --- Footers: page numbers (not on the cover) and the optional watermark. ---
  const range = doc.bufferedPageRange();
  const watermark = book.watermark ? oneLine(book.watermark) : '';
  for (let p = range.start; p < range.start + range.count; p++) {
    doc.switchToPage(p);
    const page = doc.page;
    // Writing inside the bottom margin would make pdfkit start a new page; lift the limit.
    const bottom = page.margins.bottom;
    page.margins.bottom = 0;
    if (p > 0) {
      doc.markContent('Artifact', { type: 'Pagination' });
      doc.font('sans').fontSize(9).fillColor(MUTED_COLOR);
      doc.text(String(p + 1), MARGIN.left, PAGE_H - MARGIN.bottom + 26, {
        width: CONTENT_W,
        align: 'center',
        lineBreak: false,
      });
      doc.endMarkedContent();
    }
    if (watermark) {
      doc.markContent('Artifact', { type: 'Pagination' });
      doc.font('sans').fontSize(7);
      const wmY = PAGE_H - 20;
      if (p === 0) {
        // On the full-bleed cover a translucent band keeps the line legible.
        doc.save().rect(0, wmY - 4, PAGE_W, 16).fillOpacity(0.35).fill('#000000').restore();
        doc.fillColor('#ffffff').fillOpacity(0.9);
      } else {
        doc.fillColor(WATERMARK_COLOR).fillOpacity(1);
      }
      doc.text(watermark, MARGIN.left, wmY, {
        width: CONTENT_W,
        height: 10,
        align: 'center',
        ellipsis: true,
      });
      doc.fillOpacity(1);
      doc.endMarkedContent();
    }
    page.margins.bottom = bottom;
  }

  doc.end();
  return done;
}

function chapterDest(i: number): string {
  return `chapter-${i + 1}`;
}

/** Largest font size (stepping by 1pt) at which `text` fits the content width within `maxH`. */
function fitFontSize(
  doc: PDFKit.PDFDocument,
  font: string,
  text: string,
  max: number,
  min: number,
  maxH: number,
): number {
  doc.font(font);
  for (let size = max; size > min; size--) {
    doc.fontSize(size);
    if (doc.heightOfString(text, { width: CONTENT_W, align: 'center' }) <= maxH) return size;
  }
  return min;
}

const TOC_SIZE = 11.5;
const TOC_LINE_GAP = 3;
const TOC_ENTRY_GAP = 8;
const TOC_NUM_W = 36;
const TOC_TITLE_W = CONTENT_W - TOC_NUM_W - 10;
const TOC_MAX_LINES = 3;

interface TocPlan {
  pages: number;
  entries: Array<{ page: number; y: number; height: number }>;
}

/**
 * Positions every TOC entry (page offset and y) with the same metrics used to draw them,
 * so the number of pages to reserve is known before the chapters are laid out.
 */
function planToc(doc: PDFKit.PDFDocument, titles: string[], heading: string): TocPlan {
  doc.font('serif-bold').fontSize(18);
  const headingH = doc.heightOfString(heading, { width: CONTENT_W, lineBreak: false });
  doc.font('serif').fontSize(TOC_SIZE);
  const lineH = doc.currentLineHeight(true) + TOC_LINE_GAP;
  const maxEntryH = lineH * TOC_MAX_LINES;
  const bottom = MARGIN.top + CONTENT_H;

  const entries: TocPlan['entries'] = [];
  let page = 0;
  let y = MARGIN.top + headingH + 20;
  for (const title of titles) {
    const h = Math.min(doc.heightOfString(title, { width: TOC_TITLE_W, lineGap: TOC_LINE_GAP }), maxEntryH);
    if (y + h > bottom && y > MARGIN.top) {
      page++;
      y = MARGIN.top;
    }
    entries.push({ page, y, height: h });
    y += h + TOC_ENTRY_GAP;
  }
  return { pages: page + 1, entries };
}
