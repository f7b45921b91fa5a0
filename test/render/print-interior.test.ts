/**
 * The print interior (issue 17) read back as a printer's preflight would: every page has
 * MediaBox = trim + 2 × bleed with TrimBox and BleedBox; no cover inside; the title page on
 * page 1, contents on page 3 and every chapter opening on a right-hand (odd) page, with blank
 * left pages (no folio, no running head) where a chapter would start on the left; an even page
 * count of at least MIN_PRINT_PAGES; every picture at 300 ppi or more at its printed size
 * (the test pictures are 800 × 600 px, too small for the text block, so they are enlarged);
 * a PDF/X-4 identification with a GTS_PDFX output intent carrying an ICC profile; and a
 * gutter that widens for a long book (short book vs ~400 pages, rendered here, not through
 * the providers). With the validators installed, veraPDF checks that PDF/A-2u and PDF/UA-1
 * still hold for the print file.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { renderPdf } from '../../activities/render/pdf';
import type { RenderBook } from '../../activities/render/types';
import { BLEED_IN, gutterIn, MIN_PRINT_PAGES, MIN_PRINT_PPI, OUTSIDE_MARGIN_IN, TRIM } from '../../core/print';
import { validatorsInstalled, verapdf, veraSummary } from '../helpers/validators';
import { englishBook, englishProse, picture } from './books';
import { imageRows, openingPages, pageBoxes, pageCount, pageTexts, printIdentification, textLeftEdge } from './print-checks';

const PRINT = { trimWidthIn: TRIM.widthIn, trimHeightIn: TRIM.heightIn, bleedIn: BLEED_IN };
const B = BLEED_IN * 72;
const MEDIA = [0, 0, (TRIM.widthIn + 2 * BLEED_IN) * 72, (TRIM.heightIn + 2 * BLEED_IN) * 72];
const TRIM_BOX = [B, B, B + TRIM.widthIn * 72, B + TRIM.heightIn * 72];

/** A book of `chapters` chapters of `paragraphs` paragraphs each, every other one with an 800 × 600 picture. */
async function bookOf(title: string, chapters: number, paragraphs: number): Promise<RenderBook> {
  const base = await englishBook(1);
  const pics = await Promise.all([picture(90), picture(300)]);
  return {
    ...base,
    title,
    chapters: Array.from({ length: chapters }, (_, i) => ({
      index: i + 1,
      title: `Chapter ${i + 1}: ${['Tides', 'Lanterns', 'Salt'][i % 3]}`,
      paragraphs: englishProse(i + 1, paragraphs + (i % 3)),
      image: i % 2 === 0 ? pics[i % 4 === 0 ? 0 : 1] : undefined,
    })),
  };
}

describe('print interior (issue 17): trim, parity, gutter, 300 ppi, PDF/X-4', function () {
  this.timeout(15 * 60 * 1000);
  let dir: string;
  const files: Record<'short' | 'parity' | 'long', { book: RenderBook; pdf: string; pages: number; reported: number }> = {} as never;

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'print-interior-'));
    const books: Record<keyof typeof files, RenderBook> = {
      short: await bookOf('A Short Tide', 3, 2),
      // Chapters of uneven length: some end on an odd page, so the next one needs a blank before it.
      parity: await englishBook(5),
      long: await bookOf('The Long Tide', 30, 26),
    };
    for (const [name, book] of Object.entries(books) as Array<[keyof typeof files, RenderBook]>) {
      const pdf = path.join(dir, `${name}.pdf`);
      let reported = 0;
      await fs.writeFile(pdf, await renderPdf(book, { print: PRINT, onPageCount: (n) => (reported = n) }));
      files[name] = { book, pdf, pages: await pageCount(pdf), reported };
    }
  });

  after(async () => {
    if (dir && !process.env.KEEP_RENDER_OUTPUT) await fs.rm(dir, { recursive: true, force: true });
  });

  it('has MediaBox = trim + 2 × bleed, TrimBox and BleedBox on every page', async () => {
    for (const { pdf, pages } of Object.values(files)) {
      const boxes = await pageBoxes(pdf);
      assert.equal(boxes.length, pages);
      boxes.forEach((b, i) => {
        assert.deepEqual(b.MediaBox, MEDIA, `${pdf} page ${i + 1} MediaBox`);
        assert.deepEqual(b.BleedBox, MEDIA, `${pdf} page ${i + 1} BleedBox`);
        assert.deepEqual(b.TrimBox, TRIM_BOX, `${pdf} page ${i + 1} TrimBox`);
      });
    }
  });

  it('has an even page count of at least MIN_PRINT_PAGES, the one onPageCount reports; a short book is padded with blank pages', async () => {
    for (const { pdf, pages, reported } of Object.values(files)) {
      assert.equal(pages % 2, 0, `${pdf}: ${pages} pages`);
      assert.ok(pages >= MIN_PRINT_PAGES, `${pdf}: ${pages} pages`);
      assert.equal(reported, pages);
    }
    const { pdf, pages } = files.short;
    assert.equal(pages, MIN_PRINT_PAGES);
    const texts = await pageTexts(pdf);
    assert.equal(texts.at(-1), '', 'the last page is a blank');
    assert.equal(texts.at(-2), '', 'and so is the one before it');
  });

  it('has no cover inside: the title page is page 1 and no picture is on it', async () => {
    for (const { book, pdf } of Object.values(files)) {
      const texts = await pageTexts(pdf);
      assert.ok(texts[0].startsWith(book.title), `page 1 is the title page: "${texts[0].slice(0, 80)}"`);
      assert.ok(texts[0].includes(book.author));
      assert.ok(texts[1].includes('©'), 'page 2 is the copyright page');
      assert.ok(texts[2].startsWith('Contents'), 'the contents start on page 3');
      const images = await imageRows(pdf);
      assert.equal(images.length, book.chapters.filter((c) => c.image).length, 'one image per illustrated chapter, no cover image');
      assert.ok(images.every((r) => r.page > 3), 'no picture in the front matter');
    }
  });

  it('opens every chapter on a right-hand (odd) page, with blank left pages (no folio, no running head) before those that need one', async () => {
    let blanksBeforeChapters = 0;
    for (const { book, pdf } of Object.values(files)) {
      const texts = await pageTexts(pdf);
      const openings = await openingPages(pdf);
      assert.equal(openings.length, book.chapters.length);
      const contents = texts.slice(2, openings[0].page - 1).join(' ');
      for (const [i, o] of openings.entries()) {
        assert.equal(o.page % 2, 1, `${pdf}: "${o.title}" opens on page ${o.page}`);
        assert.ok(texts[o.page - 1].startsWith(book.chapters[i].title.slice(0, 20)), `page ${o.page} starts with its chapter's title`);
        // The contents give the physical page.
        assert.ok(contents.includes(`${book.chapters[i].title} ${o.page}`), `the contents list "${book.chapters[i].title}" at ${o.page}`);
        if (texts[o.page - 2] === '') blanksBeforeChapters++;
      }
      // A page with no text at all (not even a folio) comes only before a chapter or at the end.
      const openingSet = new Set(openings.map((o) => o.page));
      texts.forEach((t, i) => {
        if (t !== '') return;
        const page = i + 1;
        if (texts.slice(i).every((x) => x === '')) return; // the padding at the end
        assert.equal(page % 2, 0, `blank page ${page} is a left-hand page`);
        assert.ok(openingSet.has(page + 1), `blank page ${page} stands before a chapter`);
      });
    }
    assert.ok(blanksBeforeChapters > 0, 'the test books need blank pages before some chapters');
  });

  it('puts every picture at MIN_PRINT_PPI or more at its printed size, enlarging the 800 px pictures', async () => {
    for (const { pdf } of Object.values(files)) {
      const rows = await imageRows(pdf);
      assert.ok(rows.length > 0);
      for (const r of rows) {
        assert.ok(r.xPpi >= MIN_PRINT_PPI && r.yPpi >= MIN_PRINT_PPI, `${pdf} page ${r.page}: ${r.xPpi} × ${r.yPpi} ppi`);
        assert.ok(r.width > 800, `enlarged from 800 px: ${r.width}`);
      }
    }
  });

  it('identifies itself as PDF/X-4 with a GTS_PDFX output intent whose profile is an ICC profile, Trapped False', async () => {
    for (const { pdf } of Object.values(files)) {
      const { info, intents, xmp } = await printIdentification(pdf);
      assert.equal(info.GTS_PDFXVersion, 'PDF/X-4');
      assert.equal(info.Trapped, '/False');
      assert.match(xmp, /<pdfxid:GTS_PDFXVersion>PDF\/X-4<\/pdfxid:GTS_PDFXVersion>/);
      assert.match(xmp, /<pdf:Trapped>False<\/pdf:Trapped>/);
      assert.match(xmp, /<xmpMM:DocumentID>uuid:[0-9a-f-]{36}<\/xmpMM:DocumentID>/);
      const pdfx = intents.find((i) => i.dict['/S'] === '/GTS_PDFX');
      assert.ok(pdfx, `a GTS_PDFX intent among ${intents.map((i) => i.dict['/S']).join(', ')}`);
      assert.ok(String(pdfx.dict['/OutputConditionIdentifier']).length > 2);
      // An ICC profile: 'acsp' at byte 36, RGB data, its declared size the stream's.
      assert.equal(pdfx.profile.subarray(36, 40).toString('latin1'), 'acsp');
      assert.equal(pdfx.profile.subarray(16, 20).toString('latin1'), 'RGB ');
      assert.equal(pdfx.profile.readUInt32BE(0), pdfx.profile.length);
      // PDF/A-2 asks that every output intent share one profile.
      for (const i of intents) assert.equal(i.profileRef, pdfx.profileRef);
    }
  });

  it('mirrors the margins and widens the gutter with the page count (short vs long book)', async () => {
    const { short, long } = files;
    assert.ok(long.pages > 300 && long.pages <= 500, `the long book has ${long.pages} pages`);
    assert.notEqual(gutterIn(short.pages), gutterIn(long.pages));
    const outside = B + OUTSIDE_MARGIN_IN * 72;
    for (const f of [short, long]) {
      const opening = (await openingPages(f.pdf))[0].page;
      // An opening's text (odd page) starts at the inside margin; the next page's (even) at the outside one.
      const odd = await textLeftEdge(f.pdf, opening);
      const even = await textLeftEdge(f.pdf, opening + 1);
      const inside = B + (OUTSIDE_MARGIN_IN + gutterIn(f.pages)) * 72;
      assert.ok(Math.abs(odd - inside) < 0.5, `${f.pdf}: odd page text at ${odd}, inside margin ${inside}`);
      assert.ok(Math.abs(even - outside) < 0.5, `${f.pdf}: even page text at ${even}, outside margin ${outside}`);
    }
    const shortInside = await textLeftEdge(short.pdf, (await openingPages(short.pdf))[0].page);
    const longInside = await textLeftEdge(long.pdf, (await openingPages(long.pdf))[0].page);
    assert.ok(longInside > shortInside + 10, `long book's inside margin ${longInside} vs short ${shortInside}`);
  });

  it('still passes veraPDF PDF/A-2u and PDF/UA-1 besides PDF/X-4', async function () {
    if (!validatorsInstalled()) {
      const msg = 'veraPDF needs: bash scripts/install-validators.sh';
      if (process.env.CI) throw new Error(msg);
      console.warn(`skipping: ${msg}`);
      this.skip();
    }
    const pdfs = [files.short.pdf, files.parity.pdf];
    for (const profile of ['2u', 'ua1'] as const) {
      for (const r of await verapdf(pdfs, profile)) assert.ok(r.compliant, veraSummary(r));
    }
  });
});

describe('print interior with the bleed on the outside edges only (PRINT_INTERIOR_BLEED=outside: KDP, IngramSpark)', function () {
  this.timeout(10 * 60 * 1000);
  let dir: string;
  let pdf: string;
  let pages: number;

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'print-outside-'));
    pdf = path.join(dir, 'outside.pdf');
    await fs.writeFile(pdf, await renderPdf(await englishBook(5), { print: { ...PRINT, bleedEdges: 'outside' }, onPageCount: (n) => (pages = n) }));
  });

  after(async () => {
    if (dir && !process.env.KEEP_RENDER_OUTPUT) await fs.rm(dir, { recursive: true, force: true });
  });

  it('is trim + one bleed wide, with the trim against the binding edge of each page', async () => {
    const media = [0, 0, (TRIM.widthIn + BLEED_IN) * 72, (TRIM.heightIn + 2 * BLEED_IN) * 72];
    const boxes = await pageBoxes(pdf);
    assert.equal(boxes.length, pages);
    boxes.forEach((b, i) => {
      const page = i + 1;
      // A right-hand page is bound on its left, a left-hand page on its right: no bleed there.
      const x0 = page % 2 === 1 ? 0 : B;
      assert.deepEqual(b.MediaBox, media, `page ${page} MediaBox`);
      assert.deepEqual(b.BleedBox, media, `page ${page} BleedBox`);
      assert.deepEqual(b.TrimBox, [x0, B, x0 + TRIM.widthIn * 72, B + TRIM.heightIn * 72], `page ${page} TrimBox`);
    });
  });

  it('keeps the margins measured from the trim: inside + gutter on odd pages, outside on even ones', async () => {
    const opening = (await openingPages(pdf))[0].page;
    const odd = await textLeftEdge(pdf, opening);
    const even = await textLeftEdge(pdf, opening + 1);
    const inside = (OUTSIDE_MARGIN_IN + gutterIn(pages)) * 72;
    const outside = B + OUTSIDE_MARGIN_IN * 72;
    assert.ok(Math.abs(odd - inside) < 0.5, `odd page text at ${odd}, inside margin ${inside} from the sheet's left edge`);
    assert.ok(Math.abs(even - outside) < 0.5, `even page text at ${even}, bleed + outside margin ${outside}`);
  });
});
